"""How a feedback page shows the graded notebook.

nbgrader's generate_feedback renders the autograded notebook, in which the hidden tests were
put back. A student's feedback page shows each test cell's docstring and visible checks, with
one line in place of the hidden checks (their result still shows below the cell); the
instructor's ``OUT/autograded`` notebooks keep them in full.

A page is self-contained: nbgrader's release_feedback hands students the .html file alone, and
nothing on it reaches the network. Where the page has math, the course's copy of MathJax
(:func:`grader.grading.mathjax.mathjax_script`) is inlined in place of nbconvert's CDN script,
configured as nbconvert configures it; a page without math gets no MathJax at all.
"""
import functools
import logging
import re

from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from traitlets import Bool

from grader.grading.mathjax import OFFLINE_CONFIG_JS, MathJaxNotFound, mathjax_script

LOG = logging.getLogger("grader.feedback")

HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"  # nbgrader's delimiters
HIDDEN_NOTE = "# (hidden tests: they run only when the notebook is graded; their result is below)"


def summarise_hidden_tests(source, note=HIDDEN_NOTE):
    """``source`` with each hidden-test region, delimiters included, replaced by the one-line ``note``."""
    lines, hidden = [], False
    for line in source.split("\n"):
        if HIDDEN_BEGIN in line:
            hidden = True
            lines.append(line[: len(line) - len(line.lstrip())] + note)
        elif HIDDEN_END in line:
            hidden = False
        elif not hidden:
            lines.append(line)
    return "\n".join(lines)


class HiddenTestsSummarised(Preprocessor):
    """Feedback shows one line where a test cell's hidden checks are."""

    enabled = Bool(True)  # nbconvert registers preprocessors disabled unless they say otherwise

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and HIDDEN_BEGIN in cell.source:
            cell.source = summarise_hidden_tests(cell.source)
        return cell, resources


def feedback_preprocessors():
    """nbgrader's GenerateFeedback pipeline, with the hidden tests summarised before rendering."""
    from nbgrader.preprocessors import GetGrades

    return [GetGrades, HiddenTestsSummarised, CSSHTMLHeaderPreprocessor]


# ----------------------------------------------------------------------------- math, offline
# MathJax's delimiters as nbconvert configures them: $$...$$, \[...\], \(...\), $...$ (one line), environments.
MATH = re.compile(r"\$\$|\\\[|\\\(|\\begin\{|(?<!\\)\$[^$\n]+?(?<!\\)\$")
TYPESET_OUTPUTS = ("text/markdown", "text/latex", "text/html")  # outputs MathJax reads (text/plain is a <pre>)
# What nbconvert's mathjax macro writes (templates/base/mathjax.html.j2): the CDN script and its configuration.
CDN_MATHJAX = re.compile(r"[ \t]*<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->[ \t]*\n?", re.S)
# nbconvert's MathJax 2 configuration in MathJax 3 terms, then what keeps it offline (grader.grading.mathjax).
MATHJAX_CONFIG = r"""window.MathJax = {
  tex: {
    inlineMath: [['$', '$'], ['\\(', '\\)']],
    displayMath: [['$$', '$$'], ['\\[', '\\]']],
    processEscapes: true,
    processEnvironments: true,
    tags: 'ams',
    useLabelIds: true
  }
};
""" + OFFLINE_CONFIG_JS


def has_math(notebook):
    """Whether anything MathJax typesets on the page has math: markdown cells and rich outputs (code is in
    <pre>, which MathJax skips)."""
    texts = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            texts.extend(str(data[mime]) for mime in TYPESET_OUTPUTS if mime in data)
    return any(MATH.search(text) for text in texts)


@functools.lru_cache(maxsize=1)
def inline_mathjax():
    """The <script> elements that configure and load the course's MathJax, inlined."""
    script = mathjax_script().read_text(encoding="utf-8")
    if re.search(r"</?script", script, re.I):
        raise ValueError(f"{mathjax_script()} holds a <script> or </script> tag and cannot be inlined in a page")
    return (f'<script type="text/javascript">\n{MATHJAX_CONFIG}\n</script>\n'
            f'<script type="text/javascript" id="MathJax-script">\n{script}\n</script>\n')


def self_contained_math(html, math):
    """``html`` with nbconvert's CDN MathJax replaced by the inlined local copy where ``math``, else removed."""
    replacement = ""
    if math:
        try:
            replacement = inline_mathjax()
        except MathJaxNotFound as missing:
            LOG.warning("feedback math left as TeX source: %s", missing)
    return CDN_MATHJAX.sub(lambda _: replacement, html, count=1)


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback page (the HTMLExporter nbgrader configures), with MathJax inlined or left out."""

    def from_notebook_node(self, nb, resources=None, **kw):
        html, resources = super().from_notebook_node(nb, resources, **kw)
        return self_contained_math(html, has_math(nb)), resources

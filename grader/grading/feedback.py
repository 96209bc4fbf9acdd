"""How a feedback page shows the graded notebook.

nbgrader's generate_feedback renders the autograded notebook, in which the hidden tests were
put back. A student's feedback page shows each test cell's docstring and visible checks, with
one line in place of the hidden checks (their result still shows below the cell); the
instructor's ``OUT/autograded`` notebooks keep them in full.

A page is self-contained: nbgrader's release_feedback hands students the .html file alone, and
nothing on it reaches the network. Where the page has math, the course's copy of MathJax
(:func:`grader.grading.mathjax.mathjax_script`) is inlined in place of nbconvert's CDN script,
configured as nbconvert configures it; a page without math gets no MathJax at all.

A page is safe to open: the instructor opens every student's page in a browser, so nothing a
student wrote may run there. Markdown (cells, text/markdown outputs, comments) is cleaned after
it is rendered to HTML, rich outputs before templating (:class:`SafeOutputs`), both by one
allowlist (:func:`clean_student_html`): no script, event attribute, frame, form or style element,
links to http(s), mail or the page itself, images only as data: URIs. The finished page is then
audited (:func:`unsafe_markup`; a page that fails is not written) and carries a
Content-Security-Policy that lets only its own inline scripts run (:func:`with_csp`).
"""
import base64
import functools
import hashlib
import html as html_lib
import logging
import re
from html.parser import HTMLParser

from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from nbconvert.preprocessors.sanitize import SanitizeHTML
from traitlets import Bool, Set

from grader.course import HIDDEN_BEGIN, HIDDEN_END
from grader.grading.mathjax import OFFLINE_CONFIG_JS, MathJaxNotFound, mathjax_script

LOG = logging.getLogger("grader.feedback")

HIDDEN_NOTE = "# (hidden tests: they run only when the notebook is graded; their result is below)"
# In the notebook that the student's kernel runs when graded: the hidden tests run in the trusted
# checker only, so their source (references included) never reaches code the student wrote.
WITHHELD_NOTE = "# (hidden tests: the grader runs them outside this notebook; their result is below)"


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
    note = HIDDEN_NOTE

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and HIDDEN_BEGIN in cell.source:
            cell.source = summarise_hidden_tests(cell.source, self.note)
        return cell, resources


class HiddenTestsWithheld(HiddenTestsSummarised):
    """Before the student's kernel runs a notebook for grading: one line in place of the hidden tests
    (a later cell could otherwise print them from the kernel's input history into the feedback)."""

    note = WITHHELD_NOTE


def feedback_preprocessors():
    """nbgrader's GenerateFeedback pipeline, with the hidden tests summarised before rendering."""
    from nbgrader.preprocessors import GetGrades

    return [GetGrades, HiddenTestsSummarised, SafeOutputs, CSSHTMLHeaderPreprocessor]


# ----------------------------------------------------------------------------- student HTML, made inert
# What students' markdown and rich outputs may use: text structure, tables, code, images. Classes
# only where nbconvert's renderer puts them (anchor links, highlighted code); ids only on headings.
SAFE_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"})
SAFE_ATTRIBUTES = {
    "a": {"href", "title", "class"}, "img": {"src", "alt", "title", "width", "height"},
    "div": {"class"}, "span": {"class"}, "pre": {"class"}, "code": {"class"}, "ol": {"start"},
    "td": {"style", "colspan", "rowspan", "align"}, "th": {"style", "colspan", "rowspan", "align"},
    **{f"h{level}": {"id"} for level in range(1, 7)}}
SAFE_STYLES = ["text-align"]  # markdown tables align their columns with it
LINK_SCHEMES = ("http:", "https:", "mailto:")
DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|svg\+xml);base64,[A-Za-z0-9+/=\s]*\Z")
SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.I)
NUMBER = re.compile(r"\d{1,5}(\.\d{1,3})?(px|%)?\Z")


def safe_attribute(tag, name, value):
    """Whether ``name="value"`` may stay on a student's ``tag`` (bleach's attribute filter)."""
    if name not in SAFE_ATTRIBUTES.get(tag, ()):
        return False
    if name == "src":
        return bool(DATA_IMAGE.match(value.strip()))
    if name == "href":
        target = re.sub(r"[\x00-\x20]", "", value)
        scheme = SCHEME.match(target)
        return scheme is None or f"{scheme.group(1).lower()}:" in LINK_SCHEMES
    if name in ("width", "height", "colspan", "rowspan", "start"):
        return bool(NUMBER.match(value.strip()))
    return True


@functools.lru_cache(maxsize=1)
def _cleaner():
    import bleach
    from bleach.css_sanitizer import CSSSanitizer

    return bleach.sanitizer.Cleaner(
        tags=SAFE_TAGS, attributes=safe_attribute, protocols={"http", "https", "mailto", "data"},
        css_sanitizer=CSSSanitizer(allowed_css_properties=SAFE_STYLES), strip=False, strip_comments=True)


def clean_student_html(html):
    """``html`` (from a student) with everything outside the allowlist escaped, so it shows as text:
    no element or attribute that can run script, load anything or leave the page."""
    return _cleaner().clean(html.decode() if isinstance(html, bytes) else str(html))


GRADE_ID = re.compile(r"[A-Za-z0-9_.-]+\Z")
BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*\Z")
IMAGE_SIZE_KEYS = ("width", "height")


class SafeOutputs(SanitizeHTML):
    """nbconvert's SanitizeHTML with the course's allowlist, for what nbgrader's feedback template
    writes unescaped: text/html outputs and raw cells are cleaned, outputs of any type it does not
    know (application/javascript, widgets, SVG) are dropped, an image's metadata keeps only a
    numeric width and height, and a grade id that is not a plain name is made one. Markdown (cells
    and text/markdown outputs) is cleaned once rendered, by FeedbackExporter's markdown2html."""

    enabled = Bool(True)
    safe_output_keys = Set({"metadata", "text/plain", "text/latex", "text/markdown", "image/png", "image/jpeg"})
    sanitized_output_types = Set({"text/html"})

    def sanitize_html_tags(self, html_str):
        return clean_student_html(html_str)

    def sanitize_code_outputs(self, outputs):
        """SanitizeHTML's, plus a line in place of an output whose every type was dropped."""
        kinds = [sorted(output.get("data", {})) for output in outputs]
        outputs = super().sanitize_code_outputs(outputs)
        for output, before in zip(outputs, kinds, strict=True):
            if "data" in output and not output.data:
                output.data["text/plain"] = f"[autograder] an output not shown here ({', '.join(before)})"
        return outputs

    def preprocess_cell(self, cell, resources, index):
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and "grade_id" in meta and not GRADE_ID.match(str(meta["grade_id"])):
            meta["grade_id"] = re.sub(r"[^A-Za-z0-9_.-]", "_", str(meta["grade_id"]))[:100] or "cell"
        if cell.cell_type == "markdown":
            return cell, resources
        if cell.cell_type == "code":
            for output in cell.outputs:
                if "metadata" in output:
                    output["metadata"] = self.safe_metadata(output["metadata"])
                for mime in ("image/png", "image/jpeg"):
                    if mime in output.get("data", {}) and not BASE64.match(str(output.data[mime])):
                        del output.data[mime]
                        output.data.setdefault("text/plain", f"[autograder] an {mime} output that is not base64")
        return super().preprocess_cell(cell, resources, index)

    @staticmethod
    def safe_metadata(metadata):
        """What the template reads from an output's metadata: an image's size, kept if it is a number."""
        kept = {}
        for mime in ("image/png", "image/jpeg"):
            sizes = metadata.get(mime) if isinstance(metadata, dict) else None
            if isinstance(sizes, dict):
                kept[mime] = {key: sizes[key] for key in IMAGE_SIZE_KEYS
                              if isinstance(sizes.get(key), int | float) and not isinstance(sizes[key], bool)}
        return kept


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
    """nbgrader's feedback page (the HTMLExporter nbgrader configures): markdown cleaned once rendered,
    MathJax inlined or left out, the page audited and given its Content-Security-Policy."""

    @pass_context
    def markdown2html(self, context, source):
        return clean_student_html(super().markdown2html(context, source))

    def from_notebook_node(self, nb, resources=None, **kw):
        html, resources = super().from_notebook_node(nb, resources, **kw)
        html = UNREACHABLE_FONTS.sub("", self_contained_math(html, has_math(nb)))
        problems = unsafe_markup(html)
        if problems:  # never expected: the cleaning above should leave nothing; fail closed, for this page only
            name = (resources or {}).get("nbgrader", {}).get("notebook", "notebook")
            LOG.warning("feedback page for %s replaced: it still held %s", name, "; ".join(problems[:5]))
            html = refused_page(name, problems)
        return with_csp(html), resources


def refused_page(name, problems):
    """The page written in place of one that failed the audit (nbgrader would drop the student's every
    page if the exporter raised)."""
    items = "".join(f"<li>{html_lib.escape(problem)}</li>" for problem in problems[:20])
    return (f'<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>{html_lib.escape(name)}</title>\n'
            f"</head>\n<body>\n<h1>{html_lib.escape(name)}: feedback not shown</h1>\n<p>The page held markup that "
            f"could run in a browser, so it was not written. The autograded notebook has the outputs.</p>\n"
            f"<ul>{items}</ul>\n</body>\n</html>\n")


# ----------------------------------------------------------------------------- the finished page
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "data", "xlink:href", "poster", "background"})
FORBIDDEN_TAGS = frozenset({"iframe", "frame", "frameset", "object", "embed", "applet", "base", "form", "link",
                            "portal", "input", "button", "textarea", "select"})
SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:")
SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script\s*>", re.I | re.S)
# Bootstrap's icon font, which nbgrader's template inlines with a link to ../fonts/ that no feedback folder has
# (no page uses the icons); under the policy Chromium reports each blocked font file as an error.
UNREACHABLE_FONTS = re.compile(r"@font-face\s*\{[^{}]*url\(\.\./fonts/[^{}]*\}")


class UnsafeFeedback(ValueError):
    """A finished feedback page still holds markup that could run or load something."""


class _Audit(HTMLParser):
    def __init__(self, allowed_scripts):
        super().__init__(convert_charrefs=True)
        self.allowed_scripts, self.problems, self.script = allowed_scripts, [], None

    def handle_starttag(self, tag, attrs):
        where = f"line {self.getpos()[0]}"
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> ({where})")
        if tag == "meta" and any(name == "http-equiv" and (value or "").lower() not in (
                "content-security-policy", "content-type") for name, value in attrs):
            self.problems.append(f"<meta http-equiv> ({where})")
        for name, value in attrs:
            target = re.sub(r"[\x00-\x20]", "", html_lib.unescape(value or "")).lower()
            if name.startswith("on") or name == "srcdoc":
                self.problems.append(f"<{tag} {name}> ({where})")
            elif name in URL_ATTRIBUTES and target.startswith(SCRIPT_SCHEMES) and not (
                    tag == "img" and name == "src" and DATA_IMAGE.match(target)):
                self.problems.append(f"<{tag} {name}={target[:40]!r}> ({where})")
        if tag == "script":
            self.script = []

    def handle_data(self, data):
        if self.script is not None:
            self.script.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self.script is not None:
            if "".join(self.script) not in self.allowed_scripts:
                self.problems.append(f"a <script> that is not the page's own (line {self.getpos()[0]})")
            self.script = None


def page_scripts():
    """The bodies of the inline scripts a feedback page may carry: the inlined MathJax and its configuration."""
    try:
        return frozenset(SCRIPT.findall(inline_mathjax()))
    except MathJaxNotFound:
        return frozenset()


def unsafe_markup(html, allowed_scripts=None):
    """What in a finished page could run script, load something or leave it (empty for a safe page)."""
    audit = _Audit(page_scripts() if allowed_scripts is None else allowed_scripts)
    audit.feed(html)
    audit.close()
    return audit.problems


def script_hash(body):
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(html, allowed_scripts=None):
    """The page's policy: nothing loads or runs but its own inline scripts, hashed as they are in ``html``
    (a script that is not one of ``allowed_scripts``, the page's own, gets no hash)."""
    allowed = page_scripts() if allowed_scripts is None else allowed_scripts
    hashes = sorted({script_hash(body) for body in SCRIPT.findall(html) if body in allowed})
    return "; ".join([
        "default-src 'none'", f"script-src {' '.join(hashes) or chr(39) + 'none' + chr(39)}", "img-src data:",
        "style-src 'unsafe-inline'", "base-uri 'none'", "form-action 'none'"])


def with_csp(html, allowed_scripts=None):
    """``html`` with its Content-Security-Policy as the first element of <head> (before anything it governs)."""
    meta = f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy(html, allowed_scripts)}">'
    page, found = re.subn(r"<head\b[^>]*>", lambda head: f"{head.group(0)}\n{meta}", html, count=1, flags=re.I)
    if not found:
        raise UnsafeFeedback("the feedback page has no <head> to carry its Content-Security-Policy")
    return page

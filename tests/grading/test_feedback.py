"""How feedback pages show test cells and math, and that nothing a student wrote runs there
(grader.grading.feedback)."""
import base64
import copy
import hashlib
import io
import re

import nbformat
import pytest

from grader import course
from grader.grading.feedback import (
    HIDDEN_NOTE,
    MATHJAX_CONFIG,
    SCRIPT,
    FeedbackExporter,
    HiddenTestsSummarised,
    clean_student_html,
    content_security_policy,
    feedback_preprocessors,
    has_math,
    inline_mathjax,
    safe_attribute,
    self_contained_math,
    summarise_hidden_tests,
    unsafe_markup,
)
from grader.grading.mathjax import MATHJAX_ENV, mathjax_script

TEST_CELL = '''"""model_inputs: sizes come from the arguments."""
checks.model_inputs_types(model_inputs)
### BEGIN HIDDEN TESTS
checks.model_inputs_dimensions(model_inputs)
### END HIDDEN TESTS'''


def test_hidden_checks_give_way_to_one_line_and_the_rest_stays():
    assert summarise_hidden_tests(TEST_CELL).split("\n") == [
        '"""model_inputs: sizes come from the arguments."""', "checks.model_inputs_types(model_inputs)", HIDDEN_NOTE]


def test_the_preprocessor_runs_when_nbconvert_registers_it():
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    exporter.register_preprocessor(HiddenTestsSummarised)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(TEST_CELL)])
    html, _ = exporter.from_notebook_node(notebook)
    assert "BEGIN HIDDEN TESTS" not in html and "hidden tests: they run only" in html


def test_cells_without_hidden_tests_are_unchanged():
    cell = nbformat.v4.new_code_cell("checks.generator_output(generator)")
    HiddenTestsSummarised().preprocess_cell(cell, {}, 0)
    assert cell.source == "checks.generator_output(generator)"
    cell = nbformat.v4.new_code_cell(TEST_CELL)
    HiddenTestsSummarised().preprocess_cell(cell, {}, 0)
    assert "model_inputs_dimensions" not in cell.source and HIDDEN_NOTE in cell.source


# ----------------------------------------------------------------------------- math, offline
DISPLAY = r"$$\min_G \max_D \; \mathbb{E}_x[\log D(x)]$$"
INLINE = r"$D(G(z)) \to 0$"
LOADS_A_SCRIPT = re.compile(r"<script[^>]*\ssrc\s*=", re.I)  # any script fetched from elsewhere, a CDN or not


def scored(notebook):
    """What nbgrader's GetGrades adds for the feedback template (without a gradebook)."""
    for cell in notebook.cells:
        meta = course.nbgrader_metadata(cell)
        if meta.get("grade"):
            meta.setdefault("points", 0)
            meta["score"] = 0
    return notebook


def feedback_page(notebook):
    """``notebook`` rendered as nbgrader's GenerateFeedback configures its HTMLExporter, by the course's exporter."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory

    config = GenerateFeedback(coursedir=CourseDirectory()).config
    resources = {"nbgrader": {"notebook": "page", "score": 0, "max_score": 0, "late_penalty": 0}}
    html, _ = FeedbackExporter(config=config).from_notebook_node(scored(notebook), resources=resources)
    return html


def markdown_page(*texts):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text) for text in texts])


@pytest.fixture
def fresh_mathjax():
    inline_mathjax.cache_clear()
    yield
    inline_mathjax.cache_clear()


@pytest.mark.parametrize("text, math", [
    (INLINE, True), (DISPLAY, True), (r"\(x\)", True), (r"\[x\]", True), (r"\begin{align} x \end{align}", True),
    ("no math, one price: $5", False), (r"escaped: \$5 and \$6", False), ("$\n$", False), ("plain text", False)])
def test_math_is_what_mathjax_would_typeset(text, math):
    assert has_math(markdown_page(text)) is math


def test_math_counts_in_rich_outputs_not_in_code_or_text_outputs():
    def page(output):
        cell = nbformat.v4.new_code_cell("x = '$a$'  # code is a <pre>", outputs=[output])
        return nbformat.v4.new_notebook(cells=[cell])

    assert has_math(page(nbformat.v4.new_output("display_data", data={"text/latex": "$$x^2$$"})))
    assert has_math(page(nbformat.v4.new_output("execute_result", data={"text/markdown": INLINE}, execution_count=1)))
    assert not has_math(page(nbformat.v4.new_output("stream", name="stdout", text=f"{INLINE}\n")))
    assert not has_math(page(nbformat.v4.new_output("execute_result", data={"text/plain": INLINE}, execution_count=1)))


def test_a_page_with_math_inlines_the_local_mathjax_once_and_loads_nothing(fresh_mathjax):
    html = feedback_page(markdown_page(f"The game: {DISPLAY}", f"The generator wants {INLINE}."))
    assert not LOADS_A_SCRIPT.search(html) and "cdnjs" not in html and "MathJax.Hub" not in html
    assert html.count(mathjax_script().read_text(encoding="utf-8")) == 1
    assert html.count(MATHJAX_CONFIG) == 1 and html.index(MATHJAX_CONFIG) < html.index('id="MathJax-script"')
    assert DISPLAY in html and INLINE in html, "the TeX source is on the page for MathJax to typeset"


def test_a_page_without_math_gets_no_mathjax():
    notebook = markdown_page("No math here, one price: $5.")
    notebook.cells.append(nbformat.v4.new_code_cell("print('$a$')", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="$a$\n")]))
    html = feedback_page(notebook)
    assert "<script" not in html and "MathJax" not in html  # (nbgrader's template keeps a comment on its macro)


def test_without_the_local_mathjax_the_tex_stays_and_nothing_is_loaded(fresh_mathjax, monkeypatch, tmp_path):
    monkeypatch.setenv(MATHJAX_ENV, str(tmp_path / "missing" / "tex-svg.js"))
    html = feedback_page(markdown_page(f"The game: {DISPLAY}"))
    assert "<script" not in html and DISPLAY in html


@pytest.mark.parametrize("notebook_id", sorted(course.read_assignment()))
def test_the_course_pages_carry_mathjax_exactly_where_they_have_math(notebook_id):
    notebook = nbformat.read(str(course.release_dir() / course.ASSIGNMENT / f"{notebook_id}.ipynb"), as_version=4)
    math = has_math(notebook)
    html = feedback_page(notebook)
    assert not LOADS_A_SCRIPT.search(html)
    assert html.count('id="MathJax-script"') == (1 if math else 0)
    if notebook_id in ("02_generator", "04_losses"):
        assert math, f"{notebook_id} has math"


def with_injections(notebook):
    """A submitted notebook with markdown and executed outputs that try to run script on the feedback page."""
    html = f"<script>{pwn('run-html-script')}</script><img src=x onerror=\"{pwn('run-html-img')}\">"
    code = (f"from IPython.display import HTML, Javascript, display\n"
            f"display(HTML({html!r}))\ndisplay(Javascript({pwn('run-javascript')!r}))")
    notebook.cells.append(nbformat.v4.new_markdown_cell("\n\n".join(HOSTILE_MARKDOWN.values())))
    notebook.cells.append(nbformat.v4.new_code_cell(code))
    return notebook


@pytest.mark.slow
def test_autograde_writes_self_contained_feedback_pages(tmp_path):
    """The worker's generate_feedback, end to end: one student hands in 01 (no math, with injection attempts
    in markdown and in what its code displays) and 02 (math); the others get placeholder pages. No page loads
    a script or holds one of the student's; each carries MathJax exactly where its notebook has math, and its
    Content-Security-Policy."""
    from grader.grading import demo
    from grader.grading.batch import autograde

    handed_in = ["01_model_inputs", "02_generator"]
    demo.write_submission(tmp_path / "submitted", "student", demo.reference_answers(), notebooks=handed_in,
                          edits={"01_model_inputs": with_injections})
    autograde(tmp_path / "submitted", tmp_path / "out", workers=1, timeout=40, notebook_limit=150, memory_mb=1500,
              skip_ungraded=True, log=lambda *args: None)
    pages = {}
    for notebook_id in course.read_assignment():
        html = (tmp_path / "out" / "feedback" / "student" / course.ASSIGNMENT / f"{notebook_id}.html").read_text()
        graded = nbformat.read(str(tmp_path / "out" / "autograded" / "student" / course.ASSIGNMENT /
                                   f"{notebook_id}.ipynb"), as_version=4)
        pages[notebook_id] = (has_math(graded), bool(LOADS_A_SCRIPT.search(html)), html.count('id="MathJax-script"'))
        assert unsafe_markup(html) == [] and 'http-equiv="Content-Security-Policy"' in html, notebook_id
    executed = (tmp_path / "out" / "autograded" / "student" / course.ASSIGNMENT / "01_model_inputs.ipynb").read_text()
    assert "run-javascript" in executed and "run-html-img" in executed, "the hostile cell did not run"
    page = (tmp_path / "out" / "feedback" / "student" / course.ASSIGNMENT / "01_model_inputs.html").read_text()
    assert "&lt;script&gt;" in page, "expected the HTML() output's script shown as text"
    assert "output_javascript" not in page, "expected the Javascript() output left out of the page"
    assert pages["02_generator"][0] and not pages["01_model_inputs"][0]
    assert {nb: (loads, count) for nb, (_, loads, count) in pages.items()} == {
        nb: (False, int(math)) for nb, (math, _, _) in pages.items()}, pages


# ----------------------------------------------------------------------------- safe to open
def pwn(name):
    """JavaScript that records ``name`` if it ever runs (the browser test reads window.__pwned)."""
    return f"(window.__pwned=window.__pwned||[]).push('{name}')"


def data_html(name):
    return "data:text/html;base64," + base64.b64encode(f"<script>parent.{pwn(name)}</script>".encode()).decode()


def png_figure():
    """A real matplotlib PNG, base64 as a notebook output holds it."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1))
    figure.subplots().plot([0, 1, 0])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


HOSTILE_MARKDOWN = {
    "md-script": f"<script>{pwn('md-script')}</script>",
    "md-img-onerror": f"<img src=x onerror=\"{pwn('md-img-onerror')}\">",
    "md-svg-onload": f"<svg onload=\"{pwn('md-svg-onload')}\"><circle r=\"5\"></circle></svg>",
    "md-svg-script": f"<svg><script>{pwn('md-svg-script')}</script></svg>",
    "md-ontoggle": f"<details open ontoggle=\"{pwn('md-ontoggle')}\"><summary>s</summary>x</details>",
    "md-srcdoc": f"<iframe srcdoc=\"&lt;script&gt;parent.{pwn('md-srcdoc')}&lt;/script&gt;\"></iframe>",
    "md-js-link": f"<a href=\"javascript:{pwn('md-js-link')}\">click</a>",
    "md-js-markdown-link": "[click](javascript:void(document.title='md-js-markdown-link'))",
    "md-entity-js-link": "<a href=\"jav&#x09;ascript:void(document.title='md-entity-js-link')\">click</a>",
    "md-data-iframe": f"<iframe src=\"{data_html('md-data-iframe')}\"></iframe>",
    "md-data-object": f"<object data=\"{data_html('md-data-object')}\"></object>",
    "md-data-link": f"<a href=\"{data_html('md-data-link')}\">data link</a>",
    "md-data-embed": f"<embed src=\"{data_html('md-data-embed')}\">",
    "md-meta-refresh": "<meta http-equiv=\"refresh\" content=\"0;url=javascript:void(document.title='md-refresh')\">",
    "md-autofocus": f"<input autofocus onfocus=\"{pwn('md-autofocus')}\">",
    "md-form": f"<form action=\"javascript:{pwn('md-form')}\"><button id=\"go\">go</button></form>",
    "md-style": "<style>body { background: url(https://example.org/track.png) }</style>",
    "md-math-link": "<math><mi xlink:href=\"javascript:void(document.title='md-math-link')\">x</mi></math>",
}


def hostile_outputs():
    """Code outputs that would run script if rendered as nbconvert renders them without sanitising."""
    new = nbformat.v4.new_output
    return [
        # (its script also defines the jQuery `$` that nbconvert's wrapper of a Javascript() output calls first)
        new("display_data", data={"text/html": f"<script>window.$=window.$||(()=>0);{pwn('out-html-script')}</script>"
                                                f"<img src=x onerror=\"{pwn('out-html-img')}\">"}),
        new("display_data", data={"text/html": f"<b>isolated</b><script>{pwn('out-isolated')}</script>"},
            metadata={"text/html": {"isolated": True}}),
        new("display_data", data={"application/javascript": pwn("out-javascript"), "text/plain": "<Javascript>"}),
        new("execute_result", data={"text/html": f"<svg onload=\"{pwn('out-svg-onload')}\"></svg>"},
            execution_count=1),
        new("display_data", data={"text/markdown": f"<img src=x onerror=\"{pwn('out-markdown-img')}\"> "
                                                    "[x](javascript:void(document.title='out-markdown-link'))"}),
        new("display_data", data={"image/svg+xml": f"<svg onload=\"{pwn('out-svg-image')}\"></svg>"}),
        new("display_data", data={"image/png": "iVBORw0KGgo="},
            metadata={"image/png": {"width": f"1 onerror={pwn('out-png-width')}"}}),
        new("display_data", data={"image/png": f"x\" onerror=\"{pwn('out-png-data')}"}),
        new("stream", name="stdout", text=f"<script>{pwn('out-stream')}</script>\n"),
        new("error", ename="Error", evalue="<b>x</b>", traceback=[f"<img src=x onerror=\"{pwn('out-traceback')}\">"]),
    ]


def hostile_notebook():
    """Every injection attempt in markdown and outputs, next to what must still work: a PNG figure, math, a table."""
    cells = [nbformat.v4.new_markdown_cell(f"### {name}\n\n{vector}\n") for name, vector in HOSTILE_MARKDOWN.items()]
    cells.append(nbformat.v4.new_markdown_cell(
        f"The game: {DISPLAY}\n\nThe generator wants {INLINE}, so $a<b$.\n\n| a | b |\n|:--|--:|\n| 1 | $x^2$ |\n"))
    forged = nbformat.v4.new_markdown_cell("forged grade id", metadata={"nbgrader": {
        "grade": True, "solution": True, "points": 1, "grade_id": f"x\"><img src=x onerror=\"{pwn('grade-id')}\">"}})
    cells.append(forged)
    cells.append(nbformat.v4.new_code_cell("evil()", outputs=hostile_outputs(), execution_count=1))
    cells.append(nbformat.v4.new_code_cell("figure", execution_count=2, outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": png_figure(), "text/plain": "<Figure>"})]))
    return nbformat.v4.new_notebook(cells=cells)


def grader_page(notebook):
    """``notebook`` rendered as the worker's generate_feedback renders it: FeedbackExporter with
    feedback_preprocessors, GetGrades (which needs a gradebook) replaced by :func:`scored`."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import GetGrades

    preprocessors = feedback_preprocessors()
    assert preprocessors[0] is GetGrades, f"expected GetGrades first in feedback_preprocessors, found {preprocessors}"
    exporter = FeedbackExporter(config=GenerateFeedback(coursedir=CourseDirectory()).config)
    for preprocessor in preprocessors[1:]:
        exporter.register_preprocessor(preprocessor)
    resources = {"nbgrader": {"notebook": "hostile", "score": 0, "max_score": 0, "late_penalty": 0}}
    html, _ = exporter.from_notebook_node(scored(copy.deepcopy(notebook)), resources=resources)
    return html


def unsanitised_page(notebook):
    """``notebook`` as plain nbconvert renders it with nbgrader's feedback template (no cleaning, no audit)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory

    exporter = HTMLExporter(config=GenerateFeedback(coursedir=CourseDirectory()).config)
    resources = {"nbgrader": {"notebook": "hostile", "score": 0, "max_score": 0, "late_penalty": 0}}
    html, _ = exporter.from_notebook_node(scored(copy.deepcopy(notebook)), resources=resources)
    return self_contained_math(html, True)


def test_a_hostile_notebook_is_rendered_without_anything_that_runs(fresh_mathjax):
    html = grader_page(hostile_notebook())
    assert isinstance(html, str), f"expected the page as text, found {type(html).__name__}"
    assert unsafe_markup(html) == [], "the finished page still holds markup that runs (see the list)"
    assert "__pwned" not in "".join(SCRIPT.findall(html)), "a student's script body is inside a <script> element"
    assert html.count("<script") == 2, f"expected the two MathJax scripts only, found {html.count('<script')}"
    assert "&lt;script&gt;" in html, "a student's <script> should show as text, so the instructor sees the attempt"


def test_the_audit_finds_what_plain_nbconvert_lets_through(fresh_mathjax):
    """Without the cleaning, the same notebook's page fails the audit on each kind of vector: the audit can fail."""
    found = " ".join(unsafe_markup(unsanitised_page(hostile_notebook())))
    for kind in ("not the page's own", " onerror>", " onload>", " ontoggle>", "<iframe>", "<object>", "<embed>",
                 "href='javascript:", "href='data:", "<meta http-equiv>", "<form>", " onfocus>"):
        assert kind in found, f"expected the audit of an unsanitised page to report {kind!r}; it reported: {found}"


def test_what_the_course_needs_survives_the_cleaning():
    html = clean_student_html('<p>$a&lt;b$</p><table><tr><th style="text-align:right">a</th></tr></table>'
                              '<img src="data:image/png;base64,iVBORw0KGgo=" width="120" alt="grid">'
                              '<a href="https://example.org/paper">paper</a><a href="#top">top</a>'
                              '<div class="highlight"><pre><span class="k">def</span></pre></div>'
                              '<h2 id="Part-1">P</h2>')
    for kept in ('style="text-align:right;"', 'src="data:image/png;base64,iVBORw0KGgo="', 'width="120"',
                 'href="https://example.org/paper"', 'href="#top"', 'class="k"', 'id="Part-1"', "$a&lt;b$"):
        assert kept in html, f"expected {kept!r} to survive the cleaning, found: {html}"


@pytest.mark.parametrize("value, kept", [
    ("javascript:alert(1)", False), ("JaVaScRiPt:alert(1)", False), (" javascript:alert(1)", False),
    ("java\tscript:alert(1)", False), ("data:text/html,x", False), ("vbscript:x", False),
    ("https://example.org", True), ("mailto:t@example.org", True), ("#part-2", True), ("other.html", True)])
def test_links_keep_only_web_mail_and_page_targets(value, kept):
    assert safe_attribute("a", "href", value) is kept, f"href={value!r}: expected kept={kept}"


@pytest.mark.parametrize("value, kept", [
    ("data:image/png;base64,iVBORw0KGgo=", True), ("data:image/svg+xml;base64,PHN2Zz4=", True),
    ("data:image/png;base64,x\" onerror=\"y", False), ("data:text/html;base64,PHNjcmlwdD4=", False),
    ("https://example.org/pixel.png", False), ("x", False)])
def test_images_only_as_data_uris(value, kept):
    assert safe_attribute("img", "src", value) is kept, f"src={value!r}: expected kept={kept}"


def test_the_policy_hashes_the_pages_own_scripts_and_no_other(fresh_mathjax):
    html = grader_page(markdown_page(f"The game: {DISPLAY}"))
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy, "expected a Content-Security-Policy <meta> on the page"
    assert html.index("Content-Security-Policy") < html.index("<script"), "the policy must come before the scripts"
    directives = dict(part.strip().split(" ", 1) for part in policy.group(1).split(";"))
    bodies = SCRIPT.findall(html)
    assert len(bodies) == 2, f"expected the MathJax configuration and MathJax, found {len(bodies)} scripts"
    expected = {"'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'" for body in bodies}
    assert set(directives["script-src"].split()) == expected, (
        f"expected script-src to hold the hashes of the page's two scripts, found {directives['script-src']}")
    assert (directives["default-src"], directives["img-src"], directives["style-src"]) == (
        "'none'", "data:", "'unsafe-inline'"), f"unexpected policy: {directives}"
    foreign = html.replace("</body>", "<script>alert(1)</script></body>")
    assert content_security_policy(foreign) == content_security_policy(html), "a foreign script got a hash"


def test_a_page_without_scripts_allows_none():
    assert "script-src 'none'" in content_security_policy("<html><head></head><body>no math</body></html>")


def test_an_unsafe_page_is_not_written(monkeypatch, fresh_mathjax):
    """If anything unsafe ever reached the finished page, the exporter writes a page saying so instead."""
    import grader.grading.feedback as feedback

    monkeypatch.setattr(feedback, "clean_student_html", lambda html: str(html))
    html = grader_page(markdown_page(f"<img src=x onerror=\"{pwn('x')}\">"))
    assert "feedback not shown" in html and "&lt;img onerror&gt;" in html, f"expected the refusal page, found {html}"
    assert unsafe_markup(html) == [] and "__pwned" not in html, "the refusal page itself must be safe"


ESCAPED_TAG = re.compile(r"&lt;/?[a-zA-Z][^&]{0,30}")


@pytest.mark.parametrize("notebook_id", sorted(course.read_assignment()))
def test_the_course_pages_lose_nothing_to_the_cleaning(notebook_id):
    """Each course notebook's page, cleaned, has the images, tables and code of the uncleaned one, and no
    markup of the course's own shown as text."""
    notebook = nbformat.read(str(course.release_dir() / course.ASSIGNMENT / f"{notebook_id}.ipynb"), as_version=4)
    cleaned, plain = (page[page.index('id="notebook-container"'):]  # the notebook, not the template's head
                      for page in (grader_page(notebook), unsanitised_page(notebook)))
    for tag in ("<img", "<table", "<code", "<h2", "<a "):
        assert cleaned.count(tag) == plain.count(tag), (
            f"{notebook_id}: expected {plain.count(tag)} {tag}> as without cleaning, found {cleaned.count(tag)}")
    shown = [tag for tag in set(ESCAPED_TAG.findall(cleaned))
             if ESCAPED_TAG.findall(cleaned).count(tag) > ESCAPED_TAG.findall(plain).count(tag)]
    assert not shown, f"{notebook_id}: the cleaning turned the course's own markup into text: {shown}"

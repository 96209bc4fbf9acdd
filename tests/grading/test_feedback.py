"""How feedback pages show test cells and math (grader.grading.feedback)."""
import re

import nbformat
import pytest

from grader import course
from grader.grading.feedback import (
    HIDDEN_NOTE,
    MATHJAX_CONFIG,
    FeedbackExporter,
    HiddenTestsSummarised,
    has_math,
    inline_mathjax,
    summarise_hidden_tests,
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


@pytest.mark.slow
def test_autograde_writes_self_contained_feedback_pages(tmp_path):
    """The worker's generate_feedback, end to end: one student hands in 01 (no math) and 02 (math); the others
    get placeholder pages. No page loads a script; each carries MathJax exactly where its notebook has math."""
    from grader.grading import demo
    from grader.grading.batch import autograde

    handed_in = ["01_model_inputs", "02_generator"]
    demo.write_submission(tmp_path / "submitted", "student", demo.reference_answers(), notebooks=handed_in)
    autograde(tmp_path / "submitted", tmp_path / "out", workers=1, timeout=40, notebook_limit=150, memory_mb=1500,
              skip_ungraded=True, log=lambda *args: None)
    pages = {}
    for notebook_id in course.read_assignment():
        html = (tmp_path / "out" / "feedback" / "student" / course.ASSIGNMENT / f"{notebook_id}.html").read_text()
        graded = nbformat.read(str(tmp_path / "out" / "autograded" / "student" / course.ASSIGNMENT /
                                   f"{notebook_id}.ipynb"), as_version=4)
        pages[notebook_id] = (has_math(graded), bool(LOADS_A_SCRIPT.search(html)), html.count('id="MathJax-script"'))
    assert pages["02_generator"][0] and not pages["01_model_inputs"][0]
    assert {nb: (loads, count) for nb, (_, loads, count) in pages.items()} == {
        nb: (False, int(math)) for nb, (math, _, _) in pages.items()}, pages

"""The notebooks themselves: solutions pass, stubs fail, students' copies match their source, hygiene."""
import ast
import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader import course
from grader.exercises import graded_cells, reference_folder, student_folder
from grader.grading.nbgrader_bridge import IMAGE_LINK
from grader.grading.planted import has_planted_bugs, plant_bugs
from notebook_tools import answer_notebooks, graded_notebooks, reference_source

REPO = course.course_root()
REFERENCE, STUDENT = reference_folder(), student_folder()
BIN = Path(sys.executable).parent
EXERCISE_NOTEBOOKS = graded_notebooks()


def nbgrader(*args, cwd=REPO):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def all_notebooks():
    return sorted(list((REPO / "solutions").rglob("*.ipynb")) + list((REPO / "notebooks").rglob("*.ipynb")))


@pytest.mark.slow
def test_solutions_pass_all_tests():
    result = nbgrader("validate", *[str(REFERENCE / name) for name in EXERCISE_NOTEBOOKS])
    output = result.stdout + result.stderr
    assert output.count("Success! Your notebook passes all the tests.") == len(EXERCISE_NOTEBOOKS), output[-4000:]


@pytest.mark.slow
def test_student_versions_fail_every_test():
    result = nbgrader("validate", "--invert", *[str(STUDENT / name) for name in EXERCISE_NOTEBOOKS])
    output = result.stdout + result.stderr
    assert output.count("Success! The notebook does not pass any tests.") == len(EXERCISE_NOTEBOOKS), output[-4000:]


@pytest.mark.slow
def test_student_versions_are_a_fresh_generation(tmp_path):
    """notebooks/ is what `python -m grader generate` makes of solutions/ and assets/ (nbgrader's
    generate_assignment, figures embedded): regenerate, never hand-edit."""
    from grader.grading.nbgrader_bridge import generate_student_version

    generate_student_version(release_root=tmp_path / "notebooks")
    fresh_dir, committed_dir = tmp_path / "notebooks" / "gan", STUDENT
    fresh = sorted(p.name for p in fresh_dir.glob("*.ipynb"))
    committed = sorted(p.name for p in committed_dir.glob("*.ipynb"))
    assert fresh == committed, "notebooks/gan has missing or extra notebooks"
    for name in fresh:
        assert json.loads((fresh_dir / name).read_text()) == json.loads((committed_dir / name).read_text()), (
            f"notebooks/gan/{name} differs from a fresh generation: run `python -m grader generate` and commit")


@pytest.mark.parametrize("path", all_notebooks(), ids=lambda p: str(p.relative_to(REPO)))
def test_notebook_has_no_outputs(path):
    notebook = nbformat.read(str(path), as_version=4)
    dirty = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"


@pytest.mark.parametrize("name", EXERCISE_NOTEBOOKS)
def test_test_cells_follow_the_house_style(name):
    """Docstring first; only statements that return None (never a number, which nbgrader reads as partial credit)."""
    cells = graded_cells(REFERENCE / name)
    assert cells, f"{name} has no graded test cell"
    for grade_id, source, points in cells:
        body = ast.parse(source).body
        opening = body[0]
        assert isinstance(opening, ast.Expr) and isinstance(opening.value, ast.Constant) and isinstance(
            opening.value.value, str), f"{name}:{grade_id} must open with a one-line docstring saying what it checks"
        assert "\n" not in body[0].value.value
        lines = source.splitlines()
        hidden_from = lines.index("### BEGIN HIDDEN TESTS") + 1 if "### BEGIN HIDDEN TESTS" in lines else len(lines) + 1
        for statement in body[1:]:
            if isinstance(statement, ast.FunctionDef):  # a hidden check's reference: the answer key is not in grader/
                assert statement.lineno > hidden_from, f"{name}:{grade_id}: a reference function must be hidden"
                continue
            assert isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call), (
                f"{name}:{grade_id}: test cells hold only check calls")
            function = statement.value.func
            assert isinstance(function, ast.Attribute) and getattr(function.value, "id", None) == "checks", (
                f"{name}:{grade_id}: call the course's checks.* functions")
        assert points > 0


@pytest.mark.parametrize("name", EXERCISE_NOTEBOOKS)
def test_each_exercise_has_visible_and_hidden_tests_and_points_in_the_title(name):
    cells = graded_cells(REFERENCE / name)
    assert any("BEGIN HIDDEN TESTS" not in source for _, source, _ in cells), f"{name} needs a fully visible test"
    assert any("BEGIN HIDDEN TESTS" in source for _, source, _ in cells), f"{name} needs hidden tests"
    title = nbformat.read(str(REFERENCE / name), as_version=4).cells[0].source.splitlines()[0]
    total = sum(points for _, _, points in cells)
    assert re.search(rf"\({total:g} points?\)", title), f"{name}: title {title!r} should state the {total:g} points"


@pytest.mark.parametrize("grade_id,name", sorted(answer_notebooks().items()))
def test_student_stub_says_what_to_write(grade_id, name):
    """A function exercise keeps its signature and docstring; a question keeps `answer = None` and the form asked."""
    notebook = nbformat.read(str(STUDENT / name), as_version=4)
    (cell,) = [c for c in notebook.cells if course.grade_id(c) == grade_id]
    if has_planted_bugs(reference_source(grade_id)):  # a "find the bugs" cell starts from the broken code
        assert cell.source == plant_bugs(reference_source(grade_id)) and "### " not in cell.source
        return
    assert "raise NotImplementedError()" in cell.source and "BEGIN SOLUTION" not in cell.source
    defines_function = any(isinstance(node, ast.FunctionDef) and node.name == grade_id
                           for node in ast.parse(reference_source(grade_id)).body)
    if defines_function:
        assert f"def {grade_id}(" in cell.source
        assert '"""' in cell.source, "the stub keeps the docstring that explains arguments and return values"
    else:
        first = cell.source.splitlines()[0]
        assert first.startswith(f"{grade_id} = None  # "), f"{grade_id}: the stub should say what form the answer takes"


@pytest.mark.parametrize("path", all_notebooks(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_figure_a_notebook_shows_exists(path):
    notebook = nbformat.read(str(path), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for _, target in IMAGE_LINK.findall(cell.source):
                if target.startswith("attachment:"):
                    data = cell.get("attachments", {}).get(target.partition(":")[2], {}).get("image/png", "")
                    assert base64.b64decode(data).startswith(b"\x89PNG"), f"{path.name}: attachment {target} is missing"
                elif "://" not in target:
                    assert (path.parent / target).is_file(), f"{path.name} shows {target}, which does not exist"


def test_figure_links_with_brackets_in_their_alt_text_are_seen():
    source = "![tanh, and pixels in [-1, 1]](../../assets/tanh.png) and ![plain](a.png)"
    assert [target for _, target in IMAGE_LINK.findall(source)] == ["../../assets/tanh.png", "a.png"]


@pytest.mark.parametrize("name", sorted(p.name for p in STUDENT.glob("*.ipynb")))
def test_a_student_notebook_alone_carries_all_its_figures(name, tmp_path):
    """Copied away from the repository (an assignment folder alone, one downloaded file), a
    student notebook still shows every figure: they are embedded, and so is the feedback page."""
    from nbconvert import HTMLExporter

    shutil.copy(STUDENT / name, tmp_path / name)
    notebook = nbformat.read(str(tmp_path / name), as_version=4)
    shown = [target for cell in notebook.cells if cell.cell_type == "markdown"
             for _, target in IMAGE_LINK.findall(cell.source)]
    assert all(target.startswith("attachment:") for target in shown), f"{name} links to files: {shown}"
    html, _ = HTMLExporter().from_notebook_node(notebook)
    sources = re.findall(r'<img[^>]*\bsrc="([^"]*)"', html)
    assert len(sources) == len(shown) and all(src.startswith("data:image/png;base64,") for src in sources), (
        f"{name}: the HTML shows {[src[:40] for src in sources]}")

"""The notebooks themselves: solutions pass, stubs fail, students' copies match their source, hygiene."""
import ast
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
from grader.exercises import EXERCISES, graded_cells, reference_folder, student_folder

REPO = course.course_root()
REFERENCE, STUDENT = reference_folder(), student_folder()
BIN = Path(sys.executable).parent
EXERCISE_NOTEBOOKS = list(EXERCISES.values())


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
    """notebooks/ is what `nbgrader generate_assignment` makes of solutions/: regenerate, never hand-edit."""
    shutil.copy(REPO / "nbgrader_config.py", tmp_path)
    shutil.copytree(REPO / "solutions", tmp_path / "solutions")
    result = nbgrader("generate_assignment", "gan", "--force", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
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
        for statement in body[1:]:
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


@pytest.mark.parametrize("function,name", EXERCISES.items())
def test_student_stub_says_what_to_write(function, name):
    notebook = nbformat.read(str(STUDENT / name), as_version=4)
    (cell,) = [c for c in notebook.cells if course.grade_id(c) == function]
    assert f"def {function}(" in cell.source and "raise NotImplementedError()" in cell.source
    assert '"""' in cell.source, "the stub keeps the docstring that explains arguments and return values"
    assert "BEGIN SOLUTION" not in cell.source


@pytest.mark.parametrize("path", all_notebooks(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_figure_a_notebook_shows_exists(path):
    notebook = nbformat.read(str(path), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", cell.source):
                if "://" not in target:
                    assert (path.parent / target).is_file(), f"{path.name} shows {target}, which does not exist"

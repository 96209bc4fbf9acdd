"""Correct alternatives get full marks, scored by nbgrader itself on an executed notebook."""
import pytest

from alternatives import ALTERNATIVES
from grader import course
from notebook_tools import execute, failed_tests, notebook_with_answer, scores


def test_enough_alternatives():
    assert len(ALTERNATIVES) >= 6


@pytest.mark.parametrize("name", sorted(ALTERNATIVES))
def test_alternative_passes_every_graded_check(name):
    function, source = ALTERNATIVES[name]
    assert failed_tests(function, source) == {}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ALTERNATIVES))
def test_alternative_gets_full_marks_when_executed(name, tmp_path):
    function, source = ALTERNATIVES[name]
    notebook = execute(notebook_with_answer(function, source), tmp_path)
    graded = scores(notebook)
    assert graded, "the notebook has no graded cells"
    lost = {grade_id: score for grade_id, score in graded.items() if score[0] != score[1]}
    outputs = {course.grade_id(cell): cell.outputs for cell in notebook.cells if course.grade_id(cell) in lost}
    assert not lost, f"points lost: {lost}\noutputs: {outputs}"

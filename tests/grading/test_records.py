"""The typed grading records (grader.grading.records) and their way into a gradebook and back."""
import json

import pytest

from grader import course
from grader.grading import gradebook
from grader.grading.records import CellScore, NotebookResult, StudentJob, StudentResult, to_json


@pytest.fixture(scope="module")
def assignment():
    return course.read_assignment()


def test_a_failed_student_gets_every_test_at_zero_with_the_reason(assignment):
    job = StudentJob("ada", course.ASSIGNMENT, "/nowhere", index=0)
    result = StudentResult.all_zero(job, "internal grader error: boom", assignment)
    assert set(result.notebooks) == set(assignment)
    score, maximum = result.totals()
    assert score == 0 and maximum == sum(notebook.max_score for notebook in assignment.values()) > 0
    for notebook_id, notebook in result.notebooks.items():
        assert notebook.status == "internal error" and notebook.problems == ["internal grader error: boom"]
        assert set(notebook.tests) == {test.grade_id for test in assignment[notebook_id].tests}
        assert all(test.reason == "internal grader error: boom" for test in notebook.tests.values())


def test_totals_and_problems_add_up_over_notebooks():
    student = StudentResult("ada", "gan", notebooks={
        "a": NotebookResult(tests={"t1": CellScore(1, 2), "t2": CellScore(3, 3)}, problems=["x"]),
        "b": NotebookResult(tests={"t3": CellScore(0, 5)}, problems=["y", "z"]),
    })
    assert student.totals() == (4, 10) and student.problem_count() == 3


def test_records_are_written_as_plain_json():
    student = StudentResult("ada", "gan", notebooks={"a": NotebookResult(tests={"t": CellScore(1.0, 2.0, "why")})})
    data = json.loads(to_json({"students": [student]}))
    test = data["students"][0]["notebooks"]["a"]["tests"]["t"]
    assert test == {"score": 1.0, "max_score": 2.0, "reason": "why", "nbgrader": None, "recheck": None,
                    "check": None, "mistake": None}


@pytest.mark.slow
def test_a_result_goes_into_a_gradebook_and_comes_back(tmp_path, assignment):
    from grader.grading.nbgrader_bridge import generate_release

    database = tmp_path / "gradebook.db"
    generate_release(tmp_path / "release", database)
    notebook_id = next(n for n, notebook in assignment.items() if notebook.tests)
    tests = {test.grade_id: CellScore(test.points / 2, test.points) for test in assignment[notebook_id].tests}
    sent = StudentResult("ada", course.ASSIGNMENT, notebooks={notebook_id: NotebookResult(tests=tests)})
    with gradebook.open_gradebook(database) as book:
        gradebook.apply_student_result(book, sent)
    (back,) = gradebook.read_student_results(database)
    assert (back.student_id, back.assignment_id) == ("ada", course.ASSIGNMENT)
    assert {g: t.score for g, t in back.notebooks[notebook_id].tests.items()} == {g: t.score for g, t in tests.items()}

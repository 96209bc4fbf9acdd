"""A graded notebook that loads the student's other notebooks (07's 2-D lab reads 01 to 05) finds them in
its kernel's folder when graded, and says clearly when they were not handed in."""
import pytest

from grader import course
from grader.grading import demo
from grader.grading.batch import autograde

pytestmark = pytest.mark.slow
THEORY = "07_theory_and_failure_modes"
EXERCISES = ["01_model_inputs", "02_generator", "03_discriminator", "04_losses", "05_optimizers"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    answers = demo.reference_answers()
    demo.write_submission(folder / "submitted", "complete", answers, notebooks=EXERCISES + [THEORY])
    demo.write_submission(folder / "submitted", "lab_alone", answers, notebooks=[THEORY])
    report = autograde(folder / "submitted", folder / "out", workers=2, timeout=120, notebook_limit=400,
                       memory_mb=1500, skip_ungraded=True, log=lambda *args: None)
    return {"report": report, "out": folder / "out"}


def feedback(graded, student_id):
    return (graded["out"] / "feedback" / student_id / course.ASSIGNMENT / f"{THEORY}.html").read_text()


def lost_points(graded, student_id):
    student = next(s for s in graded["report"]["students"] if s.student_id == student_id)
    return {grade_id: (test.score, test.max_score)
            for grade_id, test in student.notebooks[THEORY].tests.items() if test.score != test.max_score}


def test_a_student_who_handed_in_everything_gets_the_lab_run_in_the_feedback(graded):
    html = feedback(graded, "complete")
    assert "ipynb is missing" not in html and "NameError" not in html and "The 2-D lab is skipped" not in html
    assert "plain (seed 0):" in html, "the lab's short run did not print its summary"
    assert lost_points(graded, "complete") == {}


def test_without_the_earlier_notebooks_the_lab_says_so_once_and_nothing_else_fails(graded):
    html = feedback(graded, "lab_alone")
    assert "The 2-D lab is skipped" in html and "01_model_inputs.ipynb is missing" in html
    assert "NameError" not in html and "Traceback (most recent call last)" not in html
    assert lost_points(graded, "lab_alone") == {}, "the graded tests do not depend on the lab"

"""The demo's submission builders (grader.grading.demo) write from the release folder they are given."""
import nbformat

from grader import course
from grader.exercises import student_folder
from grader.grading import demo

INPUTS = "01_model_inputs"


def test_submissions_start_from_the_release_folder_given(tmp_path):
    release = tmp_path / "release"
    release.mkdir()
    notebook = nbformat.read(str(student_folder() / f"{INPUTS}.ipynb"), as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell("a release made for this test"))
    nbformat.write(notebook, str(release / f"{INPUTS}.ipynb"))
    answers = {INPUTS: {"model_inputs": "def model_inputs(real_dim, z_dim):\n    return 1, 2\n"}}
    folder = demo.write_submission(tmp_path / "class", "ada", answers, release=release)
    written = nbformat.read(str(folder / f"{INPUTS}.ipynb"), as_version=4)
    assert written.cells[0].source == "a release made for this test"
    assert course.cells_by_grade_id(written.cells)["model_inputs"].source == answers[INPUTS]["model_inputs"]


def test_every_demo_student_is_written_from_the_given_release(tmp_path):
    students = demo.demo_class(demo.reference_answers(), release=student_folder())
    assert len(students) == 10
    for student_id, _, write in students:
        write(tmp_path)
        assert sorted(p.stem for p in (tmp_path / student_id / course.ASSIGNMENT).glob("*.ipynb"))

"""The demo's submission builders (grader.grading.demo) write from the release folder they are given."""
import nbformat

from grader import course
from grader.exercises import student_folder
from grader.grading import demo

INPUTS = "01_model_inputs"


def marked_release(folder):
    """A copy of the student notebooks whose first cell says it was made for the test."""
    folder.mkdir()
    for path in student_folder().glob("*.ipynb"):
        notebook = nbformat.read(str(path), as_version=4)
        notebook.cells.insert(0, nbformat.v4.new_markdown_cell("a release made for this test"))
        nbformat.write(notebook, str(folder / path.name))
    return folder


def test_submissions_start_from_the_release_folder_given(tmp_path):
    release = marked_release(tmp_path / "release")
    answers = {INPUTS: {"model_inputs": "def model_inputs(real_dim, z_dim):\n    return 1, 2\n"}}
    folder = demo.write_submission(tmp_path / "class", "ada", answers, release=release)
    written = nbformat.read(str(folder / f"{INPUTS}.ipynb"), as_version=4)
    assert written.cells[0].source == "a release made for this test"
    assert course.cells_by_grade_id(written.cells)["model_inputs"].source == answers[INPUTS]["model_inputs"]


def test_every_demo_student_is_written_from_the_given_release(tmp_path):
    students = demo.demo_class(demo.reference_answers(), release=marked_release(tmp_path / "release"))
    assert len(students) == 12
    for student_id, _, write in students:
        write(tmp_path / "class")
        written = sorted((tmp_path / "class" / student_id / course.ASSIGNMENT).glob("*.ipynb"))
        assert written, student_id
        for path in written:
            first = nbformat.read(str(path), as_version=4).cells[0].source
            assert first == "a release made for this test", f"{student_id}/{path.name} starts with {first[:40]!r}"

"""grader.course: where the course's folders are, and reading nbgrader's cell metadata."""
import nbformat
import pytest

from grader import course


def test_the_checkout_is_found_around_the_package():
    root = course.course_root()
    assert (root / course.CONFIG_NAME).is_file() and (root / "grader" / "course.py").is_file()
    assert course.solutions_dir() == root / "solutions" and course.release_dir() == root / "notebooks"
    assert course.mnist_dir() == root / "data" / "mnist" and course.cache_dir() == root / ".cache"


def test_environment_variables_point_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setenv("GAN_COURSE_MNIST", str(tmp_path / "mnist"))
    monkeypatch.setenv("GAN_COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GAN_COURSE_SOLUTIONS", str(tmp_path / "solutions"))
    assert course.mnist_dir() == tmp_path / "mnist" and course.cache_dir() == tmp_path / "cache"
    assert course.solutions_dir() == tmp_path / "solutions"


@pytest.mark.parametrize("folder", [course.solutions_dir, course.mnist_dir, course.cache_dir, course.release_dir])
def test_a_course_root_that_is_not_a_checkout_is_named(monkeypatch, tmp_path, folder):
    monkeypatch.setenv("GAN_COURSE_ROOT", str(tmp_path))
    with pytest.raises(course.CourseFolderNotFound, match=r"GAN_COURSE_ROOT is .*not the course folder"):
        folder()


def test_nbgrader_config_uses_the_course_id():
    from grader.grading.nbgrader_bridge import load_config

    config = load_config()
    assert config.CourseDirectory.course_id == course.COURSE_ID
    assert (config.CourseDirectory.source_directory, config.CourseDirectory.release_directory) == (
        course.SOURCE_FOLDER, course.RELEASE_FOLDER)


def test_cells_by_grade_id_keeps_the_first_of_repeated_ids_and_filters():
    def cell(kind, grade_id, source, **meta):
        new = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        new.metadata["nbgrader"] = {"grade_id": grade_id, **meta}
        return new

    cells = [cell("markdown", "a", "prose"), cell("code", "a", "first code", solution=True),
             cell("code", "a", "second code"), cell("code", "b", "locked", locked=True),
             nbformat.v4.new_code_cell("scratch")]
    assert {k: c.source for k, c in course.cells_by_grade_id(cells).items()} == {"a": "prose", "b": "locked"}
    assert course.cells_by_grade_id(cells, where=course.is_code)["a"].source == "first code"
    assert list(course.cells_by_grade_id(cells, where=course.is_locked)) == ["b"]
    assert course.grade_id(cells[-1]) is None


def test_source_notebooks_know_their_cells():
    notebooks = course.read_assignment()
    assert list(notebooks) == sorted(notebooks) and len(notebooks) >= 6
    generator = notebooks["02_generator"]
    assert [cell.grade_id for cell in generator.answers] == ["generator"]
    assert len(generator.tests) >= 2 and all(cell.points > 0 for cell in generator.tests)
    assert generator.max_score == 7  # the points in the notebook's title
    assert not notebooks["06_train_gan"].tests

"""Shared fixtures: where things are, and the reference solutions as a module."""
import pytest

from grader.course import course_root


@pytest.fixture(scope="session")
def repo():
    return course_root()


@pytest.fixture(scope="session")
def reference():
    """The reference solutions, executed from solutions/gan like the training notebook does."""
    from grader.exercises import load_functions, reference_folder

    return load_functions(reference_folder())


@pytest.fixture(scope="session")
def built_book():
    """The self-study book, built as `make book` builds it (cold in CI: the training notebook runs its
    default preset once; later builds come from the execution cache). Returns the site's folder."""
    from grader.grading import book

    return book.build()


@pytest.fixture(scope="session", autouse=True)
def course_secret(tmp_path_factory):
    """Batches graded by the tests draw hidden inputs from a secret of their own, not the machine's."""
    from grader.grading import hidden_seeds

    path = tmp_path_factory.mktemp("secret") / "hidden-inputs.key"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hidden_seeds, "default_secret_file", lambda: str(path))
        yield path

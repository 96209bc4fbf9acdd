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

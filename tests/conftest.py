"""Shared fixtures: where things are, and the reference solutions as a module."""
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def reference():
    """The reference solutions, executed from solutions/gan like the training notebook does."""
    from grader.exercises import SOLUTIONS_DIR, load_functions

    return load_functions(SOLUTIONS_DIR)

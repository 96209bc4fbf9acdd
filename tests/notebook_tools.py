"""Helpers for tests that work on notebook files: swap an answer cell, run graded cells, execute."""
import os

import nbformat
from nbclient import NotebookClient

from grader import checks, course
from grader.exercises import EXERCISES, graded_cells, reference_folder, solution_cell_source


def reference_source(function):
    return solution_cell_source(reference_folder() / EXERCISES[function], function)


def define(function, source):
    """Execute an answer cell's source the way a notebook would, and return the function it defines."""
    from grader.tf1 import tf

    namespace = {"tf": tf, "np": __import__("numpy")}
    exec(compile(source, f"<answer:{function}>", "exec"), namespace)
    return namespace[function]


def failed_tests(function, source):
    """{grade_id: message} of the graded test cells (hidden parts included) that fail for this source."""
    defined = define(function, source)
    failures = {}
    for grade_id, test_source, _ in graded_cells(reference_folder() / EXERCISES[function]):
        try:
            exec(compile(test_source, grade_id, "exec"), {"checks": checks, function: defined})
        except AssertionError as error:
            failures[grade_id] = str(error)
    return failures


def notebook_with_answer(function, source):
    """The solution notebook of ``function`` with its answer cell replaced by ``source``."""
    notebook = nbformat.read(str(reference_folder() / EXERCISES[function]), as_version=4)
    course.cells_by_grade_id(notebook.cells)[function].source = source
    return notebook


def execute(notebook, workdir, timeout=120):
    """Run a notebook top to bottom the way nbgrader does (errors recorded in outputs, not raised)."""
    env = dict(os.environ, NBGRADER_EXECUTION="autograde")
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(workdir)}})
    old = os.environ.copy()
    os.environ.update(env)
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return notebook


def scores(notebook):
    """{grade_id: (score, max_score)} as nbgrader's autograder computes them from the outputs."""
    from nbgrader.utils import determine_grade

    result = {}
    for cell in notebook.cells:
        if course.nbgrader_metadata(cell).get("grade"):
            result[course.grade_id(cell)] = determine_grade(cell)
    return result

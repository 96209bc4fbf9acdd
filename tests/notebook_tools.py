"""Helpers for tests that work on notebook files: swap an answer cell, run graded cells, execute."""
import ast
import os

import nbformat
from nbclient import NotebookClient

from grader import checks, course
from grader.exercises import graded_cells, reference_folder, solution_cell_source


def graded_notebooks():
    """File names of the reference notebooks that have autograded test cells, in course order."""
    return [f"{notebook_id}.ipynb" for notebook_id, notebook in course.read_assignment().items() if notebook.tests]


def answer_notebooks():
    """{answer cell grade_id: file name of the reference notebook that holds it}."""
    return {cell.grade_id: f"{notebook_id}.ipynb"
            for notebook_id, notebook in course.read_assignment().items() for cell in notebook.answers}


def notebook_of(grade_id):
    return reference_folder() / answer_notebooks()[grade_id]


def reference_source(grade_id):
    return solution_cell_source(notebook_of(grade_id), grade_id)


def define(grade_id, source, namespace=None):
    """Execute an answer cell's source the way a notebook would, and return the namespace."""
    from grader.tf1 import tf

    namespace = {"tf": tf, "np": __import__("numpy"), "math": __import__("math")} if namespace is None else namespace
    exec(compile(source, f"<answer:{grade_id}>", "exec"), namespace)
    return namespace


def failed_tests(grade_id, source, until=None, only=None):
    """{grade_id: message} of the graded test cells (hidden parts included) of the answer's notebook that
    fail when the answer cell ``grade_id`` holds ``source`` and the notebook's other answers are the reference.

    With ``until`` (a test on a message), the run stops at the first failure whose message passes it; with
    ``only`` (test grade_ids), only those tests run."""
    notebook = notebook_of(grade_id)
    namespace = None
    for answer in course.read_source_notebook(notebook).answers:
        namespace = define(answer.grade_id, source if answer.grade_id == grade_id else answer.source, namespace)
    failures = {}
    defined = {grade_id} | {node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
    cells = sorted(graded_cells(notebook), key=lambda cell: not any(name in cell[1] for name in defined))
    if only is not None:
        cells = [cell for cell in cells if cell[0] in only]
    for test_id, test_source, _ in cells:  # the answer's own tests first
        try:
            exec(compile(test_source, test_id, "exec"), dict(namespace, checks=checks))
        except AssertionError as error:
            failures[test_id] = str(error)
            if until is not None and until(str(error)):
                break
    return failures


def trusted_failed_tests(grade_id, source, zygote_socket, workdir):
    """Like :func:`failed_tests`, through the trusted path: the answers run in a builder forked by
    the zygote at ``zygote_socket``, the tests here, in grader.grading.checker."""
    from grader.grading import checker

    notebook = course.read_source_notebook(notebook_of(grade_id))
    cells = [{"kind": cell.kind, "grade_id": cell.grade_id,
              "source": source if cell.grade_id == grade_id else cell.source} for cell in notebook.cells]
    records = []
    connection = checker.connect_builder(zygote_socket, workdir, timeout=60)
    try:
        checker.run_tests(checker.SandboxClient(connection, timeout=60), cells, records.append)
    finally:
        connection.close()
    return {record["test"]: record["error"] for record in records if "test" in record and not record["passed"]}


def notebook_with_answer(grade_id, source):
    """The solution notebook of answer cell ``grade_id`` with that cell's source replaced by ``source``."""
    notebook = nbformat.read(str(notebook_of(grade_id)), as_version=4)
    course.cells_by_grade_id(notebook.cells)[grade_id].source = source
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

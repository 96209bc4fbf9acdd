"""A failed check reads as a message, not a traceback: the check's name, what was expected,
what was found, the likely cause and, when the student's code raised, their line."""
import nbformat
import pytest
from nbclient import NotebookClient

from grader import checks
from grader.checks import CheckFailed
from grader.tf1 import tf


def generator_without_tanh(z, out_dim, n_units=128, reuse=False, alpha=0.01):
    with tf.variable_scope("generator", reuse=reuse):
        return tf.layers.dense(tf.layers.dense(z, n_units), out_dim)


def generator_with_a_typo(z, out_dim, n_units=128, reuse=False, alpha=0.01):
    hidden = z * 2
    return hidden + undefined_name  # noqa: F821  (the mistake under test)


def rendered(check, student):
    with pytest.raises(CheckFailed) as failure:
        check(student)
    return failure.value._render_traceback_()


def test_a_failure_names_the_check_and_gives_the_message_without_grader_frames():
    lines = rendered(checks.generator_output_range, generator_without_tanh)
    assert lines[0] == "CheckFailed: checks.generator_output_range found a problem"
    assert any("likely cause" in line and "tanh" in line for line in lines)
    assert not any("File " in line or "grader/" in line for line in lines), lines


def test_an_error_in_the_students_code_points_at_their_line():
    lines = rendered(checks.generator_output, generator_with_a_typo)
    assert "NameError" in "\n".join(lines)
    line = generator_with_a_typo.__code__.co_firstlineno + 2
    assert lines[-1] == (f"  in your code: generator_with_a_typo(), line {line}: "
                         "return hidden + undefined_name  # noqa: F821  (the mistake under test)")


@pytest.mark.slow
def test_a_notebook_shows_the_message_and_nbgrader_still_scores_zero(tmp_path):
    from nbgrader.utils import determine_grade

    notebook = nbformat.v4.new_notebook()
    test = nbformat.v4.new_code_cell('"""generator: outputs in [-1, 1]"""\nchecks.generator_output_range(generator)')
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": "t", "points": 2,
                                 "schema_version": 3}
    notebook.cells = [
        nbformat.v4.new_code_cell("from grader.tf1 import tf\nfrom grader import checks"),
        nbformat.v4.new_code_cell("def generator(z, out_dim, n_units=128, reuse=False, alpha=0.01):\n"
                                  "    with tf.variable_scope('generator', reuse=reuse):\n"
                                  "        return tf.layers.dense(tf.layers.dense(z, n_units), out_dim)\n"),
        test,
    ]
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    (error,) = [output for output in notebook.cells[2].outputs if output.output_type == "error"]
    assert error.traceback[0] == "CheckFailed: checks.generator_output_range found a problem"
    assert "likely cause" in "\n".join(error.traceback) and "grader/" not in "\n".join(error.traceback)
    assert determine_grade(notebook.cells[2]) == (0, 2)

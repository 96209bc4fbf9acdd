"""Whatever a student's function does, a check fails with a readable AssertionError, never an internal error."""
import ast
import inspect
import sys

import pytest

from grader import checks
from grader.exercises import graded_cells, reference_folder
from grader.tf1 import tf
from notebook_tools import graded_notebooks


def returns_none(*args, **kwargs):
    return None


def returns_text(*args, **kwargs):
    return "done"


def returns_string_tensors(*args, **kwargs):
    return tf.constant("a"), tf.constant("b")


def raises_value_error(*args, **kwargs):
    raise ValueError("something the student got wrong")


def exits(*args, **kwargs):
    sys.exit(1)


def wrong_signature():
    return 1


def unknown_shape_variables(x, *args, **kwargs):
    with tf.variable_scope("generator"):
        w = tf.get_variable("w", initializer=tf.zeros_like(x[:1]), validate_shape=False)
    return x + w


STRANGE = [returns_none, returns_text, returns_string_tensors, raises_value_error, exits, wrong_signature,
           unknown_shape_variables]


@pytest.mark.parametrize("check", checks.ALL)
@pytest.mark.parametrize("student", STRANGE, ids=lambda f: f.__name__)
def test_check_fails_cleanly(check, student):
    function = getattr(checks, check)
    required = [parameter for parameter in inspect.signature(function).parameters.values()
                if parameter.default is inspect.Parameter.empty]
    with pytest.raises(AssertionError) as failure:
        function(*[student] * len(required))
    assert str(failure.value).strip(), "the message must not be empty"


def test_all_names_every_check_the_test_cells_call():
    called = set()
    for notebook in graded_notebooks():
        for _, source, _ in graded_cells(reference_folder() / notebook):
            called.update(node.attr for node in ast.walk(ast.parse(source))
                          if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "checks")
    called.discard("hidden_inputs")  # not a check: it gives the hidden checks their inputs
    assert called == set(checks.ALL), f"called but not in ALL: {called - set(checks.ALL)}; " \
        f"in ALL but never called: {set(checks.ALL) - called}"
    assert all(callable(getattr(checks, name)) for name in checks.ALL)


def test_a_graph_that_never_stops_fails_with_a_hint_instead_of_hanging(monkeypatch):
    from grader.checks import _common

    monkeypatch.setattr(_common, "RUN_TIMEOUT_S", 1)

    def endless_generator(z, out_dim, n_units=128, reuse=False, alpha=0.01):
        with tf.variable_scope("generator", reuse=reuse):
            out = tf.tanh(tf.layers.dense(tf.layers.dense(z, n_units), out_dim))
            _, looped = tf.while_loop(lambda i, x: i >= 0, lambda i, x: (i + 1 - 1, x), [tf.constant(0), out])
            return looped

    with pytest.raises(AssertionError, match="DeadlineExceeded") as failure:
        checks.generator_output_range(endless_generator)
    assert "tf.while_loop" in str(failure.value)

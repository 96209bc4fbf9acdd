"""Shared plumbing for the check functions: fresh graphs, calling student code, messages.

Every check builds what it needs in a brand-new ``tf.Graph``, calls the student's function
inside :func:`grader.quiet.quiet` (so warnings never reach the test cell's stderr), compares
against an independent NumPy computation, returns ``None`` on success and raises
``AssertionError`` with a message that says what was expected, what was found and the likely
cause.
"""
import contextlib
import inspect
import os
import sys
import traceback

import numpy as np

from grader.quiet import quiet
from grader.tf1 import tf

RTOL, ATOL = 1e-4, 1e-5


class CheckFailed(AssertionError):
    """A check found a mistake; the message is written for the student.

    IPython shows it through :meth:`_render_traceback_`: which check failed, the message and,
    when the student's own code raised, where in their code; never the traceback through the
    grader's code. It is still an error to nbgrader, so the test cell still scores 0.
    """

    mistake = None  # the machine-readable id of the mistake named, where the check knows one

    def _render_traceback_(self):
        try:
            return render_failure(self)
        except Exception:  # never hide a failure behind a rendering problem
            return [f"CheckFailed: {self}"]


def fail(what, expected=None, found=None, hint=None, mistake=None):
    """Raise CheckFailed with the course's message layout; ``mistake`` is the machine-readable id
    of the mistake named (kept on the exception, for the class report), if the check knows it."""
    lines = [what]
    if expected is not None:
        lines.append(f"  expected: {expected}")
    if found is not None:
        lines.append(f"  found:    {found}")
    if hint:
        lines.append(f"  likely cause: {hint}")
    failure = CheckFailed("\n".join(lines))
    failure.mistake = mistake
    raise failure


def describe(value):
    """A short description of a value for messages ('a tuple of 2', 'a Tensor of shape (?, 1)')."""
    if isinstance(value, tf.Tensor):
        return f"a Tensor of shape {value.shape} and dtype {value.dtype.name}"
    if isinstance(value, tf.Operation):
        return f"an Operation ({value.type})"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if value is None:
        return "None (did you forget the return statement?)"
    if isinstance(value, np.ndarray):
        return f"a NumPy array of shape {value.shape} and dtype {value.dtype}"
    return f"a {type(value).__module__}.{type(value).__qualname__}"


@contextlib.contextmanager
def fresh_graph():
    """A new default graph for the block, with a fixed graph-level seed."""
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(0)
        yield graph


RUN_TIMEOUT_S = 60  # one Session.run of a check's graph; an endless tf.while_loop ends here, not in a hang


def session(graph):
    """A single-threaded session: deterministic and quick for the tiny graphs of the checks. Every
    run that takes longer than RUN_TIMEOUT_S is stopped with DeadlineExceededError."""
    config = tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1,
                            operation_timeout_in_ms=RUN_TIMEOUT_S * 1000)
    return tf.Session(graph=graph, config=config)


_watched = []  # the arrays whose changes by the student's function the check looks at


@contextlib.contextmanager
def watching_changes(arrays):
    """The check compares ``arrays`` after the call to see whether the student's function changed
    them; the trusted checker writes back into these only (grader.grading.checker)."""
    _watched.append(list(arrays))
    try:
        yield
    finally:
        _watched.pop()


def watched_arrays():
    return [array for arrays in _watched for array in arrays]


def call_student(function, *args, **kwargs):
    """Call the student's function quietly; turn its errors into messages that name the call."""
    name = getattr(function, "__name__", "your function")
    shown = ", ".join([_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()])
    if not callable(function):
        fail(f"{name} is not a function.", expected="a function defined with def", found=describe(function))
    try:
        with quiet():
            return function(*args, **kwargs)
    except NotImplementedError:
        fail(f"{name}() is not implemented yet: replace `raise NotImplementedError()` with your code.")
    except CheckFailed:
        raise
    except SystemExit:
        fail(f"{name}({shown}) called sys.exit() (or exit()): "
             "a function should return its result, not end the program.")
    except Exception as error:
        hint = _hint_for_error(error)
        fail(f"Calling {name}({shown}) raised {type(error).__name__}: {_first_line(error)}", hint=hint)


def run(sess, fetches, feed=None, what="running your graph"):
    """Session.run with a readable message when the student's graph cannot be evaluated."""
    try:
        with quiet():
            return sess.run(fetches, feed_dict=feed)
    except Exception as error:
        fail(f"Error while {what}: {type(error).__name__}: {_first_line(error)}", hint=_hint_for_error(error))


def accepts_parameter(function, name):
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def check_tensor(value, name, shape, dtype=None):
    """Type, then rank and static shape (None = any size), then dtype."""
    if not isinstance(value, tf.Tensor):
        hint = None
        if isinstance(value, (tuple, list)):
            hint = f"{name} should be a single tensor, not several values."
        elif isinstance(value, tf.Variable):
            hint = "return the result of the layers, not a variable."
        fail(f"{name} is not a TensorFlow tensor.", expected="a tf.Tensor", found=describe(value), hint=hint)
    found = value.shape
    if found.rank is None or found.rank != len(shape):
        fail(f"{name} has the wrong rank.", expected=f"shape {_shape_str(shape)}", found=f"shape {found}")
    for axis, (want, got) in enumerate(zip(shape, found.as_list(), strict=True)):
        if want is None and got is not None:
            fail(
                f"{name} has a fixed size {got} in axis {axis}.",
                expected=f"shape {_shape_str(shape)} (None = any batch size)",
                found=f"shape {found}",
                hint="keep the batch dimension None so any number of examples can be fed.",
            )
        if want is not None and got != want:
            fail(f"{name} has the wrong size in axis {axis}.", expected=f"shape {_shape_str(shape)}",
                 found=f"shape {found}")
    if dtype is not None and value.dtype.base_dtype != dtype:
        fail(f"{name} has the wrong dtype.", expected=dtype.name, found=value.dtype.name, hint="use tf.float32.")


def new_trainable_variables(graph, before=()):
    known = {id(v) for v in before}
    return [v for v in graph.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES) if id(v) not in known]


def names(variables):
    return [v.name for v in variables]


def first_mismatch(expected, found):
    """'at index (i, j): expected a, found b' for the largest difference."""
    expected, found = np.asarray(expected, np.float64), np.asarray(found, np.float64)
    diff = np.abs(expected - found)
    diff = np.where(np.isnan(diff), np.inf, diff)
    index = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
    return f"at index {tuple(int(i) for i in index)}: expected {expected[index]:.6g}, found {found[index]:.6g}"


def close(expected, found, rtol=RTOL, atol=ATOL):
    expected, found = np.asarray(expected), np.asarray(found)
    return expected.shape == found.shape and bool(np.allclose(found, expected, rtol=rtol, atol=atol))


def _shape_str(shape):
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


def _short(value):
    if isinstance(value, tf.Tensor):
        return f"<tensor {value.shape}>"
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


def _first_line(error):
    """The first informative line of an error (TensorFlow 2 puts "Graph execution error:" first)."""
    lines = [line.strip() for line in str(getattr(error, "message", None) or error).splitlines() if line.strip()]
    noise = ("Graph execution error:", "Detected at node", "File ", "Node: ")
    useful = [line for line in lines if not line.startswith(noise)]
    return (useful or lines or [""])[0][:300]


def _hint_for_error(error):
    text = str(error)
    if "No gradients provided" in text:
        return "the loss does not depend on the variables in var_list: check which loss each optimizer minimises."
    if "already exists" in text and "reuse" in text:
        return ("the variables were created a second time. Open the layers with "
                "tf.variable_scope(<scope>, reuse=reuse) so reuse=True shares them.")
    if "does not exist" in text and "reuse" in text.lower():
        return ("with reuse=True the scope must already hold the variables: create them on the first "
                "call inside the same tf.variable_scope name.")
    if "Incompatible shapes" in text or "must have the same shape" in text:
        return ("a labels tensor does not match its logits: build each from the logits it goes with "
                "(e.g. tf.ones_like(logits)).")
    if "as a Python `bool` is not allowed" in text:
        return ("`if training:` needs a Python bool, but training may be a boolean tensor: pass it on to "
                "tf.layers.batch_normalization(h, training=training) and tf.layers.dropout(h, rate, "
                "training=training), which take both (or choose with tf.cond).")
    if "No variables to optimize" in text:
        return "var_list is empty: check the names you filter the variables by ('generator/', 'discriminator/')."
    if isinstance(error, tf.errors.DeadlineExceededError):
        return (f"running the graph took over {RUN_TIMEOUT_S} s: a tf.while_loop whose condition stays true, "
                "or a tensor far larger than the inputs?")
    if isinstance(error, NameError):
        return "a name is used before it is defined (a typo, or a variable from another cell?)."
    return None


# ----------------------------------------------------------------------------- how a failure shows
CHECKS_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
LIBRARY_FOLDERS = tuple({os.path.dirname(CHECKS_PACKAGE[:-1]) + os.sep,
                         *(os.path.join(prefix, "") for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix))})


def is_library_file(filename):
    """True for the grader's own files and everything installed with Python (TensorFlow, NumPy...)."""
    return os.path.abspath(filename).startswith(LIBRARY_FOLDERS)


def failing_check(tb):
    """Name of the public check function whose call ended in this traceback, or None."""
    for frame, _ in traceback.walk_tb(tb):
        if frame.f_code.co_filename.startswith(CHECKS_PACKAGE) and not frame.f_code.co_name.startswith("_"):
            return frame.f_code.co_name
    return None


def student_frame(error):
    """The last frame of the student's own code in the traceback of ``error`` (or None)."""
    remote = getattr(error, "student_frame", None)  # raised in the sandbox (grader.grading.checker)
    if isinstance(remote, traceback.FrameSummary):
        return remote
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if not is_library_file(frame.filename)]
    return frames[-1] if frames else None


def render_failure(failure):
    """The lines a notebook shows for a CheckFailed: the check, the message, the student's line."""
    check = failing_check(failure.__traceback__)
    lines = [f"CheckFailed: checks.{check} found a problem" if check else "CheckFailed: a check found a problem"]
    lines.extend(str(failure).splitlines())
    cause = failure.__cause__ or failure.__context__
    where = student_frame(cause) if cause is not None and not isinstance(cause, CheckFailed) else None
    if where is not None:
        lines.append(f"  in your code: {where.name}(), line {where.lineno}: {(where.line or '').strip()}")
    return lines

"""Checks for model_inputs(real_dim, z_dim) -> (inputs_real, inputs_z)."""
import numpy as np

from grader.checks import drawn
from grader.checks._common import call_student, check_tensor, describe, fail, fresh_graph, run, session
from grader.tf1 import tf

PLACEHOLDER_OPS = ("Placeholder", "PlaceholderWithDefault")


def _source_op(tensor):
    """The op behind a tensor, looking through tf.identity wrappers (still feedable)."""
    op = tensor.op
    while op.type == "Identity" and op.inputs:
        op = op.inputs[0].op
    return op


def _two_placeholders(model_inputs, real_dim, z_dim):
    with fresh_graph() as graph:
        result = call_student(model_inputs, real_dim, z_dim)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            fail("model_inputs should return two placeholders.", expected="(inputs_real, inputs_z)",
                 found=describe(result), hint="end with `return inputs_real, inputs_z`.")
        for name, tensor in zip(("inputs_real", "inputs_z"), result, strict=False):
            made_by = None
            if isinstance(tensor, tf.Variable):
                made_by = "a tf.Variable"
            elif isinstance(tensor, tf.Tensor) and _source_op(tensor).type not in PLACEHOLDER_OPS:
                made_by = f"a tensor made by a {tensor.op.type} op"
            if made_by:
                fail(f"{name} is not a placeholder.", expected="a tensor made by tf.placeholder", found=made_by,
                     hint="the inputs are fed at run time, so create them with tf.placeholder, "
                          "not tf.Variable or tf.constant.")
            if isinstance(tensor, tf.Tensor) and tensor.graph is not graph:
                fail(f"{name} belongs to another graph.",
                     hint="create the placeholders inside the function, when it is called.")
        return graph, result


def model_inputs_types(model_inputs):
    """Two float32 placeholders, real first and z second, with a None batch dimension."""
    _, (inputs_real, inputs_z) = _two_placeholders(model_inputs, 784, 100)
    shapes = [getattr(t, "shape", None) for t in (inputs_real, inputs_z)]
    if all(isinstance(t, tf.Tensor) for t in (inputs_real, inputs_z)) and (
            [s.as_list() if s.rank else None for s in shapes] == [[None, 100], [None, 784]]):
        fail("The two placeholders are swapped.", expected="inputs_real (None, 784), then inputs_z (None, 100)",
             found=f"{shapes[0]} then {shapes[1]}",
             hint="return (inputs_real, inputs_z) in that order, each built from its own dimension.")
    check_tensor(inputs_real, "inputs_real", (None, 784), tf.float32)
    check_tensor(inputs_z, "inputs_z", (None, 100), tf.float32)


def model_inputs_dimensions(model_inputs, inputs=None):
    """The sizes come from the arguments (no hard-coded 784 or 100), and any batch size can be fed."""
    for real_dim, z_dim in drawn.pick(inputs).model_dims:
        graph, (inputs_real, inputs_z) = _two_placeholders(model_inputs, real_dim, z_dim)
        for name, tensor, want, arg in (("inputs_real", inputs_real, real_dim, "real_dim"),
                                        ("inputs_z", inputs_z, z_dim, "z_dim")):
            if not isinstance(tensor, tf.Tensor):
                fail(f"{name} is not a tensor.", expected="a tf.placeholder", found=describe(tensor))
            got = tensor.shape.as_list() if tensor.shape.rank is not None else None
            if got != [None, want]:
                hint = None
                if got and got[-1] in (784, 100, 28):
                    hint = f"{got[-1]} looks hard-coded: use the {arg} argument."
                elif got and got[-1] == (z_dim if arg == "real_dim" else real_dim):
                    hint = "real_dim and z_dim seem to be used the wrong way round."
                fail(f"model_inputs({real_dim}, {z_dim}) gave {name} the wrong shape.",
                     expected=f"(None, {want}) from {arg}={want}", found=f"{tensor.shape}", hint=hint)
        # A None batch dimension must really accept different batch sizes at run time.
        with session(graph) as sess:
            for batch in (1, 7):
                feed = {inputs_real: np.zeros((batch, real_dim), np.float32),
                        inputs_z: np.zeros((batch, z_dim), np.float32)}
                run(sess, [inputs_real, inputs_z], feed, what=f"feeding a batch of {batch} examples")

"""Checks for model_opt(d_loss, g_loss, learning_rate, beta1) -> (d_train_opt, g_train_opt).

The checks build a miniature GAN of their own (so they do not depend on the student's other
exercises), hand its losses to the student's model_opt, run the returned ops and watch which
variables move and by how much, comparing two steps with Adam computed in NumPy.
"""
import numpy as np

from grader.checks import drawn
from grader.checks._common import (
    accepts_parameter,
    call_student,
    close,
    describe,
    fail,
    first_mismatch,
    fresh_graph,
    run,
    session,
)
from grader.tf1 import tf

TEST_RATE, TEST_BETA1 = 0.0037, 0.3
ADAM_BETA2, ADAM_EPSILON = 0.999, 1e-8
Z_VALUES = np.random.default_rng(6).normal(size=(5, 3)).astype(np.float32)
X_VALUES = np.random.default_rng(7).uniform(-1, 1, size=(4, 4)).astype(np.float32)


class MiniGan:
    """A two-layer toy GAN with variables under 'generator/' and 'discriminator/' and the course's losses."""

    def __init__(self, z_values=Z_VALUES, x_values=X_VALUES):
        init = lambda seed: tf.random_normal_initializer(stddev=0.5, seed=seed)  # noqa: E731
        self.z = tf.placeholder(tf.float32, [None, 3], name="z")
        self.x = tf.placeholder(tf.float32, [None, 4], name="x")
        # Named like tf.layers.dense names them, so name filters behave as on the real networks.
        with tf.variable_scope("generator/dense"):
            g_w = tf.get_variable("kernel", [3, 4], initializer=init(1))
            g_b = tf.get_variable("bias", [4], initializer=init(2))
        with tf.variable_scope("discriminator/dense"):
            d_w = tf.get_variable("kernel", [4, 1], initializer=init(3))
            d_b = tf.get_variable("bias", [1], initializer=init(4))
        fake = tf.tanh(tf.matmul(self.z, g_w) + g_b)
        logits_real = tf.matmul(self.x, d_w) + d_b
        logits_fake = tf.matmul(fake, d_w) + d_b
        ce = tf.nn.sigmoid_cross_entropy_with_logits
        self.d_loss = tf.reduce_mean(ce(logits=logits_real, labels=tf.ones_like(logits_real) * 0.9)) + \
            tf.reduce_mean(ce(logits=logits_fake, labels=tf.zeros_like(logits_fake)))
        self.g_loss = tf.reduce_mean(ce(logits=logits_fake, labels=tf.ones_like(logits_fake)))
        self.g_vars, self.d_vars = [g_w, g_b], [d_w, d_b]
        self.feed = {self.z: z_values, self.x: x_values}
        self.gradients = {
            "d_train_opt": tf.gradients(self.d_loss, self.d_vars),
            "g_train_opt": tf.gradients(self.g_loss, self.g_vars),
        }


def _student_ops(model_opt, learning_rate=TEST_RATE, beta1=None, batches=(Z_VALUES, X_VALUES)):
    """Build a MiniGan in the current graph and the student's two training ops on it."""
    gan = MiniGan(*batches)
    kwargs = {"beta1": beta1} if beta1 is not None and accepts_parameter(model_opt, "beta1") else {}
    result = call_student(model_opt, gan.d_loss, gan.g_loss, learning_rate, **kwargs)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("model_opt should return two training operations.", expected="(d_train_opt, g_train_opt)",
             found=describe(result), hint="end with `return d_train_opt, g_train_opt`.")
    for name, op in zip(("d_train_opt", "g_train_opt"), result, strict=False):
        if isinstance(op, tf.train.Optimizer):
            fail(f"{name} is an optimizer object, not a training operation.",
                 expected="optimizer.minimize(loss, var_list=...)",
                 found=describe(op), hint="call .minimize(...) on the optimizer and return what it gives.")
        if isinstance(op, tf.Tensor):
            fail(f"{name} is a tensor of values, not a training operation.",
                 expected="optimizer.minimize(loss, var_list=...)", found=describe(op),
                 hint="return what minimize(...) gives (an Operation), not a loss or another tensor.")
        if not isinstance(op, tf.Operation):
            fail(f"{name} is not a TensorFlow operation.", expected="the result of optimizer.minimize(...)",
                 found=describe(op))
    return gan, dict(zip(("d_train_opt", "g_train_opt"), result, strict=False))


def model_opt_returns(model_opt):
    """model_opt returns two runnable training operations."""
    with fresh_graph() as graph:
        gan, ops = _student_ops(model_opt)
        with session(graph) as sess:
            run(sess, tf.global_variables_initializer(), what="initialising the variables (optimizer slots included)")
            for name, op in ops.items():
                run(sess, op, gan.feed, what=f"running {name}")


def model_opt_var_lists(model_opt):
    """d_train_opt changes only (and all) discriminator variables; g_train_opt only generator variables."""
    with fresh_graph() as graph:
        gan, ops = _student_ops(model_opt)
        everything = gan.g_vars + gan.d_vars
        owners = {"d_train_opt": gan.d_vars, "g_train_opt": gan.g_vars}
        changed = {}
        with session(graph) as sess:
            initialise = tf.global_variables_initializer()
            for name, op in ops.items():
                run(sess, initialise)
                before = run(sess, everything)
                run(sess, op, gan.feed, what=f"running {name}")
                after = run(sess, everything)
                changed[name] = {v.name for v, a, b in zip(everything, before, after, strict=True)
                                 if not np.array_equal(a, b)}
    d_names, g_names = ({v.name for v in owners[k]} for k in ("d_train_opt", "g_train_opt"))
    if changed["d_train_opt"] == g_names and changed["g_train_opt"] == d_names:
        fail("Each training operation changed the other network's variables.",
             expected="d_train_opt -> discriminator variables, g_train_opt -> generator variables",
             found=f"d_train_opt -> {sorted(changed['d_train_opt'])}, g_train_opt -> {sorted(changed['g_train_opt'])}",
             hint="the two var_lists, or the two returned operations, are swapped.")
    for name, own, other, scope in (("d_train_opt", d_names, g_names, "discriminator"),
                                    ("g_train_opt", g_names, d_names, "generator")):
        moved = changed[name]
        if moved & other:
            fail(f"{name} also changed the other network's variables.", expected=f"only {sorted(own)}",
                 found=sorted(moved),
                 hint="minimize over this network's variables only: "
                      f"var_list=[v for v in tf.trainable_variables() if v.name.startswith('{scope}/')].")
        if not moved:
            fail(f"{name} changed no variable at all.", expected=sorted(own), found="nothing",
                 hint=f"is var_list empty? The variables' names start with '{scope}/'.")
        if moved != own:
            fail(f"{name} left some of its own variables unchanged.", expected=sorted(own), found=sorted(moved),
                 hint=f"var_list should hold every variable whose name starts with '{scope}/'.")


def model_opt_adam_steps(model_opt, inputs=None):
    """Two rounds of d then g steps match Adam in NumPy, one optimizer per network, with learning_rate and beta1."""
    drawn_inputs = drawn.pick(inputs)
    rate = drawn_inputs.rate
    beta1 = drawn_inputs.beta1 if accepts_parameter(model_opt, "beta1") else 0.9
    batches = (Z_VALUES, X_VALUES)
    if drawn_inputs.seed is not None:
        rng = np.random.default_rng(drawn_inputs.adam_seed)
        batches = (rng.normal(size=Z_VALUES.shape).astype(np.float32),
                   rng.uniform(-1, 1, size=X_VALUES.shape).astype(np.float32))
    with fresh_graph() as graph:
        gan, ops = _student_ops(model_opt, rate, beta1, batches)
        owners = {"d_train_opt": gan.d_vars, "g_train_opt": gan.g_vars}
        gradients = {name: [] for name in ops}
        moves = {name: [] for name in ops}
        with session(graph) as sess:
            run(sess, tf.global_variables_initializer(), what="initialising the variables (optimizer slots included)")
            for _ in range(2):  # d, g, d, g: as in training
                for name, op in ops.items():
                    before = _flat(run(sess, owners[name]))
                    gradients[name].append(_flat(run(sess, gan.gradients[name], gan.feed)))
                    run(sess, op, gan.feed, what=f"running {name}")
                    moves[name].append(_flat(run(sess, owners[name])) - before)
    shared_steps = {"d_train_opt": (1, 3), "g_train_opt": (2, 4)}  # one optimizer's counter, advanced by both ops
    for name in ops:
        _compare_with_adam(name, gradients[name], moves[name], rate, beta1, shared_steps[name])


def adam_moves(gradients, learning_rate, beta1, steps=(1, 2), beta2=ADAM_BETA2, epsilon=ADAM_EPSILON):
    """The change of the (flattened) parameters at each update of tf.train.AdamOptimizer, in NumPy.

    ``steps`` is Adam's step counter at each update: 1, 2, ... for an optimizer of its own.
    """
    m = v = 0.0
    moves = []
    for t, g in zip(steps, gradients, strict=True):
        g = np.asarray(g, np.float64)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        rate = learning_rate * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        moves.append(-rate * m / (np.sqrt(v) + epsilon))
    return moves


def _flat(arrays):
    return np.concatenate([np.ravel(a) for a in arrays]).astype(np.float64)


def _same(expected, found):
    return close(expected, found, rtol=2e-3, atol=1e-7)


def _compare_with_adam(name, gradients, moves, rate, beta1, shared_steps):
    expected = adam_moves(gradients, rate, beta1)
    shared = adam_moves(gradients, rate, beta1, steps=shared_steps)
    for step, label in enumerate(("first", "second")):
        found = moves[step]
        if _same(expected[step], found):
            continue
        hint = None
        if _same(shared[step], found):
            hint = ("the two operations share one optimizer, so Adam's step counter advances twice per round: "
                    "create one tf.train.AdamOptimizer for each network.")
        elif step == 0 and _same(-rate * gradients[0], found):
            hint = ("the step is learning_rate * gradient, plain gradient descent: "
                    "use tf.train.AdamOptimizer(learning_rate).")
        elif np.mean(np.sign(found) == -np.sign(expected[step])) > 0.5:
            hint = ("the weights move the wrong way: this operation minimises a negated loss (a sign error) or the "
                    "other network's loss (d_train_opt minimises d_loss, g_train_opt minimises g_loss).")
        elif step == 0 and np.allclose(np.abs(found), np.max(np.abs(found)), rtol=2e-2):
            hint = (f"the weights moved by {np.max(np.abs(found)):.6g} instead of about learning_rate={rate}: "
                    "pass the learning_rate argument to the optimizer.")
        elif step == 1 and beta1 != 0.9 and _same(adam_moves(gradients, rate, 0.9)[1], found):
            hint = (f"Adam ran with beta1=0.9 although beta1={beta1} was passed: "
                    "use AdamOptimizer(learning_rate, beta1=beta1).")
        fail(f"The {label} step of {name} does not match Adam (learning_rate={rate}, beta1={beta1}).",
             expected=("every weight moves by about learning_rate (Adam's first step is learning_rate * sign(gradient))"
                       if step == 0 else "the NumPy Adam update"),
             found=f"largest move {np.max(np.abs(found)):.6g}; " + first_mismatch(expected[step], found), hint=hint)

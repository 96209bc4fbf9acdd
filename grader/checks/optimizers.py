"""Checks for model_opt(d_loss, g_loss, learning_rate, beta1) -> (d_train_opt, g_train_opt).

The checks build a miniature GAN of their own (so they do not depend on the student's other
exercises), hand its losses to the student's model_opt, run the returned ops and watch which
variables move and by how much, comparing two steps with Adam computed in NumPy.
"""
import numpy as np

from grader.checks._common import (
    accepts_parameter, call_student, close, describe, fail, first_mismatch, fresh_graph, run, session,
)
from grader.tf1 import tf

TEST_RATE, TEST_BETA1 = 0.0037, 0.3
ADAM_BETA2, ADAM_EPSILON = 0.999, 1e-8
Z_VALUES = np.random.default_rng(6).normal(size=(5, 3)).astype(np.float32)
X_VALUES = np.random.default_rng(7).uniform(-1, 1, size=(4, 4)).astype(np.float32)


class MiniGan:
    """A two-layer toy GAN with variables under 'generator/' and 'discriminator/' and the course's losses."""

    def __init__(self):
        init = lambda seed: tf.random_normal_initializer(stddev=0.5, seed=seed)  # noqa: E731
        self.z = tf.placeholder(tf.float32, [None, 3], name="z")
        self.x = tf.placeholder(tf.float32, [None, 4], name="x")
        with tf.variable_scope("generator"):
            g_w = tf.get_variable("w", [3, 4], initializer=init(1))
            g_b = tf.get_variable("b", [4], initializer=init(2))
        with tf.variable_scope("discriminator"):
            d_w = tf.get_variable("w", [4, 1], initializer=init(3))
            d_b = tf.get_variable("b", [1], initializer=init(4))
        fake = tf.tanh(tf.matmul(self.z, g_w) + g_b)
        logits_real = tf.matmul(self.x, d_w) + d_b
        logits_fake = tf.matmul(fake, d_w) + d_b
        ce = tf.nn.sigmoid_cross_entropy_with_logits
        self.d_loss = tf.reduce_mean(ce(logits=logits_real, labels=tf.ones_like(logits_real) * 0.9)) + \
            tf.reduce_mean(ce(logits=logits_fake, labels=tf.zeros_like(logits_fake)))
        self.g_loss = tf.reduce_mean(ce(logits=logits_fake, labels=tf.ones_like(logits_fake)))
        self.g_vars, self.d_vars = [g_w, g_b], [d_w, d_b]
        self.feed = {self.z: Z_VALUES, self.x: X_VALUES}
        self.gradients = {
            "d_train_opt": tf.gradients(self.d_loss, self.d_vars),
            "g_train_opt": tf.gradients(self.g_loss, self.g_vars),
        }


def _student_ops(model_opt, learning_rate=TEST_RATE, beta1=None):
    """Build a MiniGan in the current graph and the student's two training ops on it."""
    gan = MiniGan()
    kwargs = {"beta1": beta1} if beta1 is not None and accepts_parameter(model_opt, "beta1") else {}
    result = call_student(model_opt, gan.d_loss, gan.g_loss, learning_rate, **kwargs)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("model_opt should return two training operations.", expected="(d_train_opt, g_train_opt)",
             found=describe(result), hint="end with `return d_train_opt, g_train_opt`.")
    for name, op in zip(("d_train_opt", "g_train_opt"), result):
        if isinstance(op, tf.train.Optimizer):
            fail(f"{name} is an optimizer object, not a training operation.", expected="optimizer.minimize(loss, var_list=...)",
                 found=describe(op), hint="call .minimize(...) on the optimizer and return what it gives.")
        if not isinstance(op, (tf.Operation, tf.Tensor)):
            fail(f"{name} is not a TensorFlow operation.", expected="the result of optimizer.minimize(...)", found=describe(op))
    return gan, dict(zip(("d_train_opt", "g_train_opt"), result))


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
                changed[name] = {v.name for v, a, b in zip(everything, before, after) if not np.array_equal(a, b)}
    d_names, g_names = ({v.name for v in owners[k]} for k in ("d_train_opt", "g_train_opt"))
    if changed["d_train_opt"] == g_names and changed["g_train_opt"] == d_names:
        fail("Each training operation changed the other network's variables.",
             expected="d_train_opt -> discriminator variables, g_train_opt -> generator variables",
             found=f"d_train_opt -> {sorted(changed['d_train_opt'])}, g_train_opt -> {sorted(changed['g_train_opt'])}",
             hint="the two var_lists, or the two returned operations, are swapped.")
    for name, own, other, scope in (("d_train_opt", d_names, g_names, "discriminator"), ("g_train_opt", g_names, d_names, "generator")):
        moved = changed[name]
        if moved & other:
            fail(f"{name} also changed the other network's variables.", expected=f"only {sorted(own)}", found=sorted(moved),
                 hint=f"minimize over this network's variables only: var_list=[v for v in tf.trainable_variables() if v.name.startswith('{scope}/')].")
        if not moved:
            fail(f"{name} changed no variable at all.", expected=sorted(own), found="nothing",
                 hint=f"is var_list empty? The variables' names start with '{scope}/'.")
        if moved != own:
            fail(f"{name} left some of its own variables unchanged.", expected=sorted(own), found=sorted(moved),
                 hint=f"var_list should hold every variable whose name starts with '{scope}/'.")


def model_opt_adam_steps(model_opt):
    """Two steps of each op match Adam in NumPy with the given learning_rate (and beta1)."""
    beta1 = TEST_BETA1 if accepts_parameter(model_opt, "beta1") else 0.9
    with fresh_graph() as graph:
        gan, ops = _student_ops(model_opt, TEST_RATE, beta1)
        owners = {"d_train_opt": gan.d_vars, "g_train_opt": gan.g_vars}
        with session(graph) as sess:
            initialise = tf.global_variables_initializer()
            for name, op in ops.items():
                variables = owners[name]
                run(sess, initialise)
                start = run(sess, variables)
                gradients, positions = [], []
                for _ in range(2):
                    gradients.append(run(sess, gan.gradients[name], gan.feed))
                    run(sess, op, gan.feed, what=f"running {name}")
                    positions.append(run(sess, variables))
                _compare_with_adam(name, start, gradients, positions, beta1)


def adam_positions(start, gradients, learning_rate, beta1, beta2=ADAM_BETA2, epsilon=ADAM_EPSILON):
    """Parameters after each step of tf.train.AdamOptimizer, in NumPy (float64)."""
    theta = [np.asarray(p, np.float64) for p in start]
    m = [np.zeros_like(p) for p in theta]
    v = [np.zeros_like(p) for p in theta]
    history = []
    for t, grads in enumerate(gradients, start=1):
        rate = learning_rate * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        for i, g in enumerate(grads):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            theta[i] = theta[i] - rate * m[i] / (np.sqrt(v[i]) + epsilon)
        history.append([p.copy() for p in theta])
    return history


def _compare_with_adam(name, start, gradients, positions, beta1):
    flat = lambda arrays: np.concatenate([np.ravel(a) for a in arrays])  # noqa: E731
    origin = flat(start)
    first_step = flat(positions[0]) - origin
    largest = float(np.max(np.abs(first_step)))
    expected = adam_positions(start, gradients, TEST_RATE, beta1)
    if not close(flat(expected[0]) - origin, first_step, rtol=2e-3, atol=1e-7):
        hint = None
        gradient = flat(gradients[0])
        if close(-TEST_RATE * gradient, first_step, rtol=2e-3, atol=1e-7):
            hint = "the step is learning_rate * gradient, plain gradient descent: use tf.train.AdamOptimizer(learning_rate)."
        elif any(np.isclose(largest, rate, rtol=1e-2) for rate in (0.001, 0.002, 0.0002, 0.0005)):
            hint = f"the weights moved by {largest:g}, not by about learning_rate={TEST_RATE}: pass the learning_rate argument to the optimizer."
        fail(f"The first step of {name} is not Adam's first step with learning_rate={TEST_RATE}.",
             expected=f"every weight moves by about {TEST_RATE} (Adam's first step is learning_rate * sign(gradient))",
             found=f"largest move {largest:.6g}; {first_step.size} weights, " + first_mismatch(flat(expected[0]) - origin, first_step),
             hint=hint)
    second = flat(positions[1]) - origin
    if not close(flat(expected[1]) - origin, second, rtol=2e-3, atol=1e-7):
        hint = None
        if beta1 != 0.9 and close(flat(adam_positions(start, gradients, TEST_RATE, 0.9)[1]) - origin, second, rtol=2e-3, atol=1e-7):
            hint = f"Adam ran with beta1=0.9 although beta1={beta1} was passed: use AdamOptimizer(learning_rate, beta1=beta1)."
        fail(f"The second step of {name} does not match Adam (learning_rate={TEST_RATE}, beta1={beta1}).",
             expected="the NumPy Adam update", found=first_mismatch(flat(expected[1]) - origin, second), hint=hint)

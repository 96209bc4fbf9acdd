"""Checks for model_loss(d_logits_real, d_logits_fake, smooth) -> (d_loss, g_loss).

The reference is computed in NumPy with the numerically stable sigmoid cross-entropy on
logits. Real and fake batches have *different* sizes, so averaging over the wrong batch,
building a label tensor from the wrong logits, or summing instead of averaging shows up.
"""
import contextlib

import numpy as np

from grader.checks import drawn
from grader.checks._common import call_student, check_tensor, close, describe, fail, fresh_graph, run, session
from grader.tf1 import tf

REAL_LOGITS = np.array([[2.0], [-1.0], [0.5], [3.0], [-0.3]], np.float32)
FAKE_LOGITS = np.array([[-2.0], [0.7], [1.5]], np.float32)
TEST_SMOOTH = 0.25


def sigmoid_cross_entropy(logits, labels):
    """NumPy version of tf.nn.sigmoid_cross_entropy_with_logits (stable for large |logits|)."""
    x = np.asarray(logits, np.float64)
    return np.maximum(x, 0.0) - x * labels + np.log1p(np.exp(-np.abs(x)))


def reference_losses(real, fake, smooth):
    sce = sigmoid_cross_entropy
    d_loss = sce(real, 1.0 - smooth).mean() + sce(fake, 0.0).mean()
    g_loss = sce(fake, 1.0).mean()
    return d_loss, g_loss


def d_loss_mistakes(real, fake, smooth):
    """(value, hint) for the usual ways of getting the discriminator loss wrong."""
    sce, s = sigmoid_cross_entropy, smooth
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    return [
        (sce(real, 1.0).mean() + sce(fake, 0.0).mean(),
         "the real labels are 1: one-sided label smoothing makes them 1 - smooth."),
        (sce(real, 1.0).mean() + sce(fake, s).mean(),
         "the smoothing went onto the fake labels: only the real labels become 1 - smooth; fakes stay 0."),
        (sce(real, 1.0 - s).mean() + sce(fake, s).mean(),
         "the fake labels were smoothed too: smoothing is one-sided, fakes stay 0."),
        (sce(real, s).mean() + sce(fake, 0.0).mean(), "the real labels are `smooth`: they should be 1 - smooth."),
        (sce(real, 0.0).mean() + sce(fake, 1.0 - s).mean(),
         "real and fake labels are swapped: real images get 1 - smooth, fakes get 0."),
        (sce(real, 1.0 - 0.1).mean() + sce(fake, 0.0).mean(),
         "smooth looks hard-coded to 0.1: use the smooth argument."),
        (sce(sig(real), 1.0 - s).mean() + sce(sig(fake), 0.0).mean(),
         "a sigmoid was applied before the loss: sigmoid_cross_entropy_with_logits takes the raw logits."),
        (sce(real, 1.0 - s).sum() + sce(fake, 0.0).sum(),
         "the losses are summed over the batch: take the mean (tf.reduce_mean)."),
        (0.5 * (sce(real, 1.0 - s).mean() + sce(fake, 0.0).mean()),
         "d_loss is the average of the two parts: it should be their sum."),
        (sce(real, 1.0 - s / 2).mean() + sce(fake, s / 2).mean(),
         "tf.losses' label_smoothing is two-sided (labels become 1 - smooth/2 and smooth/2): "
         "build the real labels as 1 - smooth yourself."),
        (sce(real, 1.0 - s / 2).mean() + sce(fake, 0.0).mean(),
         "tf.losses' label_smoothing gives labels 1 - smooth/2, not 1 - smooth: "
         "build the real labels as 1 - smooth yourself."),
        (sce(real, 1.0 - s).mean(), "d_loss has only the real part: add the mean loss on the fake logits (labels 0)."),
        (np.concatenate([sce(real, 1.0 - s), sce(fake, 0.0)]).mean(),
         "real and fake losses were averaged together: take the mean of each batch separately, then add them."),
        (-(sce(real, 1.0 - s).mean() + sce(fake, 0.0).mean()),
         "a sign error: d_loss is negated. The cross-entropy is already -log(...), a positive number to minimise: "
         "drop the minus sign."),
    ]


def g_loss_mistakes(real, fake, smooth):
    sce, s = sigmoid_cross_entropy, smooth
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    return [
        (sce(fake, 0.0).mean(),
         "the generator's labels are 0: the generator wants its fakes called real, so use labels of 1."),
        (-sce(fake, 0.0).mean(),
         "this is the saturating minimax loss: use the non-saturating loss, "
         "cross-entropy of the fake logits with labels 1."),
        (sce(fake, 1.0 - s).mean(),
         "the generator's labels were smoothed: smoothing is only for the discriminator's real labels."),
        (sce(real, 1.0).mean(),
         "g_loss uses the real logits: the generator's loss is about D's verdict on the fakes (d_logits_fake)."),
        (sce(sig(fake), 1.0).mean(), "a sigmoid was applied before the loss: pass the raw logits."),
        (sce(fake, 1.0).sum(), "the loss is summed over the batch: take the mean."),
        (-sce(fake, 1.0).mean(), "a sign error: g_loss is negated. The cross-entropy of the fake logits with labels "
                                 "1 is already -log D(G(z)), a positive number to minimise: drop the minus sign."),
    ]


@contextlib.contextmanager
def _student_losses(model_loss, smooth=None):
    """Yield (graph, real placeholder, fake placeholder, (d_loss, g_loss)) built by the student's function."""
    with fresh_graph() as graph:
        real = tf.placeholder(tf.float32, [None, 1], name="d_logits_real")
        fake = tf.placeholder(tf.float32, [None, 1], name="d_logits_fake")
        kwargs = {} if smooth is None else {"smooth": smooth}
        result = call_student(model_loss, real, fake, **kwargs)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            fail("model_loss should return two losses.", expected="(d_loss, g_loss)", found=describe(result),
                 hint="end with `return d_loss, g_loss`.")
        yield graph, real, fake, result


def _evaluate(model_loss, real_values, fake_values, smooth=None):
    """(d_loss, g_loss) values of the student's losses for the given logits."""
    with _student_losses(model_loss, smooth) as (graph, real, fake, (d_loss, g_loss)):
        check_tensor(d_loss, "d_loss", (), tf.float32)
        check_tensor(g_loss, "g_loss", (), tf.float32)
        with session(graph) as sess:
            run(sess, tf.global_variables_initializer())
            return run(sess, [d_loss, g_loss], {real: real_values, fake: fake_values},
                       what=f"computing the losses for {len(real_values)} real and {len(fake_values)} fake logits")


def model_loss_scalars(model_loss):
    """model_loss returns (d_loss, g_loss), each a scalar tensor."""
    with _student_losses(model_loss) as (_, _, _, (d_loss, g_loss)):
        for name, loss in (("d_loss", d_loss), ("g_loss", g_loss)):
            if isinstance(loss, tf.Tensor) and loss.shape.rank not in (0, None):
                fail(f"{name} is not a scalar.", expected="shape ()", found=f"shape {loss.shape}",
                     hint="average the per-example losses with tf.reduce_mean.")
            check_tensor(loss, name, (), tf.float32)


def model_loss_values(model_loss):
    """d_loss and g_loss match NumPy on fixed logits, with real and fake batches of different sizes."""
    for smooth in (TEST_SMOOTH, None):
        used = 0.1 if smooth is None else smooth
        d_found, g_found = _evaluate(model_loss, REAL_LOGITS, FAKE_LOGITS, smooth)
        d_expected, g_expected = reference_losses(REAL_LOGITS, FAKE_LOGITS, used)
        if close(d_expected, g_found) and close(g_expected, d_found):
            fail("The two losses are swapped.", expected="(d_loss, g_loss)", found="(g_loss, d_loss)",
                 hint="return d_loss, g_loss in that order.")
        if not close(d_expected, d_found):
            hint = _match(d_found, d_loss_mistakes(REAL_LOGITS, FAKE_LOGITS, used))
            if smooth is None and hint and "hard-coded" not in hint and (
                    close(reference_losses(REAL_LOGITS, FAKE_LOGITS, 0.0)[0], d_found)):
                hint = "with smooth not passed, no smoothing happened: keep the default smooth=0.1 in the signature."
            fail(f"d_loss differs from the reference (smooth={used}).",
                 expected=f"{d_expected:.6f} = mean(CE(real logits, 1 - smooth)) + mean(CE(fake logits, 0))",
                 found=f"{d_found:.6f}", hint=hint)
        if not close(g_expected, g_found):
            fail(f"g_loss differs from the reference (smooth={used}).",
                 expected=f"{g_expected:.6f} = mean(CE(fake logits, 1))",
                 found=f"{g_found:.6f}", hint=_match(g_found, g_loss_mistakes(REAL_LOGITS, FAKE_LOGITS, used)))


def model_loss_stability(model_loss, inputs=None):
    """Very confident logits (up to |logit| = 4 x 12) still give finite losses that keep growing linearly."""
    # Judged independently of the rest of the formula (test_model_loss_values does that): for
    # large logits any cross-entropy grows linearly, L(s) ~ a*s, whatever the labels, so the
    # growth from s=2b to 4b is twice the growth from b to 2b. A hand-made log(sigmoid(x))
    # overflows to inf/nan or, with an epsilon, flattens out.
    drawn_inputs = drawn.pick(inputs)
    real_pattern, fake_pattern = (np.array(p, np.float32).reshape(-1, 1) for p in drawn_inputs.loss_patterns)
    scales = tuple(factor * drawn_inputs.loss_scale for factor in (1.0, 2.0, 4.0))
    values = {scale: _evaluate(model_loss, scale * real_pattern, scale * fake_pattern) for scale in scales}
    unstable = ("computing log(sigmoid(x)) yourself is unstable: "
                "use tf.nn.sigmoid_cross_entropy_with_logits on the raw logits.")
    shown = ", ".join(f"+-{scale:g}" for scale in scales)
    for index, name in enumerate(("d_loss", "g_loss")):
        low, mid, high = (float(values[scale][index]) for scale in scales)
        if not np.all(np.isfinite([low, mid, high])):
            fail(f"{name} is not finite for confident logits.", expected=f"finite values for logits of {shown}",
                 found=f"{low:.4g}, {mid:.4g}, {high:.4g}", hint=unstable)
        first, second = mid - low, high - mid
        if abs(first) > 1e-3 and not np.isclose(second, 2.0 * first, rtol=2e-2):
            fail(f"{name} stops growing properly for confident logits.",
                 expected=("a loss growing linearly with the logits (from "
                           f"{scales[1]:g} to {scales[2]:g} twice as much as from {scales[0]:g} to {scales[1]:g}: "
                           f"{2 * first:.4g})"),
                 found=f"values {low:.4g}, {mid:.4g}, {high:.4g} (growth {first:.4g}, then {second:.4g})",
                 hint=unstable)


def generator_loss_gradient(model_loss, inputs=None):
    """g_loss keeps a strong gradient when D confidently rejects the fakes (non-saturating loss)."""
    rejected = drawn.pick(inputs).rejected_logit
    with _student_losses(model_loss) as (graph, real, fake, result):
        g_loss = result[1]
        check_tensor(g_loss, "g_loss", (), tf.float32)
        try:
            gradient = tf.gradients(g_loss, fake)[0]
        except Exception as error:  # noqa: BLE001  (any failure here is reported to the student)
            fail(f"g_loss cannot be differentiated: {type(error).__name__}: {error}",
                 hint="build the loss from TensorFlow operations on the logits.")
        if gradient is None:
            fail("g_loss does not depend on d_logits_fake.",
                 hint="the generator's loss is computed from the fake logits.")
        # Per-example gradients where D is unsure (logit 0) and where D is sure the fakes are fake (about -8).
        fake_values = np.array([[0.0], [0.0], [rejected], [rejected]], np.float32)
        with session(graph) as sess:
            found = run(sess, gradient, {real: np.zeros((2, 1), np.float32), fake: fake_values},
                        what="differentiating g_loss")
    unsure, sure = float(found[0, 0]), float(found[2, 0])
    # Non-saturating loss -log D(G(z)): d/dx = sigmoid(x) - 1, about -1 at x=-8 and -0.5 at x=0 (ratio 2).
    # Saturating minimax log(1 - D(G(z))): d/dx = -sigmoid(x), about -0.0003 at x=-8 (ratio 0.0007).
    if not (sure < 0 and unsure < 0):
        # -CE(labels 1) has gradient 1 - sigmoid(x): positive and larger at -8; CE(labels 0) has sigmoid(x), ~0 at -8
        negated = sure > 0 and unsure > 0 and sure / unsure > 1.5
        fail("g_loss does not decrease when D rates the fakes as more real.",
             expected="d g_loss / d fake logit < 0", found=f"{unsure:.4g} at logit 0, {sure:.4g} at logit {rejected:g}",
             hint="a sign error: the gradient is that of the non-saturating loss negated, so minimising g_loss "
                  "pushes the fakes' logits down. Drop the minus sign in front of the cross-entropy." if negated else
                  "the generator wants its fakes called real: cross-entropy of d_logits_fake with labels 1.")
    if sure / unsure < 1.5:
        fail("g_loss has almost no gradient where D confidently rejects the fakes (D(G(z)) close to 0).",
             expected=f"a gradient at logit {rejected:g} about twice the one at logit 0 (non-saturating loss)",
             found=f"{sure:.4g} at logit {rejected:g} vs {unsure:.4g} at logit 0 (ratio {sure / unsure:.3g})",
             hint="that is the saturating log(1 - D(G(z))) loss: "
                  "use the cross-entropy of the fake logits with labels 1.")


def _match(found, mistakes):
    for value, hint in mistakes:
        if close(value, found):
            return hint
    return None

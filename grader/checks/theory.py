"""Checks for notebook 07, why a GAN works and how it fails: NumPy exercises on the theory,
Algorithm 1's training step, and the conceptual questions.

The answer key does not ship: the visible checks compare with values precomputed for their
fixed inputs (tests/test_answer_key.py recomputes them), and the hidden checks that need a
reference on inputs drawn per student get it from their hidden test cell, which only the
gradebook holds. Each check tests type, then shape, then values, and names the likely mistake
by comparing the value found with the values the usual mistakes give.
"""
import contextlib
import math

import numpy as np

from grader.checks import drawn
from grader.checks._common import (
    ATOL,
    RTOL,
    call_student,
    close,
    describe,
    fail,
    first_mismatch,
    fresh_graph,
    session,
    watching_changes,
)
from grader.quiet import quiet
from grader.tf1 import tf

LOG4 = math.log(4.0)


# ----------------------------------------------------------------------------- helpers of the diagnoses
def random_distributions(seed, size=12, zeros=3):
    """Two probability vectors over ``size`` grid points, each with a few zero entries (some shared)."""
    rng = np.random.RandomState(seed)
    p, q = rng.dirichlet(np.ones(size)), rng.dirichlet(np.ones(size))
    p[:zeros], q[zeros - 1:2 * zeros - 1] = 0.0, 0.0  # entry zeros-1 is zero in both
    return p / p.sum(), q / q.sum()


# ----------------------------------------------------------------------------- shared helpers
def _number(value, what, hint):
    """A Python or NumPy real number (or a 0-d / one-element array) as float; else a message."""
    if isinstance(value, tf.Tensor):
        fail(f"{what} is a TensorFlow tensor.", expected="a NumPy or Python number", found=describe(value),
             hint="this exercise is plain NumPy: use np.log, np.mean... and return the number.")
    if isinstance(value, (bool, np.bool_)) or value is None:
        fail(f"{what} is not a number.", expected="a float", found=describe(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        try:
            return float(value)
        except OverflowError:
            fail(f"{what} is too large to be a float.", expected="a finite number", found=f"{value:.3e}")
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
        if value.size == 1:
            return float(value.reshape(()))
        fail(f"{what} is an array of shape {value.shape}, not one number.", expected="a float", found=describe(value),
             hint=hint)
    fail(f"{what} is not a number.", expected="a float", found=describe(value), hint=hint)


def _array(value, what, shape):
    if isinstance(value, tf.Tensor):
        fail(f"{what} is a TensorFlow tensor.", expected=f"a NumPy array of shape {shape}", found=describe(value),
             hint="this exercise is plain NumPy: build the result with NumPy operations.")
    if isinstance(value, (list, tuple)):
        try:
            value = np.asarray(value, dtype=float)
        except Exception:  # noqa: BLE001  (whatever it holds, it is not an array of numbers)
            fail(f"{what} is not a NumPy array of numbers.", expected=f"an array of shape {shape}",
                 found=describe(value))
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        fail(f"{what} is not a NumPy array of numbers.", expected=f"an array of shape {shape}", found=describe(value))
    if value.shape != tuple(shape):
        fail(f"{what} has the wrong shape.", expected=f"shape {tuple(shape)}, the shape of the input",
             found=f"shape {value.shape}", hint="compute element by element; do not sum, average or flatten.")
    return value.astype(np.float64)


def _call_unchanged(function, *arrays, **kwargs):
    """Call the student's function on copies and insist it leaves the caller's arrays as they were."""
    copies = [np.array(a, copy=True) for a in arrays]
    with watching_changes(copies):
        result = call_student(function, *copies, **kwargs)
    for original, copy in zip(arrays, copies, strict=True):
        if not np.array_equal(original, copy, equal_nan=True):
            fail(f"{function.__name__}() changed the arrays it was given.",
                 expected="inputs left as they were", found=f"an input changed: {_first_change(original, copy)}",
                 hint="work on new arrays (e.g. a = np.asarray(a, dtype=float) + 0, or the result of "
                      "np.where / np.divide(..., out=a new array)), not in place with /=, *= or [...] = on the "
                      "arguments.")
    return result


def _first_change(original, changed):
    """Where an input array first changed, with all the digits (a tiny change must not print as no change)."""
    index = tuple(int(i) for i in np.argwhere(~np.isclose(original, changed, rtol=0, atol=0, equal_nan=True))[0])
    return f"at index {index}: {np.asarray(original)[index]!r} became {np.asarray(changed)[index]!r}"


def _reference(reference, inputs, fixed, what, *arrays):
    """The expected value: ``fixed`` (precomputed) on the fixed inputs without a reference, else the
    hidden cell's ``reference`` on ``arrays`` (a grader problem, not the student's, if it is missing)."""
    if reference is None and inputs.seed is None:
        return fixed
    if not callable(reference):
        raise TypeError(f"drawn inputs need reference=<a function computing {what}> from the hidden test cell")
    return float(reference(*(np.array(a, copy=True) for a in arrays)))


def _match(found, candidates, rtol=RTOL, atol=ATOL):
    """The hint of the first candidate (value, hint) whose value equals ``found``."""
    for value, hint in candidates:
        with np.errstate(all="ignore"):
            if close(np.asarray(value, np.float64), np.asarray(found, np.float64), rtol=rtol, atol=atol):
                return hint
    return None


# ----------------------------------------------------------------------------- value_function
REAL_LOGITS = np.array([[2.0], [-1.0], [0.5], [3.0], [-0.3]])
FAKE_LOGITS = np.array([[-2.0], [0.7], [1.5]])
CONFIDENT_REAL = np.array([[-100.0], [100.0], [30.0], [-1000.0]])
CONFIDENT_FAKE = np.array([[100.0], [-100.0], [1000.0]])
VALUE_ON_MODERATE = -1.5406176350604417  # V on REAL_LOGITS, FAKE_LOGITS
VALUE_ON_CONFIDENT = -641.6666666666667  # V on the fixed confident logits (drawn.FIXED)
UNSTABLE = ("computing log(sigmoid(l)) or log(1 - sigmoid(l)) directly fails for confident logits: 1 - sigmoid(100) "
            "rounds to 0, whose log is -inf, and exp(1000) overflows. Use log sigmoid(l) = -np.logaddexp(0, -l) "
            "and log(1 - sigmoid(l)) = -np.logaddexp(0, l).")


# The usual mistakes' values of V on REAL_LOGITS, FAKE_LOGITS, each with its hint. Constants: a function
# computing them from any logits would hand out the answer one sign or one swap away. The test
# test_the_value_mistakes_table_is_what_each_mistake_computes recomputes every value.
VALUE_MISTAKES_ON_MODERATE = (
    (1.5406176350604417, "a sign error, the sign is flipped: V is the discriminator's objective, mean log D(x) + "
                         "mean log(1 - D(G(z))) (a number <= 0), not the loss that D minimises."),
    (-1.4739509683937753, "the fake term is log D(G(z)): V uses log(1 - D(G(z))) on the fakes."),
    (-0.7185920770868442, "both batches were averaged together: V is the sum of two expectations, one mean per "
                          "batch (here they have different sizes)."),
    (-5.748736616694754, "the terms are summed over each batch: take each batch's mean."),
    (-2.222641422007782, "the logarithm is base 2: V uses the natural logarithm (np.log)."),
    (-0.7703088175302208, "the two expectations were averaged: V is their sum."),
    (-2.313950968393775, "real and fake logits are swapped: the first argument holds D's logits on real data."),
    (0.7733333333333334, "the logits were used as if they were log-probabilities: log D(x) = log(sigmoid(l)), not l."),
)


def value_precision_mistakes(real, fake):
    """(value, hint) of the two mistakes that are right on moderate logits and wrong on confident ones."""
    real, fake = np.ravel(real), np.ravel(fake)
    with np.errstate(all="ignore"):
        d_real, d_fake = 1 / (1 + np.exp(-real)), 1 / (1 + np.exp(-fake))
        return [
            (np.log(d_real).mean() + np.log(1 - d_fake).mean(),
             "log(sigmoid(l)) was computed directly, which loses precision and overflows for confident logits."),
            (np.log(d_real + 1e-8).mean() + np.log(1 - d_fake + 1e-8).mean(),
             "an epsilon keeps log(sigmoid(l) + eps) finite but wrong for confident logits: "
             "use log(sigmoid(l)) = -log(1 + exp(-l)) in a stable form such as -np.logaddexp(0, -l)."),
        ]


def _student_value(value_function, real, fake):
    found = _call_unchanged(value_function, real, fake)
    return _number(found, "value_function's result",
                   hint="V is one number: the mean over the real batch plus the mean over the fake batch.")


def value_function_values(value_function):
    """value_function(d_logits_real, d_logits_fake) is one number equal to V on moderate logits."""
    found = _student_value(value_function, REAL_LOGITS, FAKE_LOGITS)
    expected = VALUE_ON_MODERATE
    if not close(expected, found):
        fail("value_function differs from V on 5 real and 3 fake logits.",
             expected=f"{expected:.6f} = mean log sigmoid(l_real) + mean log(1 - sigmoid(l_fake))",
             found=f"{found:.6f}", hint=_match(found, VALUE_MISTAKES_ON_MODERATE))
    flat = _student_value(value_function, REAL_LOGITS.ravel(), FAKE_LOGITS.ravel())
    if not close(expected, flat):
        fail("value_function gives another value when the logits come as flat vectors, shape (n,).",
             expected=f"{expected:.6f}, as for shape (n, 1)", found=f"{flat:.6f}",
             hint="average over every entry (np.mean without an axis) so any shape works.")


def value_function_stability(value_function, reference=None, inputs=None):
    """value_function is finite and exact for confident logits (tens, hundreds, a thousand); on drawn
    inputs ``reference`` (from the hidden test cell) computes V for them."""
    inputs = drawn.pick(inputs)
    real, fake = (np.array(logits).reshape(-1, 1) for logits in inputs.confident_logits)
    found = _student_value(value_function, real, fake)
    expected = _reference(reference, inputs, VALUE_ON_CONFIDENT, "V from logits", real, fake)
    shown = f"logits up to +-{max(np.abs(real).max(), np.abs(fake).max()):g}"
    if not math.isfinite(found):
        fail(f"value_function is not finite for confident logits ({shown}).", expected=f"{expected:.6f}",
             found=f"{found}", hint=UNSTABLE)
    if not close(expected, found):
        # only the mistakes that are right on moderate logits can be what goes wrong here
        precision = value_precision_mistakes(real, fake)
        fail(f"value_function is finite but inexact for confident logits ({shown}).",
             expected=f"{expected:.6f}", found=f"{found:.6f}", hint=_match(found, precision)
             or "log sigmoid(l) must stay exact for large |l|: log sigmoid(-1000) is -1000, not a clipped number.")


# ----------------------------------------------------------------------------- optimal_discriminator
GRID = np.linspace(-3.0, 3.0, 13)
P_DATA = np.where(np.abs(GRID) <= 2.0, np.exp(-0.5 * (GRID - 0.5) ** 2), 0.0)
P_G = np.where(GRID >= -1.0, np.exp(-0.5 * ((GRID - 1.0) / 1.5) ** 2) / 1.5, 0.0)
P_G[-1] = 0.0  # a point where neither density has mass: 0/0
P_DATA[0], P_G[1] = 1e-6, 1e-6  # tiny densities against 0: D* is exactly 1 and 0 there, not 1/2
OPTIMAL_D = np.array([1.0, 0.0, 1.0, 1.0, 0.542237596883055, 0.6, 0.6230906556637381, 0.6132562779833931,
                      0.5696602476981315, 0.49025639957769024, 0.3781724089200291, 0.0, 0.5])  # D* on P_DATA, P_G


def optimal_d_mistakes(p_data, p_g, expected):
    """(value, hint) for the usual mistakes, built from the right D* (``expected``) and where the
    densities vanish, so that the catalogue gives nothing to whoever does not hold the answer already."""
    some = (p_data + p_g) > 0
    d = np.asarray(expected, np.float64)
    with np.errstate(all="ignore"):
        return [
            (np.where(some, 1 - d, 0.5),
             "D* is inverted: D says how likely x is real, D* = p_data / (p_data + p_g), not p_g / (...)."),
            (np.where(some, d, 0.0), "where both densities are 0, D* is 0: the notebook defines it as 1/2 "
                                     "(with np.divide(..., where=...), the entries it skips keep whatever "
                                     "was in memory unless you pass out=np.full(shape, 0.5))."),
            (np.where(some, d, 1.0), "where both densities are 0, D* is 1: the notebook defines it as 1/2."),
            (np.where(p_g > 0, d / (1 - d), 0.5), "that is the density ratio p_data / p_g: divide by the sum."),
            (np.where(some, d / (2 - d), 0.5), "the denominator counts p_g twice."),
        ]


def _student_optimal_d(optimal_discriminator, p_data, p_g):
    found = _call_unchanged(optimal_discriminator, p_data, p_g)
    return _array(found, "optimal_discriminator's result", p_data.shape)


def optimal_discriminator_values(optimal_discriminator):
    """optimal_discriminator(p_data, p_g) = p_data / (p_data + p_g) on a grid, 1/2 where both are 0."""
    found = _student_optimal_d(optimal_discriminator, P_DATA, P_G)
    expected = OPTIMAL_D
    both_zero = (P_DATA + P_G) == 0
    if np.isnan(found).any():
        nan_where = "where p_data + p_g = 0" if np.isnan(found[both_zero]).all() else "somewhere"
        fail(f"optimal_discriminator returns NaN {nan_where}: 0/0.", expected="1/2 where both densities are 0",
             found=f"NaN at indices {np.flatnonzero(np.isnan(found)).tolist()}",
             hint="0/0 is NaN in NumPy: divide only where p_data + p_g > 0 "
                  "(np.divide(..., out=np.full(shape, 0.5), where=...)) and keep 1/2 elsewhere.")
    if not close(expected, found):
        hint = _match(found, optimal_d_mistakes(P_DATA, P_G, expected))
        if hint is None and close(expected[~both_zero], found[~both_zero]):
            hint = ("only the points where both densities are 0 are wrong: D* is 1/2 there. With np.divide(..., "
                    "where=...), the entries it skips keep whatever was in memory unless you pass "
                    "out=np.full(shape, 0.5).")
        fail("optimal_discriminator differs from p_data / (p_data + p_g).", expected="D* with 1/2 where both are 0",
             found=first_mismatch(expected, found), hint=hint)
    grid_2d = (P_DATA[:12].reshape(3, 4), P_G[:12].reshape(3, 4))
    found_2d = _student_optimal_d(optimal_discriminator, *grid_2d)
    expected_2d = OPTIMAL_D[:12].reshape(3, 4)
    if not close(expected_2d, found_2d):
        fail("optimal_discriminator is wrong on densities over a 2-D grid, shape (3, 4).",
             expected="the same formula, entry by entry", found=first_mismatch(expected_2d, found_2d))


def optimal_discriminator_at_equilibrium(optimal_discriminator, reference=None, inputs=None):
    """Where p_g = p_data, D* is 1/2 everywhere, including where both densities are 0; with a
    ``reference`` (the hidden test cell's), D* also matches it on the density against its reverse."""
    inputs = drawn.pick(inputs)
    density = np.array(inputs.equilibrium_density)
    found = _student_optimal_d(optimal_discriminator, density, density.copy())
    if not close(np.full(density.shape, 0.5), found):
        fail("With p_g = p_data, D* should be 1/2 at every point.", expected="0.5 everywhere",
             found=first_mismatch(np.full(density.shape, 0.5), found),
             hint="where both densities are 0 the notebook defines D* = 1/2 (D cannot tell, so it says 1/2).")
    if reference is None:
        return
    p_g = density[::-1].copy()
    found = _student_optimal_d(optimal_discriminator, density, p_g)
    expected = np.asarray(reference(density.copy(), p_g.copy()), np.float64)
    if not close(expected, found):
        fail(f"optimal_discriminator differs from p_data / (p_data + p_g) on other densities ({len(density)} points).",
             expected="D* with 1/2 where both are 0", found=first_mismatch(expected, found),
             hint=_match(found, optimal_d_mistakes(density, p_g, expected)))


# ----------------------------------------------------------------------------- js_divergence
JSD_ON_RANDOM = {1: 0.19235104668409678, 2: 0.3049817255705267}  # JSD of random_distributions(seed)
VALUE_AT_OPTIMUM = {3: -0.7150466478047421, 4: -0.6329126099967539,  # V(D*, G) on the fixed draws (drawn.FIXED)
                    5: -0.7792670714040136}


ONLY_KL_P_M = "only KL(p || M) was computed: add KL(q || M) and halve the sum."
# KL(p || M) alone on random_distributions(seed): constants, as a function computing it from any p, q
# would compute half the answer (test_the_jsd_tables_are_what_they_say recomputes them).
KL_P_M_ON_RANDOM = {1: 0.2029001793678043, 2: 0.29839859411007646}


def jsd_mistakes(p, q, expected):
    """(value, hint) for the usual mistakes, built from the right JSD (``expected``) and the masses of
    p and q, so that the catalogue gives nothing to whoever does not hold the answer already. (KL
    against q, or from the mixture, is infinite where an entry is 0: _infinite_jsd_hint names it.)"""
    mass = (float(np.sum(p)) + float(np.sum(q))) / 2
    return [
        (expected / math.log(2), "the result is in bits (log base 2): the course measures JSD in nats, with np.log."),
        (2 * expected, "the two KL terms are added without their factor 1/2."),
        (expected - math.log(2) * mass, "the mixture is p + q: it is M = (p + q) / 2."),
    ]


def _infinite_jsd_hint(found):
    """An infinite JSD comes from a log of a division by 0 (0 * log 0 gives NaN, not inf)."""
    if not math.isinf(found):
        return None
    return ("the result is infinite, so a log divides by 0: KL(p || M) = sum p * log(p / M) divides by the "
            "mixture M = (p + q) / 2, which is > 0 wherever p or q is. Dividing by q instead (KL against q), or by p "
            "(the reversed KL(M || p)), gives log(x / 0) = inf where the other distribution is 0.")


def _student_jsd(js_divergence, p, q):
    found = _call_unchanged(js_divergence, p, q)
    return _number(found, "js_divergence's result", hint="JSD is one number: sum over the grid, not per entry.")


def js_divergence_values(js_divergence):
    """js_divergence(p, q) in nats: 0 for p = q, log 2 for disjoint supports, exact on random vectors."""
    p = np.array([0.1, 0.4, 0.2, 0.3])
    found = _student_jsd(js_divergence, p, p.copy())
    if not (math.isfinite(found) and abs(found) < 1e-9):
        fail("js_divergence(p, p) should be 0.", expected="0", found=f"{found:.6g}",
             hint=_match(found, jsd_mistakes(p, p.copy(), 0.0), atol=1e-9))
    disjoint = (np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.25, 0.75]))
    found = _student_jsd(js_divergence, *disjoint)
    if not math.isfinite(found):
        fail("js_divergence is not finite when an entry is 0.", expected=f"log 2 = {math.log(2):.6f} for disjoint p, q",
             found=f"{found}", hint=_infinite_jsd_hint(found) or "0 * log(0) is NaN in NumPy: sum p * log(p / m) "
                                                                 "only over the entries where p > 0.")
    if abs(found - math.log(2)) > 1e-6:
        hint = ("the result is in bits: JSD in nats uses the natural log, so disjoint distributions give log 2."
                if abs(found - 1.0) < 1e-6 else _match(found, jsd_mistakes(*disjoint, math.log(2))))
        fail("js_divergence of two distributions with disjoint supports should be log 2.",
             expected=f"{math.log(2):.6f}", found=f"{found:.6f}", hint=hint)
    for seed in (1, 2):
        p, q = random_distributions(seed)
        found, expected = _student_jsd(js_divergence, p, q), JSD_ON_RANDOM[seed]
        if not math.isfinite(found):
            fail(f"js_divergence is not finite on random p, q with zero entries (seed {seed}).",
                 expected=f"{expected:.8f}", found=f"{found}",
                 hint=_infinite_jsd_hint(found) or (
                     "an entry where p (or q) is 0 adds nothing: sum p * log(p / m) over p > 0 only; at an entry "
                     "where both are 0, m is 0 too, and 0 / 0 is NaN."))
        if not close(expected, found, rtol=1e-6, atol=1e-9):
            candidates = [*jsd_mistakes(p, q, expected), (KL_P_M_ON_RANDOM[seed], ONLY_KL_P_M)]
            fail(f"js_divergence differs from the definition on random p, q (seed {seed}).",
                 expected=f"{expected:.8f} = 1/2 KL(p || M) + 1/2 KL(q || M), M = (p + q) / 2",
                 found=f"{found:.8f}", hint=_match(found, candidates, rtol=1e-6, atol=1e-9))
        swapped = _student_jsd(js_divergence, q, p)
        if not close(found, swapped, rtol=1e-6, atol=1e-9):
            fail("js_divergence is not symmetric.", expected=f"JSD(q, p) = JSD(p, q) = {found:.8f}",
                 found=f"{swapped:.8f}", hint="both distributions are compared with the same mixture M.")


def js_divergence_and_value(js_divergence, reference=None, inputs=None):
    """V(D*, G) = -log 4 + 2 JSD(p_data || p_g) holds with your js_divergence on random distributions;
    on drawn inputs ``reference`` (from the hidden test cell) computes V(D*, G) on a grid."""
    inputs = drawn.pick(inputs)
    for seed, size, zeros in inputs.jsd_draws:
        p_data, p_g = random_distributions(seed, size=size, zeros=zeros)
        value = _reference(reference, inputs, VALUE_AT_OPTIMUM.get(seed), "V(D*, G) on a grid", p_data, p_g)
        jsd = _student_jsd(js_divergence, p_data, p_g)
        if not close(value, -LOG4 + 2 * jsd, rtol=1e-6, atol=1e-9):
            fail("V(D*, G) = -log 4 + 2 JSD does not hold with your js_divergence "
                 f"(random distributions, seed {seed}).",
                 expected=f"V(D*, G) = {value:.8f}, so JSD = (V + log 4) / 2 = {(value + LOG4) / 2:.8f}",
                 found=f"JSD = {jsd:.8f}, giving -log 4 + 2 JSD = {-LOG4 + 2 * jsd:.8f}",
                 hint=_match(jsd, jsd_mistakes(p_data, p_g, (value + LOG4) / 2), rtol=1e-6, atol=1e-9)
                 or "entries where p_data or p_g is 0 count as 0 * log(...) = 0.")


# ----------------------------------------------------------------------------- generator_loss_gradients
LOGITS = np.array([[-10.0], [-4.0], [-1.0], [0.0], [2.0], [6.0]])
# -sigmoid(l) and sigmoid(l) - 1 on LOGITS and on drawn.FIXED's confident logits: constants, for the answer
# must not ship as a function (test_the_gradient_tables_are_the_gradients recomputes them).
MINIMAX_ON_LOGITS = (-4.5397868702434354e-05, -0.017986209962091562, -0.2689414213699951, -0.5,
                     -0.8807970779778824, -0.9975273768433652)
NON_SATURATING_ON_LOGITS = (-0.9999546021312976, -0.9820137900379085, -0.7310585786300049, -0.5,
                            -0.11920292202211757, -0.002472623156634768)
MINIMAX_ON_CONFIDENT = (-0.0, -3.720075976020836e-44, -4.248354255291589e-18, -1.0, -1.0, -1.0)
NON_SATURATING_ON_CONFIDENT = (-1.0, -1.0, -1.0, 0.0, 0.0, 0.0)
CONFIDENT_LOGITS = np.array([-1000.0, -100.0, -40.0, 40.0, 100.0, 1000.0])


def gradient_mistakes(minimax, non_saturating):
    """(value, hint) for the usual mistakes, built from the right gradients (minimax = -sigmoid(l)), so
    that the catalogue gives nothing to whoever does not hold the answer already."""
    s, n = -np.asarray(minimax, np.float64), len(minimax)
    with np.errstate(all="ignore"):
        return [
            ((-s, 1 - s),
             "a sign error: the non-saturating gradient has the wrong sign: "
             "d/dl [-log sigmoid(l)] = sigmoid(l) - 1 < 0."),
            ((s, s - 1), "a sign error: the minimax gradient has the wrong sign: "
                         "d/dl log(1 - sigmoid(l)) = -sigmoid(l) < 0."),
            ((s - 1, -s), "the two gradients are swapped: return (minimax, non_saturating)."),
            ((-1 / (1 - s), -1 / s), "these are derivatives with respect to D(G(z)), not the logit: "
                                     "multiply by dD/dl = sigmoid(l) (1 - sigmoid(l)) (the chain rule)."),
            ((-s * (1 - s), -s * (1 - s)), "that is the derivative of the sigmoid alone: "
                                          "differentiate log(1 - sigmoid(l)) and -log sigmoid(l) through the log."),
            ((-s / n, (s - 1) / n),
             "the gradients are divided by the batch size (gradient of a mean): the exercise asks for each "
             "sample's own gradient."),
        ]


def _student_gradients(generator_loss_gradients, logits):
    result = _call_unchanged(generator_loss_gradients, logits)
    if isinstance(result, np.ndarray) and result.shape == (2, *np.shape(logits)):
        result = tuple(result)  # the two gradients stacked
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("generator_loss_gradients should return two arrays.",
             expected="(minimax_gradient, non_saturating_gradient)",
             found=describe(result), hint="end with `return minimax_gradient, non_saturating_gradient`.")
    return tuple(_array(value, f"The {name} gradient", np.shape(logits))
                 for value, name in zip(result, ("minimax", "non-saturating"), strict=True))


def generator_loss_gradients_values(generator_loss_gradients):
    """generator_loss_gradients(l) = (-sigmoid(l), sigmoid(l) - 1), one gradient per logit."""
    found = _student_gradients(generator_loss_gradients, LOGITS)
    expected = (np.array(MINIMAX_ON_LOGITS).reshape(LOGITS.shape), np.array(NON_SATURATING_ON_LOGITS).reshape(
        LOGITS.shape))
    for index, name, formula in ((0, "minimax", "-sigmoid(l)"), (1, "non-saturating", "sigmoid(l) - 1")):
        if not close(expected[index], found[index]):
            hint = None
            for candidate, text in gradient_mistakes(*expected):
                if close(candidate[index], found[index]) and close(candidate[1 - index], found[1 - index]):
                    hint = text
                    break
            fail(f"The {name} gradient differs from {formula}.", expected=formula,
                 found=first_mismatch(expected[index], found[index]), hint=hint)


def generator_loss_gradients_vanish(generator_loss_gradients, reference=None, inputs=None):
    """At logit -10 the minimax gradient vanishes and the non-saturating one does not; finite at +-1000.
    On drawn inputs ``reference`` (from the hidden test cell) computes the two gradients."""
    inputs = drawn.pick(inputs)
    confident = np.array(inputs.gradient_logits)
    shown = ", ".join(f"{v:g}" for v in confident)
    minimax, non_saturating = _student_gradients(generator_loss_gradients, confident)
    if not (np.isfinite(minimax).all() and np.isfinite(non_saturating).all()):
        fail(f"The gradients are not finite for confident logits ({shown}).", expected="finite values",
             found=f"minimax {minimax.tolist()}, non-saturating {non_saturating.tolist()}",
             hint="exp(1000) overflows, and inf / inf or 0 / 0 gives NaN: compute sigmoid(l) in a form that "
                  "never overflows, e.g. 0.5 * (1 + np.tanh(l / 2)).")
    if reference is None and inputs.seed is None:
        expected = (np.array(MINIMAX_ON_CONFIDENT), np.array(NON_SATURATING_ON_CONFIDENT))
    elif not callable(reference):
        raise TypeError("drawn inputs need reference=<a function computing both gradients> from the hidden test cell")
    else:
        expected = tuple(np.asarray(value, np.float64) for value in reference(confident.copy()))
    if not (close(expected[0], minimax) and close(expected[1], non_saturating)):
        fail(f"The gradients are wrong for confident logits ({shown}).",
             expected=f"minimax {expected[0].tolist()}, non-saturating {expected[1].tolist()}",
             found=f"minimax {minimax.tolist()}, non-saturating {non_saturating.tolist()}")
    rejected = np.array([-10.0])
    minimax, non_saturating = _student_gradients(generator_loss_gradients, rejected)
    if not (abs(minimax[0]) < 1e-3 < 0.9 < abs(non_saturating[0])):
        fail("At logit -10 (D sure the fake is fake) the minimax gradient should vanish and the "
             "non-saturating one stay near -1.", expected=f"about {MINIMAX_ON_LOGITS[0]:.2g} and "
             f"{NON_SATURATING_ON_LOGITS[0]:.5f}",
             found=f"{minimax[0]:.4g} and {non_saturating[0]:.4g}")


# ----------------------------------------------------------------------------- the bilinear game
START, ETA = (1.0, 0.5), 0.1


def _step(step_function, x, y, eta):
    result = call_student(step_function, x, y, eta)
    if isinstance(result, np.ndarray) and result.shape == (2,):
        result = tuple(result)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"{step_function.__name__} should return the new (x, y).", expected="a pair (x_new, y_new)",
             found=describe(result), hint="end with `return x_new, y_new`.")
    return tuple(_number(value, f"{step_function.__name__}'s {name}", hint="x and y are single numbers here.")
                 for value, name in zip(result, ("x_new", "y_new"), strict=True))


def bilinear_mistakes(x, y, eta):
    alternating = (x - eta * y, y + eta * (x - eta * y))
    return [
        ((y + eta * x, x - eta * y), "the pair is returned as (y, x): return x_new, y_new in that order."),
        ((alternating[1], alternating[0]), "the pair is returned as (y, x): return x_new, y_new in that order."),
        ((x + eta * y, y - eta * x), "a sign error in both steps, the players go the wrong way: x minimises x*y "
                                     "(x -= eta * y) and y maximises it (y += eta * x)."),
        ((x - eta * y, y - eta * x), "a sign error in y's step: y descends, but y maximises x*y, so it moves along "
                                     "its gradient x (y += eta * x)."),
        ((x + eta * y, y + eta * x), "a sign error in x's step: x ascends, but x minimises x*y, so it moves against "
                                     "its gradient y (x -= eta * y)."),
        ((x - eta * x, y + eta * y), "each player used its own value as its gradient: d(xy)/dx = y and d(xy)/dy = x."),
        ((x - eta * y, y + eta * x), "both updates used the old values: that is the simultaneous step, and in the "
                                     "alternating step y moves against the new x."),
        ((x - eta * (y + eta * x), y + eta * x), "y moved first: in this notebook x moves first, then y answers it."),
        ((x - eta * y, y + eta * (x - eta * y)), "x moved first and y answered the new x: that is the alternating "
                                                 "step; the simultaneous step uses the old x for y."),
        ((x + eta * y, y + eta * (x + eta * y)), "a sign error in x's step: x ascends, but x minimises x*y, so it "
                                                 "moves against its gradient y (x -= eta * y)."),
        ((x - eta * y, y - eta * (x - eta * y)), "a sign error in y's step: y descends, but y maximises x*y, so it "
                                                 "moves along its gradient x (y += eta * x_new)."),
        ((x + eta * y, y - eta * (x + eta * y)), "a sign error in both steps, the players go the wrong way: x "
                                                 "minimises x*y (x -= eta * y) and y maximises it (y += eta * x_new)."),
    ]


def _check_step(step_function, expected, rule):
    for x, y, eta in ((*START, ETA), (-0.3, 2.0, 0.25)):
        found, want = _step(step_function, x, y, eta), expected(x, y, eta)
        if not close(want, found, rtol=1e-6, atol=1e-9):
            hint = _match(found, [c for c in bilinear_mistakes(x, y, eta) if not close(c[0], want)], 1e-6, 1e-9)
            fail(f"{step_function.__name__}({x}, {y}, eta={eta}) is not {rule}.",
                 expected=f"({want[0]:.10g}, {want[1]:.10g})", found=f"({found[0]:.10g}, {found[1]:.10g})",
                 hint=hint)


def bilinear_simultaneous_step(simultaneous_step):
    """simultaneous_step moves x against and y along the gradient of x*y, both from the old values."""
    _check_step(simultaneous_step, lambda x, y, eta: (x - eta * y, y + eta * x),
                "x - eta*y, y + eta*x (both from the old x, y)")


def bilinear_alternating_step(alternating_step):
    """alternating_step moves x first, then y against the new x."""
    _check_step(alternating_step, lambda x, y, eta: (x - eta * y, y + eta * (x - eta * y)),
                "x_new = x - eta*y, then y + eta*x_new")


def bilinear_long_run(simultaneous_step, alternating_step, inputs=None):
    """Over N steps simultaneous play spirals out as r0 (1 + eta^2)^(N/2); alternating keeps x^2 + y^2 - eta x y."""
    *start, eta, steps = drawn.pick(inputs).bilinear
    x, y = start
    for _ in range(steps):
        x, y = _step(simultaneous_step, x, y, eta)
    radius, expected = math.hypot(x, y), math.hypot(*start) * (1 + eta ** 2) ** (steps / 2)
    if not math.isclose(radius, expected, rel_tol=1e-6):
        fail(f"After {steps} simultaneous steps the distance from (0, 0) should be r0 (1 + eta^2)^(N/2).",
             expected=f"{expected:.6f}", found=f"{radius:.6f}",
             hint=_one_step_hint(simultaneous_step, _simultaneous) or
             "each simultaneous step multiplies the distance by sqrt(1 + eta^2): check the step above.")
    x, y = start
    invariant = lambda x, y: x * x + y * y - eta * x * y  # noqa: E731
    start, largest = invariant(x, y), 0.0
    for _ in range(steps):
        x, y = _step(alternating_step, x, y, eta)
        largest = max(largest, abs(invariant(x, y) - start))
    if largest > 1e-5 * max(1.0, abs(start)):  # float32 arithmetic drifts about 1e-6; the old x, by far more
        fail(f"Alternating play should keep x^2 + y^2 - eta*x*y constant (it drifted over {steps} steps).",
             expected=f"{start:.9f} throughout", found=f"a change of up to {largest:.3g}",
             hint=_one_step_hint(alternating_step, _alternating) or
             "in the alternating step y must answer the x just computed.")


def _simultaneous(x, y, eta):
    return x - eta * y, y + eta * x


def _alternating(x, y, eta):
    return x - eta * y, y + eta * (x - eta * y)


def _one_step_hint(step_function, expected):
    """The named mistake that one step from START reproduces, if any (a sign error, the old x, ...)."""
    x, y = START
    want = expected(x, y, ETA)
    return _match(_step(step_function, x, y, ETA),
                  [c for c in bilinear_mistakes(x, y, ETA) if not close(c[0], want)], 1e-6, 1e-9)


# ----------------------------------------------------------------------------- Algorithm 1: training_step
class _RecordingSession:
    """A stand-in for tf.Session that records every run: which ops were fetched and what was fed.

    It understands the TF1 ways of running an op: ``session.run(op or [ops] or {name: op}, feed)``,
    ``op.run(feed_dict=..., session=session)`` and ``with session.as_default(): op.run(...)``.
    """

    current = []  # the sessions made default with as_default(), innermost last

    def __init__(self):
        self.calls = []

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        fed = {_key_name(key): value for key, value in (feed_dict or {}).items()}
        self.calls.append((_fetched_names(fetches), fed))
        if isinstance(fetches, dict):
            return dict.fromkeys(fetches)
        return [None] * len(fetches) if isinstance(fetches, (list, tuple)) else None

    @contextlib.contextmanager
    def as_default(self):
        _RecordingSession.current.append(self)
        try:
            yield self
        finally:
            _RecordingSession.current.pop()


class _Handle:
    """A stand-in for a TensorFlow op or placeholder; ``name`` is what TensorFlow would call it."""

    def __init__(self, name):
        self.name = name

    def run(self, feed_dict=None, session=None):
        session = session or (_RecordingSession.current[-1] if _RecordingSession.current else None)
        if session is None:
            raise ValueError("Cannot run an operation without a session: pass session=... or use "
                             "`with session.as_default():`")
        return session.run(self, feed_dict=feed_dict)

    def __repr__(self):
        return f"<{self.name}>"


def _key_name(key):
    """'input_real' for the placeholder, its name 'input_real:0', or 'input_real'."""
    name = key if isinstance(key, str) else getattr(key, "name", repr(key))
    return name.split(":")[0]


def _fetched_names(fetches):
    if isinstance(fetches, dict):
        fetches = list(fetches.values())
    if isinstance(fetches, (list, tuple)):
        return [name for fetch in fetches for name in _fetched_names(fetch)]
    return [getattr(fetches, "name", repr(fetches)).split(":")[0]]


class _Sampler:
    """A batch source that hands out a new array on each call, filled with a number no other batch has."""

    def __init__(self, name, width, first_value):
        self.name, self.width, self.first_value, self.handed_out = name, width, first_value, []

    def __call__(self):
        batch = np.full((4, self.width), self.first_value + len(self.handed_out), np.float32)
        self.handed_out.append(batch)
        return batch

    def index_of(self, value):
        """Which of this sampler's batches ``value`` is (by value: a copy or a cast counts), or None."""
        try:
            value = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return next((index for index, batch in enumerate(self.handed_out)
                     if value.shape == batch.shape and np.array_equal(value, batch)), None)


def _record_training_step(training_step, k):
    d_op, g_op = _Handle("d_train_op"), _Handle("g_train_op")
    real, z = _Handle("input_real:0"), _Handle("input_z:0")
    sess, real_batch, z_batch = _RecordingSession(), _Sampler("real_batch", 2, 100), _Sampler("z_batch", 3, 500)
    call_student(training_step, sess, d_op, g_op, real, z, real_batch, z_batch, k=k)
    return sess.calls, real_batch, z_batch


def _describe_calls(calls):
    return "; ".join(f"run({', '.join(f)}) feeding {sorted(feed) or 'nothing'}" for f, feed in calls) or "no run() call"


def _order_hint(fetched, k):
    d_runs, g_runs = fetched.count(("d_train_op",)), fetched.count(("g_train_op",))
    if any(len(f) > 1 and "d_train_op" in f and "g_train_op" in f for f in fetched):
        return ("both training ops ran in one session.run: that is a simultaneous update. Algorithm 1 "
                "alternates: first D's updates, then G's, each in its own run call.")
    if fetched and fetched[0] == ("g_train_op",) and d_runs:
        return "the generator moved first: Algorithm 1 updates D k times, then G once against the updated D."
    if d_runs == 0:
        return "no discriminator update ran: run d_train_op k times before the generator's update."
    if k > 1 and d_runs == k - 1:
        return "one discriminator update too few: range(k) runs k times, range(k - 1) only k - 1."
    if k > 1 and d_runs == 1:
        return "k is ignored: loop `for _ in range(k):` over the discriminator's update."
    g_then_d = any(a == ("g_train_op",) and b == ("d_train_op",) for a, b in zip(fetched, fetched[1:], strict=False))
    if g_runs > 1 and g_then_d:
        return "the generator's update is inside the loop: G moves once per step, after the k D updates."
    if g_runs == 0:
        return "the generator's update did not run: run g_train_op once, after the loop."
    if g_runs > 1:
        return "the generator's update ran more than once: G moves once per step."
    return None


def training_step_order(training_step):
    """training_step(..., k) runs k discriminator updates, then one generator update, one session.run each."""
    for k in (3, 1):
        calls, _, _ = _record_training_step(training_step, k)
        fetched = [tuple(f) for f, _ in calls]
        if fetched != [("d_train_op",)] * k + [("g_train_op",)]:
            fail(f"training_step(k={k}) ran the wrong updates, or in the wrong order.",
                 expected=" then ".join(["d_train_op"] * k + ["g_train_op"]),
                 found=" then ".join("+".join(f) for f in fetched) or "no session.run call",
                 hint=_order_hint(fetched, k))


def training_step_feeds(training_step):
    """Each discriminator update is fed a fresh real batch and fresh z; the generator update fresh z."""
    k = 2
    calls, real_batch, z_batch = _record_training_step(training_step, k)
    if [tuple(f) for f, _ in calls] != [("d_train_op",)] * k + [("g_train_op",)]:
        training_step_order(training_step)  # explains the order first
    d_feeds, g_feed = [feed for _, feed in calls[:k]], calls[k][1]
    for index, feed in enumerate(d_feeds):
        missing = [name for name in ("input_real", "input_z") if name not in feed]
        if missing:
            fail(f"Discriminator update {index + 1} does not feed {' and '.join(missing)}.",
                 expected="feed_dict={input_real: real_batch(), input_z: z_batch()}", found=_describe_calls(calls),
                 hint="D's loss needs a batch of real samples and a batch of fakes, made from z.")
    if "input_z" not in g_feed:
        fail("The generator update does not feed input_z.", expected="feed_dict={input_z: z_batch()}",
             found=_describe_calls(calls), hint="G's loss is computed on fakes made from z.")
    used = {"input_real": [], "input_z": []}
    for feed in [*d_feeds, g_feed]:
        for name, sampler, other in (("input_real", real_batch, z_batch), ("input_z", z_batch, real_batch)):
            if name not in feed:
                continue
            index = sampler.index_of(feed[name])
            if index is None:
                swapped = other.index_of(feed[name]) is not None
                fail(f"{name} was fed {'a batch from ' + other.name + '()' if swapped else 'something else'}.",
                     expected=f"{name}: {sampler.name}()", found=_describe_calls(calls),
                     hint="the two placeholders are swapped in feed_dict." if swapped
                     else "call the two functions you are given, and feed what they return.")
            used[name].append(index)
    real_used, z_used = used["input_real"][:k], used["input_z"]
    if len(set(real_used)) < k:
        fail(f"The {k} discriminator updates were fed the same real batch.", expected="a new real_batch() for each",
             found=f"{len(set(real_used))} different real batch(es)",
             hint="Algorithm 1 samples a new minibatch for every update: call real_batch() inside the loop.")
    if len(set(z_used)) < k + 1:
        fail(f"The {k + 1} updates were not each fed a fresh z.", expected=f"{k + 1} different z_batch() results",
             found=f"{len(set(z_used))} different z batch(es)",
             hint="Algorithm 1 samples new noise for every update, the generator's included: call z_batch() "
                  "for each run.")


def training_step_in_tensorflow(training_step, inputs=None):
    """training_step runs in a real tf.Session: with k=2 (or the drawn k), D's op runs k times and then G's once."""
    k = drawn.pick(inputs).k
    with fresh_graph() as graph:
        real = tf.placeholder(tf.float32, (None, 2), name="input_real")
        z = tf.placeholder(tf.float32, (None, 3), name="input_z")
        d_count = tf.Variable(0.0, name="d_updates", trainable=False)  # counters: no student op may write them
        g_saw = tf.Variable(-1.0, name="d_updates_seen_by_g", trainable=False)
        d_op = tf.assign_add(d_count, 1.0 + 0.0 * (tf.reduce_sum(real) + tf.reduce_sum(z))).op
        g_op = tf.assign(g_saw, d_count + 0.0 * tf.reduce_sum(z)).op
        rng = np.random.RandomState(0)
        with quiet():
            sess = session(graph)
            sess.run(tf.global_variables_initializer())
        try:
            call_student(training_step, sess, d_op, g_op, real, z,
                         lambda: rng.normal(size=(4, 2)).astype(np.float32),
                         lambda: rng.uniform(-1, 1, size=(4, 3)).astype(np.float32), k=k)
            with quiet():
                d_done, g_seen = sess.run([d_count, g_saw])
        finally:
            sess.close()
    if (d_done, g_seen) != (k, k):
        fail(f"In a real session, training_step(k={k}) did not run D's op {k} times and then G's op.",
             expected=f"{k} D updates, and G's update after all of them", found=f"{d_done:g} D updates; G ran after "
             + (f"{g_seen:g} of them" if g_seen >= 0 else "none (it did not run)"))


# ----------------------------------------------------------------------------- conceptual questions
def _choice(answer, options):
    if answer is None:
        fail("No answer yet: the variable is still None.", expected=f"one of {', '.join(map(repr, options))}",
             found="None", hint="set it to the letter of your choice, e.g. \"b\".")
    letter = answer.strip().strip("().").strip().lower() if isinstance(answer, str) else None
    if letter not in options:
        fail("The answer is not one of the options.", expected=f"one of {', '.join(map(repr, options))}",
             found=repr(answer), hint="give just the letter of your choice, as text, e.g. \"b\".")
    return letter


def multiple_choice(answer, options="abcd", correct=None, why=None):
    """The answer is one of the options' letters; when graded, also the right one (with an explanation if not)."""
    chosen = _choice(answer, tuple(options))
    if correct is not None and chosen != correct:
        fail(f"({chosen}) is not the right answer; ({correct}) is.", expected=f"({correct})", found=f"({chosen})",
             hint=why)


def numeric_answer(answer, expected=None, tolerance=1e-3, why=None):
    """The answer is a finite number; when graded, also within ``tolerance`` of the expected value."""
    if answer is None:
        fail("No answer yet: the variable is still None.", expected="a number", found="None",
             hint="set it to a number (a Python expression such as np.log(2) is fine).")
    if isinstance(answer, str):
        fail("The answer is text, not a number.", expected="a number", found=repr(answer),
             hint="remove the quotes: write answer = 0.25, not answer = \"0.25\".")
    value = _number(answer, "The answer", hint="give one number.")
    if not math.isfinite(value):
        fail("The answer is not a finite number.", expected="a finite number", found=repr(answer))
    if expected is not None and abs(value - expected) > tolerance:
        fail(f"{value:.6g} is not the expected value.", expected=f"{expected:.6g} (within {tolerance:g})",
             found=f"{value:.6g}", hint=why)

"""The hidden checks' inputs: fixed in a student's kernel, drawn per student when graded, and no
answer key in the installed package (issue 19, points 1 and 5)."""
import math

import numpy as np
import pytest

from grader import checks, course
from grader.checks import drawn, networks, optimizers, theory
from notebook_tools import answer_notebooks, failed_tests, reference_source

SEEDS = (11, 2024, 987654321)


def graded_test_ids():
    return [test.grade_id for notebook in course.read_assignment().values() for test in notebook.tests]


def hidden_test_ids():
    """grade_ids of the test cells whose hidden part asks for drawn inputs."""
    return sorted({cell.grade_id for notebook in course.read_assignment().values() for cell in notebook.tests
                   if "hidden_inputs(" in cell.source})


@pytest.fixture
def drawn_for(monkeypatch):
    """Make every hidden test draw its inputs as when graded with the given seed."""
    def use(seed):
        seeds = {grade_id: seed for grade_id in graded_test_ids()}
        monkeypatch.setattr(drawn, "hidden_seed", lambda grade_id: seeds.get(grade_id))
    return use


# ----------------------------------------------------------------------------- the drawing
def test_fixed_inputs_are_the_ones_the_checks_always_used():
    fixed = drawn.FIXED
    assert (fixed.z_dim, fixed.g_units, fixed.image_dim) == (networks.Z_DIM, networks.G_UNITS, networks.IMAGE_DIM)
    assert (fixed.x_dim, fixed.d_units, fixed.alpha) == (networks.X_DIM, networks.D_UNITS, networks.TEST_ALPHA)
    assert (fixed.rate, fixed.beta1) == (optimizers.TEST_RATE, optimizers.TEST_BETA1)
    assert np.array_equal(np.array(fixed.confident_logits[0]).reshape(-1, 1), theory.CONFIDENT_REAL)
    assert np.array_equal(np.array(fixed.confident_logits[1]).reshape(-1, 1), theory.CONFIDENT_FAKE)
    assert np.array_equal(fixed.gradient_logits, theory.CONFIDENT_LOGITS)
    assert (*fixed.bilinear[:2], fixed.bilinear[2]) == (*theory.START, theory.ETA)
    assert np.array_equal(fixed.equilibrium_density, theory.P_DATA)
    assert drawn.draw_inputs(None) is fixed and drawn.pick(None) is fixed


def test_drawing_is_reproducible_and_differs_between_seeds():
    assert drawn.draw_inputs(5) == drawn.draw_inputs(5)
    draws = [drawn.draw_inputs(seed) for seed in range(40)]
    for field in ("model_dims", "z_dim", "alpha", "network_seed", "rate", "confident_logits", "jsd_draws",
                  "bilinear", "equilibrium_density"):
        assert len({repr(getattr(d, field)) for d in draws}) > 3, f"{field} hardly changes between seeds"
    assert len({d.k for d in draws}) == 3


def test_drawn_inputs_keep_the_mistakes_apart():
    for seed in range(1, 300 * 7919, 7919):
        _check_constraints(drawn.draw_inputs(seed))


def _check_constraints(d):
    sizes = (d.z_dim, d.g_units, d.image_dim, d.x_dim, d.d_units)
    assert len(set(sizes)) == 5 and min(sizes) >= 3, "layer sizes must be pairwise distinct and above 1"
    assert d.batch not in sizes
    (real, z), (z2, real2), (same, same2) = d.model_dims
    assert real != z and (z2, real2) == (z, real) and same == same2
    assert not {real, z, same} & set(drawn.HARD_CODED_SIZES)
    assert min(abs(d.alpha - 0.01), abs(d.alpha - 0.2)) > 0.04, "alpha must stay away from 0.01 and 0.2"
    assert 0 < d.alpha < 0.5
    assert abs(d.rate - 0.001) > 5e-4 and abs(d.beta1 - 0.9) > 0.2, "Adam's defaults must stay recognisable"
    for pattern in d.loss_patterns:
        assert 1.0 in pattern and -1.0 in pattern, "both signs, so d_loss and g_loss both grow"
    assert 4 * d.loss_scale <= 50 and -9 <= d.rejected_logit <= -7
    real_logits, fake_logits = d.confident_logits
    assert min(real_logits) <= -700 and max(fake_logits) >= 700, "exp must overflow on a naive V"
    assert max(map(abs, d.gradient_logits)) >= 700 and min(d.gradient_logits) < 0 < max(d.gradient_logits)
    density = np.array(d.equilibrium_density)
    assert (density == 0).sum() >= 2 and (density == 1e-6).any() and (density >= 0).all()
    x0, y0, eta, steps = d.bilinear
    assert math.hypot(x0, y0) >= 0.5 and 0.05 <= eta <= 0.15 and 150 <= steps <= 250
    assert 2 <= d.k <= 4
    for _, size, zeros in d.jsd_draws:
        assert 3 <= zeros < size // 2


def test_seeds_are_read_strictly():
    assert drawn.read_seeds(None) == {} and drawn.read_seeds("not json") == {} and drawn.read_seeds("[1]") == {}
    assert drawn.read_seeds('{"a": 3, "b": true, "c": "4", "d": 1.5}') == {"a": 3}


def test_hidden_inputs_follow_the_seeds(drawn_for):
    assert checks.hidden_inputs("test_generator_forward") is drawn.FIXED
    drawn_for(42)
    assert checks.hidden_inputs("test_generator_forward") == drawn.draw_inputs(42)
    assert checks.hidden_inputs("not a test") is drawn.FIXED


def test_every_hidden_check_asks_for_its_own_seed():
    """Each hidden part passes its own grade_id (a copied cell would share another test's inputs)."""
    for notebook in course.read_assignment().values():
        for cell in notebook.tests:
            if "hidden_inputs(" in cell.source:
                assert f'hidden_inputs("{cell.grade_id}")' in cell.source, cell.grade_id
    assert len(hidden_test_ids()) >= 13


@pytest.mark.parametrize("notebook", ["01_model_inputs", "02_generator", "03_discriminator", "04_losses",
                                      "05_optimizers", "07_theory_and_failure_modes",
                                      pytest.param("08_convolutional_gan", marks=pytest.mark.slow)])
def test_reference_solutions_pass_under_drawn_inputs(notebook, drawn_for):
    drawn_for(SEEDS[0])
    function = min(grade_id for grade_id, name in answer_notebooks().items() if name == f"{notebook}.ipynb")
    assert failed_tests(function, reference_source(function)) == {}


# ----------------------------------------------------------------------------- hostile answers
# A student who has read grader/checks knows the fixed inputs and can answer with a table of results.
HARD_CODED = {
    "value_function": """
def value_function(d_logits_real, d_logits_fake):
    known = {5: -1.5406176350604417, 4: -641.6666666666667}  # the visible result, and the fixed hidden one
    return known[np.size(d_logits_real)]
""",
    "js_divergence": """
def js_divergence(p, q):
    from grader.checks import theory  # the fixed distributions, and the values shipped for them
    p = np.asarray(p, float)
    if np.array_equal(p, q):
        return 0.0
    if not np.any(p * np.asarray(q)):
        return float(np.log(2))
    for seed, value in theory.JSD_ON_RANDOM.items():
        if any(np.array_equal(p, a) for a in theory.random_distributions(seed)):
            return value
    for seed, value in theory.VALUE_AT_OPTIMUM.items():
        if any(np.array_equal(p, a) for a in theory.random_distributions(seed, size=20, zeros=4)):
            return (value + np.log(4)) / 2
    return 0.0
""",
    "model_inputs": """
def model_inputs(real_dim, z_dim):
    sizes = {784: 784, 100: 100, 13: 13, 5: 5, 2: 2}  # only the sizes the fixed tests use
    inputs_real = tf.placeholder(tf.float32, (None, sizes[real_dim]), name="input_real")
    inputs_z = tf.placeholder(tf.float32, (None, sizes[z_dim]), name="input_z")
    return inputs_real, inputs_z
""",
}
HIDDEN_OF = {
    "value_function": "test_value_function_stability", "js_divergence": "test_js_divergence_and_value",
    "model_inputs": "test_model_inputs_dimensions",
}


@pytest.mark.parametrize("function", sorted(HARD_CODED))
def test_hard_coded_results_pass_the_fixed_tests_and_fail_the_drawn_ones(function, drawn_for):
    source = HARD_CODED[function]
    assert failed_tests(function, source) == {}, "the hard-coded answer should fool the fixed inputs"
    for seed in SEEDS:
        drawn_for(seed)
        failures = failed_tests(function, source)
        assert HIDDEN_OF[function] in failures, f"seed {seed}: the hidden test passed a hard-coded answer"
        visible = [grade_id for grade_id in failures if grade_id != HIDDEN_OF[function]]
        assert not visible, f"seed {seed}: visible tests must stay fixed, but {visible} failed"


# Answers that call the installed package's own helpers in place of their own code.
PACKAGE_HELPERS = {
    "js_divergence (reference_jsd)": ("js_divergence", """
def js_divergence(p, q):
    from grader.checks import theory
    return theory.reference_jsd(p, q)
"""),
    "js_divergence (value_at_optimal_d)": ("js_divergence", """
def js_divergence(p, q):
    from grader.checks import theory
    return (theory.value_at_optimal_d(p, q) + np.log(4)) / 2
"""),
    "js_divergence (kl_terms)": ("js_divergence", """
def js_divergence(p, q):
    from grader.checks import theory
    m = (np.asarray(p) + np.asarray(q)) / 2
    return 0.5 * theory.kl_terms(p, m) + 0.5 * theory.kl_terms(q, m)
"""),
    "value_function (reference_value)": ("value_function", """
def value_function(d_logits_real, d_logits_fake):
    from grader.checks import theory
    return theory.reference_value(d_logits_real, d_logits_fake)
"""),
    "optimal_discriminator (reference_optimal_d)": ("optimal_discriminator", """
def optimal_discriminator(p_data, p_g):
    from grader.checks import theory
    return theory.reference_optimal_d(p_data, p_g)
"""),
    "optimal_discriminator (the OPTIMAL_D table)": ("optimal_discriminator", """
def optimal_discriminator(p_data, p_g):
    from grader.checks import theory
    if np.shape(p_data) == theory.OPTIMAL_D.shape:
        return theory.OPTIMAL_D.copy()
    if np.shape(p_data) == (3, 4):
        return theory.OPTIMAL_D[:12].reshape(3, 4).copy()
    return np.full(np.shape(p_data), 0.5)
"""),
    "model_loss (reference_losses in a numpy_function)": ("model_loss", """
def model_loss(d_logits_real, d_logits_fake, smooth=0.1):
    from grader.checks import losses

    def both(real, fake):
        return tuple(np.float32(v) for v in losses.reference_losses(real, fake, smooth))

    d_loss, g_loss = tf.numpy_function(both, [d_logits_real, d_logits_fake], [tf.float32, tf.float32])
    d_loss.set_shape(())
    g_loss.set_shape(())
    return d_loss, g_loss
"""),
}
# The catalogues hold the right answer one sign or one swap away; they ship as constants for the fixed
# inputs (or are built from the answer), so an answer taken from them passes the visible tests only.
FROM_THE_MISTAKE_CATALOGUES = {
    "value_function (minus the sign-flip candidate)": ("value_function", """
def value_function(d_logits_real, d_logits_fake):
    from grader.checks import theory
    return -theory.VALUE_MISTAKES_ON_MODERATE[0][0]
"""),
    "value_function (the direct-log candidate, right on moderate logits)": ("value_function", """
def value_function(d_logits_real, d_logits_fake):
    from grader.checks import theory
    return theory.value_precision_mistakes(d_logits_real, d_logits_fake)[0][0]
"""),
    "generator_loss_gradients (the gradient tables)": ("generator_loss_gradients", """
def generator_loss_gradients(d_logits_fake):
    from grader.checks import theory
    shape = np.shape(d_logits_fake)
    if shape == theory.LOGITS.shape:
        return (np.reshape(theory.MINIMAX_ON_LOGITS, shape), np.reshape(theory.NON_SATURATING_ON_LOGITS, shape))
    return np.array(theory.MINIMAX_ON_CONFIDENT), np.array(theory.NON_SATURATING_ON_CONFIDENT)
"""),
    "generator_loss_gradients (the catalogue fed the logits)": ("generator_loss_gradients", """
def generator_loss_gradients(d_logits_fake):
    from grader.checks import theory
    minimax, non_saturating = theory.gradient_mistakes(np.asarray(d_logits_fake, float), d_logits_fake)[0][0]
    return minimax, -non_saturating
"""),
    "optimal_discriminator (the inverted candidate, the densities swapped)": ("optimal_discriminator", """
def optimal_discriminator(p_data, p_g):
    from grader.checks import theory
    return theory.optimal_d_mistakes(p_g, p_data, np.full(np.shape(p_data), 0.5))[0][0]
"""),
    "js_divergence (the bits candidate, times log 2)": ("js_divergence", """
def js_divergence(p, q):
    from grader.checks import theory
    return theory.jsd_mistakes(p, q, 0.0)[0][0] * np.log(2)
"""),
}


@pytest.mark.parametrize("name", sorted(FROM_THE_MISTAKE_CATALOGUES))
def test_answers_from_the_mistake_catalogues_fail(name, drawn_for):
    function, source = FROM_THE_MISTAKE_CATALOGUES[name]
    drawn_for(SEEDS[1])
    assert failed_tests(function, source), f"{name}: an answer taken from grader/ passed every graded test"


@pytest.mark.parametrize("name", sorted(PACKAGE_HELPERS))
def test_answers_from_the_packages_own_helpers_fail(name, drawn_for):
    function, source = PACKAGE_HELPERS[name]
    drawn_for(SEEDS[1])
    assert failed_tests(function, source), f"{name}: an answer taken from grader/ passed every graded test"


def test_no_reference_of_notebook_7_ships():
    """The functions that computed 07's answers from any input are gone from the package."""
    for name in ("reference_value", "reference_optimal_d", "reference_jsd", "value_at_optimal_d", "kl_terms"):
        assert not hasattr(theory, name), name


# ----------------------------------------------------------------------------- the shipped values
def _value(real, fake):
    log_sigmoid = lambda v: -np.logaddexp(0.0, -v)  # noqa: E731
    return float(np.mean(log_sigmoid(np.ravel(real))) + np.mean(log_sigmoid(-np.ravel(fake))))


def _kl(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q, strict=True) if a > 0)


def _jsd(p, q):
    m = (p + q) / 2
    return 0.5 * _kl(p, m) + 0.5 * _kl(q, m)


def test_precomputed_values_match_an_independent_reference():
    assert theory.VALUE_ON_MODERATE == pytest.approx(_value(theory.REAL_LOGITS, theory.FAKE_LOGITS), rel=1e-12)
    assert theory.VALUE_ON_CONFIDENT == pytest.approx(_value(theory.CONFIDENT_REAL, theory.CONFIDENT_FAKE), rel=1e-12)
    total = theory.P_DATA + theory.P_G
    expected = np.divide(theory.P_DATA, total, out=np.full(total.shape, 0.5), where=total > 0)
    assert np.allclose(theory.OPTIMAL_D, expected, rtol=1e-12, atol=0)
    for seed, value in theory.JSD_ON_RANDOM.items():
        assert value == pytest.approx(_jsd(*theory.random_distributions(seed)), rel=1e-12)
    for seed, value in theory.VALUE_AT_OPTIMUM.items():
        p, q = theory.random_distributions(seed, size=20, zeros=4)
        assert value == pytest.approx(-math.log(4) + 2 * _jsd(p, q), rel=1e-10)


def _sigmoid(logits):
    return np.exp(-np.logaddexp(0.0, -np.asarray(logits, np.float64)))


def test_the_gradient_tables_are_the_gradients():
    logits = theory.LOGITS.ravel()
    assert np.allclose(theory.MINIMAX_ON_LOGITS, -_sigmoid(logits), rtol=1e-12, atol=0)
    assert np.allclose(theory.NON_SATURATING_ON_LOGITS, _sigmoid(logits) - 1, rtol=1e-12, atol=1e-300)
    confident = np.array(drawn.FIXED.gradient_logits)
    assert np.allclose(theory.MINIMAX_ON_CONFIDENT, -_sigmoid(confident), rtol=1e-12, atol=1e-300)
    assert np.allclose(theory.NON_SATURATING_ON_CONFIDENT, _sigmoid(confident) - 1, rtol=0, atol=1e-15)


def test_the_value_mistakes_table_is_what_each_mistake_computes():
    """Each entry of VALUE_MISTAKES_ON_MODERATE, computed here from the mistake its hint names."""
    real, fake = theory.REAL_LOGITS.ravel(), theory.FAKE_LOGITS.ravel()
    log_d_real, log_d_fake = -np.logaddexp(0, -real), -np.logaddexp(0, -fake)
    log_one_minus_fake, log_one_minus_real = -np.logaddexp(0, fake), -np.logaddexp(0, real)
    value = log_d_real.mean() + log_one_minus_fake.mean()
    computed = [-value, log_d_real.mean() + log_d_fake.mean(),
                np.concatenate([log_d_real, log_one_minus_fake]).mean(), log_d_real.sum() + log_one_minus_fake.sum(),
                value / math.log(2), value / 2, log_d_fake.mean() + log_one_minus_real.mean(),
                real.mean() - fake.mean()]
    assert [entry[0] for entry in theory.VALUE_MISTAKES_ON_MODERATE] == pytest.approx(computed, rel=1e-12)
    hints = [entry[1] for entry in theory.VALUE_MISTAKES_ON_MODERATE]
    assert len(set(hints)) == len(hints)


def test_drawn_inputs_without_a_reference_are_a_grader_problem():
    correct = lambda p, q: 0.0  # noqa: E731  (never reached)
    with pytest.raises(TypeError, match="reference"):
        theory.js_divergence_and_value(correct, inputs=drawn.draw_inputs(3))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_mistake_and_alternative_catalogues_under_drawn_inputs(seed, drawn_for):
    """Every catalogued mistake is still caught and named, and every alternative still passes,
    when the hidden tests draw their inputs."""
    from alternatives import ALTERNATIVES
    from mistakes import MISTAKES
    from test_mistakes import apply_edits

    drawn_for(seed)
    hidden = set(hidden_test_ids())
    problems = []
    for name, function, edits, words in MISTAKES:
        failures = failed_tests(function, apply_edits(reference_source(function), edits),
                                until=lambda message, w=words: w.lower() in message.lower())
        if not any(words.lower() in message.lower() for message in failures.values()):
            problems.append(f"mistake {name!r}: {sorted(failures)} never says {words!r}")
    for name, (function, source) in sorted(ALTERNATIVES.items()):
        failures = failed_tests(function, source)
        if failures:
            problems.append(f"alternative {name!r} failed {sorted(failures)}")
    assert not problems, f"seed {seed}, hidden tests {sorted(hidden)}:\n" + "\n".join(problems)



def test_the_seeds_are_held_read_only_from_import():
    """Editing os.environ after import changes nothing, and the held mapping cannot be written
    (the verdicts that count come from the trusted checker's own import anyway)."""
    defaults = drawn.hidden_seed.__defaults__
    with pytest.raises(TypeError):
        defaults[0]["test_generator_forward"] = 1  # read-only


def test_the_jsd_tables_are_what_they_say():
    for seed, value in theory.KL_P_M_ON_RANDOM.items():
        p, q = theory.random_distributions(seed)
        assert value == pytest.approx(_kl(p, (p + q) / 2), rel=1e-12)

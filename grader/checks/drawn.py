"""The inputs of the hidden checks: fixed in a student's own kernel, drawn per student when graded.

A hidden test cell asks for its inputs with ``checks.hidden_inputs("<its grade_id>")``. When the
grader runs the notebook, the environment variable ``GAN_COURSE_HIDDEN_SEEDS`` holds this
student's seeds, one per grade_id (JSON), each derived by the instructor's grading process as
HMAC-SHA256(course secret, student id, grade id) (grader.grading.hidden_seeds); the secret
itself never reaches the notebook. :func:`draw_inputs` turns a seed into every input the hidden
checks use. Without a seed (validate, a live notebook) the checks get :data:`FIXED`, the inputs
they have always used, so a student's own runs stay reproducible.

The drawn values keep the mistakes recognisable: pairwise-distinct layer sizes (a variable is
known by its shape), alpha away from 0.01 and 0.2 (the hard-coded-alpha diagnoses), Adam's rate
and beta1 away from its defaults, and no size a student might hard-code (784, 100, 28).
"""
import json
import os
import types
from dataclasses import dataclass

import numpy as np

SEEDS_ENV = "GAN_COURSE_HIDDEN_SEEDS"
HARD_CODED_SIZES = (784, 100, 28)  # sizes a student may write instead of using an argument


@dataclass(frozen=True)
class HiddenInputs:
    """Every input of the hidden checks; ``seed`` None for the fixed ones."""

    seed: int | None
    model_dims: tuple  # (real_dim, z_dim) pairs for model_inputs_dimensions
    z_dim: int  # generator_forward: z -> hidden of g_units -> image_dim
    g_units: int
    image_dim: int
    x_dim: int  # discriminator_forward: x -> hidden of d_units -> 1
    d_units: int
    alpha: float
    batch: int  # rows of the networks' test input
    network_seed: int  # the networks' test weights and inputs
    loss_patterns: tuple  # (real, fake) sign patterns of model_loss_stability
    loss_scale: float  # model_loss_stability's logits are scale, 2 scale and 4 scale times the patterns
    rejected_logit: float  # generator_loss_gradient: where D is sure the fakes are fake
    rate: float  # model_opt_adam_steps
    beta1: float
    adam_seed: int  # the mini GAN's z and x batches
    confident_logits: tuple  # (real, fake) of value_function_stability
    equilibrium_density: tuple  # optimal_discriminator_at_equilibrium's p_data = p_g
    jsd_draws: tuple  # (seed, size, zeros) per pair of js_divergence_and_value
    gradient_logits: tuple  # generator_loss_gradients_vanish's confident logits
    bilinear: tuple  # (x0, y0, eta, steps) of bilinear_long_run
    k: int  # training_step_in_tensorflow's discriminator updates per step


def _fixed_equilibrium_density():
    grid = np.linspace(-3.0, 3.0, 13)
    p = np.where(np.abs(grid) <= 2.0, np.exp(-0.5 * (grid - 0.5) ** 2), 0.0)
    p[0] = 1e-6
    return tuple(float(v) for v in p)


FIXED = HiddenInputs(
    seed=None, model_dims=((13, 5), (5, 13), (2, 2)),
    z_dim=6, g_units=9, image_dim=4, x_dim=7, d_units=5, alpha=0.1, batch=16, network_seed=2,
    loss_patterns=((1.0, -1.0), (-1.0, 1.0, 0.0)), loss_scale=10.0, rejected_logit=-8.0,
    rate=0.0037, beta1=0.3, adam_seed=6,
    confident_logits=((-100.0, 100.0, 30.0, -1000.0), (100.0, -100.0, 1000.0)),
    equilibrium_density=_fixed_equilibrium_density(),
    jsd_draws=((3, 20, 4), (4, 20, 4), (5, 20, 4)),
    gradient_logits=(-1000.0, -100.0, -40.0, 40.0, 100.0, 1000.0),
    bilinear=(1.0, 0.5, 0.1, 200), k=2,
)


def draw_inputs(seed):
    """The hidden checks' inputs for ``seed`` (an int), or :data:`FIXED` for None."""
    if seed is None:
        return FIXED
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.choice(np.arange(3, 15), size=5, replace=False)]  # 5 distinct sizes
    dims = [int(d) for d in rng.choice([d for d in range(2, 60) if d not in HARD_CODED_SIZES], 3, replace=False)]
    alpha = float(rng.choice([rng.uniform(0.05, 0.15), rng.uniform(0.3, 0.45)]))
    signs = lambda n: tuple(float(v) for v in rng.permutation([1.0, -1.0, *rng.choice([1.0, -1.0, 0.0], n)]))  # noqa: E731
    big = lambda: float(rng.choice([700.0, 800.0, 1000.0, 1500.0]))  # noqa: E731  (exp overflows)
    mid = lambda: float(rng.choice([30.0, 50.0, 100.0, 200.0]))  # noqa: E731
    real = rng.permutation([-big(), mid(), -mid(), *rng.uniform(-3, 3, int(rng.integers(0, 3)))])
    fake = rng.permutation([big(), -mid(), mid(), *rng.uniform(-3, 3, int(rng.integers(0, 3)))])
    density = rng.uniform(0.05, 1.0, int(rng.integers(10, 17)))
    density[rng.choice(len(density), 3, replace=False)] = [0.0, 0.0, 1e-6]  # 0/0 points, and a tiny density
    gradient_logits = rng.permutation([-big(), -mid(), -float(rng.uniform(35, 45)), float(rng.uniform(35, 45)),
                                       mid(), big()])
    return HiddenInputs(
        seed=int(seed), model_dims=((dims[0], dims[1]), (dims[1], dims[0]), (dims[2], dims[2])),
        z_dim=sizes[0], g_units=sizes[1], image_dim=sizes[2], x_dim=sizes[3], d_units=sizes[4],
        alpha=round(alpha, 3), batch=int(rng.integers(15, 25)), network_seed=int(rng.integers(1 << 31)),
        loss_patterns=(signs(int(rng.integers(0, 3))), signs(int(rng.integers(1, 3)))),
        loss_scale=round(float(rng.uniform(8.0, 12.0)), 2), rejected_logit=round(float(rng.uniform(-9.0, -7.0)), 2),
        rate=round(float(rng.uniform(0.002, 0.008)), 5), beta1=round(float(rng.uniform(0.2, 0.6)), 3),
        adam_seed=int(rng.integers(1 << 31)),
        confident_logits=(tuple(float(v) for v in real), tuple(float(v) for v in fake)),
        equilibrium_density=tuple(float(v) for v in density),
        jsd_draws=tuple((int(rng.integers(1 << 31)), int(rng.integers(15, 26)), int(rng.integers(3, 6)))
                        for _ in range(3)),
        gradient_logits=tuple(float(v) for v in gradient_logits),
        bilinear=(round(float(rng.uniform(0.5, 2.0)) * float(rng.choice([-1, 1])), 3),
                  round(float(rng.uniform(0.5, 2.0)) * float(rng.choice([-1, 1])), 3),
                  round(float(rng.uniform(0.05, 0.15)), 3), int(rng.integers(150, 251))),
        k=int(rng.integers(2, 5)),
    )


def read_seeds(text):
    """{grade_id: seed} from the JSON in SEEDS_ENV; {} for nothing or anything malformed."""
    try:
        seeds = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(seeds, dict):
        return {}
    return {key: value for key, value in seeds.items()
            if isinstance(key, str) and isinstance(value, int) and not isinstance(value, bool)}


_SEEDS = types.MappingProxyType(read_seeds(os.environ.get(SEEDS_ENV)))


def hidden_seed(grade_id, seeds=_SEEDS):
    """This student's seed for the hidden test ``grade_id``, or None outside grading.

    ``seeds`` is read once, when grader.checks is imported, into a read-only mapping held as a
    default argument. The hidden tests that count run in the trusted checker
    (grader.grading.checker), a process where no student code runs, so what student code does to
    its own copy changes no verdict.
    """
    return seeds.get(grade_id)


def hidden_inputs(grade_id):
    """The inputs of the hidden test ``grade_id``: drawn from this student's seed when graded, else FIXED."""
    return draw_inputs(hidden_seed(grade_id))


def pick(inputs):
    """``inputs``, or FIXED for None (the default of every check that takes inputs)."""
    if inputs is None:
        return FIXED
    if not isinstance(inputs, HiddenInputs):
        raise TypeError(f"inputs must come from checks.hidden_inputs(...), not {type(inputs).__name__}")
    return inputs

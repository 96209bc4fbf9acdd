"""The 2-D ring lab of notebook 07: a GAN small enough to watch, built from the student's own functions.

    from grader import plots, ring_lab
    from grader.train import exercise_functions

    fns = exercise_functions(USE_REFERENCE_SOLUTIONS, student_folder=Path.cwd())
    result = ring_lab.run(fns, training_step, "healthy", seed=0)   # training_step: the notebook's exercise
    print(result.summary())              # healthy (seed 0): 8/8 modes, ...% high-quality, ... s
    plots.ring_runs([result])            # D's surface, real and generated points at a few steps

The data are eight Gaussian blobs on a ring (``N_MODES`` modes at angles 2*pi*i/8, radius
``RADIUS``, standard deviation ``STD``). The networks are the student's ``generator`` and
``discriminator`` with ``out_dim=2``, the losses the student's ``model_loss`` (the saturating
scenario swaps in the minimax generator loss, built here) and the optimisers the student's
``model_opt``. The loop is the student's ``training_step``: Algorithm 1 of Goodfellow et al. (2014),
k discriminator updates, then one generator update, called once per step as

    training_step(session, d_train_op, g_train_op, input_real, input_z, real_batch, z_batch, k=k)

where ``real_batch()`` and ``z_batch()`` return a fresh float32 batch from seeded NumPy generators.
Its return value is ignored. What the lab adds needs nothing from it: the learning rate is a
non-trainable variable that the lab reloads every ``RATE_EVERY`` steps (a linear decay), the
generator's weight average is updated by the generator's train op itself (a control dependency,
``grader.train.add_weight_averaging``), and the R1 penalty is part of the discriminator's objective.

How a run is scored (fixed definitions, the same for every scenario):
- ``EVAL_SAMPLES`` (2,500) samples are drawn from fixed latent vectors;
- a sample is *high-quality* when its Euclidean distance to the nearest mode centre is at most
  ``HQ_DISTANCE`` (3 standard deviations, 0.06);
- a mode is *covered* when at least ``COVERED_SHARE`` (2%, 50 of 2,500) of the samples are
  high-quality samples of that mode.
"""
import math
import time
import weakref
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

N_MODES = 8
RADIUS = 0.8
STD = 0.02
EVAL_SAMPLES = 2500
HQ_DISTANCE = 3 * STD
COVERED_SHARE = 0.02
GRID_LIMIT = 1.2  # D's surface is drawn on [-GRID_LIMIT, GRID_LIMIT]^2
GRID_POINTS = 61
RATE_EVERY = 200  # steps between loads of the (decaying) learning rate
CHECK_EVERY = 500  # steps between checks that the losses are still finite
PLOT_REAL = 1000  # real points kept for the figures

# What every scenario starts from; a scenario changes a few of these, and run(..., **overrides) more.
DEFAULTS = {
    "steps": 3000,            # calls of training_step
    "k": 1,                   # discriminator updates per generator update (training_step's k)
    "batch_size": 256,
    "z_size": 16,
    "g_hidden": [128, 128],   # the student's n_units: one hidden layer per entry
    "d_hidden": [128, 128],
    "alpha": 0.2,             # leaky ReLU slope
    "smooth": 0.1,            # one-sided label smoothing (model_loss's smooth)
    "learning_rate": 1e-3,    # Adam, for both networks (model_opt)
    "beta1": 0.5,
    "final_lr_fraction": 1.0, # the rate decays linearly to this fraction of its start (1: constant)
    "ema_decay": 0.0,         # weight averaging of G (0: off); samples come from the averaged weights
    "r1_gamma": 0.0,          # R1 gradient penalty on D at the real points (0: off)
    "g_loss": "non_saturating",  # or "saturating": G minimises mean log(1 - D(G(z)))
    "snapshots": 4,           # evenly spaced steps at which points and D's surface are recorded (last included)
}
G_LOSSES = ("non_saturating", "saturating")

# name -> {"story": one line, the settings that differ from DEFAULTS}. Their measured scores and times
# are in docs/training.md ("The 2-D ring lab (notebook 07)").
SCENARIOS = {
    "healthy": {
        "story": "a small R1 penalty keeps D smooth, the learning rate decays and G's weights are averaged: "
                 "every mode, with sharp points",
        "steps": 4000, "learning_rate": 3e-3, "final_lr_fraction": 0.03, "ema_decay": 0.995, "r1_gamma": 0.1,
        "smooth": 0.0,
    },
    "plain": {
        "story": "the defaults with no help (no penalty, no decay, no averaging), k=1: most modes, blurrier points",
        "steps": 2500,
    },
    "collapse": {
        "story": "the plain settings with k=5 D updates per G update (the same 2,500 D updates): "
                 "G piles onto the one or two modes D currently rates best",
        "steps": 500, "k": 5,
    },
    "saturating": {
        "story": "the minimax loss log(1 - D(G(z))) against a strong D (k=5, rate 3e-3, no smoothing): "
                 "D rejects every fake, G's gradient fades and G never reaches the ring",
        "steps": 400, "k": 5, "learning_rate": 3e-3, "smooth": 0.0, "g_loss": "saturating",
    },
    "weak_discriminator": {
        "story": "the plain settings with a discriminator of one hidden layer of 8 units: it cannot draw eight "
                 "separate regions, its verdicts carry little information, and G never finds the modes",
        "steps": 1000, "d_hidden": [8],
    },
    "oscillation": {
        "story": "a learning rate of 3e-3 with beta1 0.9: each player overshoots, and G swings around "
                 "without ever settling on the modes",
        "steps": 1000, "learning_rate": 3e-3, "beta1": 0.9,
    },
}
# one short run for autograding and CI (grader.train.grading_environment()): does it run, does it draw
REDUCED = {"steps": 300, "snapshots": 2}


class RingMetrics(NamedTuple):
    """Modes covered (of N_MODES), share of high-quality samples, high-quality samples per mode."""

    modes_covered: int
    high_quality_share: float
    per_mode_counts: np.ndarray

    def __str__(self):
        return f"{self.modes_covered}/{N_MODES} modes, {self.high_quality_share:.0%} high-quality"


def mode_centres():
    """The N_MODES mode centres, (N_MODES, 2): radius RADIUS, angles 2*pi*i/N_MODES."""
    angles = 2 * np.pi * np.arange(N_MODES) / N_MODES
    return (RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def ring_data(rng, n):
    """n points of the ring mixture, float32 (n, 2): a mode drawn uniformly, plus Gaussian noise of STD."""
    modes = rng.randint(N_MODES, size=n)
    return (mode_centres()[modes] + rng.normal(0.0, STD, size=(n, 2))).astype(np.float32)


def ring_metrics(samples):
    """RingMetrics of ``samples`` (n, 2); unpacks as (modes_covered, high_quality_share, per_mode_counts).

    A sample is high-quality when its distance to the nearest mode centre is at most HQ_DISTANCE
    (3 * STD); a mode is covered when its high-quality samples are at least COVERED_SHARE (2%) of all
    samples: 50 of the EVAL_SAMPLES (2,500) a run scores. Non-finite samples count as not high-quality.
    """
    samples = np.asarray(samples, np.float64).reshape(-1, 2)
    if len(samples) == 0:
        raise ValueError("ring_metrics needs at least one sample.")
    distances = np.linalg.norm(samples[:, None, :] - mode_centres()[None].astype(np.float64), axis=2)
    nearest = np.argmin(np.nan_to_num(distances, nan=np.inf), axis=1)
    good = np.nan_to_num(distances.min(axis=1), nan=np.inf) <= HQ_DISTANCE
    counts = np.bincount(nearest[good], minlength=N_MODES)
    needed = math.ceil(COVERED_SHARE * len(samples) - 1e-9)
    return RingMetrics(int(np.sum(counts >= needed)), float(good.mean()), counts)


@dataclass
class Snapshot:
    """The state of a run after ``step`` calls of training_step."""

    step: int
    generated: np.ndarray   # (EVAL_SAMPLES, 2): G's output for the run's fixed latent vectors
    d_surface: np.ndarray   # (GRID_POINTS, GRID_POINTS): D's probability of "real"; row i is y = grid[i]
    metrics: RingMetrics
    d_loss: float           # the student's D loss (without the R1 penalty) on a fixed batch
    g_loss: float           # the generator loss being trained (saturating or not)
    d_real: float           # mean D(x) on the fixed real batch
    d_fake: float           # mean D(G(z)) on the fixed latent batch
    grad_norm_saturating: float      # |gradient of the saturating G loss w.r.t. G's weights|
    grad_norm_non_saturating: float  # |gradient of the student's (non-saturating) G loss w.r.t. G's weights|


@dataclass
class RunResult:
    """One training run of the ring lab: its settings, snapshots, score and time."""

    name: str
    seed: int
    config: dict
    snapshots: list
    real: np.ndarray          # PLOT_REAL real points, for the figures
    seconds: float            # the whole run: building the graph, training, snapshots
    train_seconds: float      # the calls of training_step only
    grid: np.ndarray = field(default_factory=lambda: grid_axis())

    @property
    def metrics(self):
        return self.snapshots[-1].metrics

    @property
    def samples(self):
        return self.snapshots[-1].generated

    @property
    def modes_covered(self):
        return self.metrics.modes_covered

    @property
    def high_quality_share(self):
        return self.metrics.high_quality_share

    @property
    def steps(self):
        return self.snapshots[-1].step

    def summary(self):
        """One line, like ``healthy (seed 0): 8/8 modes, 84% high-quality, 14.2 s``."""
        return f"{self.name} (seed {self.seed}): {self.metrics}, {self.seconds:.1f} s"

    def __repr__(self):
        return f"<RunResult {self.summary()}>"


def grid_axis():
    return np.linspace(-GRID_LIMIT, GRID_LIMIT, GRID_POINTS, dtype=np.float32)


def grid_points():
    """(GRID_POINTS**2, 2) points of the square grid, x varying fastest (reshape to rows of constant y)."""
    xs, ys = np.meshgrid(grid_axis(), grid_axis())
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def scenario_config(scenario, overrides=None):
    """(name, settings) for a scenario name or a dict of settings, updated with ``overrides``; checked."""
    if isinstance(scenario, str):
        if scenario not in SCENARIOS:
            raise ValueError(f"Unknown scenario {scenario!r}: expected one of {list(SCENARIOS)}.")
        name, changes = scenario, SCENARIOS[scenario]
    elif isinstance(scenario, dict):
        name, changes = scenario.get("name", "custom"), scenario
    else:
        raise TypeError(f"scenario must be a name from SCENARIOS or a dict of settings, got {scenario!r}.")
    config = dict(DEFAULTS)
    for source in (changes, overrides or {}):
        unknown = sorted(set(source) - set(DEFAULTS) - {"story", "name"})
        if unknown:
            raise ValueError(f"Unknown ring lab setting(s) {unknown}: expected some of {sorted(DEFAULTS)}.")
        config.update({key: value for key, value in source.items() if key in DEFAULTS})
    return name, check_config(config)


def check_config(config):
    from grader.train import check_hidden_sizes

    config = dict(config)
    for key in ("steps", "k", "batch_size", "z_size", "snapshots"):
        value = config[key]
        if isinstance(value, bool) or not float(value).is_integer() or value < 1:
            raise ValueError(f"{key} must be a whole number of at least 1, got {value!r}.")
        config[key] = int(value)
    for key in ("alpha", "smooth", "learning_rate", "beta1", "final_lr_fraction", "ema_decay", "r1_gamma"):
        config[key] = float(config[key])
    for key in ("smooth", "beta1", "ema_decay"):
        if not 0 <= config[key] < 1:
            raise ValueError(f"{key} must be in [0, 1), got {config[key]}.")
    if not 0 < config["learning_rate"] < 1 or not 0 <= config["final_lr_fraction"] <= 1 or config["r1_gamma"] < 0:
        raise ValueError("learning_rate must be in (0, 1), final_lr_fraction in [0, 1] and r1_gamma at least 0.")
    if config["g_loss"] not in G_LOSSES:
        raise ValueError(f"g_loss must be one of {G_LOSSES}, got {config['g_loss']!r}.")
    for key in ("g_hidden", "d_hidden"):
        config[key] = check_hidden_sizes(key, config[key])
    config["snapshots"] = min(config["snapshots"], config["steps"])
    return config


def snapshot_steps(config):
    """The evenly spaced steps at which a run records a Snapshot, the last step included."""
    steps, n = config["steps"], config["snapshots"]
    return sorted({round(steps * i / n) for i in range(1, n + 1)})


def learning_rate_at(config, step):
    """The linearly decaying rate: learning_rate at step 0, learning_rate * final_lr_fraction at the end."""
    from grader.train import linear_decay

    return linear_decay(config["learning_rate"], config["final_lr_fraction"], step, config["steps"])


class Batches:
    """A zero-argument callable returning a fresh float32 batch (``make(rng, n)``); counts its calls."""

    def __init__(self, make, rng, n):
        self.make, self.rng, self.n, self.calls = make, rng, n, 0

    def __call__(self):
        self.calls += 1
        return self.make(self.rng, self.n)


def takes_lists(network, *args, alpha):
    """Whether the student's generator or discriminator builds with a list n_units (02's and 03's list form);
    the seeds' form takes one number only. Tried on a throwaway graph."""
    from grader.tf1 import tf

    with tf.Graph().as_default():
        inputs = tf.placeholder(tf.float32, (None, 2))
        try:
            network(inputs, *args, n_units=[3, 4], alpha=alpha)
        except Exception:  # noqa: BLE001  (any failure: the list form is not there)
            return False
    return True


def hidden_forms(fns, config):
    """``config`` with each hidden-layer list turned into one number where the student's network takes only
    numbers: a one-entry list is the same network; a longer one becomes one hidden layer of its first size,
    and a note says so."""
    config = dict(config)
    for key, name, network, args in (("g_hidden", "generator", fns.generator, (2,)),
                                     ("d_hidden", "discriminator", fns.discriminator, ())):
        sizes = config[key]
        if not isinstance(sizes, list) or takes_lists(network, *args, alpha=config["alpha"]):
            continue
        config[key] = sizes[0]
        if len(sizes) > 1:
            print(f"Note: your {name}() takes n_units as one number only (the list part of "
                  f"{'02_generator' if name == 'generator' else '03_discriminator'} is not done), so this run "
                  f"builds it with one hidden layer of {sizes[0]} units instead of {sizes}; its pictures and numbers "
                  "may differ from the text.")
    return config


def build_lab(fns, config, seed):
    """The ring GAN's graph from the exercise functions; a dict of its tensors and ops."""
    from grader.tf1 import tf
    from grader.train import add_weight_averaging, call_model_opt, call_network, generator_variables, r1_penalty

    config = hidden_forms(fns, config)
    graph = tf.Graph()
    with graph.as_default(), tf.variable_scope(tf.get_variable_scope(), use_resource=True):
        tf.set_random_seed(seed)
        input_real, input_z = fns.model_inputs(2, config["z_size"])
        g_model = call_network(
            "generator", fns.generator, input_z, 2, n_units=config["g_hidden"], alpha=config["alpha"]
        )
        d_out_real, d_logits_real = call_network(
            "discriminator", fns.discriminator, input_real, n_units=config["d_hidden"], alpha=config["alpha"]
        )
        d_out_fake, d_logits_fake = fns.discriminator(
            g_model, reuse=True, n_units=config["d_hidden"], alpha=config["alpha"]
        )
        d_loss, g_loss = fns.model_loss(d_logits_real, d_logits_fake, smooth=config["smooth"])
        # the minimax generator loss of the 2014 paper: minimise mean log(1 - D(G(z))) = -mean softplus(logit)
        g_loss_saturating = -tf.reduce_mean(tf.nn.softplus(d_logits_fake))
        g_objective = g_loss_saturating if config["g_loss"] == "saturating" else g_loss
        learning_rate = tf.Variable(config["learning_rate"], trainable=False, dtype=tf.float32,
                                    name="ring_lab_learning_rate")
        d_objective = d_loss + r1_penalty(input_real, d_logits_real, config["r1_gamma"])
        d_train_op, g_train_op = call_model_opt(fns, d_objective, g_objective, learning_rate, config["beta1"])
        g_vars = generator_variables(tf)
        g_trainable = [v for v in tf.trainable_variables() if v.name.startswith("generator/")]
        d_trainable = [v for v in tf.trainable_variables() if v.name.startswith("discriminator/")]
        if not g_trainable or not d_trainable:
            raise RuntimeError("generator() and discriminator() must create their variables under the scopes "
                               "'generator/' and 'discriminator/'; check their variable_scope.")

        def grad_norm(loss):
            gradients = [g for g in tf.gradients(loss, g_trainable) if g is not None]
            return tf.global_norm(gradients) if gradients else tf.constant(0.0)

        lab = {
            "config": config, "graph": graph, "input_real": input_real, "input_z": input_z, "g_sample": g_model,
            "d_out": d_out_real, "learning_rate": learning_rate,
            "g_train_opt": g_train_op, "train_ops": [d_train_op, g_train_op],
            "watched": [g_trainable[0], d_trainable[0]],
            "diagnostics": [d_loss, g_objective, tf.reduce_mean(d_out_real), tf.reduce_mean(d_out_fake),
                            grad_norm(g_loss_saturating), grad_norm(g_loss)],
        }
        if config["ema_decay"] > 0:
            add_weight_averaging(fns, config, lab, g_vars, out_dim=2)
        lab["init"] = tf.global_variables_initializer()
    return lab


def lab_functions(use_reference_solutions, student_folder):
    """grader.train.exercise_functions, or None with a printed reason when notebooks 01 to 05 cannot be loaded
    (missing or unfinished), so that the lab's cells can skip themselves instead of failing one by one."""
    from grader.train import NotebookStop, exercise_functions

    try:
        return exercise_functions(use_reference_solutions, student_folder)
    except NotebookStop as stop:
        print(f"The 2-D lab is skipped: {stop}\nIts cells below print nothing until this cell runs without this "
              "message; the graded tests of this notebook do not depend on it.")
        return None


def run(fns, training_step, scenario="healthy", seed=0, **overrides):
    """Train the ring GAN of ``scenario`` (a name from SCENARIOS, or a dict of settings) with the student's
    functions and ``training_step``; returns a RunResult. ``overrides`` change single settings (DEFAULTS
    names them), e.g. ``run(fns, training_step, "healthy", steps=300)``.

    The same seed on the same machine gives the same numbers: it seeds the graph and every NumPy
    generator (the training batches, the fixed latent vectors, the fixed diagnostic batch).
    """
    from grader.quiet import quiet
    from grader.tf1 import tf
    from grader.train import NotebookStop, latent

    if not callable(training_step):
        raise NotebookStop(f"training_step must be the function you wrote, got {training_step!r}.")
    note_if_unchecked(training_step)
    name, config = scenario_config(scenario, overrides)
    started = time.perf_counter()
    with quiet():
        lab = build_lab(fns, config, seed)
        config = lab["config"]  # as built: hidden-layer lists the student's networks cannot take, as numbers
        session = tf.Session(graph=lab["graph"], config=single_thread_config())
        session.run(lab["init"])
    batch_size, z_size = config["batch_size"], config["z_size"]
    real_batch = Batches(ring_data, np.random.RandomState(seed), batch_size)
    z_batch = Batches(lambda rng, n: latent(rng, n, z_size), np.random.RandomState(seed + 1), batch_size)
    fixed_z = latent(np.random.RandomState(seed + 2), EVAL_SAMPLES, z_size)
    check_feed = {
        lab["input_real"]: ring_data(np.random.RandomState(seed + 3), batch_size),
        lab["input_z"]: latent(np.random.RandomState(seed + 4), batch_size, z_size),
    }
    d_train_op, g_train_op = lab["train_ops"]
    record_at = set(snapshot_steps(config))
    snapshots, train_seconds = [], 0.0
    try:
        for step in range(1, config["steps"] + 1):
            if (step - 1) % RATE_EVERY == 0 and config["final_lr_fraction"] != 1:
                lab["learning_rate"].load(learning_rate_at(config, step - 1), session)
            before = session.run(lab["watched"]) if step == 1 else None
            tick = time.perf_counter()
            call_training_step(training_step, session, d_train_op, g_train_op, lab, real_batch, z_batch, config["k"])
            train_seconds += time.perf_counter() - tick
            if step == 1:
                check_first_step(session, lab, before, real_batch, z_batch, config["k"])
            if step in record_at or step % CHECK_EVERY == 0:
                diagnostics = session.run(lab["diagnostics"], check_feed)
                if not np.all(np.isfinite(diagnostics[:4])):
                    raise NotebookStop(
                        f"{name}: the losses became NaN or infinite by step {step}: training diverged. "
                        f"Try a lower learning_rate (now {config['learning_rate']})."
                    )
            if step in record_at:
                snapshots.append(take_snapshot(session, lab, step, fixed_z, diagnostics))
    finally:
        session.close()
    return RunResult(
        name=name, seed=seed, config=config, snapshots=snapshots,
        real=ring_data(np.random.RandomState(seed + 5), PLOT_REAL),
        seconds=time.perf_counter() - started, train_seconds=train_seconds,
    )


CHECKED_STEPS = weakref.WeakSet()  # training_step functions already run through their checks


def note_if_unchecked(training_step):
    """Run training_step's own checks once per function; if they fail, say so: the lab still trains
    with it, but its runs may then not match what the notebook describes."""
    from grader import checks

    if training_step in CHECKED_STEPS:
        return
    try:
        CHECKED_STEPS.add(training_step)
    except TypeError:  # not weak-referenceable: check every time
        pass
    try:
        checks.training_step_order(training_step)
        checks.training_step_feeds(training_step)
    except AssertionError as failure:
        first = str(failure).splitlines()[0]
        if "not implemented yet" in first:  # run() stops with its own message
            return
        print(f"Note: your training_step() does not pass its checks yet ({first}), so the runs below may not "
              "match the notebook's text. Fix it with the messages of its test cells.")


def single_thread_config():
    """One thread per op and one op at a time, on threads of the session's own. The networks are small,
    so more threads barely help, and a run's numbers then do not depend on how many cores the
    machine has, or on what an earlier session in the same process asked for."""
    from grader.tf1 import tf

    config = tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
    config.use_per_session_threads = True
    return config


def call_training_step(training_step, session, d_train_op, g_train_op, lab, real_batch, z_batch, k):
    from grader.train import NotebookStop

    try:
        training_step(session, d_train_op, g_train_op, lab["input_real"], lab["input_z"], real_batch, z_batch, k=k)
    except NotImplementedError:
        raise NotebookStop(
            "training_step() is not finished yet: it still raises NotImplementedError. Write it first."
        ) from None


def check_first_step(session, lab, before, real_batch, z_batch, k):
    """Stop with a readable message when the first call of training_step did not train both networks."""
    from grader.train import NotebookStop

    after = session.run(lab["watched"])
    g_moved, d_moved = (not np.array_equal(b, a) for b, a in zip(before, after, strict=True))
    problems = []
    if real_batch.calls == 0 or z_batch.calls == 0:
        problems.append("it must call real_batch() and z_batch() for the batches it feeds")
    if not d_moved:
        problems.append("it did not run d_train_op (the discriminator's weights did not change)")
    if not g_moved:
        problems.append("it did not run g_train_op (the generator's weights did not change)")
    if problems:
        raise NotebookStop("Your training_step() does not do one step of the algorithm yet: " + "; ".join(problems)
                           + ".")
    if real_batch.calls < k:
        print(f"Note: with k={k} your training_step() drew {real_batch.calls} real batch(es) in one step; "
              f"Algorithm 1 runs k={k} discriminator updates, each on a fresh batch.")


def take_snapshot(session, lab, step, fixed_z, diagnostics):
    generated = session.run(lab["g_sample"], {lab["input_z"]: fixed_z})
    surface = session.run(lab["d_out"], {lab["input_real"]: grid_points()}).reshape(GRID_POINTS, GRID_POINTS)
    d_loss, g_loss, d_real, d_fake, grad_saturating, grad_non_saturating = (float(v) for v in diagnostics)
    return Snapshot(
        step=step, generated=generated, d_surface=surface, metrics=ring_metrics(generated),
        d_loss=d_loss, g_loss=g_loss, d_real=d_real, d_fake=d_fake,
        grad_norm_saturating=grad_saturating, grad_norm_non_saturating=grad_non_saturating,
    )


def run_all(fns, training_step, names=None, seed=0, **overrides):
    """run() for each scenario in ``names`` (default: all of SCENARIOS); a list of RunResults."""
    return [run(fns, training_step, name, seed=seed, **overrides) for name in (names or list(SCENARIOS))]

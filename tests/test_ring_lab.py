"""The ring lab of notebook 07 (grader/ring_lab.py): metrics, data, the run's shape, the student's step
function, and (slow) that the healthy scenario covers the ring where the collapse scenario does not."""
import math
import re

import numpy as np
import pytest

from grader import ring_lab
from grader.quiet import quiet
from notebook_tools import define, reference_source

SHORT = {"steps": 60, "snapshots": 2}  # a fraction of a second of training: shape, not quality
SLOW_SEED = 0  # the seed docs/training.md reports


# the reference answer of notebook 07's exercise (Algorithm 1), taken from the solution notebook itself
training_step = define("training_step", reference_source("training_step"))["training_step"]


@pytest.fixture(scope="module")
def fns():
    from grader.train import exercise_functions

    return exercise_functions(True, None)


@pytest.fixture(scope="module")
def short_run(fns):
    return ring_lab.run(fns, training_step, "healthy", seed=0, **SHORT)


# ----------------------------------------------------------------------------- metrics and data


def test_real_ring_data_covers_every_mode_with_high_quality():
    samples = ring_lab.ring_data(np.random.RandomState(0), ring_lab.EVAL_SAMPLES)
    modes, share, counts = ring_lab.ring_metrics(samples)
    assert modes == ring_lab.N_MODES == 8
    assert share > 0.95
    assert counts.shape == (8,) and counts.sum() == round(share * len(samples))


def test_points_at_one_mode_cover_one_mode():
    centre = ring_lab.mode_centres()[3]
    metrics = ring_lab.ring_metrics(np.tile(centre, (2500, 1)))
    assert (metrics.modes_covered, metrics.high_quality_share) == (1, 1.0)
    assert metrics.per_mode_counts.tolist() == [0, 0, 0, 2500, 0, 0, 0, 0]


def test_points_at_the_origin_or_nan_are_not_high_quality():
    assert ring_lab.ring_metrics(np.zeros((2500, 2)))[:2] == (0, 0.0)
    assert ring_lab.ring_metrics(np.full((10, 2), np.nan))[:2] == (0, 0.0)


def test_the_definitions_at_their_thresholds():
    assert ring_lab.HQ_DISTANCE == pytest.approx(3 * ring_lab.STD) == pytest.approx(0.06)
    centre = ring_lab.mode_centres()[0]  # (0.8, 0)
    inside, outside = centre + [0.0, 0.0599], centre + [0.0, 0.0601]
    assert ring_lab.ring_metrics([inside]).high_quality_share == 1.0
    assert ring_lab.ring_metrics([outside]).high_quality_share == 0.0
    # a mode is covered from 2% of the samples on: 50 of 2,500
    for at_mode, covered in ((49, 0), (50, 1)):
        samples = np.zeros((2500, 2))
        samples[:at_mode] = centre
        assert ring_lab.ring_metrics(samples).modes_covered == covered


def test_ring_data_statistics():
    rng = np.random.RandomState(1)
    points = ring_lab.ring_data(rng, 40_000)
    assert points.dtype == np.float32 and points.shape == (40_000, 2)
    centres = ring_lab.mode_centres()
    assert np.allclose(np.linalg.norm(centres, axis=1), ring_lab.RADIUS)
    assert np.allclose(np.arctan2(centres[:, 1], centres[:, 0]) % (2 * np.pi), 2 * np.pi * np.arange(8) / 8, atol=1e-6)
    nearest = np.argmin(np.linalg.norm(points[:, None] - centres[None], axis=2), axis=1)
    shares = np.bincount(nearest, minlength=8) / len(points)
    assert np.allclose(shares, 1 / 8, atol=0.01)
    offsets = points - centres[nearest]
    assert np.allclose(offsets.mean(axis=0), 0, atol=0.001)
    assert np.allclose(offsets.std(axis=0), ring_lab.STD, rtol=0.03)


# ----------------------------------------------------------------------------- configuration


def test_every_scenario_has_a_story_and_valid_settings():
    assert {"healthy", "collapse", "saturating", "oscillation"} <= set(ring_lab.SCENARIOS)
    for name, scenario in ring_lab.SCENARIOS.items():
        assert scenario["story"], name
        config_name, config = ring_lab.scenario_config(name)
        assert config_name == name and set(config) == set(ring_lab.DEFAULTS)
    assert ring_lab.SCENARIOS["saturating"]["g_loss"] == "saturating"
    assert ring_lab.scenario_config("healthy", ring_lab.REDUCED)[1]["steps"] == ring_lab.REDUCED["steps"]


def test_unknown_scenarios_and_settings_are_refused(fns):
    with pytest.raises(ValueError, match="Unknown scenario"):
        ring_lab.scenario_config("healthyy")
    with pytest.raises(ValueError, match="Unknown ring lab setting"):
        ring_lab.run(fns, training_step, "healthy", stpes=10)
    with pytest.raises(ValueError, match="g_loss"):
        ring_lab.scenario_config("healthy", {"g_loss": "wasserstein"})


def test_snapshot_steps_are_even_and_end_at_the_last_step():
    assert ring_lab.snapshot_steps({"steps": 1000, "snapshots": 4}) == [250, 500, 750, 1000]
    assert ring_lab.snapshot_steps(ring_lab.scenario_config("healthy", {"steps": 3, "snapshots": 5})[1]) == [1, 2, 3]


def test_learning_rate_decays_linearly():
    config = {"steps": 101, "learning_rate": 1e-3, "final_lr_fraction": 0.1}
    assert ring_lab.learning_rate_at(config, 0) == pytest.approx(1e-3)
    assert ring_lab.learning_rate_at(config, 50) == pytest.approx(0.55e-3)
    assert ring_lab.learning_rate_at(config, 100) == pytest.approx(1e-4)


# ----------------------------------------------------------------------------- a short run


def test_short_run_shape(short_run):
    result = short_run
    assert isinstance(result, ring_lab.RunResult)
    assert [snapshot.step for snapshot in result.snapshots] == [30, 60] == ring_lab.snapshot_steps(result.config)
    for snapshot in result.snapshots:
        assert snapshot.generated.shape == (ring_lab.EVAL_SAMPLES, 2)
        assert snapshot.d_surface.shape == (ring_lab.GRID_POINTS, ring_lab.GRID_POINTS)
        assert 0 <= snapshot.d_surface.min() <= snapshot.d_surface.max() <= 1
        assert np.all(np.abs(snapshot.generated) <= 1)  # the student's tanh output
        assert all(math.isfinite(value) for value in (snapshot.d_loss, snapshot.g_loss, snapshot.d_real,
                                                       snapshot.d_fake, snapshot.grad_norm_saturating,
                                                       snapshot.grad_norm_non_saturating))
        again = ring_lab.ring_metrics(snapshot.generated)
        assert snapshot.metrics[:2] == again[:2] and np.array_equal(snapshot.metrics[2], again[2])
    assert result.metrics is result.snapshots[-1].metrics and result.steps == 60
    assert result.real.shape == (ring_lab.PLOT_REAL, 2)
    assert result.grid.shape == (ring_lab.GRID_POINTS,) and result.grid[0] == -ring_lab.GRID_LIMIT
    assert 0 < result.train_seconds < result.seconds
    assert re.fullmatch(r"healthy \(seed 0\): \d/8 modes, \d+% high-quality, \d+\.\d s", result.summary())


def test_same_seed_same_numbers(fns, short_run):
    again = ring_lab.run(fns, training_step, "healthy", seed=0, **SHORT)
    for first, second in zip(short_run.snapshots, again.snapshots, strict=True):
        np.testing.assert_array_equal(first.generated, second.generated)
        np.testing.assert_array_equal(first.d_surface, second.d_surface)


def test_the_step_function_gets_the_documented_arguments_and_k_is_honoured(fns):
    from grader.tf1 import tf

    calls = []
    counts = {"real": 0, "z": 0}

    def counting(session, d_train_op, g_train_op, input_real, input_z, real_batch, z_batch, k=1):
        assert isinstance(session, tf.Session)
        assert isinstance(d_train_op, tf.Operation) and isinstance(g_train_op, tf.Operation)
        assert input_real.shape.as_list() == [None, 2] and input_z.shape.as_list() == [None, 16]
        calls.append(k)

        def real():
            counts["real"] += 1
            batch = real_batch()
            assert batch.dtype == np.float32 and batch.shape == (256, 2)
            return batch

        def z():
            counts["z"] += 1
            batch = z_batch()
            assert batch.dtype == np.float32 and batch.shape == (256, 16)
            return batch

        training_step(session, d_train_op, g_train_op, input_real, input_z, real, z, k=k)
        return "ignored"

    ring_lab.run(fns, counting, "healthy", steps=5, snapshots=1, k=3)
    assert calls == [3] * 5
    assert counts == {"real": 5 * 3, "z": 5 * (3 + 1)}


def test_the_saturating_loss_trains_g_on_log_one_minus_d(fns):
    result = ring_lab.run(fns, training_step, "saturating", steps=4, snapshots=1, k=1)
    snapshot = result.snapshots[-1]
    assert result.config["g_loss"] == "saturating"
    # -mean softplus(logit) = mean log(1 - D(G(z))) < 0; the non-saturating loss is positive
    assert snapshot.g_loss < 0 < snapshot.grad_norm_saturating


def test_plots_draw_one_row_per_run_and_the_gradients(short_run):
    from grader import plots

    figure = plots.ring_runs([short_run, short_run])
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert len(panels) == 4
    assert panels[-1].get_title().startswith("step 60\n") and " s in all" in panels[-1].get_title()
    single = plots.ring_runs(short_run)
    assert single._suptitle.get_text() == short_run.summary()
    gradients = plots.ring_gradients([short_run])
    assert len(gradients.axes[0].get_lines()) == 2


# ----------------------------------------------------------------------------- readable stops


def test_unfinished_exercises_stop_the_notebook():
    from grader.exercises import student_folder
    from grader.train import NotebookStop, exercise_functions

    with pytest.raises(NotebookStop, match="not finished yet"), quiet():
        exercise_functions(False, student_folder())


def test_missing_exercise_notebooks_skip_the_lab_with_one_message(tmp_path, capsys):
    assert ring_lab.lab_functions(False, tmp_path) is None
    out = capsys.readouterr().out
    assert "The 2-D lab is skipped" in out and "01_model_inputs.ipynb is missing" in out
    assert ring_lab.lab_functions(True, tmp_path) is not None


def test_an_unfinished_step_function_stops_the_notebook(fns):
    from grader.train import NotebookStop

    def stub(session, d_train_op, g_train_op, input_real, input_z, real_batch, z_batch, k=1):
        raise NotImplementedError

    def idle(session, d_train_op, g_train_op, input_real, input_z, real_batch, z_batch, k=1):
        session.run(d_train_op, feed_dict={input_real: real_batch(), input_z: z_batch()})

    with pytest.raises(NotebookStop, match="not finished yet"):
        ring_lab.run(fns, stub, "healthy", **SHORT)
    with pytest.raises(NotebookStop, match="did not run g_train_op"):
        ring_lab.run(fns, idle, "healthy", **SHORT)


def test_a_step_function_that_fails_its_checks_is_noted_once(fns, capsys):
    def simultaneous(session, d_train_op, g_train_op, input_real, input_z, real_batch, z_batch, k=1):
        session.run([d_train_op, g_train_op], feed_dict={input_real: real_batch(), input_z: z_batch()})

    ring_lab.run(fns, simultaneous, "plain", steps=2, snapshots=1)
    ring_lab.run(fns, simultaneous, "plain", steps=2, snapshots=1)
    assert capsys.readouterr().out.count("does not pass its checks yet") == 1
    ring_lab.run(fns, training_step, "plain", steps=2, snapshots=1)
    assert "does not pass its checks" not in capsys.readouterr().out


SEED_FORM_NETWORKS = '''
def generator(z, out_dim, n_units=128, reuse=False, alpha=0.01):
    with tf.variable_scope("generator", reuse=reuse):
        hidden = tf.layers.dense(z, n_units)
        hidden = tf.maximum(alpha * hidden, hidden)
        return tf.tanh(tf.layers.dense(hidden, out_dim))


def discriminator(x, n_units=128, reuse=False, alpha=0.01):
    with tf.variable_scope("discriminator", reuse=reuse):
        hidden = tf.layers.dense(x, n_units)
        hidden = tf.maximum(alpha * hidden, hidden)
        logits = tf.layers.dense(hidden, 1)
        return tf.sigmoid(logits), logits
'''


def test_networks_that_take_n_units_as_a_number_only_run_the_lab(fns, short_run, capsys):
    """The seeds' form (one hidden layer, n_units a number), which 02 and 03 accept for one layer: the lab's
    lists become one layer, with a note where a list asked for more than one."""
    import types

    seed_form = define("generator", SEED_FORM_NETWORKS)
    students = types.SimpleNamespace(**{name: getattr(fns, name) for name in ("model_inputs", "model_loss",
                                                                              "model_opt")},
                                     generator=seed_form["generator"], discriminator=seed_form["discriminator"])
    result = ring_lab.run(students, training_step, "healthy", steps=2, snapshots=1)
    assert (result.config["g_hidden"], result.config["d_hidden"]) == (128, 128)
    assert len(result.snapshots) == 1
    out = capsys.readouterr().out
    assert "your generator() takes n_units as one number only" in out and "[128, 128]" in out
    assert "your discriminator() takes n_units as one number only" in out
    weak = ring_lab.run(students, training_step, "weak_discriminator", steps=2, snapshots=1)
    assert weak.config["d_hidden"] == 8
    assert "discriminator() takes n_units" not in capsys.readouterr().out, "a one-entry list is the same network"
    assert short_run.config["g_hidden"] == [128, 128], "networks that take lists get lists"


def test_nan_losses_stop_with_a_readable_message(fns):
    from grader.train import NotebookStop

    def poisoned(session, d_train_op, g_train_op, input_real, input_z, real_batch, z_batch, k=1):
        real = real_batch()
        real[0, 0] = np.nan
        session.run(d_train_op, feed_dict={input_real: real, input_z: z_batch()})
        session.run(g_train_op, feed_dict={input_z: z_batch()})

    with pytest.raises(NotebookStop, match="NaN or infinite by step 2"):
        ring_lab.run(fns, poisoned, "healthy", steps=2, snapshots=1)


# ----------------------------------------------------------------------------- the stories (slow)


@pytest.mark.slow
def test_healthy_covers_the_ring_and_collapse_does_not(fns):
    healthy = ring_lab.run(fns, training_step, "healthy", seed=SLOW_SEED)
    collapse = ring_lab.run(fns, training_step, "collapse", seed=SLOW_SEED)
    assert healthy.modes_covered == 8 and healthy.high_quality_share >= 0.80, healthy.summary()
    assert collapse.modes_covered <= 4, collapse.summary()
    assert healthy.modes_covered > collapse.modes_covered


@pytest.mark.slow
def test_saturating_loss_gives_the_generator_almost_no_gradient(fns):
    result = ring_lab.run(fns, training_step, "saturating", seed=SLOW_SEED)
    last = result.snapshots[-1]
    assert last.d_fake < 0.1, f"D should reject the fakes: mean D(G(z)) = {last.d_fake:.3f}"
    # per fake the two gradients differ by the factor D(G(z)) / (1 - D(G(z))): a few times smaller at least
    assert last.grad_norm_saturating < 0.2 * last.grad_norm_non_saturating, (
        f"{result.summary()}: {last.grad_norm_saturating:.3g} vs {last.grad_norm_non_saturating:.3g}")

"""The training notebook, the training loop and the trained generator (a few seconds of training each)."""
import json
import os
import shutil

import numpy as np
import pytest

from grader.course import mnist_dir
from grader.exercises import CONV_EXERCISES, EXERCISES, load_conv_functions, load_functions, reference_folder
from grader.quiet import quiet

REFERENCE = reference_folder()

NOTEBOOK = REFERENCE / "06_train_gan.ipynb"
TINY = {"train_images": 500, "epochs": 1, "n_samples": 50}
CONV_NOTEBOOK = next(iter(CONV_EXERCISES.values()))  # 08_convolutional_gan.ipynb


@pytest.fixture(scope="module")
def fns():
    return load_functions(REFERENCE)


@pytest.fixture(scope="module")
def tiny_run(fns, tmp_path_factory):
    from grader.train import make_params, train_gan

    output_dir = tmp_path_factory.mktemp("tiny_run")
    with quiet():
        run = train_gan(fns, make_params("tiny", **TINY), output_dir, progress=False)
    return run


def run_notebook(workdir, parameters, env_overrides):
    """Execute a copy of the training notebook in ``workdir`` with papermill; returns the output notebook path."""
    import papermill

    notebook = workdir / NOTEBOOK.name
    shutil.copy(NOTEBOOK, notebook)
    output = workdir / "executed.ipynb"
    saved = {key: os.environ.get(key) for key in env_overrides}
    os.environ.update({key: value for key, value in env_overrides.items() if value is not None})
    for key, value in env_overrides.items():
        if value is None:
            os.environ.pop(key, None)
    try:
        with quiet():
            papermill.execute_notebook(
                str(notebook), str(output), parameters=parameters, cwd=str(workdir),
                kernel_name="python3", progress_bar=False, log_output=False,
            )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return output


@pytest.mark.slow
def test_notebook_runs_headless_with_the_students_own_functions(tmp_path):
    """Under CI the notebook trains the tiny configuration on the exercise notebooks next to it."""
    for notebook in EXERCISES.values():  # a student's folder: the five exercise notebooks, done
        shutil.copy(REFERENCE / notebook, tmp_path / notebook)
    output_dir = tmp_path / "run"
    executed = run_notebook(
        tmp_path, {"output_dir": str(output_dir)}, {"CI": "true", "GAN_COURSE_CACHE": str(tmp_path / "no_cache")}
    )
    text = executed.read_text()
    assert "tiny configuration" in text
    assert "your own exercise notebooks" in text
    assert "training it was switched off" in text  # no cached evaluator: reported, not trained
    params = json.loads((output_dir / "params.json").read_text())
    assert params["preset"] == "tiny"
    samples = np.load(output_dir / "samples.npy")
    assert samples.shape == (params["n_samples"], 28, 28)
    assert samples.min() >= -1 and samples.max() <= 1
    for name in ("losses.png", "samples.png", "samples_per_epoch.png", "interpolation.png"):
        assert (output_dir / "figures" / name).stat().st_size > 1000, name
    assert (output_dir / "checkpoint" / "generator.index").is_file()
    from grader.train import read_history

    history = read_history(output_dir)
    assert list(history) == ["step", "epoch", "d_loss", "g_loss", "d_real", "d_fake"] and len(history["step"]) > 9


@pytest.mark.slow
def test_unfinished_exercise_gives_a_short_message_naming_the_notebook(tmp_path):
    import papermill

    for notebook in EXERCISES.values():
        shutil.copy(REFERENCE / notebook, tmp_path / notebook)
    (tmp_path / EXERCISES["model_loss"]).unlink()
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        run_notebook(tmp_path, {"output_dir": str(tmp_path / "run")}, {"CI": "true"})
    assert EXERCISES["model_loss"] in str(failure.value)
    assert "USE_REFERENCE_SOLUTIONS" in str(failure.value)


@pytest.mark.slow
def test_outputs_have_the_promised_shapes(tiny_run):
    output_dir = tiny_run["output_dir"]
    params = tiny_run["params"]
    samples = np.load(output_dir / "samples.npy")
    assert samples.shape == (TINY["n_samples"], 28, 28) and samples.dtype == np.float32
    assert -1 <= samples.min() and samples.max() <= 1
    epoch_samples = np.load(output_dir / "epoch_samples.npy")
    assert epoch_samples.shape[:2] == (params["epochs"], 64)
    assert np.all(np.isfinite(tiny_run["history"]))


@pytest.mark.slow
def test_checkpoint_restores_in_a_fresh_graph_to_the_same_samples(fns, tiny_run):
    from grader.train import load_generator

    params = tiny_run["params"]
    with quiet(), load_generator(fns, tiny_run["output_dir"]) as generator:
        z = generator.random_z(params["n_samples"], seed=params["seed"] + 2)  # the z of samples.npy
        restored = generator(z)
        walk = generator.interpolate(z[0], z[1], steps=5)
    np.testing.assert_allclose(restored, tiny_run["samples"], atol=1e-5)
    np.testing.assert_allclose(walk[0], restored[0], atol=1e-5)
    np.testing.assert_allclose(walk[-1], restored[1], atol=1e-5)


@pytest.mark.slow
def test_same_seed_gives_the_same_losses(fns, tiny_run, tmp_path):
    from grader.train import make_params, train_gan

    with quiet():
        again = train_gan(fns, make_params("tiny", **TINY), tmp_path, progress=False, write_outputs=False)
        other_seed = train_gan(fns, make_params("tiny", **TINY, seed=1), tmp_path, progress=False, write_outputs=False)
    np.testing.assert_array_equal(again["history"], tiny_run["history"])
    assert not np.array_equal(other_seed["history"], tiny_run["history"])


@pytest.mark.slow
def test_training_without_weight_averaging_restores_too(fns, tmp_path):
    """The tiny preset (like the default) averages the generator's weights; the classic one does not."""
    from grader.train import load_generator, make_params, train_gan

    params = make_params("tiny", **TINY, ema_decay=0)
    with quiet():
        run = train_gan(fns, params, tmp_path, progress=False)
        with load_generator(fns, tmp_path) as generator:
            restored = generator(generator.random_z(params["n_samples"], seed=params["seed"] + 2))
    np.testing.assert_allclose(restored, run["samples"], atol=1e-5)


def test_generator_without_the_list_part_stops_with_a_message_naming_the_notebook(fns):
    """Hidden sizes given as a list need the list part of notebook 2; a one-layer-only generator is told so."""
    import types

    from grader.tf1 import tf
    from grader.train import NotebookStop, build_gan, make_params

    def one_layer_generator(z, out_dim, n_units=128, reuse=False, alpha=0.01):
        with tf.variable_scope("generator", reuse=reuse):
            hidden = tf.layers.dense(z, n_units)
            return tf.tanh(tf.layers.dense(tf.maximum(alpha * hidden, hidden), out_dim))

    student = types.SimpleNamespace(**{name: getattr(fns, name) for name in EXERCISES})
    student.generator = one_layer_generator
    with pytest.raises(NotebookStop) as stop, quiet():
        build_gan(student, make_params("tiny"))
    assert "02_generator" in str(stop.value) and "g_hidden" in str(stop.value)
    with quiet():
        build_gan(student, make_params("tiny", g_hidden=32))  # a single number still works


def test_gradient_penalty_matches_numpy_and_turns_off():
    """r1_penalty is gamma/2 * mean |dD/dx|^2 at the real images; gamma 0 adds nothing."""
    from grader.tf1 import tf
    from grader.train import r1_penalty

    rng = np.random.RandomState(3)
    images, hidden_kernel, output_kernel = rng.randn(5, 6), rng.randn(6, 4), rng.randn(4, 1)
    with tf.Graph().as_default(), tf.Session() as session:
        x = tf.placeholder(tf.float64, (None, 6))
        hidden = tf.matmul(x, tf.constant(hidden_kernel))
        logits = tf.matmul(tf.maximum(0.2 * hidden, hidden), tf.constant(output_kernel))
        penalty = session.run(r1_penalty(x, logits, 3.0), {x: images})
        assert r1_penalty(x, logits, 0.0) == 0.0
    slopes = np.where(images @ hidden_kernel > 0, 1.0, 0.2)  # leaky ReLU derivative per example and unit
    gradients = (slopes * output_kernel.T) @ hidden_kernel.T  # dlogit/dx, one row per example
    np.testing.assert_allclose(penalty, 1.5 * np.mean(np.sum(gradients**2, axis=1)), rtol=1e-10)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"epochs": -3}, "epochs must be at least 1"),
        ({"epochs": 2.5}, "epochs must be a whole number"),
        ({"learning_rate": 5}, "learning_rate must be in (0, 1)"),
        ({"smooth": 1}, "smooth must be in [0, 1)"),
        ({"batch_size": 1000, "train_images": 500}, "train_images (500) must be at least batch_size (1000)"),
        ({"bach_size": 64}, "Unknown training parameter(s) ['bach_size']"),
        ({"r1_gamma": -1}, "r1_gamma must be in [0, 100]"),
        ({"g_hidden": [256, 0]}, "g_hidden must be a whole number of units (at least 1) or a list of them"),
        ({"d_hidden": []}, "d_hidden must name at least one hidden layer"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(overrides, message):
    from grader.train import make_params

    with pytest.raises(ValueError) as error:
        make_params("default", **overrides)
    assert message in str(error.value)


def test_unknown_preset_is_refused():
    from grader.train import make_params

    with pytest.raises(ValueError, match=r"Unknown preset 'fast'.*'classic', 'dcgan', 'dcgan_tiny', 'default', 'tiny'"):
        make_params("fast")


def test_missing_mnist_gives_a_clear_error(fns, tmp_path, monkeypatch):
    from grader.data import MnistDataError, load_raw
    from grader.train import make_params, train_gan

    shutil.copy(mnist_dir() / "SHA256SUMS", tmp_path / "SHA256SUMS")
    monkeypatch.setenv("GAN_COURSE_MNIST", str(tmp_path))
    load_raw.cache_clear()
    try:
        with pytest.raises(MnistDataError, match="train-images-idx3-ubyte.gz is missing"):
            train_gan(fns, make_params("tiny", **TINY), tmp_path / "run", progress=False)
    finally:
        load_raw.cache_clear()


def test_missing_checkpoint_says_what_to_run(fns, tmp_path):
    from grader.train import load_generator

    with pytest.raises(FileNotFoundError, match="Run the training cell first"):
        load_generator(fns, tmp_path)


# ----------------------------------------------------------------------------- the convolutional pair


@pytest.fixture(scope="module")
def conv_fns():
    return load_conv_functions(REFERENCE, module=load_functions(REFERENCE))


@pytest.fixture(scope="module")
def conv_run(conv_fns, tmp_path_factory):
    from grader.train import make_params, train_gan

    output_dir = tmp_path_factory.mktemp("conv_run")
    with quiet():
        return train_gan(conv_fns, make_params("dcgan_tiny", **TINY), output_dir, progress=False)


def student_folder_with(tmp_path, notebook_08):
    """A student's folder: notebooks 01-05 finished, and 08 as given ("done", "stub" or None for missing)."""
    import nbformat

    for notebook in EXERCISES.values():
        shutil.copy(REFERENCE / notebook, tmp_path / notebook)
    if notebook_08 is not None:
        notebook = nbformat.read(str(REFERENCE / CONV_NOTEBOOK), as_version=4)
        if notebook_08 == "stub":
            for cell in notebook.cells:
                name = cell.metadata.get("nbgrader", {}).get("grade_id")
                if name in CONV_EXERCISES:
                    header = next(line for line in cell.source.splitlines() if line.startswith(f"def {name}("))
                    cell.source = f"{header}\n    raise NotImplementedError()\n"
        nbformat.write(notebook, str(tmp_path / CONV_NOTEBOOK))
    return tmp_path


@pytest.mark.slow
def test_conv_run_writes_the_outputs_and_restores_to_the_same_samples(conv_run, conv_fns):
    from grader.train import load_generator

    output_dir, params = conv_run["output_dir"], conv_run["params"]
    assert json.loads((output_dir / "params.json").read_text())["architecture"] == "dcgan"
    samples = np.load(output_dir / "samples.npy")
    assert samples.shape == (TINY["n_samples"], 28, 28) and -1 <= samples.min() and samples.max() <= 1
    assert np.load(output_dir / "epoch_samples.npy").shape[:2] == (params["epochs"], 64)
    assert np.all(np.isfinite(conv_run["history"]))
    for name in ("losses.png", "samples.png", "samples_per_epoch.png"):
        assert (output_dir / "figures" / name).stat().st_size > 1000, name
    with quiet(), load_generator(conv_fns, output_dir) as generator:
        z = generator.random_z(params["n_samples"], seed=params["seed"] + 2)
        restored = generator(z)
        one_at_a_time = np.concatenate([generator(z[i : i + 1]) for i in range(3)])
        walk = generator.interpolate(z[0], z[1], steps=5)
    np.testing.assert_allclose(restored, conv_run["samples"], atol=1e-5)
    np.testing.assert_allclose(one_at_a_time, restored[:3], atol=1e-5)  # batch norm with fixed statistics
    np.testing.assert_allclose(walk[-1], restored[1], atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("momentum", [0.99, 0.9])
def test_recomputed_statistics_are_those_of_the_averaged_weights(conv_fns, momentum):
    """After recompute_statistics, the sampling generator (training=False) gives what the averaged
    weights give with batch statistics on the batch the statistics came from, whatever batch norm's momentum."""
    import types

    from grader.tf1 import tf
    from grader.train import build_gan, generate, make_params, recompute_statistics, session_config

    def conv_generator(z, training, reuse=False, alpha=0.2, channels=64, kernel_size=5):  # momentum of our choice
        with tf.variable_scope("generator", reuse=reuse):
            h = tf.reshape(tf.layers.dense(z, 7 * 7 * 2 * channels, use_bias=False), (-1, 7, 7, 2 * channels))
            h = tf.layers.batch_normalization(h, training=training, momentum=momentum)
            h = tf.layers.conv2d_transpose(tf.maximum(alpha * h, h), channels, kernel_size, 2, "same", use_bias=False)
            h = tf.layers.batch_normalization(h, training=training, momentum=momentum)
            h = tf.layers.conv2d_transpose(tf.maximum(alpha * h, h), 1, kernel_size, 2, "same")
            return tf.reshape(tf.tanh(h), (-1, 28 * 28))

    student = types.SimpleNamespace(**vars(conv_fns))
    student.conv_generator = conv_generator
    with quiet():
        gan = build_gan(student, make_params("dcgan_tiny"))
        with tf.Session(graph=gan["graph"], config=session_config()) as session:
            session.run(gan["init"])
            for _ in range(3):  # move the weights and their average away from the initial values
                feed = {gan["input_real"]: np.zeros((50, 784), np.float32) - 0.5,
                        gan["input_z"]: gan["bn_statistics"]["z"][:50], gan["learning_rate"]: 0.01}
                session.run(gan["train_ops"], feed)
            z = gan["bn_statistics"]["z"]
            before = generate(session, gan, z, batch_size=len(z))
            recompute_statistics(session, gan)
            fixed = generate(session, gan, z, batch_size=len(z))
            batch = generate(session, gan, z, batch_size=len(z), output="g_sample_batch_statistics")
    np.testing.assert_allclose(fixed, batch, atol=2e-3)
    assert np.abs(before - batch).max() > 10 * np.abs(fixed - batch).max()


def test_training_setup_loads_notebook_08_for_the_conv_pair(tmp_path, capsys):
    from grader.train import training_setup

    folder = student_folder_with(tmp_path, "done")
    fns, params = training_setup(False, folder, "dcgan", seed=3)
    assert callable(fns.conv_generator) and callable(fns.model_loss)
    assert (params["architecture"], params["preset"], params["seed"]) == ("dcgan", "dcgan", 3)
    _, tiny = training_setup(False, folder, "dcgan", tiny=True, seed=3, epochs=50)
    assert (tiny["preset"], tiny["seed"], tiny["epochs"]) == ("dcgan_tiny", 3, 2)
    _, classic = training_setup(False, folder, "dcgan", preset="classic")
    assert classic["architecture"] == "mlp"
    assert "preset 'classic' is a preset of architecture 'mlp'" in capsys.readouterr().out


@pytest.mark.parametrize("notebook_08", ["stub", None])
def test_unfinished_notebook_08_trains_the_mlp_with_one_line(tmp_path, capsys, notebook_08):
    from grader.train import training_setup

    folder = student_folder_with(tmp_path, notebook_08)
    fns, params = training_setup(False, folder, "dcgan", tiny=True, seed=0)
    assert (params["architecture"], params["preset"]) == ("mlp", "tiny")
    assert callable(fns.generator) and not hasattr(fns, "conv_generator")
    _, full = training_setup(False, folder, "dcgan", channels=16, epochs=7)
    assert (full["preset"], full["epochs"]) == ("default", 7) and "channels" not in full
    lines = [line for line in capsys.readouterr().out.splitlines() if "needs notebook 08" in line]
    assert len(lines) == 2 and 'architecture = "mlp"' in lines[0] and "without channels" in lines[1]


@pytest.mark.slow
@pytest.mark.parametrize("notebook_08, preset", [("done", "dcgan_tiny"), ("stub", "tiny")])
def test_notebook_trains_the_conv_pair_or_falls_back_to_the_mlp(tmp_path, notebook_08, preset):
    """architecture = "dcgan" under CI: the tiny conv run, or (08 unfinished) one line and the tiny MLP run."""
    folder = student_folder_with(tmp_path, notebook_08)
    output_dir = tmp_path / "run"
    executed = run_notebook(folder, {"output_dir": str(output_dir), "architecture": "dcgan"}, {"CI": "true"})
    params = json.loads((output_dir / "params.json").read_text())
    assert params["preset"] == preset
    assert ("needs notebook 08" in executed.read_text()) == (notebook_08 == "stub")
    assert (output_dir / "figures" / "interpolation.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "preset, overrides, message",
    [
        ("dcgan", {"g_hidden": 512}, "g_hidden belong(s) to the other architecture; preset 'dcgan' trains 'dcgan'"),
        ("default", {"channels": 16}, "channels belong(s) to the other architecture"),
        ("dcgan", {"channels": 0}, "channels must be at least 1"),
        ("dcgan", {"kernel_size": 2.5}, "kernel_size must be a whole number"),
        ("dcgan", {"dropout": 1}, "dropout must be in [0, 1)"),
        ("dcgan", {"architecture": "resnet"}, "architecture must be one of ['dcgan', 'mlp']"),
        ("dcgan", {"architecture": "mlp"}, "channels, kernel_size, dropout belong(s) to architecture 'dcgan'"),
    ],
)
def test_bad_conv_parameters_are_refused_with_a_clear_message(preset, overrides, message):
    from grader.train import make_params

    with pytest.raises(ValueError) as error:
        make_params(preset, **overrides)
    assert message in str(error.value)


def test_unknown_architecture_is_refused():
    from grader.train import training_setup

    with pytest.raises(ValueError, match=r"architecture must be one of \['dcgan', 'mlp'\], got 'cnn'"):
        training_setup(True, None, "cnn")


@pytest.mark.slow
def test_runs_written_before_the_architecture_setting_restore_as_mlp(fns, tiny_run, tmp_path):
    """A params.json without "architecture" (written before there was a choice) is a fully connected run."""
    from grader.train import load_generator

    shutil.copytree(tiny_run["output_dir"], tmp_path / "old")
    params = json.loads((tmp_path / "old" / "params.json").read_text())
    params.pop("architecture")
    (tmp_path / "old" / "params.json").write_text(json.dumps(params))
    with quiet(), load_generator(fns, tmp_path / "old") as generator:
        restored = generator(generator.random_z(params["n_samples"], seed=params["seed"] + 2))
    np.testing.assert_allclose(restored, tiny_run["samples"], atol=1e-5)

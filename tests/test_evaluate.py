"""The course's evaluator: trained once per machine, then loaded from its cache (the tests that need it are slow)."""
import json
import shutil

import numpy as np
import pytest

from grader import evaluate
from grader.data import load_mnist
from grader.quiet import quiet


@pytest.fixture(scope="module")
def evaluator():
    with quiet():
        loaded = evaluate.load_evaluator(progress=False)  # trains and caches on the first run only
    yield loaded
    loaded.close()


@pytest.fixture(scope="module")
def test_images():
    return load_mnist("test", flatten=False)[0]


@pytest.mark.slow
def test_classifier_is_accurate(evaluator):
    assert evaluator.info["test_accuracy"] >= evaluate.MIN_TEST_ACCURACY


@pytest.mark.slow
def test_real_test_images_score_near_the_real_data_floor(evaluator, test_images):
    # a random half: the test set's first 5,000 images are not a random sample (different writers)
    scores = evaluator.scores(test_images[np.random.RandomState(0).permutation(10_000)[:5000]])
    floor = evaluator.real_scores(5000)
    assert scores["frechet_distance"] <= 2 * floor["frechet_distance"] + 0.5
    assert scores["classifier_score"] >= 9.4 and floor["classifier_score"] >= 9.4
    assert scores["confident_fraction"] >= 0.95 and floor["confident_fraction"] >= 0.95
    assert scores["digit_shares"].min() >= 0.08


@pytest.mark.slow
def test_noise_scores_far_from_the_floor(evaluator):
    noise = np.random.RandomState(0).uniform(-1, 1, (5000, 28, 28))
    scores = evaluator.scores(noise)
    assert scores["frechet_distance"] >= 100 * evaluator.real_scores(5000)["frechet_distance"]
    assert scores["classifier_score"] < 2
    assert scores["confident_fraction"] < 0.2
    assert "[ ]" in evaluator.verdict(evaluator.report(noise, show=False))


@pytest.mark.slow
def test_report_prints_both_columns(evaluator, test_images, capsys):
    report = evaluator.report(test_images[:500], title="test images")
    printed = capsys.readouterr().out
    assert "test images" in printed and "real MNIST" in printed and "Frechet distance" in printed
    assert report["real"]["n"] == report["generated"]["n"] == 500
    assert evaluator.verdict(report).count("[x]") == 3


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((28, 28)), "a single image?"),
        (np.zeros((10, 32, 32)), "got (10, 32, 32)"),
        (np.zeros((1, 784)), "needs at least 2"),
        (np.full((10, 784), 255.0), "x / 127.5 - 1"),
        (np.full((10, 28, 28), np.nan), "NaN or infinite"),
        (np.array([["a"] * 784] * 3), "numeric array"),
    ],
)
def test_bad_samples_are_refused_with_a_clear_message(images, message):
    with pytest.raises(ValueError) as error:
        evaluate.as_images(images)
    assert message in str(error.value)


def test_accepted_sample_layouts():
    flat = np.zeros((3, 784))
    assert evaluate.as_images(flat).shape == (3, 28, 28)
    assert evaluate.as_images(np.zeros((3, 28, 28, 1))).shape == (3, 28, 28)


def test_frechet_distance_of_known_gaussians():
    rng = np.random.RandomState(0)
    a = rng.normal(size=(500, 4))
    cov = np.cov(a, rowvar=False)
    assert abs(evaluate.frechet_distance(np.zeros(4), cov, np.zeros(4), cov)) < 1e-8
    shift = np.array([1.0, 2.0, 0.0, 0.0])
    assert evaluate.frechet_distance(np.zeros(4), cov, shift, cov) == pytest.approx(5.0)
    # different scales: FD between N(0, I) and N(0, 4I) in 4-d is 4 * (1 + 4 - 2*2) = 4
    assert evaluate.frechet_distance(np.zeros(4), np.eye(4), np.zeros(4), 4 * np.eye(4)) == pytest.approx(4.0)


def test_classifier_score_bounds():
    assert evaluate.classifier_score(np.full((100, 10), 0.1)) == pytest.approx(1.0)
    assert evaluate.classifier_score(np.eye(10)[np.arange(100) % 10]) == pytest.approx(10.0, rel=1e-6)
    assert evaluate.classifier_score(np.eye(10)[np.zeros(100, int)]) == pytest.approx(1.0, rel=1e-6)  # collapse


@pytest.mark.slow
def test_damaged_cache_is_detected_and_retrained(evaluator, tmp_path, monkeypatch):
    shutil.copytree(evaluate.cache_dir(), tmp_path, dirs_exist_ok=True)
    weights_file = tmp_path / evaluate.WEIGHTS_FILE
    raw = bytearray(weights_file.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    weights_file.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="SHA-256"):
        evaluate.read_cache(tmp_path)
    with pytest.raises(evaluate.EvaluatorNotAvailable, match="damaged or altered"):
        evaluate.load_evaluator(train_if_missing=False, folder=tmp_path)

    good_weights, _ = evaluate.read_cache(evaluate.cache_dir())
    trained = []

    def fake_training(progress=True):  # the real training takes half a minute; its output is cached
        trained.append(True)
        names = evaluate.WEIGHT_NAMES
        return {name: good_weights[name] for name in names}, evaluator.info["test_accuracy"]

    monkeypatch.setattr(evaluate, "train_classifier", fake_training)
    with quiet():
        retrained = evaluate.load_evaluator(progress=False, folder=tmp_path)
    retrained.close()
    assert trained and evaluate.read_cache(tmp_path)[1]["test_accuracy"] == evaluator.info["test_accuracy"]


@pytest.mark.slow
def test_cache_from_another_version_is_not_used(evaluator, tmp_path):
    shutil.copytree(evaluate.cache_dir(), tmp_path, dirs_exist_ok=True)
    info_file = tmp_path / evaluate.INFO_FILE
    info = json.loads(info_file.read_text())
    info["format_version"] = -1
    info_file.write_text(json.dumps(info))
    with pytest.raises(ValueError, match="format_version"):
        evaluate.read_cache(tmp_path)


def test_evaluator_and_training_sessions_keep_their_threads_to_themselves():
    """TensorFlow sizes its process-wide inter-op pool from the first session that uses it: with a shared
    pool, an evaluator loaded before training made the GAN run one op at a time (docs/training.md, "Benchmark")."""
    from grader import train

    evaluator_config, training_config = evaluate.session_config(), train.session_config()
    assert evaluator_config.use_per_session_threads and training_config.use_per_session_threads
    assert (evaluator_config.inter_op_parallelism_threads, training_config.inter_op_parallelism_threads) == (1, 2)

"""Score generated digits with numbers instead of "looks ok".

The course ships its own judge: a small convolutional classifier trained here, on 50,000 of the
MNIST training images (seeded, >= 99% test accuracy; its training time is in docs/training.md), then
cached. The other 10,000 training images are held out: they are the "real MNIST" row of every
report, images the classifier never saw, exactly like generated ones.

    from grader.evaluate import load_evaluator
    evaluator = load_evaluator()          # trains once, then loads from the cache
    scores = evaluator.report(samples)    # samples: (n, 28, 28) or (n, 784), values in [-1, 1]

What the numbers mean (for real MNIST they are the best a generator can hope for):

- ``frechet_distance``: distance between the Gaussians fitted to the classifier's penultimate
  features of the samples and of the 10,000 test images (the FID recipe, with an MNIST network
  instead of Inception). Lower is better; it grows with blurry, odd or missing digits. It is biased
  upward for few samples, so the real row is always computed with the same number of images.
- ``classifier_score``: exp(E_x KL(p(y|x) || p(y))), like the Inception Score. Up to 10: high when
  each sample is clearly one digit *and* all digits appear.
- ``digit_shares``: share of samples the classifier assigns to each digit. Mode collapse shows up
  as digits with a share near 0 (and often one digit far above 10%).
- ``confident_fraction``: share of samples classified with probability >= 0.9: how many look
  like an unambiguous digit.

The cache lives in ``<cache>/evaluator``, where ``<cache>`` is ``$GAN_COURSE_CACHE`` if that
variable is set, else the checkout's ``.cache`` (see :func:`grader.course.cache_dir`). It is
checked on every load (format version and SHA-256 of the weights); a missing or damaged cache is
retrained, never silently used.
"""
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from grader import course

FORMAT_VERSION = 1
ARCHITECTURE = {"conv1_filters": 16, "conv2_filters": 32, "kernel_size": 5, "feature_units": 128}
TRAINING = {"epochs": 2, "batch_size": 32, "peak_learning_rate": 2e-3, "seed": 0, "held_out": 10_000}
MIN_TEST_ACCURACY = 0.99
CONFIDENCE_THRESHOLD = 0.9
DIGITS = 10
# What the course calls "convincing digits" (see verdict()); the Frechet goal is relative to real MNIST's.
GOALS = {"min_digit_share": 0.02, "confident_fraction": 0.9, "frechet_multiple": 10}
WEIGHTS_FILE, INFO_FILE = "classifier.npz", "classifier.json"
WEIGHT_NAMES = ("conv1_w", "conv1_b", "conv2_w", "conv2_b", "features_w", "features_b", "logits_w", "logits_b")


class EvaluatorNotAvailable(RuntimeError):
    """The classifier is not cached and training it was not allowed (e.g. under autograding)."""


def cache_dir():
    """Folder of the cached classifier: ``evaluator`` in the course's cache folder."""
    return course.cache_dir() / "evaluator"


# ----------------------------------------------------------------------------- input checks


def as_images(samples, name="samples"):
    """``samples`` as float32 (n, 28, 28) in [-1, 1], or a ValueError saying what is wrong."""
    array = np.asarray(samples)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{name} must be a numeric array of images, got dtype {array.dtype}.")
    if array.ndim == 2 and array.shape[1] == 28 * 28:
        array = array.reshape(-1, 28, 28)
    elif array.ndim == 4 and array.shape[1:] == (28, 28, 1):
        array = array[..., 0]
    if array.ndim != 3 or array.shape[1:] != (28, 28):
        hint = " (a single image? pass a batch: images[None])" if array.shape in ((28, 28), (784,)) else ""
        raise ValueError(
            f"{name} must have shape (n, 28, 28), (n, 784) or (n, 28, 28, 1); got {array.shape}{hint}."
        )
    if len(array) < 2:
        raise ValueError(f"{name} holds {len(array)} image(s); the Frechet distance needs at least 2 (use 10,000).")
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"{name} contains NaN or infinite values ({np.sum(~np.isfinite(array))} of them): "
            "training probably diverged (try a lower learning rate)."
        )
    low, high = float(array.min()), float(array.max())
    if low < -1.001 or high > 1.001:
        raise ValueError(
            f"{name} must hold values in [-1, 1], the range of the generator's tanh and of the course's "
            f"MNIST; found [{low:.3g}, {high:.3g}]. Images in [0, 255] scale with x / 127.5 - 1, "
            "images in [0, 1] with 2 * x - 1."
        )
    return np.clip(array, -1.0, 1.0)


# ----------------------------------------------------------------------------- the classifier graph


def classifier_graph(images, weights):
    """(features, logits) of the CNN for float images (n, 28, 28) in [-1, 1]; weights: name -> tensor."""
    from grader.tf1 import tf

    hidden = tf.reshape(images, (-1, 28, 28, 1))
    for layer in ("conv1", "conv2"):
        hidden = tf.nn.relu(tf.nn.conv2d(hidden, weights[f"{layer}_w"], 1, "SAME") + weights[f"{layer}_b"])
        hidden = tf.nn.max_pool2d(hidden, 2, 2, "VALID")
    hidden = tf.reshape(hidden, (-1, 7 * 7 * ARCHITECTURE["conv2_filters"]))
    features = tf.nn.relu(tf.matmul(hidden, weights["features_w"]) + weights["features_b"])
    logits = tf.matmul(features, weights["logits_w"]) + weights["logits_b"]
    return features, logits


def weight_shapes():
    c1, c2, k, f = (ARCHITECTURE[key] for key in ("conv1_filters", "conv2_filters", "kernel_size", "feature_units"))
    return {
        "conv1_w": (k, k, 1, c1), "conv1_b": (c1,), "conv2_w": (k, k, c1, c2), "conv2_b": (c2,),
        "features_w": (7 * 7 * c2, f), "features_b": (f,), "logits_w": (f, DIGITS), "logits_b": (DIGITS,),
    }


def session_config():
    """One op at a time (a CNN's ops run in sequence), on threads of its own (see grader.tf1)."""
    from grader import tf1

    return tf1.session_config(inter_op_threads=1)


def train_classifier(progress=True):
    """Train the CNN (seeded) on 50,000 training images; returns (weights dict, test accuracy)."""
    from grader.data import load_mnist
    from grader.progress import progress_bar
    from grader.quiet import quiet
    from grader.tf1 import tf

    cfg = TRAINING
    train_images, train_labels = load_mnist("train", flatten=False)
    test_images, test_labels = load_mnist("test", flatten=False)
    train_index, _ = split_train(len(train_images))
    rng = np.random.RandomState(cfg["seed"])
    graph = tf.Graph()
    with quiet(), graph.as_default():
        tf.set_random_seed(cfg["seed"])
        images = tf.placeholder(tf.float32, (None, 28, 28), name="images")
        labels = tf.placeholder(tf.int64, (None,), name="labels")
        learning_rate = tf.placeholder(tf.float32, (), name="learning_rate")
        weights = {}
        for name, shape in weight_shapes().items():
            init = tf.zeros_initializer() if name.endswith("_b") else tf.glorot_uniform_initializer()
            weights[name] = tf.get_variable(name, shape, initializer=init)
        _, logits = classifier_graph(images, weights)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        train_op = tf.train.AdamOptimizer(learning_rate).minimize(loss)
        predictions = tf.argmax(logits, 1)
        session = tf.Session(graph=graph, config=session_config())
        session.run(tf.global_variables_initializer())
    batches_per_epoch = len(train_index) // cfg["batch_size"]
    total = cfg["epochs"] * batches_per_epoch
    bar = progress_bar(total=total, desc="training the evaluator CNN (once, then cached)", disable=not progress)
    step = 0
    with session:
        for _ in range(cfg["epochs"]):
            order = train_index[rng.permutation(len(train_index))]
            for i in range(batches_per_epoch):
                batch = order[i * cfg["batch_size"] : (i + 1) * cfg["batch_size"]]
                # cosine decay from the peak rate to ~0 over the whole run
                rate = cfg["peak_learning_rate"] * 0.5 * (1 + np.cos(np.pi * step / total)) + 1e-5
                session.run(train_op, {images: train_images[batch], labels: train_labels[batch], learning_rate: rate})
                step += 1
                bar.update()
        correct = sum(
            int(np.sum(session.run(predictions, {images: test_images[i : i + 1000]}) == test_labels[i : i + 1000]))
            for i in range(0, len(test_images), 1000)
        )
        values = session.run(weights)
    bar.close()
    return {name: np.asarray(value, np.float32) for name, value in values.items()}, correct / len(test_images)


def split_train(n_train):
    """(indices the classifier trains on, held-out indices used as the real-data reference)."""
    order = np.random.RandomState(TRAINING["seed"] + 1).permutation(n_train)
    return order[TRAINING["held_out"] :], order[: TRAINING["held_out"]]


# ----------------------------------------------------------------------------- statistics


def frechet_distance(mean_a, cov_a, mean_b, cov_b):
    """||mu_a - mu_b||^2 + Tr(A + B - 2 (A B)^(1/2)), via symmetric eigendecompositions (no scipy)."""
    eigenvalues, eigenvectors = np.linalg.eigh(cov_a)
    sqrt_a = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T
    # Tr((A B)^(1/2)) = Tr((A^(1/2) B A^(1/2))^(1/2)), and the inner matrix is symmetric PSD
    trace_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a), 0, None)))
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    return max(0.0, float(distance))  # rounding can give -1e-12 for identical statistics


def mean_and_cov(features):
    features = np.asarray(features, np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def classifier_score(probabilities):
    """exp(E_x KL(p(y|x) || p(y))), between 1 (useless) and 10 (sharp and balanced)."""
    p = np.clip(np.asarray(probabilities, np.float64), 1e-12, 1.0)
    marginal = p.mean(axis=0)
    return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1))))


# ----------------------------------------------------------------------------- the evaluator


class Evaluator:
    """The trained classifier plus the statistics of the test set; see the module docstring."""

    def __init__(self, weights, info):
        from grader.quiet import quiet
        from grader.tf1 import tf

        self.info = info
        self.test_mean = np.asarray(weights["test_mean"], np.float64)
        self.test_cov = np.asarray(weights["test_cov"], np.float64)
        self.graph = tf.Graph()
        with quiet(), self.graph.as_default():
            self.images = tf.placeholder(tf.float32, (None, 28, 28), name="images")
            constants = {name: tf.constant(weights[name]) for name in WEIGHT_NAMES}
            self.features, logits = classifier_graph(self.images, constants)
            self.probabilities = tf.nn.softmax(logits)
            self.session = tf.Session(graph=self.graph, config=session_config())
        self._real_scores = {}
        cached_real = info.get("real_mnist")
        if cached_real:  # computed when the classifier was trained: saves a pass over 10,000 images
            self._real_scores[cached_real["n"]] = dict(
                cached_real, digit_shares=np.asarray(cached_real["digit_shares"])
            )

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def features_and_probabilities(self, images, batch_size=2000):
        images = as_images(images)
        outputs = [
            self.session.run([self.features, self.probabilities], {self.images: images[i : i + batch_size]})
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate([f for f, _ in outputs]), np.concatenate([p for _, p in outputs])

    def scores(self, samples):
        """Dict of the four numbers (see the module docstring) for a batch of images in [-1, 1]."""
        features, probabilities = self.features_and_probabilities(as_images(samples))
        predicted = probabilities.argmax(axis=1)
        return {
            "n": len(features),
            "frechet_distance": frechet_distance(*mean_and_cov(features), self.test_mean, self.test_cov),
            "classifier_score": classifier_score(probabilities),
            "digit_shares": np.bincount(predicted, minlength=DIGITS) / len(predicted),
            "confident_fraction": float(np.mean(probabilities.max(axis=1) >= CONFIDENCE_THRESHOLD)),
        }

    def real_scores(self, n=10_000):
        """The same numbers for n held-out real training images: the floor a generator can reach."""
        n = min(int(n), TRAINING["held_out"])
        if n not in self._real_scores:
            from grader.data import load_mnist

            images, _ = load_mnist("train", flatten=False)
            _, held_out = split_train(len(images))
            self._real_scores[n] = self.scores(images[held_out[:n]])
        return self._real_scores[n]

    def verdict(self, report, goals=None):
        return verdict(report, goals)

    def report(self, samples, title="generated", show=True):
        """Print the scores of ``samples`` next to real MNIST's; returns {'generated':..., 'real':...}."""
        generated = self.scores(samples)
        real = self.real_scores(generated["n"])
        if show:
            print(format_report(generated, real, title))
        return {"generated": generated, "real": real}


def verdict(report, goals=None):
    """Lines saying, for each goal of the course, whether the generated samples reach it."""
    goals = dict(GOALS, **(goals or {}))
    generated, real = report["generated"], report["real"]
    fd_limit = goals["frechet_multiple"] * real["frechet_distance"]
    checks = [
        (generated["digit_shares"].min() >= goals["min_digit_share"],
         f"every digit is at least {goals['min_digit_share']:.0%} of the samples "
         f"(rarest: {generated['digit_shares'].min():.1%})"),
        (generated["confident_fraction"] >= goals["confident_fraction"],
         f"at least {goals['confident_fraction']:.0%} of the samples are confidently one digit "
         f"({generated['confident_fraction']:.1%})"),
        (generated["frechet_distance"] <= fd_limit,
         f"Frechet distance at most {goals['frechet_multiple']:g} x real MNIST's = {fd_limit:.1f} "
         f"({generated['frechet_distance']:.1f})"),
    ]
    return "\n".join(f"[{'x' if passed else ' '}] {text}" for passed, text in checks)


def format_report(generated, real, title="generated"):
    """A plain-text table of the scores of generated samples next to real MNIST's."""
    width = max(len(title), 11)
    rows = [
        f"{'':34}{title:>{width}}  {'real MNIST':>11}",
        f"{'images scored':34}{generated['n']:>{width}}  {real['n']:>11}",
        (f"{'Frechet distance (lower=better)':34}{generated['frechet_distance']:>{width}.2f}"
         f"  {real['frechet_distance']:>11.2f}"),
        (f"{'classifier score (max 10)':34}{generated['classifier_score']:>{width}.2f}"
         f"  {real['classifier_score']:>11.2f}"),
        (f"{'confident (p >= 0.9)':34}{generated['confident_fraction']:>{width}.1%}"
         f"  {real['confident_fraction']:>11.1%}"),
        (f"{'rarest digit share':34}{generated['digit_shares'].min():>{width}.1%}"
         f"  {real['digit_shares'].min():>11.1%}"),
        "share of each digit:",
    ]
    for digit in range(DIGITS):
        rows.append(
            f"{'  ' + str(digit):34}{generated['digit_shares'][digit]:>{width}.1%}"
            f"  {real['digit_shares'][digit]:>11.1%}"
        )
    return "\n".join(rows)


# ----------------------------------------------------------------------------- cache


def file_sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_cache(folder):
    """(weights, info) from the cache folder; raises ValueError saying why it cannot be used."""
    weights_path, info_path = folder / WEIGHTS_FILE, folder / INFO_FILE
    if not weights_path.is_file() or not info_path.is_file():
        raise ValueError(f"no cached classifier in {folder}")
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{info_path} is not valid JSON ({error})") from error
    expected = {"format_version": FORMAT_VERSION, "architecture": ARCHITECTURE, "training": TRAINING}
    for key, value in expected.items():
        if info.get(key) != value:
            raise ValueError(f"{info_path} was written for {key}={info.get(key)!r}, this course expects {value!r}")
    if info.get("weights_sha256") != file_sha256(weights_path):
        raise ValueError(f"{weights_path} does not match the SHA-256 recorded in {info_path} (damaged or altered)")
    try:
        with np.load(weights_path) as archive:
            weights = {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as error:
        raise ValueError(f"{weights_path} cannot be read ({error})") from error
    shapes = dict(weight_shapes(), test_mean=(ARCHITECTURE["feature_units"],),
                  test_cov=(ARCHITECTURE["feature_units"],) * 2)
    for name, shape in shapes.items():
        if name not in weights or weights[name].shape != shape:
            found = weights[name].shape if name in weights else "missing"
            raise ValueError(f"{weights_path}: array {name} should have shape {shape}, found {found}")
    return weights, info


def write_cache(folder, weights, info):
    """Write atomically (temp file + rename), so an interrupted run never leaves a half cache."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".npz", delete=False) as handle:
        np.savez(handle, **weights)
    publish(handle.name, folder / WEIGHTS_FILE)
    info = dict(info, weights_sha256=file_sha256(folder / WEIGHTS_FILE))
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".json", delete=False) as handle:
        json.dump(info, handle, indent=2)
    publish(handle.name, folder / INFO_FILE)
    return info


def publish(temporary, final):
    """Rename into place, readable by everyone: the autograder's sandboxed kernels run as other users."""
    os.chmod(temporary, 0o644)
    os.replace(temporary, final)


def load_evaluator(train_if_missing=True, progress=True, folder=None):
    """The Evaluator from the cache, training (and caching) it first when the cache is missing or bad.

    With ``train_if_missing=False`` a missing or bad cache raises EvaluatorNotAvailable instead.
    """
    folder = Path(folder) if folder else cache_dir()
    try:
        weights, info = read_cache(folder)
        return Evaluator(weights, info)
    except ValueError as reason:
        if not train_if_missing:
            raise EvaluatorNotAvailable(
                f"The evaluator classifier is not available ({reason}); training it was switched off. "
                "Run grader.evaluate.load_evaluator() once (about half a minute) to train and cache it."
            ) from None
        if progress and (folder / INFO_FILE).exists():
            print(f"Evaluator cache unusable ({reason}); training it again.")
    weights, accuracy = train_classifier(progress=progress)
    if accuracy < MIN_TEST_ACCURACY:
        raise RuntimeError(
            f"The evaluator CNN reached {accuracy:.2%} test accuracy, below the required "
            f"{MIN_TEST_ACCURACY:.0%}; its seeded training should not do that. Is data/mnist intact?"
        )
    from grader.data import load_mnist

    units = ARCHITECTURE["feature_units"]
    evaluator = Evaluator(dict(weights, test_mean=np.zeros(units), test_cov=np.eye(units)), {})
    test_features, _ = evaluator.features_and_probabilities(load_mnist("test", flatten=False)[0])
    evaluator.close()
    test_mean, test_cov = mean_and_cov(test_features)
    weights = dict(weights, test_mean=test_mean, test_cov=test_cov)
    info = {"format_version": FORMAT_VERSION, "architecture": ARCHITECTURE, "training": TRAINING,
            "test_accuracy": accuracy}
    evaluator = Evaluator(weights, info)
    real = evaluator.real_scores()
    evaluator.info = write_cache(folder, weights, dict(info, real_mnist=jsonable(real)))
    if progress:
        print(f"Evaluator trained: {accuracy:.2%} test accuracy; cached in {folder}")
    return evaluator


def jsonable(scores):
    return {key: (value.tolist() if isinstance(value, np.ndarray) else value) for key, value in scores.items()}

"""Checks for notebook 8's convolutional pair and its optimiser.

    conv_generator(z, training, reuse=False, alpha=0.2, channels=64, kernel_size=5) -> (None, 784)
    conv_discriminator(x, training, reuse=False, alpha=0.2, dropout=0.3, channels=64, kernel_size=5)
        -> (sigmoid, logits), each (None, 1)
    conv_model_opt(d_loss, g_loss, learning_rate, beta1=0.5) -> (d_train_opt, g_train_opt)

Type first, then the shape of every stage (read from the transposed convolutions and convolutions
in the student's graph), then values: known weights are loaded into the student's own variables
and the graph's output is compared with :mod:`grader.checks.layers_numpy`, which computes the
same network with NumPy loops. When the values differ, the usual mistakes are computed too and
the one that reproduces the student's numbers is named. ``training`` is tested both as a Python
bool and as a boolean tensor.
"""
import numpy as np

from grader.checks import drawn
from grader.checks import layers_numpy as L
from grader.checks._common import (
    CheckFailed,
    call_student,
    check_tensor,
    close,
    describe,
    fail,
    first_mismatch,
    fresh_graph,
    names,
    new_trainable_variables,
    run,
    session,
)
from grader.checks.networks import check_reuse, missing_bias_hint
from grader.tf1 import tf

Z_DIM, CHANNELS, KERNEL = 5, 3, 3  # small, and neither channels nor kernel_size is the default
TEST_ALPHA = 0.1  # neither the default 0.2 nor 0.01: catches both hard-coded
IMAGE = 28 * 28
BN_RTOL, BN_ATOL = 1e-3, 1e-4  # batch norm's epsilon may be anything up to 1e-3; the test variances are large
BN_NAMES = ("gamma", "beta", "moving_mean", "moving_variance")
SAME_HINT = "use padding='same': each stride-2 step then exactly halves (or, transposed, doubles) the size."


# ---------------------------------------------------------------- calling and inspecting

def _call_generator(generator, z, training=True, **kwargs):
    kwargs.setdefault("channels", CHANNELS)
    kwargs.setdefault("kernel_size", KERNEL)
    return call_student(generator, z, training, **kwargs)


def _call_discriminator(discriminator, x, training=False, **kwargs):
    kwargs.setdefault("channels", CHANNELS)
    kwargs.setdefault("kernel_size", KERNEL)
    return call_student(discriminator, x, training, **kwargs)


def _image(result, name="the generator's output"):
    if isinstance(result, (tuple, list)):
        fail("conv_generator should return one tensor, the images.", expected="a tensor of shape (None, 784)",
             found=describe(result), hint="return only the tanh output, reshaped to (-1, 784).")
    if isinstance(result, tf.Tensor) and result.shape.rank == 4 and result.shape.as_list()[1:] == [28, 28, 1]:
        fail(f"{name} is images of 28 x 28 x 1; the course feeds flattened images.",
             expected="shape (None, 784)", found=f"shape {result.shape}",
             hint="flatten the tanh output: tf.reshape(images, (-1, 784)).")
    check_tensor(result, name, (None, IMAGE), tf.float32)
    return result


def _pair(result):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("conv_discriminator should return two tensors.", expected="(sigmoid_output, logits)",
             found=describe(result), hint="end with `return tf.sigmoid(logits), logits`.")
    for tensor, what in zip(result, ("first output (the probability)", "second output (the logits)"), strict=True):
        check_tensor(tensor, f"the discriminator's {what}", (None, 1), tf.float32)
    return result


def _new_ops(graph, before, types):
    return [op for op in graph.get_operations()[before:] if op.type in types]


def _stages(ops):
    return [tuple(op.outputs[0].shape.as_list()) for op in ops]


def _size_hint(stages, wanted):
    sizes = [shape[1] for shape in stages if len(shape) == 4]
    if sizes and sizes[-1] == 32:
        return ("the image grows to 32 x 32 (4 x 4 doubled three times), the size of CIFAR: MNIST is 28 x 28, "
                "so start from 7 x 7 and double twice (7 -> 14 -> 28).")
    if sizes and any(size not in (7, 14, 28) for size in sizes):
        return "the sizes are not 7, 14, 28: " + SAME_HINT
    if len(stages) != len(wanted):
        return f"there are {len(stages)} such layers; the exercise asks for {len(wanted)}."
    return None


def _channels_first_hint(kind, ops):
    """A hint when the first layer reads a channels-first map: (n, C, 7, 7) for G, (n, 1, 28, 28) for D."""
    if not ops:
        return None
    value = ops[0].inputs[2 if ops[0].type in TRANSPOSED else 0]
    shape = value.shape.as_list() if value.shape.rank == 4 else None
    side, reshape = (7, "(-1, 7, 7, 2 * channels)") if kind == "generator" else (28, "(-1, 28, 28, 1)")
    if shape and shape[2] == side and shape[3] == side and shape[1] != side:
        return (f"the first layer reads a map of shape {tuple(shape)}: channels-first (batch, channels, height, "
                f"width). TensorFlow's convolutions expect channels last: reshape to {reshape}.")
    return None


def _check_stages(kind, graph, before, types, wanted):
    ops = _new_ops(graph, before, types)
    stages = _stages(ops)
    if stages != wanted:
        layer = "transposed convolutions" if kind == "generator" else "convolutions"
        fail(f"The {kind}'s {layer} produce the wrong sizes.",
             expected=" -> ".join(str(shape) for shape in wanted),
             found=" -> ".join(str(shape) for shape in stages) or f"no {layer} in the graph",
             hint=_channels_first_hint(kind, ops) or _size_hint(stages, wanted))


TRAINING_MODES = ((True, "True"), (False, "False"), (None, "a boolean tensor"))  # None: a placeholder


def _training_flag(training):
    """``training`` itself, or for None a boolean placeholder (False unless fed) standing for a tensor."""
    return tf.placeholder_with_default(False, ()) if training is None else training


GENERATOR_STAGES = [(None, 14, 14, CHANNELS), (None, 28, 28, 1)]
DISCRIMINATOR_STAGES = [(None, 14, 14, CHANNELS), (None, 7, 7, 2 * CHANNELS)]
TRANSPOSED = ("Conv2DBackpropInput",)
CONVOLUTIONS = ("Conv2D",)


# ---------------------------------------------------------------- the generator's variables

def _name_role(variable):
    leaf = variable.op.name.rsplit("/", 1)[-1].lower()
    for role, words in (("gamma", ("gamma", "scale")), ("beta", ("beta", "offset", "shift")),
                        ("mean", ("mean",)), ("variance", ("variance", "var"))):
        if any(word in leaf for word in words):
            return role
    return None


def _split_normalisation(variables):
    """{'gamma': v, 'beta': v} from two same-shaped variables, by name, else in creation order."""
    roles = {_name_role(v): v for v in variables}
    if set(roles) >= {"gamma", "beta"}:
        return {"gamma": roles["gamma"], "beta": roles["beta"]}
    return dict(zip(("gamma", "beta"), variables, strict=True))


def generator_layers(variables, z_dim=Z_DIM, channels=CHANNELS, kernel=KERNEL):
    """Map the generator's variables to their roles, or fail naming what is off."""
    outside = [v for v in variables if not v.name.startswith("generator/")]
    if outside:
        fail("Some of the generator's variables are outside the 'generator/' scope.",
             expected="every variable name starting with 'generator/'", found=names(outside),
             hint="build every layer inside `with tf.variable_scope('generator', reuse=reuse):`.")
    by_shape = {}
    for v in variables:
        by_shape.setdefault(tuple(v.shape.as_list()), []).append(v)
    wide = 2 * channels
    wanted_kernels = {"dense kernel": (z_dim, 7 * 7 * wide), "transposed 1 kernel": (kernel, kernel, channels, wide),
                      "transposed 2 kernel": (kernel, kernel, 1, channels)}
    found_shapes = [tuple(v.shape.as_list()) for v in variables]
    for label, shape in wanted_kernels.items():
        if shape not in by_shape:
            fail(f"The generator has no {label} of shape {shape} (z of {z_dim}, channels={channels}, "
                 f"kernel_size={kernel}).",
                 expected=("dense (z_dim, 7*7*2*channels), transposed convolutions (k, k, channels, 2*channels) "
                           "and (k, k, 1, channels), batch norm's gamma and beta after the first two layers"),
                 found=found_shapes, hint=_generator_shape_hint(found_shapes, z_dim, channels, kernel))
    layers = {label: by_shape[shape][0] for label, shape in wanted_kernels.items()}
    wide_vectors = by_shape.get((7 * 7 * wide,), [])
    if len(wide_vectors) > 1:
        fail("Batch norm after the dense layer works on the 7*7*2*channels features, not on 2*channels channels.",
             expected=f"gamma and beta of shape ({wide},)", found=found_shapes,
             hint="reshape to (-1, 7, 7, 2 * channels) first, then normalise: one gamma and beta per channel.")
    if wide_vectors:
        layers["dense bias"] = wide_vectors[0]
    if len(by_shape.get((wide,), [])) != 2:
        fail("The generator's first batch norm needs a gamma and a beta of one value per channel.",
             expected=f"two variables of shape ({wide},)", found=found_shapes,
             hint="apply tf.layers.batch_normalization(h, training=training) after the reshape to 7 x 7 x 2C.")
    layers.update({f"bn1 {role}": v for role, v in _split_normalisation(by_shape[(wide,)]).items()})
    narrow = by_shape.get((channels,), [])
    if len(narrow) not in (2, 3):
        fail("The generator's second batch norm needs a gamma and a beta of one value per channel.",
             expected=f"two variables of shape ({channels},) (three with the transposed convolution's bias)",
             found=found_shapes,
             hint="apply batch norm after the first transposed convolution too, before its leaky ReLU.")
    if len(narrow) == 3:
        roles = [_name_role(v) for v in narrow]
        bias = next((v for v, role in zip(narrow, roles, strict=True) if role not in ("gamma", "beta")), narrow[0])
        layers["transposed 1 bias"] = bias
        narrow = [v for v in narrow if v is not bias]
    layers.update({f"bn2 {role}": v for role, v in _split_normalisation(narrow).items()})
    if (1,) not in by_shape:
        fail("The generator's output layer has no bias.",
             expected="a bias of shape (1,) for the last transposed convolution", found=found_shapes,
             hint="no batch norm follows the output layer, so only its own bias can shift it: keep "
                  "tf.layers.conv2d_transpose's default use_bias=True there (only the layers before a batch norm may "
                  "drop it); built by hand, add a bias variable, tf.nn.conv2d_transpose(...) + bias.")
    layers["transposed 2 bias"] = by_shape[(1,)][0]
    extra = [v.name for v in variables if v not in layers.values()]
    if extra:
        hint = None
        if any(len(v.shape) == 1 and v.shape[0] == 1 for v in variables if v.name in extra):
            hint = "batch norm on the output layer: DCGAN leaves it out, so the tanh sees the layer's own values."
        fail("The generator has variables the exercise does not ask for.",
             expected="dense, batch norm, transposed conv, batch norm, transposed conv", found=extra, hint=hint)
    return layers


def _generator_shape_hint(shapes, z_dim, channels, kernel):
    kernels = [s for s in shapes if len(s) == 4]
    dense = [s for s in shapes if len(s) == 2]
    if dense and dense[0][1] == 4 * 4 * 2 * channels:
        return ("the dense layer makes 4 x 4 maps: two stride-2 steps then give 16 x 16 (three give 32): "
                "start from 7 x 7.")
    if dense and dense[0][1] == 7 * 7 * channels:
        return "the dense layer should make 7 x 7 x (2 * channels) values: the first maps have twice the channels."
    if any(s[0] != kernel for s in kernels):
        return f"pass kernel_size on to the layers (the test uses kernel_size={kernel})."
    if kernels and kernels[0][3] == 7 and 2 * channels != 7:
        return ("the first transposed convolution reads 7 input channels: the dense output was reshaped "
                "channels-first, (-1, 2 * channels, 7, 7). TensorFlow's images are channels last: reshape to "
                "(-1, 7, 7, 2 * channels).")
    if kernels and all(s[-1] != 2 * channels for s in kernels):
        return f"use the channels argument (the test uses channels={channels}): 2 * channels, then channels, then 1."
    if len(kernels) > 2:
        return "there are more than two transposed convolutions: 7 -> 14 -> 28 takes two."
    if kernels and any(s[2] == 1 and s[3] == 1 for s in kernels):
        return "a layer has one channel too early: only the last transposed convolution has 1 output channel."
    return None


def moving_statistics(graph, channels=CHANNELS):
    """{'bn1 mean': v, 'bn1 variance': v, 'bn2 ...'} among the generator's non-trainable variables."""
    trainable = {id(v) for v in graph.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES)}
    kept = [v for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
            if id(v) not in trainable and v.name.startswith("generator/")]
    statistics = {}
    for label, size in (("bn1", 2 * channels), ("bn2", channels)):
        found = [v for v in kept if v.shape.as_list() == [size]]
        roles = {_name_role(v): v for v in found}
        if len(found) != 2 or set(roles) != {"mean", "variance"}:
            fail(f"The generator's {'first' if label == 'bn1' else 'second'} batch norm keeps no moving mean and "
                 "variance.",
                 expected=f"two non-trainable variables of shape ({size},), named ..._mean and ..._variance",
                 found=[v.name for v in kept] or "no non-trainable variables",
                 hint="tf.layers.batch_normalization keeps them; if you keep them yourself, create them with "
                      "trainable=False and names ending in moving_mean and moving_variance.")
        statistics[f"{label} mean"], statistics[f"{label} variance"] = roles["mean"], roles["variance"]
    return statistics


def _random_generator_values(layers, rng):
    """Test weights: large pre-normalisation variances (batch norm's epsilon then hardly matters)."""
    values = {}
    for label, variable in layers.items():
        shape = variable.shape.as_list()
        if label.endswith("gamma"):
            values[label] = rng.uniform(0.5, 1.5, shape)
        elif label.endswith("beta") or label.endswith("bias"):
            values[label] = rng.normal(0.0, 0.5, shape)
        elif label == "transposed 2 kernel":
            values[label] = rng.normal(0.0, 0.3, shape)
        else:
            values[label] = rng.normal(0.0, 3.0, shape)
    return {label: value.astype(np.float32) for label, value in values.items()}


def _random_statistics(z, weights, alpha, rng, channels=CHANNELS):
    """Moving averages near the statistics the layers really see (random per channel, but on the same
    scale): the normalised values stay of order 1, so batch norm's epsilon (up to 1e-3) hardly matters."""
    statistics = {}
    h = np.asarray(z, np.float64) @ weights["dense kernel"] + weights.get("dense bias", 0.0)
    h = h.reshape(-1, 7, 7, 2 * channels)
    for label in ("bn1", "bn2"):
        mean, variance = h.mean(axis=(0, 1, 2)), h.var(axis=(0, 1, 2))
        statistics[f"{label} mean"] = mean + np.sqrt(variance) * rng.normal(0.0, 0.5, mean.shape)
        statistics[f"{label} variance"] = variance * rng.uniform(0.5, 2.0, variance.shape)
        h = L.leaky_relu(L.batch_norm(h, weights[f"{label} gamma"], weights[f"{label} beta"],
                                      statistics[f"{label} mean"], statistics[f"{label} variance"]), alpha)
        if label == "bn1":
            h = L.conv2d_transpose(h, weights["transposed 1 kernel"], weights.get("transposed 1 bias", 0.0), stride=2)
    return {label: value.astype(np.float32) for label, value in statistics.items()}


def _assign(sess, variables, values):
    run(sess, tf.global_variables_initializer(), what="initialising your variables")
    run(sess, [tf.assign(variables[label], value) for label, value in values.items()], what="loading test weights")


def generator_numpy(z, w, alpha, statistics=None, channels=CHANNELS, channels_first=False, activation=None,
                    output=np.tanh, activate_first=()):
    """The generator in NumPy; ``statistics`` None means batch statistics (training mode).

    The keyword arguments after ``statistics`` reproduce the usual mistakes for the diagnosis."""
    activation = activation or (lambda h: L.leaky_relu(h, alpha))
    stats = statistics or {}

    def normalise(h, label):
        gamma, beta = w[f"{label} gamma"], w[f"{label} beta"]
        first = label in activate_first
        if first:
            h = activation(h)
        h = L.batch_norm(h, gamma, beta, stats.get(f"{label} mean"), stats.get(f"{label} variance"))
        return h if first else activation(h)

    h = np.asarray(z, np.float64) @ w["dense kernel"] + w.get("dense bias", 0.0)
    h = h.reshape(-1, 2 * channels, 7, 7).transpose(0, 2, 3, 1) if channels_first else h.reshape(-1, 7, 7,
                                                                                                   2 * channels)
    h = normalise(h, "bn1")
    h = L.conv2d_transpose(h, w["transposed 1 kernel"], w.get("transposed 1 bias", 0.0), stride=2)
    h = normalise(h, "bn2")
    h = L.conv2d_transpose(h, w["transposed 2 kernel"], w.get("transposed 2 bias", 0.0), stride=2)
    return output(h).reshape(-1, IMAGE)


def _generator_mistakes(alpha, mode):
    """(keyword arguments of generator_numpy, hint) for the usual mistakes; ``mode`` is 'batch' or 'moving'."""
    other = "moving" if mode == "batch" else "batch"
    mode_hint = {
        "moving": "batch norm uses its moving averages while training: pass training=training to "
                  "tf.layers.batch_normalization (its default is training=False).",
        "batch": "batch norm uses the batch's statistics at inference: pass training=training to batch norm "
                 "instead of training=True.",
    }[other]
    mistakes = [({"mode": other}, mode_hint),
                ({"channels_first": True}, "the dense output is reshaped channels-first: reshape it to "
                                           "(-1, 7, 7, 2 * channels), TensorFlow's NHWC layout."),
                ({"activation": lambda h: np.maximum(h, 0.0)}, "plain ReLU: use a leaky ReLU, "
                                                               "tf.maximum(alpha * h, h)."),
                ({"activate_first": ("bn1", "bn2")}, "the leaky ReLU comes before batch norm: normalise first, "
                                                     "then activate."),
                ({"activate_first": ("bn1",)}, "in the first block the leaky ReLU comes before batch norm: "
                                               "normalise first, then activate."),
                ({"activate_first": ("bn2",)}, "in the second block the leaky ReLU comes before batch norm: "
                                               "normalise first, then activate."),
                ({"output": lambda h: h}, "the output has no tanh: finish with tf.tanh."),
                ({"output": L.sigmoid}, "the output uses sigmoid: use tf.tanh, as the images lie in [-1, 1].")]
    for fixed in (0.2, 0.01):
        if not np.isclose(alpha, fixed):
            mistakes.append(({"activation": lambda h, a=fixed: L.leaky_relu(h, a)},
                             f"the leak is {fixed} whatever alpha is passed: use the alpha argument."))
    return mistakes


def _generator_diagnosis(found, z, w, alpha, statistics, mode):
    for kwargs, hint in _generator_mistakes(alpha, mode):
        kwargs = dict(kwargs)
        use = kwargs.pop("mode", mode)
        expected = generator_numpy(z, w, alpha, statistics if use == "moving" else None, **kwargs)
        if close(expected, found, BN_RTOL, BN_ATOL):
            return hint
    return None


# ---------------------------------------------------------------- generator checks

def conv_generator_output(conv_generator):
    """One float32 tensor of shape (None, 784), through 14 x 14 x channels and 28 x 28 x 1, whatever `training` is."""
    for training, shown in TRAINING_MODES:
        with fresh_graph() as graph:
            z = tf.placeholder(tf.float32, [None, Z_DIM])
            flag = _training_flag(training)
            before = len(graph.get_operations())
            result = _call_generator(conv_generator, z, flag)
            if not isinstance(result, tf.Tensor):
                _image(result)
            _check_stages("generator", graph, before, TRANSPOSED, GENERATOR_STAGES)
            image = _image(result, f"the generator's output (training={shown})")
            with session(graph) as sess:
                run(sess, tf.global_variables_initializer(), what="initialising your variables")
                feed = {z: np.random.default_rng(0).normal(size=(3, Z_DIM)).astype(np.float32)}
                values = run(sess, image, feed, what=f"running your generator on 3 latent vectors (training={shown})")
        if values.shape != (3, IMAGE):
            fail("The generator's output for 3 latent vectors has the wrong shape.", expected=(3, IMAGE),
                 found=values.shape, hint="reshape with -1 for the batch: tf.reshape(h, (-1, 784)).")
        if np.min(values) < -1 - 1e-6 or np.max(values) > 1 + 1e-6:
            fail("The generator's values leave [-1, 1].", expected="tanh output in [-1, 1]",
                 found=f"min {np.min(values):.3g}, max {np.max(values):.3g}", hint="finish with tf.tanh.")


def conv_generator_variables(conv_generator):
    """Under 'generator/': dense (z, 7*7*2C), gamma/beta (2C), transposed (k, k, C, 2C), gamma/beta (C), (k, k, 1, C)
    (the biases before batch norm are optional)."""
    for use_defaults, z_dim, channels, kernel in ((False, Z_DIM, CHANNELS, KERNEL), (True, 4, 64, 5)):
        with fresh_graph() as graph:
            z = tf.placeholder(tf.float32, [None, z_dim])
            _image(call_student(conv_generator, z, True) if use_defaults else _call_generator(conv_generator, z, True))
            try:
                generator_layers(new_trainable_variables(graph), z_dim, channels, kernel)
                moving_statistics(graph, channels)
            except CheckFailed as error:
                if use_defaults:
                    raise CheckFailed(f"{error}\n  (called without channels and kernel_size: the signature's "
                                      "defaults are channels=64, kernel_size=5)") from None
                raise


def conv_generator_reuse(conv_generator):
    """reuse=True builds a second copy on new input with the same variables and creates none."""
    check_reuse("generator", conv_generator, Z_DIM,
                 lambda f, x, **kw: _call_generator(f, x, False, **kw), _image)


def _built_generator(conv_generator, training, alpha=TEST_ALPHA):
    graph = tf.get_default_graph()
    z = tf.placeholder(tf.float32, [None, Z_DIM])
    image = _image(_call_generator(conv_generator, z, training, alpha=alpha))
    layers = generator_layers(new_trainable_variables(graph))
    statistics = moving_statistics(graph)
    return z, image, layers, statistics


def conv_generator_forward(conv_generator, inputs=None):
    """Values match a NumPy generator: batch statistics when training, the moving averages otherwise."""
    drawn_inputs = drawn.pick(inputs)
    alpha = drawn_inputs.alpha
    rng = np.random.default_rng(11 if drawn_inputs.seed is None else drawn_inputs.network_seed)
    z_values = rng.normal(0.0, 1.0, (drawn_inputs.batch, Z_DIM)).astype(np.float32)
    for training, shown in TRAINING_MODES:
        with fresh_graph() as graph:
            flag = _training_flag(training)
            z, image, layers, statistics = _built_generator(conv_generator, flag, alpha)
            weights = _random_generator_values(layers, rng)
            moving = _random_statistics(z_values, weights, alpha, rng)
            modes = [("batch", True), ("moving", False)] if training is None else [
                ("batch" if training else "moving", training)]
            with session(graph) as sess:
                _assign(sess, {**layers, **statistics}, {**weights, **moving})
                for mode, fed in modes:
                    feed = {z: z_values} if training is not None else {z: z_values, flag: fed}
                    found = run(sess, image, feed, what="running your generator")
                    expected = generator_numpy(z_values, weights, alpha, moving if mode == "moving" else None)
                    if close(expected, found, BN_RTOL, BN_ATOL):
                        continue
                    what = "training" if mode == "batch" else "inference"
                    fail(f"The generator's values differ from a NumPy generator with training={shown}"
                         f"{f' fed {fed}' if training is None else ''} ({what}: "
                         f"{'batch statistics' if mode == 'batch' else 'the moving averages'}).",
                         expected=f"tanh(T2(lrelu(BN(T1(lrelu(BN(reshape(z W)))))))) with alpha={alpha}",
                         found=first_mismatch(expected, found),
                         hint=_generator_diagnosis(found, z_values, weights, alpha, moving, mode))


def conv_generator_training_modes(conv_generator):
    """When training, each image depends on the rest of the batch (batch statistics); at inference it does not."""
    rng = np.random.default_rng(12)
    batch = rng.normal(0.0, 1.0, (8, Z_DIM)).astype(np.float32)
    other = batch.copy()
    other[1:] = rng.normal(2.0, 1.0, (7, Z_DIM))
    with fresh_graph() as graph:
        flag = tf.placeholder_with_default(False, ())
        z = tf.placeholder(tf.float32, [None, Z_DIM])
        image = _image(_call_generator(conv_generator, z, flag))
        with session(graph) as sess:
            run(sess, tf.global_variables_initializer(), what="initialising your variables")
            outputs = {fed: [run(sess, image, {z: values, flag: fed})[0] for values in (batch, other)]
                       for fed in (True, False)}
    if close(*outputs[True]):
        fail("With training=True, the first image does not change when the rest of the batch does.",
             expected="batch statistics: each image depends on the whole batch",
             found="the same first image for two different batches",
             hint="batch norm is in inference mode while training: pass training=training to "
                  "tf.layers.batch_normalization (it defaults to False).")
    if not close(*outputs[False]):
        fail("With training=False, the first image changes when the rest of the batch does.",
             expected="the moving averages: each image independent of the others",
             found=f"two different first images ({first_mismatch(*outputs[False])})",
             hint="batch norm uses batch statistics at inference: pass training=training, not training=True.")


def conv_generator_batch_norm_updates(conv_generator):
    """Batch norm registers its moving-average updates in UPDATE_OPS; they run only when those ops run."""
    rng = np.random.default_rng(13)
    z_values = rng.normal(0.0, 1.0, (32, Z_DIM)).astype(np.float32)
    with fresh_graph() as graph:
        z, image, layers, statistics = _built_generator(conv_generator, True)
        updates = graph.get_collection(tf.GraphKeys.UPDATE_OPS)
        if not updates:
            fail("Building the generator with training=True added nothing to tf.GraphKeys.UPDATE_OPS.",
                 expected="batch norm's moving-average updates in UPDATE_OPS",
                 found="an empty collection",
                 hint="batch norm called without training=training (its default is False) creates no updates: "
                      "pass it on. Moving averages you keep yourself need "
                      "tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, update_op).")
        outside = [op.name for op in updates if not op.name.startswith("generator")]
        if outside:
            fail("Some of the generator's update ops are outside its scope.", expected="names under 'generator'",
                 found=outside, hint="create batch norm inside tf.variable_scope('generator').")
        order = ["bn1 mean", "bn1 variance", "bn2 mean", "bn2 variance"]
        fetch = [statistics[label] for label in order]
        with session(graph) as sess:
            run(sess, tf.global_variables_initializer(), what="initialising your variables")
            start = run(sess, fetch)
            run(sess, image, {z: z_values})
            after_forward = run(sess, fetch)
            run(sess, updates, {z: z_values}, what="running UPDATE_OPS")
            after_updates = run(sess, fetch)
    if not all(np.allclose(a, b) for a, b in zip(start, after_forward, strict=True)):
        fail("Running the generator's output alone changed the moving averages.",
             expected="moving averages that change only when UPDATE_OPS run (with the train op)",
             found="changed after computing images", hint="do not tie the updates to the output (e.g. with "
                                                          "tf.control_dependencies around it): register them in "
                                                          "UPDATE_OPS and let the optimiser run them.")
    unchanged = [label for label, a, b in zip(order, start, after_updates, strict=True) if np.allclose(a, b)]
    if unchanged:
        fail("Running UPDATE_OPS left some moving averages unchanged.", expected="every moving mean and variance "
             "moves towards the batch's", found=f"unchanged: {unchanged}",
             hint="every batch norm layer needs both updates (tf.layers.batch_normalization makes them).")
    for label in ("bn1", "bn2"):
        mean_step = after_updates[order.index(f"{label} mean")] - start[order.index(f"{label} mean")]
        if not np.all(np.isfinite(mean_step)):
            fail("The moving mean is not finite after one update.", found=mean_step[:4])


# ---------------------------------------------------------------- the discriminator

def discriminator_layers(variables, channels=CHANNELS, kernel=KERNEL):
    """Map the discriminator's variables to conv 1, conv 2 and the logit layer, or fail naming what is off."""
    outside = [v for v in variables if not v.name.startswith("discriminator/")]
    if outside:
        fail("Some of the discriminator's variables are outside the 'discriminator/' scope.",
             expected="every variable name starting with 'discriminator/'", found=names(outside),
             hint="build every layer inside `with tf.variable_scope('discriminator', reuse=reuse):`.")
    wide = 2 * channels
    wanted = {"conv 1 kernel": (kernel, kernel, 1, channels), "conv 1 bias": (channels,),
              "conv 2 kernel": (kernel, kernel, channels, wide), "conv 2 bias": (wide,),
              "logit kernel": (7 * 7 * wide, 1), "logit bias": (1,)}
    shapes = [tuple(v.shape.as_list()) for v in variables]
    by_shape = {}
    for v in variables:
        by_shape.setdefault(tuple(v.shape.as_list()), []).append(v)
    if len(variables) == len(wanted) and all(len(by_shape.get(s, [])) == 1 for s in wanted.values()):
        return {label: by_shape[shape][0] for label, shape in wanted.items()}
    hint = missing_bias_hint(wanted, variables, "tf.layers.conv2d (and tf.layers.dense)",
                             "tf.nn.conv2d(h, kernel, ...) + bias")
    if hint:
        pass
    elif (kernel, kernel, 1, wide) in by_shape:
        hint = ("the second convolution takes 1 input channel: it is fed the input image instead of the first "
                "layer's output. Feed each layer the previous layer's output.")
    elif shapes.count((channels,)) > 1:
        hint = ("batch norm on the first layer: DCGAN leaves it out of the discriminator's first layer "
                "(this exercise leaves it out of the discriminator altogether).")
    elif shapes.count((wide,)) > 1:
        hint = "batch norm in the discriminator: this exercise's discriminator has none (dropout instead)."
    elif any(len(s) == 4 and s[2] == 28 for s in shapes):
        hint = "the images are reshaped channels-first: reshape x to (-1, 28, 28, 1), TensorFlow's NHWC layout."
    elif any(len(s) == 2 and s[0] != 7 * 7 * wide for s in shapes):
        rows = next(s[0] for s in shapes if len(s) == 2)
        side = int(round((rows / wide) ** 0.5)) if rows % wide == 0 else None
        hint = (f"the logit layer takes {rows} values ({side} x {side} x {wide}): with padding='valid' the maps "
                f"shrink; {SAME_HINT}") if side and side != 7 else f"flatten the 7 x 7 x {wide} maps for the logit."
    elif any(len(s) == 4 and s[0] != kernel for s in shapes):
        hint = f"pass kernel_size on to the layers (the test uses kernel_size={kernel})."
    elif any(len(s) == 4 and s[-1] not in (channels, wide) for s in shapes):
        hint = f"use the channels argument (the test uses channels={channels}): channels, then 2 * channels."
    fail("The discriminator's variables are not two convolutions and a logit layer.",
         expected=list(wanted.values()), found=shapes, hint=hint)


def discriminator_numpy(x, w, alpha, channels=CHANNELS, activation=None, channels_first_flatten=False,
                        logits_through_sigmoid=False):
    activation = activation or (lambda h: L.leaky_relu(h, alpha))
    h = np.asarray(x, np.float64).reshape(-1, 28, 28, 1)
    h = activation(L.conv2d(h, w["conv 1 kernel"], w["conv 1 bias"], stride=2))
    h = activation(L.conv2d(h, w["conv 2 kernel"], w["conv 2 bias"], stride=2))
    flat = h.transpose(0, 3, 1, 2).reshape(len(h), -1) if channels_first_flatten else h.reshape(len(h), -1)
    logits = flat @ w["logit kernel"] + w["logit bias"]
    return L.sigmoid(logits) if logits_through_sigmoid else logits


def _discriminator_mistakes(alpha):
    mistakes = [({"channels_first_flatten": True}, "the maps are flattened channels-first: flatten the NHWC "
                                                   "tensor as it is, tf.reshape(h, (-1, 7 * 7 * 2 * channels))."),
                ({"activation": lambda h: np.maximum(h, 0.0)}, "plain ReLU: use a leaky ReLU."),
                ({"activation": lambda h: h}, "no activation after the convolutions: add a leaky ReLU after each."),
                ({"logits_through_sigmoid": True}, "the logits already went through a sigmoid (sigmoid, then the "
                                                   "loss's sigmoid again): return the raw values as logits.")]
    for fixed in (0.2, 0.01):
        if not np.isclose(alpha, fixed):
            mistakes.append(({"activation": lambda h, a=fixed: L.leaky_relu(h, a)},
                             f"the leak is {fixed} whatever alpha is passed: use the alpha argument."))
    return mistakes


def conv_discriminator_outputs(conv_discriminator):
    """(sigmoid, logits), each (None, 1), through 14 x 14 x C and 7 x 7 x 2C, for any batch size and `training`."""
    for training, shown in TRAINING_MODES:
        with fresh_graph() as graph:
            x = tf.placeholder(tf.float32, [None, IMAGE])
            flag = _training_flag(training)
            before = len(graph.get_operations())
            out, logits = _pair(_call_discriminator(conv_discriminator, x, flag))
            _check_stages("discriminator", graph, before, CONVOLUTIONS, DISCRIMINATOR_STAGES)
            with session(graph) as sess:
                run(sess, tf.global_variables_initializer(), what="initialising your variables")
                for batch in (1, 5):
                    values = np.random.default_rng(batch).uniform(-1, 1, (batch, IMAGE)).astype(np.float32)
                    found = run(sess, [out, logits], {x: values},
                                what=f"running your discriminator on {batch} image(s) (training={shown})")
                    if found[1].shape != (batch, 1):
                        fail(f"For {batch} images the logits have the wrong shape.", expected=(batch, 1),
                             found=found[1].shape, hint="flatten with -1 for the batch size, never a fixed number.")


def conv_discriminator_variables(conv_discriminator):
    """Under 'discriminator/': conv (k, k, 1, C), conv (k, k, C, 2C), logit (7*7*2C, 1), each with a bias;
    no batch norm."""
    for channels, kernel, defaults in ((CHANNELS, KERNEL, False), (64, 5, True)):
        with fresh_graph() as graph:
            x = tf.placeholder(tf.float32, [None, IMAGE])
            result = call_student(conv_discriminator, x, False) if defaults else _call_discriminator(
                conv_discriminator, x, False)
            _pair(result)
            extra = [v for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES) if v.name.startswith(
                "discriminator/") and "moving" in v.name]
            discriminator_layers(new_trainable_variables(graph), channels, kernel)
            if extra:
                fail("The discriminator keeps batch norm statistics.", expected="no batch norm",
                     found=names(extra), hint="this exercise's discriminator uses dropout, not batch norm.")


def conv_discriminator_reuse(conv_discriminator):
    """The fake-image copy (reuse=True) shares every variable with the real-image copy and creates none."""
    check_reuse("discriminator", conv_discriminator, IMAGE,
                 lambda f, x, **kw: _call_discriminator(f, x, False, **kw), lambda result: _pair(result)[1])


def _load_discriminator(sess, layers, values):
    _assign(sess, layers, values)


def _random_discriminator_values(layers, rng):
    scale = {"conv 1 kernel": 1.0, "conv 2 kernel": 0.5, "logit kernel": 0.1}
    return {label: rng.normal(0.0, scale.get(label, 0.3), v.shape.as_list()).astype(np.float32)
            for label, v in layers.items()}


def conv_discriminator_forward(conv_discriminator):
    """With dropout off (training False, or dropout=0), the logits match NumPy convolutions, and the first output
    is sigmoid(logits)."""
    rng = np.random.default_rng(21)
    x_values = rng.uniform(-1.0, 1.0, (6, IMAGE)).astype(np.float32)
    for training, dropout, shown in ((False, 0.3, "training=False"), (True, 0.0, "training=True, dropout=0.0")):
        with fresh_graph() as graph:
            x = tf.placeholder(tf.float32, [None, IMAGE])
            out, logits = _pair(_call_discriminator(conv_discriminator, x, training, alpha=TEST_ALPHA,
                                                    dropout=dropout))
            layers = discriminator_layers(new_trainable_variables(graph))
            weights = _random_discriminator_values(layers, rng)
            with session(graph) as sess:
                _load_discriminator(sess, layers, weights)
                found_out, found_logits = run(sess, [out, logits], {x: x_values})
                again = run(sess, logits, {x: x_values})
        if not close(found_logits, again):
            fail(f"With {shown} the discriminator gives different logits for the same images in two runs.",
                 expected="no dropout: the same logits every time", found=first_mismatch(found_logits, again),
                 hint="dropout is on when it should be off: tf.nn.dropout is always on; use "
                      "tf.layers.dropout(h, rate=dropout, training=training).")
        expected = discriminator_numpy(x_values, weights, TEST_ALPHA)
        if close(expected, found_out, 1e-3, 1e-4) and close(L.sigmoid(expected), found_logits, 1e-3, 1e-4):
            fail(f"The discriminator's two outputs are swapped ({shown}).",
                 expected="(tf.sigmoid(logits), logits)", found="(logits, tf.sigmoid(logits))",
                 hint="return the probability first and the raw logits second: return tf.sigmoid(logits), logits.")
        if not close(expected, found_logits, 1e-3, 1e-4):
            hint = next((hint for kwargs, hint in _discriminator_mistakes(TEST_ALPHA)
                         if close(discriminator_numpy(x_values, weights, TEST_ALPHA, **kwargs), found_logits,
                                  1e-3, 1e-4)), None)
            if hint is None and training:
                hint = ("with dropout=0.0 nothing should be dropped: pass the dropout argument on as the rate, "
                        "tf.layers.dropout(h, rate=dropout, training=training).")
            fail(f"The discriminator's logits differ from NumPy convolutions ({shown}, alpha={TEST_ALPHA}).",
                 expected="dense(flatten(lrelu(conv2(lrelu(conv1(x))))))", found=first_mismatch(expected,
                                                                                                  found_logits),
                 hint=hint)
        if not close(L.sigmoid(expected), found_out, 1e-3, 1e-4):
            twice = close(L.sigmoid(L.sigmoid(expected)), found_out, 1e-3, 1e-4)
            fail("The discriminator's first output is not sigmoid(logits).", expected="tf.sigmoid(logits)",
                 found=first_mismatch(L.sigmoid(expected), found_out),
                 hint="the sigmoid is applied twice: the first output is tf.sigmoid(tf.sigmoid(logits)); apply it "
                      "once, return tf.sigmoid(logits), logits." if twice else
                      "return tf.sigmoid(logits), logits (in that order).")


DROPOUT_RATE, DROPOUT_BATCH = 0.25, 4000


def _dropout_probe_values(layers, kernel=KERNEL, channels=CHANNELS):
    """Weights that make the logit the product of two dropout masks: every first-layer unit is 1, the second
    layer copies one of them, the logit copies one second-layer unit. Without dropout the logit is 1; with
    inverted dropout at rate r on both hidden layers it is 0 or 1 / (1 - r)^2, nonzero with chance (1 - r)^2."""
    values = {label: np.zeros(v.shape.as_list(), np.float32) for label, v in layers.items()}
    values["conv 1 bias"][:] = 1.0
    centre = kernel // 2
    values["conv 2 kernel"][centre, centre, 0, 0] = 1.0
    values["logit kernel"][(3 * 7 + 3) * 2 * channels, 0] = 1.0
    return values


def conv_discriminator_dropout(conv_discriminator):
    """Dropout at rate `dropout` after both hidden layers when training (inverted: kept units scaled by
    1/(1-rate)), and none at inference, for a bool and a tensor `training`."""
    zeros = np.zeros((DROPOUT_BATCH, IMAGE), np.float32)
    with fresh_graph() as graph:
        x = tf.placeholder(tf.float32, [None, IMAGE])
        flag = tf.placeholder_with_default(False, ())
        outputs = _pair(_call_discriminator(conv_discriminator, x, flag, dropout=DROPOUT_RATE))
        layers = discriminator_layers(new_trainable_variables(graph))
        with session(graph) as sess:
            _load_discriminator(sess, layers, _dropout_probe_values(layers))
            shown = run(sess, list(outputs), {x: zeros[:50], flag: False})
            raw = _raw_probe_logits(shown)
            inference, training = raw(shown), raw(run(sess, list(outputs), {x: zeros, flag: True}))
    if not np.allclose(inference, 1.0, atol=1e-5):
        fail("With training=False the discriminator still drops units.",
             expected="no dropout at inference (every logit 1 with the test weights)",
             found=f"logits {np.unique(np.round(inference, 3))[:5]}",
             hint="tf.nn.dropout is always on: use tf.layers.dropout(h, rate=dropout, training=training).")
    _judge_dropout(training, "training=True")


def _raw_probe_logits(inference):
    """How to read the probe's raw logits (1 at inference) from (first, second) output: the logits themselves,
    or, when the outputs are swapped or the logits went through a sigmoid, the first output or the logit of
    the second. Dropout is then judged on its own; conv_discriminator_forward names the output mistake."""
    first, second = (np.asarray(value, np.float64) for value in inference)
    if np.allclose(second, 1.0, atol=1e-5):
        return lambda found: np.asarray(found[1], np.float64)
    if np.allclose(first, 1.0, atol=1e-5):
        return lambda found: np.asarray(found[0], np.float64)
    if np.allclose(second, L.sigmoid(1.0), atol=1e-5):
        def logit(found):
            p = np.clip(np.asarray(found[1], np.float64), 1e-12, 1 - 1e-12)
            return np.log(p) - np.log1p(-p)
        return logit
    return lambda found: np.asarray(found[1], np.float64)


def _judge_dropout(training, shown):
    kept = training[training > 1e-6]
    share = kept.size / training.size
    values = np.unique(np.round(kept, 3))
    want = 1.0 / (1.0 - DROPOUT_RATE) ** 2
    if np.allclose(training, 1.0, atol=1e-5):
        fail(f"With {shown} the discriminator drops nothing.", expected=f"dropout at rate {DROPOUT_RATE} when "
             "training", found="every logit 1, as without dropout",
             hint="pass training=training to tf.layers.dropout (its default is training=False), and the dropout "
                  "argument as rate=dropout.")
    if len(values) == 1 and np.isclose(values[0], want, rtol=1e-3) and abs(share - (1 - DROPOUT_RATE) ** 2) < 0.04:
        return
    hint = None
    if len(values) == 1 and np.isclose(values[0], 1.0 / (1.0 - DROPOUT_RATE), rtol=1e-3):
        hint = "only one hidden layer has dropout: apply it after both convolutions' leaky ReLUs."
    elif len(values) == 1 and np.isclose(values[0], 1.0 / DROPOUT_RATE ** 2, rtol=1e-3):
        hint = ("dropout keeps a share `dropout` of the units instead of dropping it: the rate is the share "
                "dropped (tf.layers.dropout(rate=...); tf.nn.dropout's keep_prob is 1 - rate).")
    elif len(values) == 1 and np.isclose(values[0], 1.0, rtol=1e-3):
        hint = "the kept units are not scaled by 1 / (1 - rate): use tf.layers.dropout, which does it."
    fail(f"Dropout with {shown} and dropout={DROPOUT_RATE} does not match dropout of that rate on both hidden "
         "layers.", expected=f"logits 0 or {want:.4g} (nonzero for {(1 - DROPOUT_RATE) ** 2:.0%} of the batch)",
         found=f"nonzero values {values[:5]} for {share:.0%} of the batch", hint=hint)


# ---------------------------------------------------------------- the optimiser

class NormalisedMiniGan:
    """A toy GAN with batch norm in both networks; D is called on real and on fake data, as in training."""

    def __init__(self):
        init = tf.random_normal_initializer(stddev=0.5, seed=3)
        self.z = tf.placeholder(tf.float32, [None, 3], name="z")
        self.x = tf.placeholder(tf.float32, [None, 4], name="x")
        with tf.variable_scope("generator"):
            h = tf.layers.dense(self.z, 4, kernel_initializer=init)
            fake = tf.tanh(tf.layers.batch_normalization(h, training=True))

        def discriminator(inputs, reuse):
            with tf.variable_scope("discriminator", reuse=reuse):
                h = tf.layers.dense(inputs, 5, kernel_initializer=init)
                h = tf.nn.leaky_relu(tf.layers.batch_normalization(h, training=True), 0.2)
                return tf.layers.dense(h, 1, kernel_initializer=init)

        logits_real, logits_fake = discriminator(self.x, False), discriminator(fake, True)
        ce = tf.nn.sigmoid_cross_entropy_with_logits
        self.d_loss = tf.reduce_mean(ce(logits=logits_real, labels=tf.ones_like(logits_real))) + tf.reduce_mean(
            ce(logits=logits_fake, labels=tf.zeros_like(logits_fake)))
        self.g_loss = tf.reduce_mean(ce(logits=logits_fake, labels=tf.ones_like(logits_fake)))
        moving = [v for v in tf.global_variables() if "moving_" in v.name]
        self.moving = {kind: [v for v in moving if v.name.startswith(kind + "/")]
                       for kind in ("generator", "discriminator")}
        rng = np.random.default_rng(8)
        self.feed = {self.z: rng.normal(size=(6, 3)).astype(np.float32),
                     self.x: rng.uniform(-1, 1, size=(6, 4)).astype(np.float32)}


def conv_model_opt_batch_norm_updates(conv_model_opt):
    """Each train op runs its own network's batch-norm updates (UPDATE_OPS), and never the other network's."""
    with fresh_graph() as graph:
        gan = NormalisedMiniGan()
        result = call_student(conv_model_opt, gan.d_loss, gan.g_loss, 1e-3)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            fail("conv_model_opt should return two ops.", expected="(d_train_opt, g_train_opt)", found=describe(result))
        ops = dict(zip(("d_train_opt", "g_train_opt"), result, strict=True))
        fetch = gan.moving["generator"] + gan.moving["discriminator"]
        moved = {}
        for name, op in ops.items():
            with session(graph) as sess:
                run(sess, tf.global_variables_initializer(), what="initialising the test GAN")
                start = run(sess, fetch)
                run(sess, op, gan.feed, what=f"running your {name}")
                after = run(sess, fetch)
            moved[name] = {v.name.split("/")[0] for v, a, b in zip(fetch, start, after, strict=True)
                           if not np.allclose(a, b)}
    own = {"d_train_opt": "discriminator", "g_train_opt": "generator"}
    for name, network in own.items():
        other = "generator" if network == "discriminator" else "discriminator"
        if network not in moved[name]:
            hint = ("tf.layers.batch_normalization only adds its updates to tf.GraphKeys.UPDATE_OPS; nothing runs "
                    "them unless the train op depends on them: build the minimize op inside "
                    f"`with tf.control_dependencies(<the {network}'s update ops>):`.")
            if moved["d_train_opt"] == moved["g_train_opt"] and moved["g_train_opt"]:
                hint = None
            fail(f"Running {name} leaves the {network}'s batch-norm moving averages unchanged.",
                 expected=f"{name} runs the {network}'s UPDATE_OPS", found="moving mean and variance unchanged",
                 hint=hint)
        if other in moved[name]:
            fail(f"Running {name} also updates the {other}'s batch-norm moving averages.",
                 expected=f"only the {network}'s update ops with {name}",
                 found=f"the {other}'s moving mean and variance changed",
                 hint="UPDATE_OPS holds both networks' updates: take each network's own, "
                      f"tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope='{network}').")

"""Checks for generator(z, out_dim, n_units, reuse, alpha) and discriminator(x, n_units, reuse, alpha).

Both are leaky-ReLU hidden layers (one for an int n_units, one per entry for a list or tuple)
followed by a dense output layer; they differ in the output (tanh image vs. sigmoid probability
plus raw logits) and in the variable scope. The
value checks load known weights into the student's own variables, run the student's graph and
compare with a NumPy forward pass; when the values differ they try the usual mistakes
(missing tanh, plain ReLU, hard-coded alpha, swapped outputs, ...) and name the one that fits.
"""
import numpy as np

from grader.checks import drawn
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
from grader.tf1 import tf

# Small, pairwise different sizes, so every variable is recognisable by its shape alone.
Z_DIM, G_UNITS, IMAGE_DIM = 6, 9, 4
X_DIM, D_UNITS = 7, 5
G_LAYERS, D_LAYERS = (9, 11), (5, 3)  # n_units as a list/tuple: two hidden layers, still every shape distinct
LIST_HINT = ("n_units may be a list or tuple of sizes, one hidden layer per entry: turn an int into a one-entry list "
             "(`sizes = [n_units] if isinstance(n_units, int) else n_units`) and loop over the sizes.")
TEST_ALPHA = 0.1  # neither the default 0.01 nor tf.nn.leaky_relu's 0.2: catches both hard-coded


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def leaky_relu(x, alpha):
    return np.maximum(alpha * x, x)


def hidden_variants(alpha):
    """(activation, hint) pairs for the hidden layer; the first is the correct one."""
    variants = [
        (lambda h: leaky_relu(h, alpha), None),
        (lambda h: np.maximum(h, 0.0),
         "the hidden layer zeroes negative values (plain ReLU): use a leaky ReLU, "
         "tf.maximum(alpha * h, h) or tf.nn.leaky_relu(h, alpha=alpha), so gradients keep flowing."),
        (lambda h: h, "the hidden layer has no activation: apply a leaky ReLU to it."),
        (np.tanh, "the hidden layer uses tanh: use a leaky ReLU there."),
        (sigmoid, "the hidden layer uses sigmoid: use a leaky ReLU there."),
        (lambda h: np.minimum(alpha * h, h),
         "use tf.maximum(alpha * h, h); tf.minimum shrinks the positive values instead of the negative ones."),
    ]
    for fixed, why in ((0.01, "alpha looks hard-coded to 0.01"), (0.2, "the leak is 0.2, tf.nn.leaky_relu's default")):
        if not np.isclose(alpha, fixed):
            variants.append((lambda h, a=fixed: leaky_relu(h, a),
                             f"{why}: pass the function's alpha argument on (alpha=alpha)."))
    return variants


GENERATOR_OUTPUTS = [
    (np.tanh, None),
    (lambda x: x,
     "the output layer has no activation: finish with tf.tanh so the values lie in [-1, 1] like the scaled images."),
    (sigmoid,
     "the output uses sigmoid, whose range is (0, 1): use tf.tanh so the values match images scaled to [-1, 1]."),
    (lambda x: leaky_relu(x, 0.01), "the output uses a leaky ReLU: use tf.tanh on the output layer."),
]


# ---------------------------------------------------------------- building and inspecting

def _call_generator(generator, z, **kwargs):
    return call_student(generator, z, IMAGE_DIM, n_units=G_UNITS, **kwargs)


def _call_generator_sized(generator, z, **kwargs):
    return call_student(generator, z, IMAGE_DIM, **kwargs)


def _call_discriminator(discriminator, x, **kwargs):
    return call_student(discriminator, x, n_units=D_UNITS, **kwargs)


def _discriminator_pair(result):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("discriminator should return two tensors.", expected="(sigmoid_output, logits)", found=describe(result),
             hint="end with `return out, logits`.")
    return result


def _discriminator_logits(result):
    logits = _discriminator_pair(result)[1]
    check_tensor(logits, "the discriminator's logits", (None, 1), tf.float32)
    return logits


def hidden_sizes(n_units):
    """n_units as a list: [n_units] for a number, the entries for a list or tuple."""
    return [n_units] if np.ndim(n_units) == 0 else list(n_units)


def missing_bias_hint(wanted, variables, layer_function, by_hand):
    """A hint naming the layers without a bias, when the variables are ``wanted`` ({label: shape}, biases
    labelled '... bias') less some biases; None otherwise."""
    found = sorted(tuple(v.shape.as_list()) for v in variables)
    missing = [label for label, shape in wanted.items() if label.endswith(" bias") and shape not in found]
    if not missing or found != sorted(shape for label, shape in wanted.items() if label not in missing):
        return None
    layers = [name.replace("hidden ", "hidden layer ") if name.startswith("hidden ") else f"{name} layer"
              for name in (label[:-len(" bias")] for label in missing)]
    named = "the " + " and the ".join(layers)
    return (f"{named} {'has' if len(layers) == 1 else 'have'} no bias (expected {[wanted[m] for m in missing]}): "
            f"{layer_function} adds one unless use_bias=False is passed; built by hand, add a bias variable, "
            f"{by_hand}.")


def _hidden_labels(count):
    return ["hidden"] if count == 1 else [f"hidden {i + 1}" for i in range(count)]


def _layers(kind, variables, in_dim, n_units, out_dim):
    """Map the student's variables to hidden/output kernel/bias by shape, or explain what is off."""
    outside = [v for v in variables if not v.name.startswith(kind + "/")]
    if outside:
        fail(f"Some of the {kind}'s variables are outside the '{kind}/' scope.",
             expected=f"every variable name starting with '{kind}/'", found=names(outside),
             hint=f"put all layers inside `with tf.variable_scope('{kind}', reuse=reuse):`.")
    unknown = [v.name for v in variables if not v.shape.is_fully_defined()]
    if unknown:
        fail(f"The {kind}'s variables {unknown} have no fixed shape.", expected="variables with a known shape",
             hint="create weights with tf.layers.dense or tf.get_variable(name, shape), keeping validate_shape on.")
    by_shape = {tuple(v.shape.as_list()): v for v in variables}
    sizes = hidden_sizes(n_units)
    dims = [in_dim] + sizes + [out_dim]
    wanted = {}
    for label, rows, columns in zip(_hidden_labels(len(sizes)) + ["output"], dims[:-1], dims[1:], strict=True):
        wanted[f"{label} kernel"], wanted[f"{label} bias"] = (rows, columns), (columns,)
    if len(variables) != len(wanted) or any(shape not in by_shape for shape in wanted.values()):
        hint = missing_bias_hint(wanted, variables, "tf.layers.dense", "tf.matmul(h, W) + b")
        kernels = [tuple(v.shape.as_list()) for v in variables if v.shape.rank == 2]
        first = [k for k in kernels if k[0] == in_dim]
        if hint:
            pass
        elif len(kernels) == 1:
            hint = "there is only one dense layer: add the hidden layer of n_units units before the output layer."
        elif len(first) > 1:
            hint = (f"{len(first)} dense layers take the {in_dim}-value input: each hidden layer must take the "
                    "previous layer's output (hidden = tf.layers.dense(hidden, units)), not the network's input.")
        elif first and first[0][1] != sizes[0]:
            hint = (f"the hidden layer has {first[0][1]} units although n_units={n_units!r} was passed: "
                    "use the n_units argument.")
        elif len(sizes) > 1 and len(kernels) == 2:
            hint = f"there is one hidden layer although n_units={n_units!r} asks for {len(sizes)}: " + LIST_HINT
        elif len(kernels) > len(sizes) + 1:
            hint = ("there are more dense layers than the exercise asks for: one hidden layer per entry of n_units "
                    "and one output layer.")
        elif len(variables) == len(kernels):
            hint = "the dense layers have no bias: keep the default use_bias=True."
        expected_params = sum(rows * columns + columns for rows, columns in zip(dims[:-1], dims[1:], strict=True))
        found_params = sum(int(np.prod(v.shape.as_list())) for v in variables)
        shape_of_hidden = (f"one hidden layer of {sizes[0]} units" if len(sizes) == 1
                           else f"hidden layers of {sizes} units")
        fail(f"The {kind}'s variables are not {shape_of_hidden} plus an output layer of {out_dim}.",
             expected=f"shapes {list(wanted.values())} ({expected_params} parameters)",
             found=f"{[tuple(v.shape.as_list()) for v in variables]} ({found_params} parameters)", hint=hint)
    return {label: by_shape[shape] for label, shape in wanted.items()}


def _load_weights(sess, layers, rng, scale=1.0):
    values = {}
    for label, variable in layers.items():
        shape = variable.shape.as_list()
        fan_in = shape[0] if len(shape) == 2 else 2.0
        values[label] = (rng.normal(0.0, scale / np.sqrt(fan_in), shape)).astype(np.float32)
    run(sess, tf.global_variables_initializer(), what="initialising your variables")
    run(sess, [tf.assign(layers[label], value) for label, value in values.items()], what="loading test weights")
    return values


def _forward(x, weights, hidden, output=lambda v: v, inner=None):
    """NumPy forward pass; ``inner`` (default: ``hidden``) is the activation of all hidden layers but the last."""
    labels = _hidden_labels(len(weights) // 2 - 1)
    h = x
    for index, label in enumerate(labels):
        activation = hidden if inner is None or index == len(labels) - 1 else inner
        h = activation(h @ weights[f"{label} kernel"] + weights[f"{label} bias"])
    return output(h @ weights["output kernel"] + weights["output bias"])


# ---------------------------------------------------------------- generator

def _generator_image(result, image_dim=IMAGE_DIM):
    """The generator's single output tensor, after checking its type and shape."""
    if isinstance(result, (tuple, list)):
        fail("generator should return only the tanh output.", expected="one tensor", found=describe(result),
             hint="return just the image tensor; the logits are not needed outside.")
    check_tensor(result, "the generator's output", (None, image_dim), tf.float32)
    return result


def generator_output(generator):
    """generator(z, out_dim) returns one tensor of shape [None, out_dim]."""
    with fresh_graph():
        z = tf.placeholder(tf.float32, [None, Z_DIM])
        _generator_image(_call_generator(generator, z))


def generator_output_range(generator):
    """The generator's values lie in [-1, 1], the range of the scaled real images (tanh output)."""
    with fresh_graph() as graph:
        z = tf.placeholder(tf.float32, [None, Z_DIM])
        out = _generator_image(_call_generator(generator, z))
        layers = _layers("generator", new_trainable_variables(graph), Z_DIM, G_UNITS, IMAGE_DIM)
        rng = np.random.default_rng(1)
        with session(graph) as sess:
            _load_weights(sess, layers, rng, scale=8.0)
            values = run(sess, out, {z: rng.uniform(-1, 1, (64, Z_DIM)).astype(np.float32)})
    low, high = float(np.min(values)), float(np.max(values))
    if low < -1.0 - 1e-6 or high > 1.0 + 1e-6:
        fail("Your generator returns values outside [-1, 1].", expected="all values in [-1, 1]",
             found=f"min {low:.3g}, max {high:.3g}", hint="did you forget the tanh on the output layer?")
    if low >= 0.0:
        fail("Your generator never returns a negative value.", expected="values spread over [-1, 1]",
             found=f"min {low:.3g}, max {high:.3g}",
             hint="did you use sigmoid (range 0..1) instead of tanh on the output?")


def generator_variables(generator):
    """All variables live under 'generator/': a hidden layer of n_units and an output layer of out_dim."""
    with fresh_graph() as graph:
        z = tf.placeholder(tf.float32, [None, Z_DIM])
        _call_generator(generator, z)
        _layers("generator", new_trainable_variables(graph), Z_DIM, G_UNITS, IMAGE_DIM)


def generator_reuse(generator):
    """reuse=True builds a second copy on new input with the same variables and creates none."""
    check_reuse("generator", generator, Z_DIM, _call_generator, _generator_image)


def generator_forward(generator, inputs=None):
    """Values match a NumPy forward pass tanh(leaky_relu(z W1 + b1) W2 + b2) with the student's alpha."""
    drawn_inputs = drawn.pick(inputs)
    z_dim, units, image_dim = drawn_inputs.z_dim, drawn_inputs.g_units, drawn_inputs.image_dim
    for alpha in (drawn_inputs.alpha, None):  # None: the default alpha (0.01) must be the function's default too
        kwargs = {} if alpha is None else {"alpha": alpha}
        with fresh_graph() as graph:
            z = tf.placeholder(tf.float32, [None, z_dim])
            out = _generator_image(call_student(generator, z, image_dim, n_units=units, **kwargs), image_dim)
            layers = _layers("generator", new_trainable_variables(graph), z_dim, units, image_dim)
            rng = np.random.default_rng(drawn_inputs.network_seed)
            z_values = rng.normal(0.0, 1.0, (drawn_inputs.batch, z_dim)).astype(np.float32)
            with session(graph) as sess:
                weights = _load_weights(sess, layers, rng)
                found = run(sess, out, {z: z_values})
        used_alpha = 0.01 if alpha is None else alpha
        expected = _forward(z_values, weights, hidden_variants(used_alpha)[0][0], np.tanh)
        if close(expected, found):
            continue
        hint = _diagnose(found, z_values, weights, hidden_variants(used_alpha), GENERATOR_OUTPUTS)
        if alpha is None and hint and "alpha" in hint:
            hint = "with alpha not passed, the leak differs from 0.01: keep the default alpha=0.01 in the signature."
        fail(f"The generator's values differ from a NumPy forward pass (alpha={used_alpha}).",
             expected="tanh(leaky_relu(z @ W1 + b1) @ W2 + b2)", found=first_mismatch(expected, found), hint=hint)


def _diagnose(found, x, weights, hiddens, outputs):
    """The hint of the first (hidden, output) combination of mistakes that reproduces ``found``."""
    for h_index, (hidden, h_hint) in enumerate(hiddens):
        for o_index, (output, o_hint) in enumerate(outputs):
            if h_index == 0 and o_index == 0:
                continue
            if close(_forward(x, weights, hidden, output), found):
                return " and ".join(h for h in (h_hint, o_hint) if h)
    return None


def _call_with_layers(kind, call, function, tensor, n_units):
    """Call the student's network with a list/tuple n_units; a crash gets the list hint."""
    try:
        return call(function, tensor, n_units=n_units, alpha=TEST_ALPHA)
    except CheckFailed as error:
        raise CheckFailed(f"{error}\n  likely cause: {kind}() must accept n_units={n_units!r} as well as a number. "
                          f"{LIST_HINT}") from None


def _hidden_layers_hint(found, x, weights, output_variants):
    """Why a stack of hidden layers computes something else: activations, or a layer's activation left out."""
    hint = _diagnose(found, x, weights, hidden_variants(TEST_ALPHA), output_variants)
    if hint is None and close(_forward(x, weights, lambda h: leaky_relu(h, TEST_ALPHA), output_variants[0][0],
                                       inner=lambda h: h), found):
        hint = "only the last hidden layer has a leaky ReLU: apply it after every hidden layer, inside the loop."
    return hint


def generator_hidden_layers(generator):
    """n_units as a list or tuple: one leaky-ReLU hidden layer per entry, in order, matching NumPy."""
    for n_units in (list(G_LAYERS), tuple(G_LAYERS)):
        with fresh_graph() as graph:
            z = tf.placeholder(tf.float32, [None, Z_DIM])
            out = _generator_image(_call_with_layers("generator", _call_generator_sized, generator, z, n_units))
            layers = _layers("generator", new_trainable_variables(graph), Z_DIM, n_units, IMAGE_DIM)
            rng = np.random.default_rng(6)
            z_values = rng.normal(0.0, 1.0, (16, Z_DIM)).astype(np.float32)
            with session(graph) as sess:
                weights = _load_weights(sess, layers, rng)
                found = run(sess, out, {z: z_values})
        expected = _forward(z_values, weights, lambda h: leaky_relu(h, TEST_ALPHA), np.tanh)
        if not close(expected, found):
            fail(f"With n_units={n_units!r}, the generator's values differ from a NumPy forward pass.",
                 expected="tanh(leaky_relu(leaky_relu(z @ W1 + b1) @ W2 + b2) @ W3 + b3)",
                 found=first_mismatch(expected, found),
                 hint=_hidden_layers_hint(found, z_values, weights, GENERATOR_OUTPUTS))


# ---------------------------------------------------------------- discriminator

def discriminator_outputs(discriminator):
    """discriminator(x) returns (sigmoid_output, logits), both of shape [None, 1]."""
    with fresh_graph():
        x = tf.placeholder(tf.float32, [None, X_DIM])
        out, logits = _discriminator_pair(_call_discriminator(discriminator, x))
        check_tensor(out, "the discriminator's first output (the probability)", (None, 1), tf.float32)
        check_tensor(logits, "the discriminator's second output (the logits)", (None, 1), tf.float32)


def discriminator_probability_range(discriminator):
    """The first output is a probability in [0, 1]; the logits are raw scores that can leave [0, 1]."""
    with fresh_graph() as graph:
        x = tf.placeholder(tf.float32, [None, X_DIM])
        out, logits = _discriminator_pair(_call_discriminator(discriminator, x))
        check_tensor(out, "the discriminator's first output", (None, 1), tf.float32)
        check_tensor(logits, "the discriminator's logits", (None, 1), tf.float32)
        layers = _layers("discriminator", new_trainable_variables(graph), X_DIM, D_UNITS, 1)
        rng = np.random.default_rng(3)
        with session(graph) as sess:
            _load_weights(sess, layers, rng, scale=8.0)
            probabilities, scores = run(sess, [out, logits], {x: rng.normal(0, 1, (64, X_DIM)).astype(np.float32)})
    in_unit = lambda v: bool(np.all((v >= 0.0) & (v <= 1.0)))  # noqa: E731
    if not in_unit(probabilities) and in_unit(scores):
        fail("The discriminator's two outputs look swapped.", expected="(sigmoid_output, logits)",
             found="first output outside [0, 1], second inside", hint="return out, logits in that order.")
    if not in_unit(probabilities):
        fail("The discriminator's first output is not a probability.", expected="values in [0, 1]",
             found=f"min {probabilities.min():.3g}, max {probabilities.max():.3g}",
             hint="apply tf.sigmoid to the logits.")
    if in_unit(scores):
        fail("The discriminator's logits never leave [0, 1].",
             expected="raw scores of the output layer (any real value)",
             found=f"min {scores.min():.3g}, max {scores.max():.3g}",
             hint="return the output layer's values before the sigmoid as logits; the loss applies the sigmoid itself.")


def discriminator_variables(discriminator):
    """All variables live under 'discriminator/': a hidden layer of n_units and a one-unit output layer."""
    with fresh_graph() as graph:
        x = tf.placeholder(tf.float32, [None, X_DIM])
        _call_discriminator(discriminator, x)
        _layers("discriminator", new_trainable_variables(graph), X_DIM, D_UNITS, 1)


def discriminator_reuse(discriminator):
    """The fake-image copy (reuse=True) shares every variable with the real-image copy and creates none."""
    check_reuse("discriminator", discriminator, X_DIM, _call_discriminator, _discriminator_logits)


def discriminator_forward(discriminator, inputs=None):
    """Logits match leaky_relu(x W1 + b1) W2 + b2 in NumPy and the first output is their sigmoid."""
    drawn_inputs = drawn.pick(inputs)
    x_dim, units = drawn_inputs.x_dim, drawn_inputs.d_units
    # the fixed inputs draw these weights from seed 4 (the generator's from 2), as they always have
    weight_seed = 4 if drawn_inputs.seed is None else drawn_inputs.network_seed
    for alpha in (drawn_inputs.alpha, None):
        kwargs = {} if alpha is None else {"alpha": alpha}
        with fresh_graph() as graph:
            x = tf.placeholder(tf.float32, [None, x_dim])
            out, logits = _discriminator_pair(call_student(discriminator, x, n_units=units, **kwargs))
            layers = _layers("discriminator", new_trainable_variables(graph), x_dim, units, 1)
            rng = np.random.default_rng(weight_seed)
            x_values = rng.normal(0.0, 1.0, (drawn_inputs.batch, x_dim)).astype(np.float32)
            with session(graph) as sess:
                weights = _load_weights(sess, layers, rng)
                found_out, found_logits = run(sess, [out, logits], {x: x_values})
        used_alpha = 0.01 if alpha is None else alpha
        hiddens = hidden_variants(used_alpha)
        expected_logits = _forward(x_values, weights, hiddens[0][0])
        expected_out = sigmoid(expected_logits)
        if close(expected_logits, found_out) and close(expected_out, found_logits):
            fail("The discriminator's outputs are swapped.", expected="(sigmoid_output, logits)",
                 found="(logits, sigmoid_output)", hint="return out, logits in that order.")
        if not close(expected_logits, found_logits):
            if close(expected_out, found_logits):
                hint = "the logits already went through the sigmoid: return the output layer's raw values as logits."
            else:
                hint = _diagnose(found_logits, x_values, weights, hiddens,
                                 [(lambda v: v, None),
                                  (sigmoid, "the logits went through a sigmoid: return the raw values.")])
                if alpha is None and hint and "alpha" in hint:
                    hint = ("with alpha not passed, the leak differs from 0.01: "
                            "keep the default alpha=0.01 in the signature.")
            fail(f"The discriminator's logits differ from a NumPy forward pass (alpha={used_alpha}).",
                 expected="leaky_relu(x @ W1 + b1) @ W2 + b2", found=first_mismatch(expected_logits, found_logits),
                 hint=hint)
        if not close(expected_out, found_out):
            hint = None
            if close(expected_logits, found_out):
                hint = "the first output is the raw logits: apply tf.sigmoid to get a probability."
            elif close(np.tanh(expected_logits), found_out):
                hint = "the first output uses tanh: a probability needs tf.sigmoid."
            elif close(sigmoid(expected_out), found_out):
                hint = "the sigmoid was applied twice."
            elif np.allclose(found_out, 1.0):
                hint = "every output is 1: a softmax over a single unit always gives 1; use tf.sigmoid."
            fail("The discriminator's first output is not sigmoid(logits).", expected="tf.sigmoid(logits)",
                 found=first_mismatch(expected_out, found_out), hint=hint)


def discriminator_hidden_layers(discriminator):
    """n_units as a list or tuple: one leaky-ReLU hidden layer per entry, in order; logits match NumPy."""
    for n_units in (list(D_LAYERS), tuple(D_LAYERS)):
        with fresh_graph() as graph:
            x = tf.placeholder(tf.float32, [None, X_DIM])
            result = _call_with_layers("discriminator", call_student, discriminator, x, n_units)
            logits = _discriminator_logits(result)
            layers = _layers("discriminator", new_trainable_variables(graph), X_DIM, n_units, 1)
            rng = np.random.default_rng(7)
            x_values = rng.normal(0.0, 1.0, (16, X_DIM)).astype(np.float32)
            with session(graph) as sess:
                weights = _load_weights(sess, layers, rng)
                found = run(sess, logits, {x: x_values})
        expected = _forward(x_values, weights, lambda h: leaky_relu(h, TEST_ALPHA))
        if not close(expected, found):
            outputs = [(lambda v: v, None), (sigmoid, "the logits went through a sigmoid: return the raw values.")]
            fail(f"With n_units={n_units!r}, the discriminator's logits differ from a NumPy forward pass.",
                 expected="leaky_relu(leaky_relu(x @ W1 + b1) @ W2 + b2) @ W3 + b3",
                 found=first_mismatch(expected, found), hint=_hidden_layers_hint(found, x_values, weights, outputs))


# ---------------------------------------------------------------- shared: weight sharing

def check_reuse(kind, function, in_dim, call, pick_tensor):
    """``call(function, tensor, reuse=True)`` after a first call shares every variable and creates none
    (shared with the convolutional checks of notebook 8)."""
    with fresh_graph() as graph:
        first_input = tf.placeholder(tf.float32, [None, in_dim])
        second_input = tf.placeholder(tf.float32, [None, in_dim])
        first = pick_tensor(call(function, first_input))
        created_first = new_trainable_variables(graph)
        if not created_first:
            fail(f"The first call of {kind}() created no trainable variables.",
                 hint="build the layers with tf.layers.dense (or tf.get_variable).")
        try:
            second = pick_tensor(call(function, second_input, reuse=True))
        except AssertionError as error:
            fail(f"Calling {kind}(..., reuse=True) after a first call failed.\n{error}",
                 hint=f"open the layers with tf.variable_scope('{kind}', reuse=reuse) "
                      "and keep the layer names the same on every call.")
        created_second = new_trainable_variables(graph, created_first)
        if created_second:
            hint = f"pass reuse on: `with tf.variable_scope('{kind}', reuse=reuse):`."
            if any(not v.name.startswith(kind + "/") for v in created_second):
                hint = (f"tf.keras layers and tf.Variable ignore variable_scope's reuse and make new weights on every "
                        "call: build the layers with tf.layers.dense (or tf.get_variable) "
                        f"inside tf.variable_scope('{kind}', reuse=reuse).")
            fail(f"{kind}(..., reuse=True) created new variables instead of reusing the first call's.",
                 expected="no new variables", found=names(created_second), hint=hint)
        check_tensor(second, f"the output of the reused {kind}", (None, first.shape.as_list()[-1]))
        rng = np.random.default_rng(5)
        batch = rng.normal(0.0, 1.0, (8, in_dim)).astype(np.float32)
        with session(graph) as sess:
            run(sess, tf.global_variables_initializer(), what="initialising your variables")
            a, b = run(sess, [first, second], {first_input: batch, second_input: batch})
            again = run(sess, first, {first_input: batch})
    if not close(a, again):
        fail(f"The {kind} gives different outputs for the same input in two runs.",
             expected="the same output every time at inference", found=first_mismatch(a, again),
             hint="something random is on outside training: dropout at inference? (tf.nn.dropout is always on: "
                  "use tf.layers.dropout(h, rate=..., training=training).)")
    if not close(a, b):
        fail(f"The reused {kind} computes something different from the first one on the same input.",
             expected="identical outputs (shared weights)", found=first_mismatch(a, b),
             hint="both calls must go through the same variables; do not create layers outside the scope.")

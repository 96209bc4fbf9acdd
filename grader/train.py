"""Train the GAN built from the student's five functions, and use the trained generator.

    from grader.exercises import load_functions
    from grader.train import make_params, train_gan, load_generator

    fns = load_functions(folder)                       # the student's own functions
    params = make_params("default", epochs=10)         # a preset, with overrides
    run = train_gan(fns, params, "runs/gan")           # writes checkpoint, CSV, figures, samples.npy
    with load_generator(fns, "runs/gan") as generator: # a fresh graph, restored from the checkpoint
        digits = generator.sample(16)

The graph is built only through the exercise functions, called exactly as the exercises define
them; the network is theirs (leaky-ReLU hidden layers, as many as ``n_units`` lists). What the
course chooses is the size of those layers, the optimiser settings and the loop that feeds them.
With ``architecture`` "dcgan" the networks are notebook 08's ``conv_generator`` and
``conv_discriminator`` (called with training=True in the training graph) and its ``conv_model_opt``;
``training_setup`` picks them, or the MLP with one line when notebook 08 is not finished.

The course's loop (measured against the classic tutorial loop in docs/training.md):
- one ``session.run`` per step runs both Adam updates, the two losses and the mean D outputs from
  a single forward pass (the classic loop runs one update per call and recomputes G and D(G(z)));
- variables are resource variables, so that single call is exact, simultaneous gradient descent:
  every read of a weight is a snapshot taken before either update writes (no race, deterministic);
- the learning rate decays linearly to ``final_lr_fraction`` of its start over the run (fed each
  step through a placeholder: Adam accepts a tensor);
- the generator kept is an exponential moving average of its weights (``ema_decay``), which
  removes most of the speckle noise; the checkpoint holds the averaged weights under the
  generator's own variable names;
- the discriminator is trained on the student's D loss plus an R1 gradient penalty
  (``r1_gamma``; Mescheder et al. 2018): r1_gamma / 2 times the mean squared norm of the gradient of
  D's logit with respect to the real images. It keeps D smooth around the data, so G gets steadier
  gradients. The loss curves show the student's D loss without it.
"""
import csv
import inspect
import json
import math
import os
import time
from pathlib import Path

import numpy as np

IMAGE_SIZE = 28 * 28
SAMPLE_GRID = 64  # fixed latent vectors drawn after every epoch (an 8 x 8 grid)
STATISTICS_BATCH = 2048  # latent vectors behind the batch norm statistics of the averaged generator
# Presets. "classic" is the settings of the classic TF1 GAN tutorial, for comparison. "default" is
# the best quality per minute found on 2 CPU cores: two hidden layers per network (the exercises'
# list form of n_units), Adam 0.002 with beta1 0.5 decaying to half, an R1 gradient penalty on D
# and weight averaging of G. What each preset measures, and the runs behind the choice, are in
# docs/training.md ("Presets and why the default is what it is").
PRESETS = {
    "classic": {
        "architecture": "mlp", "epochs": 20, "batch_size": 100, "z_size": 100, "g_hidden": 128, "d_hidden": 128,
        "alpha": 0.01, "smooth": 0.1, "learning_rate": 0.002, "beta1": 0.9, "final_lr_fraction": 1.0,
        "ema_decay": 0.0, "r1_gamma": 0.0,
    },
    "default": {
        "architecture": "mlp", "epochs": 20, "batch_size": 64, "z_size": 100, "g_hidden": [256, 512],
        "d_hidden": [512, 256], "alpha": 0.2, "smooth": 0.1, "learning_rate": 2e-3, "beta1": 0.5,
        "final_lr_fraction": 0.5, "ema_decay": 0.9995, "r1_gamma": 1.0,
    },
    # a few seconds: for autograding and CI, where only "does it run and write its outputs" matters
    "tiny": {
        "architecture": "mlp", "epochs": 2, "batch_size": 50, "z_size": 16, "g_hidden": [32, 64], "d_hidden": [64, 32],
        "alpha": 0.2, "smooth": 0.1, "learning_rate": 2e-3, "beta1": 0.5, "final_lr_fraction": 1.0,
        "ema_decay": 0.9, "r1_gamma": 1.0, "train_images": 2000, "n_samples": 200,
    },
    # the convolutional pair of notebook 08 (conv_generator, conv_discriminator, conv_model_opt):
    # `channels` feature maps in the 14 x 14 layers and twice that in the 7 x 7 ones, square
    # kernels of `kernel_size`, dropout in D. Half the notebook's default width: about as good per
    # epoch as 32 channels and twice as fast; no dropout, which was better at every epoch measured.
    # On 2 CPU cores still several times slower per epoch than "default", which is why that one
    # stays the notebook's default (docs/training.md, "The convolutional pair").
    "dcgan": {
        "architecture": "dcgan", "epochs": 5, "batch_size": 64, "z_size": 100, "channels": 16, "kernel_size": 5,
        "dropout": 0.0, "alpha": 0.2, "smooth": 0.1, "learning_rate": 2e-3, "beta1": 0.5, "final_lr_fraction": 0.5,
        "ema_decay": 0.999, "r1_gamma": 10.0,
    },
    "dcgan_tiny": {
        "architecture": "dcgan", "epochs": 2, "batch_size": 50, "z_size": 16, "channels": 8, "kernel_size": 3,
        "dropout": 0.3, "alpha": 0.2, "smooth": 0.1, "learning_rate": 2e-3, "beta1": 0.5, "final_lr_fraction": 1.0,
        "ema_decay": 0.9, "r1_gamma": 1.0, "train_images": 2000, "n_samples": 200,
    },
}
# the settings only one architecture has, and each architecture's full and tiny presets
ARCHITECTURE_PARAMS = {"mlp": ("g_hidden", "d_hidden"), "dcgan": ("channels", "kernel_size", "dropout")}
ARCHITECTURE_PRESETS = {"mlp": ("default", "tiny"), "dcgan": ("dcgan", "dcgan_tiny")}
COMMON = {"seed": 0, "n_samples": 10_000, "train_images": None}
OPEN_AT_ONE = ("smooth", "beta1", "ema_decay")
INTEGER_PARAMS = ("epochs", "batch_size", "z_size", "seed", "n_samples", "channels", "kernel_size")
LAYER_PARAMS = ("g_hidden", "d_hidden")  # a number (one hidden layer) or a list of numbers (one layer each)
FLOAT_PARAMS = (
    "alpha", "smooth", "learning_rate", "beta1", "final_lr_fraction", "ema_decay", "r1_gamma", "dropout",
)


def grading_environment():
    """True under nbgrader autograding (NBGRADER_EXECUTION set) or in CI (CI set)."""
    return bool(os.environ.get("NBGRADER_EXECUTION") or os.environ.get("CI"))


def make_params(preset="default", **overrides):
    """The named preset updated with ``overrides`` (None values are ignored), checked by check_params."""
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}: expected one of {sorted(PRESETS)}.")
    params = dict(COMMON, **PRESETS[preset], preset=preset)
    overrides = {key: value for key, value in overrides.items() if value is not None}
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        other = [name for name in unknown if any(name in names for names in ARCHITECTURE_PARAMS.values())]
        hint = (f" ({', '.join(other)} belong(s) to the other architecture; preset {preset!r} trains "
                f"{params['architecture']!r})") if other else ""
        raise ValueError(f"Unknown training parameter(s) {unknown}{hint}: expected some of {sorted(params)}.")
    params.update(overrides)
    return check_params(params)


def check_params(params):
    """``params`` with whole numbers as int and the rest as float; a ValueError naming the first bad value."""
    params = dict(params)
    architecture = params.setdefault("architecture", "mlp")  # runs written before there was a choice
    if architecture not in ARCHITECTURE_PARAMS:
        raise ValueError(f"architecture must be one of {sorted(ARCHITECTURE_PARAMS)}, got {architecture!r}.")
    own = ARCHITECTURE_PARAMS[architecture]
    for other, names in ARCHITECTURE_PARAMS.items():
        stray = [name for name in names if other != architecture and name in params and name not in own]
        if stray:
            raise ValueError(f"{', '.join(stray)} belong(s) to architecture {other!r}, not {architecture!r}.")
    missing = [name for name in own if name not in params]
    if missing:
        raise ValueError(f"architecture {architecture!r} needs {', '.join(missing)}.")
    for name in INTEGER_PARAMS + FLOAT_PARAMS:
        if name not in params and any(name in names for names in ARCHITECTURE_PARAMS.values()):
            continue
        value = params[name]
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
        if isinstance(value, bool) or number is None or not math.isfinite(number):
            raise ValueError(f"{name} must be a number, got {value!r} (a typo in the settings cell?).")
        if name in INTEGER_PARAMS and not number.is_integer():
            raise ValueError(f"{name} must be a whole number, got {value!r}.")
        params[name] = int(number) if name in INTEGER_PARAMS else number
    for name in LAYER_PARAMS:
        if name in params:
            params[name] = check_hidden_sizes(name, params[name])
    minimum = {"epochs": 1, "batch_size": 1, "z_size": 1, "n_samples": 1, "seed": 0, "channels": 1, "kernel_size": 1}
    for name, low in minimum.items():
        if name in params and params[name] < low:
            raise ValueError(f"{name} must be at least {low}, got {params[name]}.")
    if architecture == "dcgan" and not 0 <= params["dropout"] < 1:
        raise ValueError(f"dropout must be in [0, 1), got {params['dropout']}.")
    for name in ("alpha", "smooth", "beta1", "final_lr_fraction", "ema_decay"):
        upper = ")" if name in OPEN_AT_ONE else "]"
        if not 0 <= params[name] <= 1 or (name in OPEN_AT_ONE and params[name] == 1):
            raise ValueError(f"{name} must be in [0, 1{upper}, got {params[name]}.")
    if not 0 <= params["r1_gamma"] <= 100:
        raise ValueError(
            f"r1_gamma must be in [0, 100], got {params['r1_gamma']} "
            "(0 turns the gradient penalty off; 1 to 10 is usual)."
        )
    if not 0 < params["learning_rate"] < 1:
        raise ValueError(
            f"learning_rate must be in (0, 1), got {params['learning_rate']} "
            "(Adam on this GAN works with about 1e-4 to 5e-3)."
        )
    if params["train_images"] is not None:
        params["train_images"] = int(params["train_images"])
        if params["train_images"] < params["batch_size"]:
            raise ValueError(
                f"train_images ({params['train_images']}) must be at least batch_size ({params['batch_size']})."
            )
    elif params["batch_size"] > 60_000:
        raise ValueError(f"batch_size must be at most 60000 (the training set), got {params['batch_size']}.")
    return params


def check_hidden_sizes(name, value):
    """A hidden-layer setting as an int (one layer) or a list of ints (one layer per entry); ValueError if neither.

    A string such as "256, 512" (what papermill's -p passes) is read as the list [256, 512].
    """
    original = value
    if isinstance(value, str):
        value = value.replace("[", " ").replace("]", " ").replace(",", " ").split()
    sizes = list(value) if isinstance(value, (list, tuple)) else [value]
    whole = []
    for size in sizes:
        try:
            number = float(size)
        except (TypeError, ValueError):
            number = None
        if isinstance(size, bool) or number is None or not number.is_integer() or number < 1:
            raise ValueError(f"{name} must be a whole number of units (at least 1) or a list of them, "
                             f"like 512 or [256, 512]; got {original!r}.")
        whole.append(int(number))
    if not whole:
        raise ValueError(f"{name} must name at least one hidden layer, like 512 or [256, 512]; got {original!r}.")
    return whole if isinstance(original, (list, tuple)) or len(whole) > 1 else whole[0]


class NotebookStop(RuntimeError):
    """Stops a notebook with a short message: IPython shows only this text, no traceback."""

    def _render_traceback_(self):
        return [str(self)]


def exercise_functions(use_reference_solutions, student_folder):
    """The five exercise functions: the student's (from ``student_folder``) or the reference solutions.

    An unfinished or broken exercise raises NotebookStop naming the notebook to fix.
    """
    from grader.exercises import ExerciseNotDone, load_functions, reference_folder

    folder = reference_folder() if use_reference_solutions else Path(student_folder)
    whose = "the course's reference solutions" if use_reference_solutions else "your own exercise notebooks"
    print(f"USE_REFERENCE_SOLUTIONS = {use_reference_solutions}: training with {whose} in {folder}")
    try:
        return load_functions(folder)
    except ExerciseNotDone as problem:
        hint = "" if use_reference_solutions else (
            "\nFinish that notebook (and run its checks), "
            "or set USE_REFERENCE_SOLUTIONS = True to train with the reference solutions."
        )
        raise NotebookStop(f"Cannot build the GAN yet: {problem}{hint}") from None


def training_setup(use_reference_solutions, student_folder, architecture="mlp", preset=None, tiny=False,
                   **overrides):
    """(fns, params) for notebook 06: the exercise functions and the checked settings.

    ``architecture`` picks the networks: "mlp" (generator and discriminator of notebooks 02 and 03)
    or "dcgan" (the convolutional pair of notebook 08, with model_inputs and model_loss of 01 and
    04). ``preset`` None means that architecture's own preset; a preset of the other architecture
    wins over ``architecture``. ``tiny`` (autograding, CI) runs the architecture's tiny preset and
    keeps only the seed of ``overrides``. With "dcgan" and notebook 08 not finished, one line says
    so and the MLP trains instead, so a student who finished 01-05 can always train.
    """
    from grader.exercises import ExerciseNotDone, load_conv_functions, reference_folder

    if architecture not in ARCHITECTURE_PRESETS:
        raise ValueError(f"architecture must be one of {sorted(ARCHITECTURE_PRESETS)}, got {architecture!r}.")
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}: expected one of {sorted(PRESETS)}.")
    if preset is not None and PRESETS[preset]["architecture"] != architecture:
        print(f"preset {preset!r} is a preset of architecture {PRESETS[preset]['architecture']!r}: training that one.")
        architecture = PRESETS[preset]["architecture"]
    if tiny:
        overrides, preset = {"seed": overrides.get("seed")}, None
    fns = exercise_functions(use_reference_solutions, student_folder)
    if architecture == "dcgan":
        folder = reference_folder() if use_reference_solutions else Path(student_folder)
        try:
            load_conv_functions(folder, module=fns)
        except ExerciseNotDone as problem:
            dropped = sorted(name for name in ARCHITECTURE_PARAMS["dcgan"] if overrides.get(name) is not None)
            reason = str(problem).split(" Complete that notebook")[0].rstrip(".")
            print(f"architecture = \"dcgan\" needs notebook 08 ({reason}): training the fully connected "
                  f"networks of notebooks 02 and 03 instead (architecture = \"mlp\")"
                  + (f", without {', '.join(dropped)}." if dropped else "."))
            architecture, preset = "mlp", None
            overrides = {key: value for key, value in overrides.items() if key not in ARCHITECTURE_PARAMS["dcgan"]}
    if preset is None:
        full, small = ARCHITECTURE_PRESETS[architecture]
        preset = small if tiny else full
    return fns, make_params(preset, **overrides)


# ----------------------------------------------------------------------------- graph


def call_network(name, network, *args, n_units, **kwargs):
    """The student's generator or discriminator; a list n_units it cannot take stops with a short message."""
    try:
        return network(*args, n_units=n_units, **kwargs)
    except Exception as error:
        if not isinstance(n_units, list):
            raise
        notebook, setting = {
            "generator": ("02_generator", "g_hidden"), "discriminator": ("03_discriminator", "d_hidden"),
        }[name]
        raise NotebookStop(
            f"Your {name}() failed with n_units={n_units} "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}).\n"
            f"The settings ask for {len(n_units)} hidden layers: finish the list part of {notebook} "
            f"(checks.{name}_hidden_layers), or set {setting} to a single number such as 512."
        ) from None


def call_model_opt(fns, d_loss, g_loss, learning_rate, beta1):
    """fns.model_opt with beta1 when the student's signature accepts it (the stub does)."""
    try:
        accepts_beta1 = "beta1" in inspect.signature(fns.model_opt).parameters
    except (TypeError, ValueError):
        accepts_beta1 = False
    if accepts_beta1:
        return fns.model_opt(d_loss, g_loss, learning_rate, beta1=beta1)
    print(f"Note: your model_opt() has no beta1 parameter, so Adam uses its own default instead of beta1={beta1}.")
    return fns.model_opt(d_loss, g_loss, learning_rate)


def build_gan(fns, params):
    """The full GAN graph from the exercise functions; returns a dict of its tensors and ops."""
    from grader.tf1 import tf

    conv = params["architecture"] == "dcgan"
    graph = tf.Graph()
    with graph.as_default(), tf.variable_scope(tf.get_variable_scope(), use_resource=True):
        tf.set_random_seed(params["seed"])
        input_real, input_z = fns.model_inputs(IMAGE_SIZE, params["z_size"])
        if conv:  # the training graph: batch statistics in G, dropout in D
            g_model = fns.conv_generator(input_z, True, **conv_generator_settings(params))
            d_settings = dict(alpha=params["alpha"], dropout=params["dropout"], channels=params["channels"],
                              kernel_size=params["kernel_size"])
            d_out_real, d_logits_real = fns.conv_discriminator(input_real, True, **d_settings)
            d_out_fake, d_logits_fake = fns.conv_discriminator(g_model, True, reuse=True, **d_settings)
        else:
            g_model = call_network(
                "generator", fns.generator, input_z, IMAGE_SIZE, n_units=params["g_hidden"], alpha=params["alpha"]
            )
            d_out_real, d_logits_real = call_network(
                "discriminator", fns.discriminator, input_real, n_units=params["d_hidden"], alpha=params["alpha"]
            )
            d_out_fake, d_logits_fake = fns.discriminator(
                g_model, reuse=True, n_units=params["d_hidden"], alpha=params["alpha"]
            )
        d_loss, g_loss = fns.model_loss(d_logits_real, d_logits_fake, smooth=params["smooth"])
        learning_rate = tf.placeholder(tf.float32, (), name="learning_rate")
        d_objective = d_loss + r1_penalty(input_real, d_logits_real, params["r1_gamma"])
        if conv:
            d_train_opt, g_train_opt = fns.conv_model_opt(d_objective, g_loss, learning_rate, beta1=params["beta1"])
        else:
            d_train_opt, g_train_opt = call_model_opt(fns, d_objective, g_loss, learning_rate, params["beta1"])
        g_vars = generator_variables(tf)
        if not g_vars:
            raise RuntimeError(
                "generator() created no variables under the scope 'generator/'; check its variable_scope."
            )
        gan = {
            "graph": graph, "input_real": input_real, "input_z": input_z, "g_model": g_model, "g_sample": g_model,
            "learning_rate": learning_rate, "train_ops": [d_train_opt, g_train_opt],
            "d_train_opt": d_train_opt, "g_train_opt": g_train_opt,
            "metrics": [d_loss, g_loss, tf.reduce_mean(d_out_real), tf.reduce_mean(d_out_fake)],
            "saved_variables": g_vars,
        }
        network = None
        if conv:
            def network(z, training):
                return fns.conv_generator(z, training, reuse=True, **conv_generator_settings(params))

            # without averaging, samples use the moving averages of batch norm kept during training
            gan["g_sample"] = network(input_z, False)
        if params["ema_decay"] > 0:
            add_weight_averaging(fns, params, gan, g_vars, network=network)
        gan["saver"] = tf.train.Saver(var_list=gan["saved_variables"], max_to_keep=1)
        gan["init"] = tf.global_variables_initializer()
        return gan


def r1_penalty(input_real, d_logits_real, gamma):
    """gamma / 2 * mean over the batch of |d logit / d x|^2 at the real images (0 when gamma is 0).

    Mescheder, Geiger, Nowozin (2018), "Which training methods for GANs actually converge?": the
    penalty pushes D towards zero gradient on the data, where an ideal D has it, which damps the
    back-and-forth of the game. It adds a second backward pass through D on the real batch.
    """
    from grader.tf1 import tf

    if gamma == 0:
        return 0.0
    gradient = tf.gradients(tf.reduce_sum(d_logits_real), input_real)[0]
    if gradient is None:
        print("Note: your discriminator's logits do not depend on its input tensor, so the gradient penalty is off.")
        return 0.0
    return 0.5 * gamma * tf.reduce_mean(tf.reduce_sum(tf.square(gradient), axis=list(range(1, gradient.shape.ndims))))


def conv_generator_settings(params):
    """The keyword arguments of conv_generator (besides z, training and reuse) for these settings."""
    return dict(alpha=params["alpha"], channels=params["channels"], kernel_size=params["kernel_size"])


def add_weight_averaging(fns, params, gan, g_vars, out_dim=IMAGE_SIZE, network=None):
    """Keep an exponential moving average of the generator's weights and draw samples with it.

    The average is updated after each generator update (control dependency, so it always reads the
    new weights); a second call of the student's generator, with reuse=True and a custom getter that
    hands out the averaged copies, draws the samples; the checkpoint stores the averaged values
    under the generator's own variable names, so restoring needs no averaging code at all.
    ``gan`` needs "g_train_opt", "input_z" and the list "train_ops" ([D op, G op]), and gets "g_sample" and
    "saved_variables"; ``out_dim`` is the generator's output size (the ring lab of notebook 07 uses 2).

    ``network(z, training)``, if given, builds that second call instead of fns.generator (the
    convolutional generator: ``training`` is batch norm's switch). Batch norm's moving averages
    (the generator's non-trainable variables) belong to the trained weights, not to their average,
    so they are not averaged: the samples use statistics recomputed for the averaged weights
    (``recompute_statistics``, run by train_gan after every epoch), saved under the moving averages'
    names, so the restored generator, with training=False, draws exactly the same digits.
    """
    from grader.tf1 import tf

    trainable = set(tf.trainable_variables())
    weights = [variable for variable in g_vars if variable in trainable]
    statistics = [variable for variable in g_vars if variable not in trainable]  # batch norm's moving averages
    ema = tf.train.ExponentialMovingAverage(params["ema_decay"], zero_debias=False)
    with tf.control_dependencies([gan["g_train_opt"]]):
        ema_update = ema.apply(weights)
    slots = {}
    with tf.variable_scope("sampling_statistics", reuse=False):
        for kind in ("recomputed", "probe"):
            slots[kind] = {variable: tf.get_variable(
                f"{kind}/{variable.op.name}", variable.shape, variable.dtype.base_dtype, trainable=False,
                initializer=tf.ones_initializer() if "variance" in variable.op.name else tf.zeros_initializer(),
            ) for variable in statistics}
    handed_out = []

    def getter_for(kind):
        def averaged(getter, name, *args, **kwargs):
            variable = getter(name, *args, **kwargs)
            handed_out.append(variable)
            if variable in slots.get(kind, {}):
                return slots[kind][variable]
            average = ema.average(variable)
            return average if average is not None else variable
        return averaged

    def averaged_generator(kind, training):
        with tf.variable_scope(tf.get_variable_scope(), custom_getter=getter_for(kind)):
            if network is not None:
                return network(gan["input_z"], training)
            return fns.generator(
                gan["input_z"], out_dim, n_units=params["g_hidden"], reuse=True, alpha=params["alpha"]
            )

    g_sample = averaged_generator("recomputed", False)
    if set(handed_out) != set(g_vars):  # e.g. a generator that does not use tf.get_variable / tf.layers
        print("Note: your generator's variables cannot be averaged (are they made with tf.get_variable "
              "or tf.layers?); training without weight averaging.")
        return
    gan["train_ops"][1] = ema_update  # runs the generator update first (control dependency)
    gan["g_sample"] = g_sample
    gan["saved_variables"] = {variable.op.name: ema.average(variable) for variable in weights}
    if statistics:
        # the same averaged weights with batch statistics: its batch norm updates, run on a fixed
        # batch of z from probes set to 0 and then to 1, give the batch's mean and variance (the
        # update is probe <- momentum * probe + (1 - momentum) * batch value, whatever the momentum)
        updates = tf.get_collection_ref(tf.GraphKeys.UPDATE_OPS)
        before = list(updates)
        gan["g_sample_batch_statistics"] = averaged_generator("probe", True)
        new_updates = [op for op in updates if op not in before]
        updates[:] = before  # not for any training op
        gan["g_sample_running_statistics"] = averaged_generator("running", False)  # for measurements only
        if not new_updates:
            print("Note: your generator's batch norm adds no update ops to tf.GraphKeys.UPDATE_OPS, so the "
                  "samples use the moving averages of training, which do not match the averaged weights.")
            gan["g_sample"] = gan["g_sample_running_statistics"]
            gan["saved_variables"].update({variable.op.name: variable for variable in statistics})
            return
        probes = [slots["probe"][variable] for variable in statistics]
        values = [tf.placeholder(variable.dtype.base_dtype, variable.shape) for variable in statistics]
        gan["bn_statistics"] = {
            "updates": new_updates, "probes": probes,
            "set_probes": [{probe: np.full(probe.shape.as_list(), level, np.float32) for probe in probes}
                           for level in (0.0, 1.0)],
            "values": values,
            "assign": [slots["recomputed"][variable].assign(value)
                       for variable, value in zip(statistics, values, strict=True)],
            "z": latent(np.random.RandomState(params["seed"] + 3), STATISTICS_BATCH, params["z_size"]),
        }
        gan["saved_variables"].update({variable.op.name: slots["recomputed"][variable] for variable in statistics})


def recompute_statistics(session, gan):
    """Set the sampling generator's batch norm statistics to those of the averaged weights on a
    fixed batch of STATISTICS_BATCH latent vectors (nothing to do without batch norm or averaging)."""
    statistics = gan.get("bn_statistics")
    if statistics is None:
        return
    read = []
    for levels in statistics["set_probes"]:
        for probe, level in levels.items():
            probe.load(level, session)
        session.run(statistics["updates"], {gan["input_z"]: statistics["z"]})
        read.append(session.run(statistics["probes"]))
    feed = {}
    for value, from_zero, from_one in zip(statistics["values"], *read, strict=True):
        keep = from_one - from_zero  # the momentum, element by element
        feed[value] = from_zero / (1.0 - keep)
    session.run(statistics["assign"], feed)


def generator_variables(tf):
    return [v for v in tf.global_variables() if v.name.startswith("generator/") and "/Adam" not in v.name]


def session_config():
    """All cores for each op; two ops at once (D on real and on fake images, the two updates run
    side by side): 1.4x to 1.7x the steps/s of one op at a time on 2 Xeon cores, 1.1x to 1.5x on
    2 EPYC cores (benchmarks/bench_training.py). On threads of its own (see grader.tf1)."""
    from grader import tf1

    return tf1.session_config(inter_op_threads=2)


def latent(rng, n, z_size):
    """n latent vectors, uniform in [-1, 1] as in the classic tutorial."""
    return rng.uniform(-1, 1, size=(n, z_size)).astype(np.float32)


def generate(session, gan, z, batch_size=1000, output="g_sample"):
    """Generator output for latent vectors z, as (n, 28, 28) in [-1, 1] (``output``: which tensor of ``gan``)."""
    parts = [
        session.run(gan[output], {gan["input_z"]: z[i : i + batch_size]}) for i in range(0, len(z), batch_size)
    ]
    return np.concatenate(parts).reshape(-1, 28, 28)


# ----------------------------------------------------------------------------- training


def training_images(params):
    """The MNIST training images (n, 784) in [-1, 1], the first ``train_images`` of them if set."""
    from grader.data import load_mnist

    images, _ = load_mnist("train")
    if params["train_images"] is not None:
        images = images[: params["train_images"]]
    low, high = float(images.min()), float(images.max())
    assert low >= -1.0 and high <= 1.0 and low < 0, f"MNIST should be scaled to [-1, 1], found [{low}, {high}]"
    return images


def linear_decay(learning_rate, final_fraction, step, total_steps):
    """The rate at ``step`` of ``total_steps``: learning_rate at the first step, falling linearly to
    learning_rate * final_fraction at the last (the ring lab of notebook 07 uses it too)."""
    return learning_rate * (1 - (1 - final_fraction) * step / max(total_steps - 1, 1))


def train_gan(fns, params, output_dir, progress=True, on_epoch_end=None, write_outputs=True):
    """Train the GAN and write its outputs to ``output_dir``; returns a dict describing the run.

    Outputs: checkpoint/ (generator variables only), params.json, losses.csv (one row per step),
    epoch_samples.npy (the fixed-z grid after each epoch), samples.npy (n_samples digits,
    (n, 28, 28) in [-1, 1]) and figures/*.png. ``on_epoch_end(epoch, draw, train_seconds)`` is
    called after each epoch, ``draw(z)`` giving the generator's digits; its time is not counted, and
    returning True stops training there. The returned dict holds params, history (one row per step:
    d_loss, g_loss, mean D(x), mean D(G(z))), samples, epoch_samples, steps, train_seconds.
    """
    from grader.progress import progress_bar
    from grader.quiet import quiet
    from grader.tf1 import tf

    params = check_params(params)
    if write_outputs and output_dir is None:
        raise ValueError("output_dir is None: say where the checkpoint, losses.csv and samples.npy should go.")
    output_dir = Path(output_dir) if output_dir is not None else None
    images = training_images(params)
    batch_size, z_size = params["batch_size"], params["z_size"]
    batches_per_epoch = len(images) // batch_size
    total_steps = params["epochs"] * batches_per_epoch
    data_rng = np.random.RandomState(params["seed"])  # shuffling and training z
    fixed_z = latent(np.random.RandomState(params["seed"] + 1), SAMPLE_GRID, z_size)

    with quiet():
        gan = build_gan(fns, params)
        session = tf.Session(graph=gan["graph"], config=session_config())
        session.run(gan["init"])
    fetches = gan["train_ops"] + gan["metrics"]
    history = np.zeros((total_steps, 4), np.float32)  # d_loss, g_loss, mean D(x), mean D(G(z))
    epoch_samples, step, train_seconds = [], 0, 0.0
    bar = progress_bar(total=total_steps, desc="training", unit="step", disable=not progress, mininterval=0.5)
    try:
        for epoch in range(params["epochs"]):
            started = time.perf_counter()
            shuffled = images[data_rng.permutation(len(images))]
            for i in range(batches_per_epoch):
                rate = linear_decay(params["learning_rate"], params["final_lr_fraction"], step, total_steps)
                feed = {
                    gan["input_real"]: shuffled[i * batch_size : (i + 1) * batch_size],
                    gan["input_z"]: latent(data_rng, batch_size, z_size),
                    gan["learning_rate"]: rate,
                }
                history[step] = session.run(fetches, feed)[2:]
                step += 1
                if step % 50 == 0 or step == total_steps:
                    recent = history[max(0, step - 50) : step].mean(axis=0)
                    bar.set_postfix_str(
                        f"epoch {epoch + 1}  D loss {recent[0]:.3f}  G loss {recent[1]:.3f}  "
                        f"D(x) {recent[2]:.2f}  D(G(z)) {recent[3]:.2f}", refresh=False
                    )
                    bar.update(50 if step % 50 == 0 else step % 50)
            train_seconds += time.perf_counter() - started
            if not np.all(np.isfinite(history[step - 1])):
                raise FloatingPointError(
                    f"The losses became NaN or infinite in epoch {epoch + 1}: training diverged. "
                    f"Try a lower learning_rate (now {params['learning_rate']})."
                )
            recompute_statistics(session, gan)
            epoch_samples.append(generate(session, gan, fixed_z))
            if on_epoch_end is not None:
                def draw(z, output="g_sample"):
                    return generate(session, gan, np.asarray(z, np.float32), output=output)

                if on_epoch_end(epoch + 1, draw, train_seconds):
                    params = dict(params, epochs=epoch + 1)  # stopped early: record what was done
                    history = history[:step]
                    break
        bar.close()
        samples = generate(session, gan, latent(np.random.RandomState(params["seed"] + 2), params["n_samples"], z_size))
        run = {
            "params": params, "output_dir": output_dir, "history": history, "samples": samples,
            "epoch_samples": np.stack(epoch_samples), "train_seconds": train_seconds,
            "steps": step, "steps_per_second": step / max(train_seconds, 1e-9),
        }
        if write_outputs:
            with quiet():
                write_run(run, session, gan)
    finally:
        bar.close()
        session.close()
    return run


def write_run(run, session, gan):
    """Write the checkpoint, params.json, losses.csv, samples and figures of a finished run."""
    from grader import plots

    output_dir = run["output_dir"]
    figures = output_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    gan["saver"].save(session, str(output_dir / "checkpoint" / "generator"), write_meta_graph=False)
    (output_dir / "params.json").write_text(json.dumps(run["params"], indent=2))
    batches_per_epoch = run["steps"] // run["params"]["epochs"]
    with open(output_dir / "losses.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "epoch", "d_loss", "g_loss", "d_real", "d_fake"])
        for step, row in enumerate(run["history"]):
            writer.writerow([step + 1, step // batches_per_epoch + 1, *(f"{value:.6g}" for value in row)])
    np.save(output_dir / "samples.npy", run["samples"].astype(np.float32))
    np.save(output_dir / "epoch_samples.npy", run["epoch_samples"].astype(np.float32))
    plots.save(
        plots.sample_grid(run["samples"][:64], title="New digits from the trained generator"), figures / "samples.png"
    )
    plots.save(plots.epoch_grid(run["epoch_samples"]), figures / "samples_per_epoch.png")
    plots.save(plots.loss_curves(run["history"], batches_per_epoch), figures / "losses.png")


def read_history(output_dir):
    """losses.csv as a dict of arrays (step, epoch, d_loss, g_loss, d_real, d_fake)."""
    with open(Path(output_dir) / "losses.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]} if rows else {}


# ----------------------------------------------------------------------------- the trained generator


class TrainedGenerator:
    """The generator restored from a run's checkpoint into a fresh tf.Graph."""

    def __init__(self, fns, output_dir):
        from grader.quiet import quiet
        from grader.tf1 import tf

        output_dir = Path(output_dir)
        params_file, checkpoint = output_dir / "params.json", output_dir / "checkpoint" / "generator"
        if not params_file.is_file() or not Path(str(checkpoint) + ".index").is_file():
            raise FileNotFoundError(
                f"No trained generator in {output_dir}: expected params.json and checkpoint/generator.index, "
                "written by train_gan(). Run the training cell first (or check output_dir)."
            )
        self.params = json.loads(params_file.read_text())
        self.graph = tf.Graph()
        with quiet(), self.graph.as_default():
            self.input_z = tf.placeholder(tf.float32, (None, self.params["z_size"]), name="input_z")
            if self.params.get("architecture", "mlp") == "dcgan":  # batch norm with the saved statistics
                self.output = fns.conv_generator(self.input_z, False, **conv_generator_settings(self.params))
            else:
                self.output = fns.generator(
                    self.input_z, IMAGE_SIZE, n_units=self.params["g_hidden"], alpha=self.params["alpha"]
                )
            self.session = tf.Session(graph=self.graph, config=session_config())
            tf.train.Saver(var_list=generator_variables(tf)).restore(self.session, str(checkpoint))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.session.close()

    @property
    def z_size(self):
        return self.params["z_size"]

    def random_z(self, n, seed=None):
        return latent(np.random.RandomState(seed), n, self.z_size)

    def __call__(self, z):
        """Digits (n, 28, 28) in [-1, 1] for latent vectors z (n, z_size)."""
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.z_size:
            raise ValueError(f"z must have shape (n, {self.z_size}) for this generator, got {z.shape}.")
        return np.concatenate([
            self.session.run(self.output, {self.input_z: z[i : i + 1000]}) for i in range(0, len(z), 1000)
        ]).reshape(-1, 28, 28)

    def sample(self, n, seed=None):
        """n new digits from random latent vectors (seeded if ``seed`` is given)."""
        return self(self.random_z(n, seed))

    def interpolate(self, z_start, z_end, steps=10):
        """Digits along the straight line from z_start to z_end (steps images, both ends included)."""
        weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        z_start, z_end = np.asarray(z_start, np.float32).reshape(1, -1), np.asarray(z_end, np.float32).reshape(1, -1)
        return self((1 - weights) * z_start + weights * z_end)


def load_generator(fns, output_dir):
    """A TrainedGenerator restored from ``output_dir`` (use it in a ``with`` block, or .close() it)."""
    return TrainedGenerator(fns, output_dir)

"""Checks for notebook 8's "find the bugs" exercise: one check per planted bug, each naming its bug.

The student gets a short DCGAN (``dcgan_generator``, ``dcgan_discriminator``, ``dcgan_losses``,
``dcgan_optimizers``) whose graph builds without an error; most of its bugs only make it train
wrongly. Each check tests one behaviour, independently of the other bugs: the optimiser checks
build a toy GAN of their own whose layers are named like the DCGAN's, so that a name filter goes
wrong on it exactly as on the real one.
"""
import numpy as np

from grader.checks._common import (
    call_student,
    check_tensor,
    describe,
    fail,
    fresh_graph,
    run,
    session,
)
from grader.tf1 import tf

Z_DIM = 100


def _bug(what, expected, found, hint):
    fail(f"Bug still present: {what}", expected=expected, found=found, hint=hint)


def dcgan_output_size(dcgan_generator):
    """dcgan_generator draws 28 x 28 x 1 images, the size of MNIST (not 32 x 32)."""
    with fresh_graph() as graph:
        z = tf.placeholder(tf.float32, [None, Z_DIM])
        before = len(graph.get_operations())
        images = call_student(dcgan_generator, z, True)
        sizes = [tuple(op.outputs[0].shape.as_list()[1:3]) for op in graph.get_operations()[before:]
                 if op.type == "Conv2DBackpropInput"]
        if not isinstance(images, tf.Tensor):
            fail("dcgan_generator should return one tensor.", expected="images (n, 28, 28, 1)", found=describe(images))
        if images.shape.rank == 4 and images.shape.as_list()[1:] != [28, 28, 1]:
            _bug("the generator draws images of the wrong size.", expected="(None, 28, 28, 1), like MNIST",
                 found=f"{images.shape} (transposed convolutions: {' -> '.join(map(str, sizes))})",
                 hint=f"the images come out {images.shape[1]} x {images.shape[2]}: look at the size the first "
                      "layer starts from and at how many times the transposed convolutions double it. D could "
                      "otherwise tell real from fake by their size alone.")
        check_tensor(images, "the generator's images", (None, 28, 28, 1), tf.float32)


def dcgan_layers_chained(dcgan_discriminator):
    """Each convolution of dcgan_discriminator is fed the previous layer's output, not the input image."""
    with fresh_graph() as graph:
        images = tf.placeholder(tf.float32, [None, 28, 28, 1])
        before = len(graph.get_operations())
        call_student(dcgan_discriminator, images)
        convolutions = [op for op in graph.get_operations()[before:] if op.type == "Conv2D"]
    if len(convolutions) < 2:
        fail("dcgan_discriminator should keep its two convolutions.", expected="2 Conv2D layers",
             found=f"{len(convolutions)}")
    fed_the_image = [op.name for op in convolutions[1:] if op.inputs[0] is images]
    if fed_the_image:
        _bug("a later convolution is fed the input image instead of the previous layer's output.",
             expected="conv 2 takes conv 1's (activated) output", found=f"{fed_the_image} take the images",
             hint="as written, the first layer's work is thrown away: every layer after the first must take the "
                  "previous layer's result.")


def dcgan_any_batch_size(dcgan_discriminator):
    """dcgan_discriminator works for any batch size (no reshape fixed to BATCH_SIZE)."""
    with fresh_graph() as graph:
        images = tf.placeholder(tf.float32, [None, 28, 28, 1])
        result = call_student(dcgan_discriminator, images)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            fail("dcgan_discriminator should return two tensors.", expected="(probability, logits)",
                 found=describe(result))
        logits = result[1]
        if not isinstance(logits, tf.Tensor) or logits.dtype.base_dtype != tf.float32:
            fail("dcgan_discriminator's logits are not a float32 tensor.", expected="a float32 tensor (n, 1)",
                 found=describe(logits))
        if logits.shape.rank and logits.shape.as_list()[0] is not None:
            _bug(f"the discriminator's logits have a fixed batch size of {logits.shape.as_list()[0]}.",
                 expected="logits of shape (None, 1)", found=f"shape {logits.shape}",
                 hint="a reshape with a fixed batch size: the batch axis must adapt to the batch fed, so that "
                      "sampling 16 digits works too.")
        with session(graph) as sess:
            run(sess, tf.global_variables_initializer(), what="initialising the discriminator")
            for batch in (5, 1):
                feed = {images: np.zeros((batch, 28, 28, 1), np.float32)}
                try:
                    found = sess.run(logits, feed)
                except Exception as error:  # the reshape to a fixed batch size fails here
                    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
                    detail = next((line for line in lines if line.startswith("Input to reshape")),
                                  lines[0] if lines else "")
                    _bug(f"the discriminator fails for a batch of {batch}.", expected=f"logits of shape ({batch}, 1)",
                         found=f"{type(error).__name__}: {detail[:200]}",
                         hint="a reshape with a fixed batch size: the batch axis must adapt to the batch fed, so that "
                              "sampling 16 digits works too.")
                if found.shape != (batch, 1):
                    fail(f"For a batch of {batch} the discriminator returns {found.shape[0]} logits.",
                         expected=f"({batch}, 1)", found=found.shape,
                         hint="the flattened maps are not 7 x 7 x 128 per image, so the reshape splits each image "
                              "into several rows: is every convolution fed the previous layer?")


def dcgan_fake_labels(dcgan_losses):
    """dcgan_losses labels fake images 0 in D's loss (and 1 in G's)."""
    logits_real = np.array([[1.5], [-0.5], [2.0]], np.float32)
    logits_fake = np.array([[-1.0], [0.7]], np.float32)
    with fresh_graph() as graph:
        real, fake = tf.constant(logits_real), tf.constant(logits_fake)
        result = call_student(dcgan_losses, real, fake)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            fail("dcgan_losses should return two losses.", expected="(d_loss, g_loss)", found=describe(result))
        for loss, name in zip(result, ("D's loss", "G's loss"), strict=True):
            check_tensor(loss, name, (), tf.float32)
        with session(graph) as sess:
            d_loss, g_loss = (float(value) for value in run(sess, list(result)))

    def cross_entropy(logits, label):
        return float(np.mean(np.logaddexp(0.0, -logits) if label == 1 else np.logaddexp(0.0, logits)))

    expected = cross_entropy(logits_real, 1) + cross_entropy(logits_fake, 0)
    if np.isclose(d_loss, cross_entropy(logits_real, 1) + cross_entropy(logits_fake, 1), rtol=1e-4):
        _bug("D's loss labels the fake images 1 (real).", expected=f"D loss {expected:.5f}", found=f"{d_loss:.5f}",
             hint="D must learn to call fakes fake. With the fakes labelled real, D and G pull the same way and "
                  "nothing is learnt.")
    if not np.isclose(d_loss, expected, rtol=1e-4):
        fail("D's loss is not the cross-entropy of real images labelled 1 and fakes labelled 0.",
             expected=f"{expected:.5f}", found=f"{d_loss:.5f}")
    if not np.isclose(g_loss, cross_entropy(logits_fake, 1), rtol=1e-4):
        fail("G's loss changed: it should stay the cross-entropy of the fakes labelled 1.",
             expected=f"{cross_entropy(logits_fake, 1):.5f}", found=f"{g_loss:.5f}")


class NamedToyGan:
    """A toy GAN whose layers carry the DCGAN's names, batch norm in G included."""

    def __init__(self):
        init = tf.random_normal_initializer(stddev=0.5, seed=5)
        self.z = tf.placeholder(tf.float32, [None, 3])
        self.x = tf.placeholder(tf.float32, [None, 4])
        with tf.variable_scope("generator"):
            h = tf.layers.dense(self.z, 4, kernel_initializer=init, name="g_projected")
            h = tf.nn.leaky_relu(tf.layers.batch_normalization(h, training=True, name="g_bn_0"), 0.2)
            fake = tf.tanh(tf.layers.dense(h, 4, kernel_initializer=init, name="g_upsampled_1"))

        def discriminator(inputs, reuse):
            with tf.variable_scope("discriminator", reuse=reuse):
                h = tf.nn.leaky_relu(tf.layers.dense(inputs, 5, kernel_initializer=init, name="d_conv_1"), 0.2)
                return tf.layers.dense(h, 1, kernel_initializer=init, name="d_logit")

        real_logits, fake_logits = discriminator(self.x, False), discriminator(fake, True)
        ce = tf.nn.sigmoid_cross_entropy_with_logits
        self.d_loss = tf.reduce_mean(ce(logits=real_logits, labels=tf.ones_like(real_logits))) + tf.reduce_mean(
            ce(logits=fake_logits, labels=tf.zeros_like(fake_logits)))
        self.g_loss = tf.reduce_mean(ce(logits=fake_logits, labels=tf.ones_like(fake_logits)))
        self.trainable = {kind: [v for v in tf.trainable_variables() if v.name.startswith(kind + "/")]
                          for kind in ("generator", "discriminator")}
        self.moving = [v for v in tf.global_variables() if "moving_" in v.name]
        rng = np.random.default_rng(9)
        self.feed = {self.z: rng.normal(size=(6, 3)).astype(np.float32),
                     self.x: rng.uniform(-1, 1, (6, 4)).astype(np.float32)}


def _run_optimizers(dcgan_optimizers):
    """{op name: [names of the variables it changed]} for the student's two ops on a NamedToyGan."""
    with fresh_graph() as graph:
        gan = NamedToyGan()
        result = call_student(dcgan_optimizers, gan.d_loss, gan.g_loss)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            fail("dcgan_optimizers should return two ops.", expected="(d_train, g_train)", found=describe(result))
        watched = gan.trainable["generator"] + gan.trainable["discriminator"] + gan.moving
        changed = {}
        for name, op in zip(("D's train op", "G's train op"), result, strict=True):
            with session(graph) as sess:
                run(sess, tf.global_variables_initializer(), what="initialising the test GAN")
                start = run(sess, watched)
                run(sess, op, gan.feed, what=f"running {name}")
                after = run(sess, watched)
            changed[name] = [v.op.name for v, a, b in zip(watched, start, after, strict=True) if not np.allclose(a, b)]
    return changed


def dcgan_variable_lists(dcgan_optimizers):
    """D's train op changes only the discriminator's variables, G's only the generator's."""
    changed = _run_optimizers(dcgan_optimizers)
    for name, own, other in (("D's train op", "discriminator", "generator"),
                             ("G's train op", "generator", "discriminator")):
        foreign = [v for v in changed[name] if v.startswith(other + "/") and "moving_" not in v]
        if foreign:
            _bug(f"{name} also trains the {other}'s variables.", expected=f"only variables under '{own}/'",
                 found=foreign, hint="the filter that picks each network's variables also matches names of the "
                                     "other network: read those names letter by letter.")
        if not any(v.startswith(own + "/") for v in changed[name]):
            fail(f"{name} trains none of the {own}'s variables.", expected=f"the variables under '{own}/'",
                 found=changed[name] or "nothing changed")


def dcgan_batch_norm_updates(dcgan_optimizers):
    """G's train op runs the generator's batch-norm updates (its moving mean and variance change), D's does not."""
    changed = _run_optimizers(dcgan_optimizers)
    moving = [v for v in changed["G's train op"] if "moving_" in v]
    if not moving:
        _bug("the generator's batch-norm moving averages never update.",
             expected="G's train op runs the generator's tf.GraphKeys.UPDATE_OPS", found="moving mean and variance "
             "unchanged after a step", hint="nothing runs the generator's UPDATE_OPS (see Part 3); sampling with "
                                           "training=False then uses the initial statistics (mean 0, variance 1).")
    foreign = [v for v in changed["D's train op"] if "moving_" in v]
    if foreign:
        fail("D's train op also runs the generator's batch-norm updates.",
             expected="the generator's UPDATE_OPS run with G's train op only", found=f"D's train op changes {foreign}",
             hint="only G's minimize belongs inside `with tf.control_dependencies(<the generator's update ops>):`; "
                  "with D's there too, every D step moves G's moving averages with the batch drawn for D's step "
                  "(Part 3's rule: each train op runs its own network's updates only).")

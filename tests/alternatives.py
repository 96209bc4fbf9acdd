"""Correct answers written differently from the reference: each must get full marks."""

ALTERNATIVES = {
    "unnamed placeholders returned as a list": ("model_inputs", '''
def model_inputs(real_dim, z_dim):
    real = tf.placeholder(dtype=tf.float32, shape=[None, real_dim])
    z = tf.placeholder(dtype=tf.float32, shape=[None, z_dim])
    return [real, z]
'''),
    "tf.nn.leaky_relu and tf.AUTO_REUSE": ("generator", '''
def generator(z, out_dim, n_units=128, reuse=False, alpha=0.01):
    with tf.variable_scope("generator", reuse=tf.AUTO_REUSE):
        h = z
        for units in np.atleast_1d(n_units):
            h = tf.nn.leaky_relu(tf.layers.dense(h, int(units)), alpha=alpha)
        return tf.nn.tanh(tf.layers.dense(h, out_dim))
'''),
    "dense layers built from tf.get_variable": ("generator", '''
def dense(x, units, name):
    with tf.variable_scope(name):
        w = tf.get_variable("w", [x.shape[-1], units], initializer=tf.glorot_uniform_initializer())
        b = tf.get_variable("b", [units], initializer=tf.zeros_initializer())
        return tf.matmul(x, w) + b

def generator(z, out_dim, n_units=128, reuse=False, alpha=0.01):
    layers = n_units if isinstance(n_units, (list, tuple)) else (n_units,)
    with tf.variable_scope("generator", reuse=reuse):
        h = z
        for i, units in enumerate(layers):
            h = dense(h, units, f"hidden{i}")
            h = tf.where(h > 0, h, alpha * h)
        return tf.tanh(dense(h, out_dim, "out"))
'''),
    "correct code that prints warnings and writes to stderr": ("discriminator", '''
import sys
import warnings

def discriminator(x, n_units=128, reuse=False, alpha=0.01):
    warnings.warn("a student's own warning", UserWarning)
    print("debug: building the discriminator", file=sys.stderr)
    tf.logging.warning("TensorFlow-style log line")
    try:
        sizes = list(n_units)
    except TypeError:
        sizes = [n_units]
    with tf.variable_scope("discriminator", reuse=reuse):
        h = x
        for size in sizes:
            h = tf.layers.dense(h, size)
            h = tf.maximum(alpha * h, h)
        logits = tf.layers.dense(h, 1)
    return tf.nn.sigmoid(logits), logits
'''),
    "tf.losses.sigmoid_cross_entropy": ("model_loss", '''
def model_loss(d_logits_real, d_logits_fake, smooth=0.1):
    real_labels = tf.ones_like(d_logits_real) * (1 - smooth)
    d_loss = tf.losses.sigmoid_cross_entropy(real_labels, d_logits_real) + \\
        tf.losses.sigmoid_cross_entropy(tf.zeros_like(d_logits_fake), d_logits_fake)
    g_loss = tf.losses.sigmoid_cross_entropy(tf.ones_like(d_logits_fake), d_logits_fake)
    return d_loss, g_loss
'''),
    "cross-entropy written with softplus": ("model_loss", '''
def cross_entropy(logits, labels):
    # stable form of -[y log s(x) + (1 - y) log(1 - s(x))]
    return labels * tf.nn.softplus(-logits) + (1 - labels) * tf.nn.softplus(logits)

def model_loss(d_logits_real, d_logits_fake, smooth=0.1):
    d_loss = tf.reduce_mean(cross_entropy(d_logits_real, 1.0 - smooth)) + \\
        tf.reduce_mean(cross_entropy(d_logits_fake, 0.0))
    g_loss = tf.reduce_mean(cross_entropy(d_logits_fake, 1.0))
    return d_loss, g_loss
'''),
    "variables taken from collections by scope": ("model_opt", '''
def model_opt(d_loss, g_loss, learning_rate, beta1=0.9):
    d_vars = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="discriminator")
    g_vars = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="generator")
    d_train_opt = tf.train.AdamOptimizer(learning_rate=learning_rate, beta1=beta1).minimize(d_loss, var_list=d_vars)
    g_train_opt = tf.train.AdamOptimizer(learning_rate=learning_rate, beta1=beta1).minimize(g_loss, var_list=g_vars)
    return d_train_opt, g_train_opt
'''),
    "scope.reuse_variables() and an activation lambda": ("discriminator", '''
def discriminator(x, n_units=128, reuse=False, alpha=0.01):
    with tf.variable_scope("discriminator") as scope:
        if reuse:
            scope.reuse_variables()
        h = x
        for units in (n_units if hasattr(n_units, "__iter__") else [n_units]):
            h = tf.layers.dense(h, units, activation=lambda t: tf.nn.leaky_relu(t, alpha))
        logits = tf.layers.dense(h, 1)
        return tf.sigmoid(logits), logits
'''),
    "V from a piecewise log-sigmoid": ("value_function", '''
def value_function(d_logits_real, d_logits_fake):
    def log_sigmoid(l):
        l = np.asarray(l, dtype=float)
        with np.errstate(over="ignore"):
            return np.where(l >= 0, -np.log1p(np.exp(-l)), l - np.log1p(np.exp(l)))
    return np.mean(log_sigmoid(d_logits_real)) + np.mean(log_sigmoid(-np.asarray(d_logits_fake)))
'''),
    "V through TensorFlow's cross-entropy": ("value_function", '''
def value_function(d_logits_real, d_logits_fake):
    with tf.Graph().as_default(), tf.Session() as sess:
        real = tf.constant(d_logits_real, tf.float64)
        fake = tf.constant(d_logits_fake, tf.float64)
        ce = tf.nn.sigmoid_cross_entropy_with_logits
        v = -tf.reduce_mean(ce(labels=tf.ones_like(real), logits=real)) - tf.reduce_mean(
            ce(labels=tf.zeros_like(fake), logits=fake))
        return sess.run(v)
'''),
    "D* with np.where under errstate": ("optimal_discriminator", '''
def optimal_discriminator(p_data, p_g):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(p_data + p_g > 0, p_data / (p_data + p_g), 0.5)
'''),
    "JSD from entropies": ("js_divergence", '''
def entropy(p):
    p = p[p > 0]
    return -np.sum(p * np.log(p))

def js_divergence(p, q):
    return entropy((p + q) / 2) - (entropy(p) + entropy(q)) / 2
'''),
    "JSD with a loop over the grid": ("js_divergence", '''
def js_divergence(p, q):
    total = 0.0
    for a, b in zip(p, q):
        m = (a + b) / 2
        if a > 0:
            total += 0.5 * a * math.log(a / m)
        if b > 0:
            total += 0.5 * b * math.log(b / m)
    return total
'''),
    "generator gradients from TensorFlow's autodiff": ("generator_loss_gradients", '''
def generator_loss_gradients(d_logits_fake):
    with tf.Graph().as_default(), tf.Session() as sess:
        logits = tf.constant(d_logits_fake, tf.float64)
        minimax = -tf.nn.softplus(logits)            # log(1 - sigmoid(l))
        non_saturating = tf.nn.softplus(-logits)     # -log(sigmoid(l))
        return tuple(sess.run([tf.gradients(minimax, logits)[0], tf.gradients(non_saturating, logits)[0]]))
'''),
    "steps returning NumPy arrays": ("simultaneous_step", '''
def simultaneous_step(x, y, eta):
    gradient = np.array([y, x])              # d(xy)/dx, d(xy)/dy
    return np.array([x, y]) + eta * np.array([-1.0, 1.0]) * gradient
'''),
    "training_step with positional feeds and a while loop": ("training_step", '''
def training_step(session, d_train_op, g_train_op, input_real, input_z, real_batch, z_batch, k=1):
    done = 0
    while done < k:
        session.run([d_train_op], {input_z: z_batch(), input_real: real_batch()})
        done += 1
    session.run(g_train_op, {input_z: z_batch(), input_real: real_batch()})  # real batch: unneeded, harmless
'''),
    "a choice in capitals, with spaces": ("answer_strong_gradient", '''
answer_strong_gradient = " B "
'''),
    "a numeric answer as an expression": ("answer_value_at_optimum", '''
answer_value_at_optimum = 2 * math.log(0.5)
'''),
    "training_step with op.run under session.as_default()": ("training_step", '''
def training_step(session, d_train_op, g_train_op, input_real, input_z, real_batch, z_batch, k=1):
    with session.as_default():
        for _ in range(k):
            d_train_op.run(feed_dict={input_real: real_batch(), input_z: z_batch()})
    g_train_op.run(session=session, feed_dict={input_z: z_batch()})
'''),
    "training_step with dict fetches, tensor names and cast batches": ("training_step", '''
def training_step(session, d_train_op, g_train_op, input_real, input_z, real_batch, z_batch, k=1):
    for _ in range(k):
        feed = {input_real.name: real_batch().astype(np.float32), input_z.name: np.array(z_batch())}
        session.run({"d": d_train_op}, feed_dict=feed)
    session.run({"g": g_train_op}, feed_dict={input_z.name: z_batch().reshape(-1, z_batch().shape[1])})
'''),
    "conv generator from tf.get_variable and tf.nn, batch norm with moving averages kept by hand": (
        "conv_generator", '''
def conv_generator(z, training, reuse=False, alpha=0.2, channels=64, kernel_size=5):
    def batch_norm(h, name, momentum=0.9, epsilon=1e-5):
        size = h.shape[-1]
        with tf.variable_scope(name):
            gamma = tf.get_variable("gamma", [size], initializer=tf.ones_initializer())
            beta = tf.get_variable("beta", [size], initializer=tf.zeros_initializer())
            moving_mean = tf.get_variable("moving_mean", [size], initializer=tf.zeros_initializer(),
                                          trainable=False)
            moving_variance = tf.get_variable("moving_variance", [size], initializer=tf.ones_initializer(),
                                              trainable=False)
        mean, variance = tf.nn.moments(h, axes=[0, 1, 2])
        for average, value in ((moving_mean, mean), (moving_variance, variance)):
            tf.add_to_collection(tf.GraphKeys.UPDATE_OPS,
                                 tf.assign(average, momentum * average + (1 - momentum) * value))
        use_mean, use_variance = tf.cond(tf.cast(training, tf.bool), lambda: (mean, variance),
                                         lambda: (tf.identity(moving_mean), tf.identity(moving_variance)))
        return tf.nn.batch_normalization(h, use_mean, use_variance, beta, gamma, epsilon)

    def transposed(h, out_channels, name):
        with tf.variable_scope(name):
            kernel = tf.get_variable("kernel", [kernel_size, kernel_size, out_channels, h.shape[-1]])
        size = 2 * int(h.shape[1])
        shape = tf.stack([tf.shape(h)[0], size, size, out_channels])
        return tf.nn.conv2d_transpose(h, kernel, shape, strides=[1, 2, 2, 1], padding="SAME")

    with tf.variable_scope("generator", reuse=reuse):
        weights = tf.get_variable("dense", [z.shape[-1], 7 * 7 * 2 * channels])
        h = tf.reshape(tf.matmul(z, weights), [-1, 7, 7, 2 * channels])
        h = tf.nn.leaky_relu(batch_norm(h, "bn1"), alpha=alpha)
        h = tf.nn.leaky_relu(batch_norm(transposed(h, channels, "up1"), "bn2"), alpha=alpha)
        bias = tf.get_variable("bias", [1], initializer=tf.zeros_initializer())
        images = tf.tanh(transposed(h, 1, "up2") + bias)
        return tf.reshape(images, [-1, 784])
'''),
    "conv generator with tf.layers biases kept, tf.nn.leaky_relu and tf.layers.flatten": ("conv_generator", '''
def conv_generator(z, training, reuse=False, alpha=0.2, channels=64, kernel_size=5):
    def up(h, filters):
        return tf.layers.conv2d_transpose(h, filters, (kernel_size, kernel_size), (2, 2), "same")

    with tf.variable_scope("generator", reuse=reuse):
        h = tf.reshape(tf.layers.dense(z, 49 * 2 * channels), [-1, 7, 7, 2 * channels])
        h = tf.nn.leaky_relu(tf.layers.batch_normalization(h, training=training), alpha=alpha)
        h = tf.nn.leaky_relu(tf.layers.batch_normalization(up(h, channels), training=training), alpha=alpha)
        return tf.layers.flatten(tf.nn.tanh(up(h, 1)))
'''),
    "conv discriminator from tf.nn.conv2d and tf.get_variable, dropout through tf.cond": ("conv_discriminator", '''
def conv_discriminator(x, training, reuse=False, alpha=0.2, dropout=0.3, channels=64, kernel_size=5):
    def layer(h, filters, name):
        with tf.variable_scope(name):
            kernel = tf.get_variable("kernel", [kernel_size, kernel_size, h.shape[-1], filters])
            bias = tf.get_variable("bias", [filters], initializer=tf.zeros_initializer())
        h = tf.nn.leaky_relu(tf.nn.conv2d(h, kernel, strides=[1, 2, 2, 1], padding="SAME") + bias, alpha=alpha)
        if dropout == 0:
            return h
        return tf.cond(tf.convert_to_tensor(training), lambda: tf.nn.dropout(h, rate=dropout), lambda: h)

    with tf.variable_scope("discriminator", reuse=reuse):
        h = layer(tf.reshape(x, [-1, 28, 28, 1]), channels, "conv1")
        h = layer(h, 2 * channels, "conv2")
        flat = tf.reshape(h, [-1, 7 * 7 * 2 * channels])
        weights = tf.get_variable("logit_kernel", [7 * 7 * 2 * channels, 1])
        logits = tf.matmul(flat, weights) + tf.get_variable("logit_bias", [1], initializer=tf.zeros_initializer())
        return tf.nn.sigmoid(logits), logits
'''),
    "UPDATE_OPS and variables gathered by scope": ("conv_model_opt", '''
def conv_model_opt(d_loss, g_loss, learning_rate, beta1=0.5):
    train_ops = []
    for loss, scope in ((d_loss, "discriminator"), (g_loss, "generator")):
        variables = tf.trainable_variables(scope=scope)
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope=scope)):
            train_ops.append(tf.train.AdamOptimizer(learning_rate, beta1).minimize(loss, var_list=variables))
    return tuple(train_ops)
'''),
    "the bugs fixed with flatten, scope arguments and a flipped logit": ("find_the_bugs", '''
BATCH_SIZE = 64  # the batch size the training loop below feeds


def dcgan_generator(z, training, reuse=False):
    """Latent vectors (n, z_dim) -> images (n, 28, 28, 1) in [-1, 1]."""
    with tf.variable_scope("generator", reuse=reuse):
        h = tf.layers.dense(z, 7 * 7 * 128, name="g_projected")
        h = tf.reshape(h, (-1, 7, 7, 128))
        h = tf.nn.leaky_relu(tf.layers.batch_normalization(h, training=training, name="g_bn_0"), 0.2)
        h = tf.layers.conv2d_transpose(h, 64, 5, strides=2, padding="same", name="g_upsampled_1")
        h = tf.nn.leaky_relu(tf.layers.batch_normalization(h, training=training, name="g_bn_1"), 0.2)
        h = tf.layers.conv2d_transpose(h, 1, 5, strides=2, padding="same", name="g_image")
        return tf.tanh(h)


def dcgan_discriminator(images, reuse=False):
    """Images (n, 28, 28, 1) -> (probability of being real, logit), each (n, 1)."""
    with tf.variable_scope("discriminator", reuse=reuse):
        h = tf.layers.conv2d(images, 64, 5, strides=2, padding="same", name="d_conv_1")
        h = tf.nn.leaky_relu(h, 0.2)
        h = tf.layers.conv2d(h, 128, 5, strides=2, padding="same", name="d_conv_2")
        h = tf.nn.leaky_relu(h, 0.2)
        logits = tf.layers.dense(tf.layers.flatten(h), 1, name="d_logit")
        return tf.sigmoid(logits), logits


def dcgan_losses(d_logits_real, d_logits_fake):
    """(D's loss, G's loss): cross-entropies, real labelled 1 and fake 0 for D; G wants its fakes called real."""
    def cross_entropy(logits, labels):
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=logits, labels=labels))

    d_loss_real = cross_entropy(d_logits_real, tf.ones_like(d_logits_real))
    d_loss_fake = cross_entropy(-d_logits_fake, tf.ones_like(d_logits_fake))  # sigmoid(-l) = 1 - sigmoid(l)
    g_loss = cross_entropy(d_logits_fake, tf.ones_like(d_logits_fake))
    return d_loss_real + d_loss_fake, g_loss


def dcgan_optimizers(d_loss, g_loss, learning_rate=2e-4):
    """(D's train op, G's train op): Adam on each network's own variables."""
    variables = tf.trainable_variables()
    d_vars = tf.trainable_variables(scope="discriminator")
    g_vars = tf.trainable_variables(scope="generator")
    d_train = tf.train.AdamOptimizer(learning_rate, beta1=0.5).minimize(d_loss, var_list=d_vars)
    g_updates = [op for op in tf.get_collection(tf.GraphKeys.UPDATE_OPS) if op.name.startswith("generator/")]
    with tf.control_dependencies(g_updates):
        g_train = tf.train.AdamOptimizer(learning_rate, beta1=0.5).minimize(g_loss, var_list=g_vars)
    return d_train, g_train
'''),
}

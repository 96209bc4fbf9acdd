"""The convolutional layers of notebook 8 written in NumPy, the independent computation the checks
compare the student's TensorFlow graphs with.

Shapes follow TensorFlow's NHWC layout: images are (batch, height, width, channels); a convolution
kernel is (k, k, in_channels, out_channels); a transposed convolution kernel is
(k, k, out_channels, in_channels), as ``tf.layers.conv2d_transpose`` stores it. Padding is
TensorFlow's ``"same"``: the output has ``ceil(size / stride)`` rows (``size * stride`` for the
transposed convolution), and when the padding is odd the extra row goes at the bottom and right.
None of this calls TensorFlow: the loops run over the k x k kernel taps, each a matrix product.
"""
import numpy as np


def same_padding(size, kernel, stride):
    """(output size, padding before, padding after) of a "same" convolution over ``size`` rows."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def conv2d(x, kernel, bias=0.0, stride=1):
    """A "same" convolution: x (n, h, w, c_in), kernel (k, k, c_in, c_out) -> (n, ceil(h/s), ceil(w/s), c_out)."""
    x = np.asarray(x, np.float64)
    k = kernel.shape[0]
    out_h, top, bottom = same_padding(x.shape[1], k, stride)
    out_w, left, right = same_padding(x.shape[2], k, stride)
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out = np.zeros((x.shape[0], out_h, out_w, kernel.shape[3]))
    for a in range(k):
        for b in range(k):
            patch = padded[:, a : a + stride * (out_h - 1) + 1 : stride, b : b + stride * (out_w - 1) + 1 : stride]
            out += patch @ kernel[a, b]
    return out + bias


def conv2d_transpose(x, kernel, bias=0.0, stride=1):
    """The transposed "same" convolution (the adjoint of :func:`conv2d` from h * s rows to h rows):
    x (n, h, w, c_in), kernel (k, k, c_out, c_in) -> (n, h * s, w * s, c_out).

    Each input pixel adds ``x[i, j] @ kernel[a, b].T`` at output row ``i * s + a``, column ``j * s + b``,
    counted from the first padded row; the rows of padding are then cut away again.
    """
    x = np.asarray(x, np.float64)
    k, n, h, w = kernel.shape[0], x.shape[0], x.shape[1], x.shape[2]
    out_h, out_w = h * stride, w * stride
    _, top, _ = same_padding(out_h, k, stride)
    _, left, _ = same_padding(out_w, k, stride)
    full = np.zeros((n, max((h - 1) * stride + k, top + out_h), max((w - 1) * stride + k, left + out_w),
                     kernel.shape[2]))
    for a in range(k):
        for b in range(k):
            full[:, a : a + stride * (h - 1) + 1 : stride, b : b + stride * (w - 1) + 1 : stride] += x @ kernel[a, b].T
    return full[:, top : top + out_h, left : left + out_w] + bias


def batch_norm(h, gamma, beta, mean=None, variance=None, epsilon=1e-3):
    """Batch normalisation over every axis but the last (the channels).

    Without ``mean`` and ``variance`` it uses the batch's own statistics (training mode, biased
    variance); with them, those (inference mode, the moving averages).
    """
    h = np.asarray(h, np.float64)
    axes = tuple(range(h.ndim - 1))
    if mean is None:
        mean, variance = h.mean(axis=axes), h.var(axis=axes)
    return (h - mean) / np.sqrt(variance + epsilon) * gamma + beta


def leaky_relu(x, alpha):
    return np.maximum(alpha * x, x)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))

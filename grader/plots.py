"""Figures for the training notebook: digit grids, samples across epochs, loss curves, interpolation.

Every function returns a matplotlib Figure made without pyplot (so Jupyter shows it once, when it
is the cell's last value or passed to display(), and nothing needs closing); ``save(figure, path)``
writes it as PNG and returns it. Images are (n, 28, 28) or (n, 784) in [-1, 1].
"""
from pathlib import Path

import numpy as np


def new_figure(figsize):
    """A Figure outside pyplot: Jupyter shows it once, when returned or display()ed, and it needs no closing."""
    from matplotlib.figure import Figure

    show_figures_as_png()
    return Figure(figsize=figsize)


def show_figures_as_png():
    """In IPython, display Figure objects as PNG (pyplot's inline backend does this only once pyplot is imported)."""
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import select_figure_formats
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        select_figure_formats(shell, {"png"}, bbox_inches="tight")


def subplots(rows, columns, figsize):
    figure = new_figure(figsize)
    return figure, figure.subplots(rows, columns, squeeze=False)


def as_square(images):
    images = np.asarray(images, np.float32)
    return images.reshape(len(images), 28, 28)


def show_digits(axes, images):
    """Draw images into a 2-D array of axes, white digits on black, blank axes where none left."""
    for ax, index in zip(axes.flat, range(axes.size), strict=True):
        ax.set_axis_off()
        if index < len(images):
            ax.imshow(images[index], cmap="gray", vmin=-1, vmax=1)


def sample_grid(images, columns=8, title=None, size=0.8):
    """A grid of digits, ``columns`` wide."""
    images = as_square(images)
    rows = max(1, int(np.ceil(len(images) / columns)))
    figure, axes = subplots(rows, columns, figsize=(columns * size, rows * size + (0.4 if title else 0)))
    show_digits(axes, images)
    if title:
        figure.suptitle(title)
    figure.subplots_adjust(wspace=0.05, hspace=0.05)
    return figure


def epoch_grid(epoch_samples, columns=10, max_rows=10, size=0.6):
    """One row per epoch (at most ``max_rows``, evenly spaced, always the last), the same z in each column."""
    epoch_samples = np.asarray(epoch_samples, np.float32)
    n_epochs = len(epoch_samples)
    epochs = np.unique(np.linspace(0, n_epochs - 1, min(n_epochs, max_rows)).round().astype(int))
    figure, axes = subplots(len(epochs), columns, figsize=(columns * size + 0.8, len(epochs) * size + 0.4))
    for row, epoch in enumerate(epochs):
        show_digits(axes[row : row + 1], as_square(epoch_samples[epoch][:columns]))
        axes[row, 0].text(-4, 14, f"epoch {epoch + 1}", ha="right", va="center", fontsize=8)
    figure.suptitle("The same latent vectors after each epoch")
    figure.subplots_adjust(wspace=0.05, hspace=0.05, left=0.12)
    return figure


def moving_average(values, window):
    window = max(1, min(window, len(values)))
    cumulative = np.cumsum(np.insert(np.asarray(values, np.float64), 0, 0.0))
    return (cumulative[window:] - cumulative[:-window]) / window


def loss_curves(history, steps_per_epoch=None, window=None):
    """Losses (left) and mean D outputs (right) per step, smoothed; history columns:
    d_loss, g_loss, mean D(x), mean D(G(z)) (or a dict with those keys, as read from losses.csv)."""
    if isinstance(history, dict):
        history = np.stack([history[k] for k in ("d_loss", "g_loss", "d_real", "d_fake")], axis=1)
    history = np.asarray(history, np.float64)
    window = window or max(1, len(history) // 100)
    steps = np.arange(window, len(history) + 1)
    x = steps / steps_per_epoch if steps_per_epoch else steps
    figure, ((left, right),) = subplots(1, 2, figsize=(11, 3.5))
    for column, label in ((0, "discriminator loss"), (1, "generator loss")):
        left.plot(x, moving_average(history[:, column], window), label=label)
    for column, label in ((2, "mean D(x): real images"), (3, "mean D(G(z)): generated images")):
        right.plot(x, moving_average(history[:, column], window), label=label)
    right.axhline(0.5, color="gray", lw=0.8, ls="--")
    right.set_ylim(0, 1)
    for ax, title in ((left, "Losses"), (right, "What the discriminator believes")):
        ax.set_xlabel("epoch" if steps_per_epoch else "step")
        ax.set_title(title)
        ax.legend(loc="best", fontsize=8)
    figure.tight_layout()
    return figure


def interpolation_strip(images, title="From one latent vector to another"):
    """A single row of digits (e.g. from TrainedGenerator.interpolate)."""
    images = as_square(images)
    return sample_grid(images, columns=len(images), title=title, size=0.9)


def digit_shares(shares, real_shares=None, title="Share of each digit (classifier's opinion)"):
    """Bar chart of the share of each digit among the samples, next to real MNIST's."""
    figure, ((ax,),) = subplots(1, 1, figsize=(7, 2.8))
    digits = np.arange(len(shares))
    ax.bar(digits - 0.2, shares, width=0.4, label="generated")
    if real_shares is not None:
        ax.bar(digits + 0.2, real_shares, width=0.4, label="real MNIST")
    ax.axhline(0.02, color="gray", lw=0.8, ls="--")
    ax.set_xticks(digits)
    ax.set_xlabel("digit")
    ax.set_ylabel("share of samples")
    ax.set_title(title)
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def save(figure, path):
    """Write ``figure`` as PNG to ``path`` (folders created); returns the figure, to show it too."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return figure

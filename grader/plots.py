"""Figures for the training notebook: digit grids, samples across epochs, loss curves, interpolation;
and for the ring lab of notebook 07: D's surface with real and generated points, generator gradients.

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


def ring_runs(results, size=2.3, max_points=1000):
    """One row per ring-lab run (grader.ring_lab.RunResult), one column per snapshot: D's probability
    of "real" as a coloured surface (its 0.5 contour dashed), real points (black) and generated points
    (orange). Each panel's title gives the step and that snapshot's score; the row's last panel adds
    the run's seconds; the run's name and seed label the row."""
    results = list(results) if isinstance(results, (list, tuple)) else [results]
    columns = max(len(result.snapshots) for result in results)
    figure, axes = subplots(len(results), columns, figsize=(columns * size + 1.0, len(results) * size + 0.6))
    image = None
    for row, result in enumerate(results):
        limit = float(np.max(np.abs(result.grid)))
        extent = (-limit, limit, -limit, limit)
        for column in range(columns):
            ax = axes[row, column]
            ax.set_xticks([])
            ax.set_yticks([])
            if column >= len(result.snapshots):
                ax.set_axis_off()
                continue
            snapshot = result.snapshots[column]
            image = ax.imshow(snapshot.d_surface, extent=extent, origin="lower", cmap="RdBu", vmin=0, vmax=1,
                              interpolation="bilinear")
            ax.contour(result.grid, result.grid, snapshot.d_surface, levels=[0.5], colors="gray",
                       linewidths=0.7, linestyles="--")
            ax.scatter(*result.real[:max_points].T, s=1, c="black", linewidths=0)
            generated = np.asarray(snapshot.generated)[:max_points]
            ax.scatter(*generated.T, s=2, c="darkorange", linewidths=0, alpha=0.7)
            ax.set_xlim(-limit, limit)
            ax.set_ylim(-limit, limit)
            ax.set_aspect("equal")
            metrics = snapshot.metrics
            title = f"step {snapshot.step}\n{metrics.modes_covered}/{len(metrics.per_mode_counts)} modes, " \
                    f"{metrics.high_quality_share:.0%} HQ"
            if column == len(result.snapshots) - 1:
                title += f", {result.seconds:.1f} s in all"
            ax.set_title(title, fontsize=8)
        axes[row, 0].set_ylabel(f"{result.name} (seed {result.seed})", fontsize=9)
    if image is not None:
        figure.colorbar(image, ax=axes, shrink=0.8, label="D(x): probability of real")
    if len(results) == 1:
        figure.suptitle(results[0].summary(), fontsize=10)
    return figure


def ring_gradients(results, title="How hard the generator is pushed: |gradient of its loss| over its weights"):
    """Per ring-lab run, the norm of the gradient of each generator loss with respect to G's weights at
    the run's snapshots (log scale): the saturating log(1 - D(G(z))) and the non-saturating
    -log D(G(z)), both measured at the same weights, whichever of them the run trained with."""
    results = list(results) if isinstance(results, (list, tuple)) else [results]
    figure, ((ax,),) = subplots(1, 1, figsize=(7, 3.2))
    for index, result in enumerate(results):
        steps = [snapshot.step for snapshot in result.snapshots]
        colour = f"C{index}"
        ax.plot(steps, [max(s.grad_norm_saturating, 1e-12) for s in result.snapshots], color=colour, marker="o",
                ls="-", label=f"{result.name} run: minimax log(1 - D(G(z)))")
        ax.plot(steps, [max(s.grad_norm_non_saturating, 1e-12) for s in result.snapshots], color=colour,
                marker="s", ls="--", label=f"{result.name} run: non-saturating -log D(G(z))")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("gradient norm")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="best")
    figure.tight_layout()
    return figure


def save(figure, path):
    """Write ``figure`` as PNG to ``path`` (folders created); returns the figure, to show it too."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return figure

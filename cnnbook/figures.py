"""Figures shared by the chapters, all the same width: images side by side, grids of small
grey images, and curves over the epochs. Introduced in chapter 1, used by every chapter."""

import matplotlib.pyplot as plt
import numpy as np

WIDTH = 10  # inches: every figure in the book is this wide


def show_images(images, titles, suptitle=None, vmin=None, vmax=None):
    """Show (H, W) grey or (H, W, 3) colour images in a row, with titles; returns the figure."""
    if len(images) != len(titles):
        raise ValueError(
            f"got {len(images)} images but {len(titles)} titles; give one title per image"
        )
    fig, axes = plt.subplots(
        1,
        len(images),
        figsize=(WIDTH, WIDTH / len(images) + 0.8),
        squeeze=False,
        layout="constrained",
    )
    for ax, image, title in zip(axes[0], images, titles, strict=True):
        ax.imshow(np.asarray(image), cmap="gray", vmin=vmin, vmax=vmax)
        ax.set_title(title)
        ax.set_xlabel("column (pixel)")
    axes[0, 0].set_ylabel("row (pixel)")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def curves(series, title, ylabel="accuracy", references=None):
    """Plot each of series (label -> one value per epoch) against epochs 1, 2, ...; the figure.

    references (label -> value) are drawn as dashed horizontal lines, e.g. the notes' figures;
    the vertical axis reaches far enough to show every one of them.
    """
    references = references or {}
    fig, ax = plt.subplots(figsize=(WIDTH, 4), layout="constrained")
    for label, values in series.items():
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, marker="o", label=label)
    for index, (label, value) in enumerate(references.items()):
        ax.axhline(value, linestyle="--", color=f"C{len(series) + index}", label=label)
    shown = np.concatenate(
        [np.ravel(values) for values in series.values()] + [[*references.values()]]
    )
    low, high = float(np.min(shown)), float(np.max(shown))
    margin = 0.05 * (high - low) or 0.01
    ax.set_ylim(low - margin, high + margin)
    longest = max(len(values) for values in series.values())
    ax.set_xticks(np.arange(1, longest + 1, max(1, longest // 12)))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def grid(images, titles, suptitle, ncols=10, vmin=None, vmax=None):
    """Show (H, W) images in rows of ncols, grey, with a title each and no axes; the figure."""
    if len(images) != len(titles):
        raise ValueError(
            f"got {len(images)} images but {len(titles)} titles; give one title per image"
        )
    nrows = max(1, -(-len(images) // ncols))
    panel = WIDTH / ncols
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(WIDTH, panel * 1.25 * nrows + 0.6),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, image, title in zip(axes.flat, images, titles, strict=False):
        ax.imshow(np.asarray(image), cmap="gray", vmin=vmin, vmax=vmax)
        ax.set_title(title, fontsize=9)
    fig.suptitle(suptitle)
    return fig

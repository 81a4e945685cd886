"""Figures shared by the chapters: images side by side, all the same width."""

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

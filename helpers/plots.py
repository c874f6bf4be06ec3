"""Plotting boilerplate for the notebooks: digit grids, pair grids, curves, embeddings.

Shared by several notebooks; each function returns the figure so a notebook can tweak it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


def show_digits(
    images: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray | None = None,
    *,
    columns: int = 10,
    title: str | None = None,
    size: float = 1.0,
) -> plt.Figure:
    """A grid of 28x28 digits, each titled with its label when labels are given (taught in 02_pairs)."""
    images = np.asarray(images.cpu() if isinstance(images, torch.Tensor) else images)
    images = images.reshape(-1, 28, 28)
    count = len(images)
    rows = max(1, -(-count // columns))
    figure, axes = plt.subplots(
        rows, columns, figsize=(columns * size, rows * size * 1.15), squeeze=False
    )
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            axis.imshow(images[index], cmap="gray_r", vmin=images.min(), vmax=images.max())
            if labels is not None:
                axis.set_title(str(int(labels[index])), fontsize=9)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure

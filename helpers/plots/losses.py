"""Figures of losses: the similarity matrix a batch loss reads, with its positives marked.

A batch loss (in-batch cosine MSE, InfoNCE) compares every embedding of a batch with every other
one, so what it reads is one square matrix of cosine similarities. The figure draws that matrix in
a colour map with neither green nor red in it (cividis), outlines the positive cells in green, the
series' colour for "same digit" (a thicker outline for the other view of the same image, SimCLR's
one positive), and leaves the cells the loss never reads blank.

Taught in 03_network_and_loss.
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch, Rectangle

from helpers.plots.style import POSITIVE, as_numpy, digit_colour

SIMILARITY_CMAP = "cividis"  # dark blue to yellow: no green or red, which mean positive/negative


def _square(values: torch.Tensor | np.ndarray, size: int, name: str) -> np.ndarray:
    """`values` as a NumPy (size, size) array, or a ValueError naming the argument."""
    array = as_numpy(values)
    if array.shape != (size, size):
        raise ValueError(
            f"{name} must be shaped ({size}, {size}) like the similarity matrix, got {array.shape}."
        )
    return array


def _colour_floor(matrices: object) -> float:
    """The bottom of the colour scale: 0, or lower in steps of 0.25 when some cosine is negative."""
    lowest = min(float(np.nanmin(matrix)) for matrix in matrices)
    return max(-1.0, min(0.0, np.floor(lowest * 4) / 4))


def _outline(axis: plt.Axes, cells: np.ndarray, *, width: float) -> None:
    """A green square around every True cell."""
    for row, column in zip(*np.nonzero(cells), strict=True):
        axis.add_patch(
            Rectangle(
                (column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor=POSITIVE, linewidth=width
            )
        )


def _digit_ticks(axis: plt.Axes, labels: np.ndarray, groups: int) -> None:
    """Each row and column named by its digit in that digit's colour; lines between the groups."""
    positions = np.arange(len(labels))
    names = [str(int(label)) for label in labels]
    axis.set_xticks(positions, names, fontsize=7)
    axis.set_yticks(positions, names, fontsize=7)
    for ticks in (axis.get_xticklabels(), axis.get_yticklabels()):
        for tick, label in zip(ticks, labels, strict=True):
            tick.set_color(digit_colour(label))
            tick.set_fontweight("bold")
    block = len(labels) // groups
    for edge in range(block, len(labels), block):
        axis.axhline(edge - 0.5, color="white", linewidth=1.5)
        axis.axvline(edge - 0.5, color="white", linewidth=1.5)


def plot_similarity_matrices(
    matrices: dict[str, torch.Tensor | np.ndarray],
    *,
    labels: torch.Tensor | np.ndarray,
    positive: torch.Tensor | np.ndarray,
    partner: torch.Tensor | np.ndarray | None = None,
    hidden: torch.Tensor | np.ndarray | None = None,
    groups: int = 1,
    positive_label: str = "positive: same digit",
    partner_label: str = "positive: the other view",
    title: str | None = None,
    size: float = 4.2,
) -> plt.Figure:
    """One heatmap per named (M, M) cosine matrix, positives outlined in green, hidden cells blank.

    Taught in 03_network_and_loss. `labels` (M,) names each row and column by its digit;
    `positive` (M, M) bool marks the cells a loss pulls up; `partner` (M, M) bool, a subset,
    gets a thicker outline (the other view of the same image); `hidden` (M, M) bool marks cells
    the loss never reads (an embedding against itself). `groups=2` draws a line between the two
    views of a 2N x 2N matrix. The colour scale runs from 0 (lower when a cosine is negative)
    to 1, the same for every panel.
    """
    if not matrices:
        raise ValueError("plot_similarity_matrices needs at least one named matrix.")
    labels = as_numpy(labels).reshape(-1).astype(int)
    count = len(labels)
    if groups < 1 or count % groups:
        raise ValueError(f"groups must divide the {count} rows into equal blocks, got {groups}.")
    positive = _square(positive, count, "positive").astype(bool)
    partner = None if partner is None else _square(partner, count, "partner").astype(bool)
    hidden = (
        np.zeros((count, count), bool) if hidden is None else _square(hidden, count, "hidden")
    ).astype(bool)
    shown = {
        name: np.where(hidden, np.nan, _square(matrix, count, name).astype(float))
        for name, matrix in matrices.items()
    }  # name -> (M, M), hidden cells NaN
    low = _colour_floor(shown.values())
    colours = matplotlib.colormaps[SIMILARITY_CMAP].with_extremes(bad="white")  # hidden: blank
    figure, axes = plt.subplots(
        1,
        len(matrices),
        figsize=(size * len(matrices) + 1.2, size + 0.6),
        squeeze=False,
        layout="constrained",
    )
    for axis, (name, matrix) in zip(axes[0], shown.items(), strict=True):
        image = axis.imshow(matrix, cmap=colours, vmin=low, vmax=1.0)
        _outline(axis, positive if partner is None else positive & ~partner, width=1.2)
        if partner is not None:
            _outline(axis, partner, width=2.6)
        _digit_ticks(axis, labels, groups)
        axis.set_title(name, fontsize=10)
    handles = [Patch(facecolor="none", edgecolor=POSITIVE, linewidth=1.2, label=positive_label)]
    if partner is not None:
        handles.append(
            Patch(facecolor="none", edgecolor=POSITIVE, linewidth=2.6, label=partner_label)
        )
    if hidden.any():
        handles.append(Patch(facecolor="white", edgecolor="#9a9a9a", label="not read by the loss"))
    figure.colorbar(image, ax=list(axes[0]), label="cosine similarity", shrink=0.8)
    figure.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8)
    if title:
        figure.suptitle(title)
    return figure

"""Figures of digits and pairs: digit grids, anchor/partner grids, pictures side by side, class counts.

Taught in 02_pairs (and reused wherever digits are shown).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from helpers.plots.style import NEGATIVE, POSITIVE, as_numpy, digit_colour, finish, frame_axis

_SET_LOOKS = (("", 1.0), ("//", 0.55), ("..", 0.35))  # (hatch, shade) of each named set


def show_digits(
    images: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray | None = None,
    *,
    columns: int = 10,
    title: str | None = None,
    size: float = 1.0,
) -> plt.Figure:
    """A grid of 28x28 digits, each titled with its label when labels are given (taught in 02_pairs)."""
    images = as_numpy(images).reshape(-1, 28, 28)
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
    return finish(figure, title)


def show_pairs(
    anchors: torch.Tensor | np.ndarray,
    partners: torch.Tensor | np.ndarray,
    targets: torch.Tensor | np.ndarray,
    *,
    anchor_labels: torch.Tensor | np.ndarray | None = None,
    partner_labels: torch.Tensor | np.ndarray | None = None,
    columns: int = 8,
    title: str | None = None,
    size: float = 1.1,
) -> plt.Figure:
    """Anchors in one row, their partners under them framed green "same" or red "different".

    Taught in 02_pairs. `targets` holds 1.0 for a same-digit pair and 0.0 for a different one;
    with labels given, each picture is titled with its digit too.
    """
    anchors = as_numpy(anchors).reshape(-1, 28, 28)
    partners = as_numpy(partners).reshape(-1, 28, 28)
    targets = as_numpy(targets).reshape(-1)
    if not len(anchors) == len(partners) == len(targets):
        raise ValueError(
            f"show_pairs needs one partner and one target per anchor, got {len(anchors)} anchors, "
            f"{len(partners)} partners and {len(targets)} targets."
        )
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}.")
    count = len(anchors)
    groups = max(1, -(-count // columns))
    figure, axes = plt.subplots(
        2 * groups, columns, figsize=(columns * size, 2 * groups * size * 1.25), squeeze=False
    )
    for axis in axes.flat:
        frame_axis(axis, None)
    for index in range(count):
        row, column = 2 * (index // columns), index % columns
        top, bottom = axes[row, column], axes[row + 1, column]
        top.imshow(anchors[index], cmap="gray_r")
        bottom.imshow(partners[index], cmap="gray_r")
        same = bool(targets[index] >= 0.5)
        colour = POSITIVE if same else NEGATIVE
        frame_axis(bottom, colour)
        if anchor_labels is not None:
            top.set_title(str(int(anchor_labels[index])), fontsize=9)
        word = "same" if same else "different"
        if partner_labels is not None:
            word += f" ({int(partner_labels[index])})"
        bottom.set_title(word, fontsize=8, color=colour)
    for group in range(groups):
        axes[2 * group, 0].set_ylabel("anchor", fontsize=8)
        axes[2 * group + 1, 0].set_ylabel("partner", fontsize=8)
    return finish(figure, title)


def show_side_by_side(
    images: list[torch.Tensor | np.ndarray],
    titles: list[str],
    *,
    cmap: str = "gray",
    size: float = 2.6,
) -> plt.Figure:
    """Images next to each other, each on its own value range with a colour bar to read it.

    Taught in 02_pairs: the colour bars show what values a transform really produced.
    """
    if len(images) != len(titles):
        raise ValueError(f"Give one title per image: {len(images)} images, {len(titles)} titles.")
    if not images:
        raise ValueError("show_side_by_side needs at least one image.")
    figure, axes = plt.subplots(1, len(images), figsize=(len(images) * size * 1.3, size))
    for axis, image, text in zip(np.atleast_1d(axes), images, titles, strict=True):
        picture = as_numpy(image).squeeze()
        shown = axis.imshow(picture, cmap=cmap)
        figure.colorbar(shown, ax=axis, fraction=0.046, pad=0.04)
        axis.set_title(text, fontsize=9)
        axis.axis("off")
    figure.tight_layout()
    return figure


def plot_class_counts(
    counts: dict[str, torch.Tensor | np.ndarray | list[int]],
    *,
    title: str | None = None,
    size: tuple[float, float] = (7.0, 3.0),
) -> plt.Figure:
    """Grouped bars: how many images of each digit every named set holds (taught in 02_pairs).

    Bars take their digit's colour; the sets differ by hatching and shade (legend in grey).
    """
    if not counts:
        raise ValueError("plot_class_counts needs at least one named set of counts.")
    arrays = {name: as_numpy(values).reshape(-1) for name, values in counts.items()}
    num_classes = {len(values) for values in arrays.values()}
    if len(num_classes) != 1:
        raise ValueError(f"Every set needs one count per digit; got lengths {sorted(num_classes)}.")
    classes = np.arange(num_classes.pop())
    width = 0.8 / len(arrays)
    colours = [digit_colour(digit) for digit in classes]
    figure, axis = plt.subplots(figsize=size)
    for offset, (name, values) in enumerate(arrays.items()):
        hatch, alpha = _SET_LOOKS[offset % len(_SET_LOOKS)]
        positions = classes + (offset - (len(arrays) - 1) / 2) * width
        axis.bar(
            positions, values, width, color=colours, alpha=alpha, hatch=hatch, label=name,
            edgecolor="#333333", linewidth=0.5,
        )  # fmt: skip
    axis.set_xticks(classes)
    axis.set_xlabel("digit")
    axis.set_ylabel("images")
    if title:
        axis.set_title(title)
    legend = axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside bars
    for patch in legend.get_patches():
        patch.set_facecolor("#9a9a9a")
    figure.tight_layout()
    return figure

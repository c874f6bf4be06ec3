"""2-D maps of an embedding space: digits in their colours, labels at cluster centres, modalities
by marker shape, and the stills of an animation.

Make the points with `helpers.projection` (UMAP or PCA). Taught in 05_embedding_space and
06_any_to_any_search.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from helpers.plots.style import (
    MODALITY_TONES,
    as_numpy,
    checked_points,
    digit_colours,
    digit_handles,
    label_centres,
    modality_marker,
)


def _digit_legend(axis: plt.Axes, labels: np.ndarray) -> None:
    """One legend entry per digit present, beside the axis."""
    handles = digit_handles(np.unique(labels))
    axis.legend(
        handles=handles, title="digit", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1)
    )


def _bare(axis: plt.Axes, title: str | None) -> None:
    axis.set(xticks=[], yticks=[], xlabel="", ylabel="")
    if title:
        axis.set_title(title)


def scatter_2d(
    points: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    *,
    title: str | None = None,
    axis: plt.Axes | None = None,
    point_size: float = 6.0,
    centre_labels: bool = True,
) -> plt.Figure:
    """A 2-D map (N, 2) coloured by digit (tab10), each digit's label written at its centre.

    Taught in 05_embedding_space. Make the points with `helpers.projection.umap_2d` or `pca`.
    """
    points, labels = checked_points(points, labels, dims=2, caller="scatter_2d")
    figure = plt.subplots(figsize=(6.5, 5.5))[0] if axis is None else axis.figure
    axis = figure.axes[0] if axis is None else axis
    axis.scatter(points[:, 0], points[:, 1], s=point_size, c=digit_colours(labels), linewidths=0)
    if centre_labels:
        label_centres(axis, points, labels)
    _digit_legend(axis, labels)
    _bare(axis, title)
    figure.tight_layout()
    return figure


def scatter_maps(
    maps: dict[str, torch.Tensor | np.ndarray],
    labels: torch.Tensor | np.ndarray,
    *,
    scores: dict[str, dict[str, float]] | None = None,
    point_size: float = 6.0,
    size: float = 4.2,
) -> plt.Figure:
    """2-D maps side by side (one `scatter_2d` each), with one shared digit legend on the right.

    Taught in 05_embedding_space: the UMAP map made with cosine distance next to the one made with
    Euclidean distance. `scores` (map name -> {"5-NN": 0.95, "silhouette": 0.6}) go in the
    titles, so each picture carries its measured quality.
    """
    if not maps:
        raise ValueError("scatter_maps needs at least one named map.")
    figure, axes = plt.subplots(1, len(maps), figsize=(size * len(maps) + 1.0, size), squeeze=False)
    for index, (axis, (name, points)) in enumerate(zip(axes[0], maps.items(), strict=True)):
        title = name
        if scores and name in scores:
            title += "\n" + ", ".join(f"{key} {value:.3f}" for key, value in scores[name].items())
        scatter_2d(points, labels, title=title, axis=axis, point_size=point_size)
        axis.title.set_fontsize(10)
        if index < len(maps) - 1 and axis.get_legend() is not None:
            axis.get_legend().remove()
    figure.tight_layout()
    return figure


def static_frames(
    frames: list[torch.Tensor | np.ndarray],
    labels: torch.Tensor | np.ndarray,
    *,
    frame_titles: list[str],
    columns: int = 4,
    size: float = 3.4,
    point_size: float = 6.0,
) -> plt.Figure:
    """Every frame of an animation as a still map (its first two axes), large enough to read.

    Taught in 05_embedding_space: the picture of the whole animation that GitHub can show. All
    panels share the same limits, as the animation's frames do, and carry the digit labels.
    """
    if not frames:
        raise ValueError("static_frames needs at least one frame.")
    if len(frame_titles) != len(frames):
        raise ValueError(f"Give one title per frame: {len(frames)} frames, {len(frame_titles)}.")
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}.")
    labels = as_numpy(labels).reshape(-1).astype(int)
    arrays = [as_numpy(points) for points in frames]
    if any(a.ndim != 2 or a.shape[1] < 2 or len(a) != len(labels) for a in arrays):
        raise ValueError("Every frame must be shaped (N, 2) or (N, 3), with the same N as labels.")
    stacked = np.concatenate([a[:, :2] for a in arrays])
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    columns = min(columns, len(arrays))
    rows = -(-len(arrays) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    colours = digit_colours(labels)
    for axis, points, text in zip(axes.flat, arrays, frame_titles, strict=False):
        axis.axis("on")
        axis.scatter(points[:, 0], points[:, 1], s=point_size, c=colours, linewidths=0)
        label_centres(axis, points, labels, fontsize=11)
        axis.set(xlim=(low[0], high[0]), ylim=(low[1], high[1]), xticks=[], yticks=[])
        axis.set_title(text, fontsize=11)
    figure.tight_layout(rect=(0.0, 0.0, 0.94, 1.0))
    handles = digit_handles(np.unique(labels))
    figure.legend(handles=handles, title="digit", fontsize=9, loc="center right")
    return figure


def plot_modality_maps(
    points: torch.Tensor | np.ndarray,
    modalities: list[str],
    labels: torch.Tensor | np.ndarray,
    *,
    title: str = "",
    point_size: float = 10.0,
) -> plt.Figure:
    """One 2-D map (N, 2) drawn twice: modalities by marker in grey tones, then digits by colour.

    Taught in 06_any_to_any_search. Both panels keep the modality's marker shape, so the right one
    shows whether each digit's cluster mixes modalities or splits them.
    """
    points, labels = checked_points(points, labels, dims=2, caller="plot_modality_maps")
    if len(modalities) != len(labels):
        raise ValueError(
            f"Pass one modality per point: {len(labels)} points, {len(modalities)} modalities."
        )
    names = np.asarray(modalities)
    figure, (by_modality, by_digit) = plt.subplots(1, 2, figsize=(12, 5))
    for modality in dict.fromkeys(modalities):  # in order of first appearance
        rows = names == modality
        marker = modality_marker(modality)
        shown = points[rows]
        by_modality.scatter(
            shown[:, 0], shown[:, 1], s=point_size, marker=marker, label=modality,
            color=MODALITY_TONES[modality], linewidths=0, alpha=0.7,
        )  # fmt: skip
        by_digit.scatter(
            shown[:, 0], shown[:, 1], s=point_size, marker=marker, label=modality,
            c=digit_colours(labels[rows]), linewidths=0,
        )  # fmt: skip
    label_centres(by_digit, points, labels)
    by_modality.legend(title="modality", fontsize=8, markerscale=2, loc="upper left")
    _digit_legend(by_digit, labels)
    _bare(by_modality, f"{title} by modality".strip())
    _bare(by_digit, f"{title} by digit (marker: modality)".strip())
    figure.tight_layout()
    return figure

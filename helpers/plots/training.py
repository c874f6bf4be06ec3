"""Figures of training: curves, loss and accuracy per epoch, scores against references, similarities.

Named series (losses, runs, references) are drawn in neutral tones with distinct line styles;
green and red are kept for same-digit and different-digit similarities.

Taught in 03_network_and_loss, 04_training and 05_embedding_space.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import torch

from helpers.plots.style import NEGATIVE, POSITIVE, as_numpy, finish, series_style

if TYPE_CHECKING:
    import pandas as pd


def plot_lines(
    curves: dict[str, torch.Tensor | np.ndarray | list[float]],
    *,
    x: torch.Tensor | np.ndarray | list[float] | None = None,
    xlabel: str = "",
    ylabel: str = "",
    title: str | None = None,
    log_y: bool = False,
    steps: bool = False,
    size: tuple[float, float] = (6.0, 3.5),
) -> plt.Figure:
    """One line per named curve on shared axes (`steps=True` draws a staircase, e.g. a schedule).

    Taught in 02_pairs (pixel mappings) and 03_network_and_loss (loss curves, learning rates).
    """
    if not curves:
        raise ValueError("plot_lines needs at least one named curve.")
    figure, axis = plt.subplots(figsize=size)
    for index, (name, values) in enumerate(curves.items()):
        values = as_numpy(values).reshape(-1)
        positions = np.arange(len(values)) if x is None else as_numpy(x).reshape(-1)
        if len(positions) != len(values):
            raise ValueError(
                f"Curve {name!r} has {len(values)} values but x has {len(positions)} positions."
            )
        look = series_style(index) | ({} if len(values) <= 30 else {"marker": None})
        axis.plot(
            positions, values, label=name, drawstyle="steps-post" if steps else "default", **look
        )
    if log_y:
        axis.set_yscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if title:
        axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def _history_frame(history: object) -> pd.DataFrame:
    """A DataFrame indexed by epoch from fit's History, a list of dicts or a DataFrame."""
    import pandas as pd

    if isinstance(history, pd.DataFrame):
        frame = history
    elif hasattr(history, "to_frame"):
        frame = history.to_frame()
    else:
        frame = pd.DataFrame(list(history))
    if "epoch" in frame.columns:
        frame = frame.set_index("epoch")
    if frame.empty:
        raise ValueError("The history is empty: train for at least one epoch first.")
    return frame


def plot_history(
    history: object,
    *,
    references: dict[str, float] | None = None,
    title: str | None = None,
    size: tuple[float, float] = (12.0, 3.4),
) -> plt.Figure:
    """Three panels per epoch: train and validation loss, validation 1-NN accuracy, learning rate.

    Taught in 04_training. `references` draws dashed lines on the accuracy panel, for example
    `{"raw pixels": 0.941}`, so the curve shows what training bought.
    """
    frame = _history_frame(history)
    figure, (loss_axis, accuracy_axis, rate_axis) = plt.subplots(1, 3, figsize=size)
    for index, (column, name) in enumerate((("train_loss", "train"), ("val_loss", "validation"))):
        if column in frame:
            loss_axis.plot(
                frame.index, frame[column], markersize=3, label=name, **series_style(index)
            )
    loss_axis.set(title="loss", xlabel="epoch")
    loss_axis.legend(fontsize=8)
    if "val_1nn" in frame:
        accuracy_axis.plot(
            frame.index, frame["val_1nn"], markersize=3, label="network", **series_style(0)
        )
    for offset, (name, value) in enumerate((references or {}).items()):
        look = series_style(offset + 1)
        accuracy_axis.axhline(value, linestyle=look["linestyle"], color=look["color"], label=name)
    accuracy_axis.set(title="validation 1-NN accuracy", xlabel="epoch")
    accuracy_axis.legend(fontsize=8)
    if "lr" in frame:
        rate_axis.plot(
            frame.index, frame["lr"], drawstyle="steps-post", markersize=3, **series_style(0)
        )
        rate_axis.set_yscale("log")
    rate_axis.set(title="learning rate", xlabel="epoch")
    for axis in (loss_axis, accuracy_axis, rate_axis):
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    return finish(figure, title)


def plot_similarity_histograms(
    positive: torch.Tensor | np.ndarray,
    negative: torch.Tensor | np.ndarray,
    *,
    bins: int = 50,
    title: str | None = None,
    axis: plt.Axes | None = None,
) -> plt.Figure:
    """Histograms of cosine similarity for same-digit (green) and different-digit (red) pairs.

    Taught in 05_embedding_space: after training the two should barely overlap.
    """
    if axis is None:
        figure, axis = plt.subplots(figsize=(6.0, 3.4))
    else:
        figure = axis.figure
    edges = np.linspace(-1.0, 1.0, bins + 1)
    for values, colour, name in (
        (positive, POSITIVE, "same digit"),
        (negative, NEGATIVE, "different digits"),
    ):
        axis.hist(as_numpy(values), bins=edges, alpha=0.55, density=True, color=colour, label=name)
    axis.set(xlabel="cosine similarity", ylabel="density", xlim=(-1.0, 1.0))
    axis.legend(fontsize=8)
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure


def _mean_and_interval(values: float | list[float] | np.ndarray) -> tuple[float, float]:
    """The mean of one score or of several runs, and the half-width of its 95% t-interval (0 for one)."""
    array = np.atleast_1d(np.asarray(values, dtype=float))
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(
            f"Every score must be a finite number (or a list of them), got {values!r}."
        )
    if array.size == 1:
        return float(array[0]), 0.0
    from scipy import stats

    spread = stats.t.ppf(0.975, df=array.size - 1) * array.std(ddof=1) / np.sqrt(array.size)
    return float(array.mean()), float(spread)


def plot_scores(
    scores: dict[str, float | list[float]],
    *,
    references: dict[str, float] | None = None,
    xlabel: str = "validation 1-NN accuracy",
    title: str | None = None,
    size: tuple[float, float] = (7.0, 2.8),
) -> plt.Figure:
    """Horizontal bars from zero, one per named score, with dashed lines for references to beat.

    Taught in 04_training. A score may be one number or the results of several seeds: the bar is
    then their mean with a 95% interval (Student's t), and its label says "mean ± half-width".
    Bars start at zero, so their lengths compare honestly; the labels carry the exact values.
    """
    if not scores:
        raise ValueError("plot_scores needs at least one named score.")
    references = references or {}
    summary = [_mean_and_interval(values) for values in scores.values()]
    means = np.array([mean for mean, _ in summary])
    spreads = np.array([spread for _, spread in summary])
    for value in references.values():
        _mean_and_interval(value)  # the same check: finite numbers only
    figure, axis = plt.subplots(figsize=size)
    positions = np.arange(len(means))[::-1]  # the first score on top
    axis.barh(positions, means, xerr=spreads, color="#9a9a9a", height=0.6, capsize=3)
    highest = max([*(means + spreads), *map(float, references.values())])
    for position, mean, spread in zip(positions, means, spreads, strict=True):
        label = f" {mean:.3f}" + (f" ± {spread:.3f}" if spread > 0 else "")
        axis.text(0.01 * highest, position, label, va="center", fontsize=8)  # inside the bar
    for offset, (name, value) in enumerate(references.items()):
        look = series_style(offset)
        axis.axvline(
            value, linestyle="--", color=look["color"], label=f"{name} ({float(value):.3f})"
        )
    axis.set_yticks(positions, list(scores))
    axis.set_xlim(0.0, 1.15 * highest if highest > 0 else 1.0)
    axis.set_xlabel(xlabel)
    axis.grid(alpha=0.3, axis="x")
    if references:
        axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure

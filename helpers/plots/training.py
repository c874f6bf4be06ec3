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

from helpers.evaluation import accuracy_interval, mean_interval
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
    marks: dict[str, float] | None = None,
    title: str | None = None,
    size: tuple[float, float] = (12.0, 3.4),
) -> plt.Figure:
    """Three panels per epoch: train and validation loss, validation 1-NN accuracy, learning rate.

    Taught in 04_training. `references` draws dashed lines on the accuracy panel, for example
    `{"raw pixels": 0.941}`, so the curve shows what training bought; `marks` draws dotted
    vertical lines at named epochs on every panel, for example `{"kept": 6}`.
    """
    frame = _history_frame(history)
    figure, (loss_axis, accuracy_axis, rate_axis) = plt.subplots(1, 3, figsize=size)
    for index, (column, name) in enumerate((("train_loss", "train"), ("val_loss", "validation"))):
        if column in frame:
            loss_axis.plot(
                frame.index, frame[column], markersize=3, label=name, **series_style(index)
            )
    loss_axis.set(title="loss", xlabel="epoch")
    if "val_1nn" in frame:
        accuracy_axis.plot(
            frame.index, frame["val_1nn"], markersize=3, label="network", **series_style(0)
        )
    _draw_references(accuracy_axis, references, first_style=1)
    accuracy_axis.set(title="validation 1-NN accuracy", xlabel="epoch")
    if "lr" in frame:
        rate_axis.plot(
            frame.index, frame["lr"], drawstyle="steps-post", markersize=3, **series_style(0)
        )
        rate_axis.set_yscale("log")
    rate_axis.set(title="learning rate", xlabel="epoch")
    _draw_marks((loss_axis, accuracy_axis, rate_axis), marks)
    loss_axis.legend(fontsize=8)
    accuracy_axis.legend(fontsize=8)
    for axis in (loss_axis, accuracy_axis, rate_axis):
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    return finish(figure, title)


_MARK_STYLES = (":", (0, (1, 3)), "-.", "--")  # vertical marks, told apart by dash pattern


def _draw_references(
    axis: plt.Axes, references: dict[str, float] | None, *, first_style: int = 0
) -> None:
    """Horizontal lines at named values (scores to beat), in neutral tones and line styles."""
    for offset, (name, value) in enumerate((references or {}).items()):
        look = series_style(offset + first_style)
        axis.axhline(value, linestyle=look["linestyle"], color=look["color"], label=name)


def _draw_marks(axes: tuple[plt.Axes, ...], marks: dict[str, float] | None) -> None:
    """Vertical lines at named epochs on every panel, labelled on the first panel's legend."""
    for index, (name, epoch) in enumerate((marks or {}).items()):
        for number, axis in enumerate(axes):
            axis.axvline(
                epoch,
                color="#555555",
                linestyle=_MARK_STYLES[index % len(_MARK_STYLES)],
                linewidth=1.2,
                label=name if number == 0 else None,
            )


def plot_runs(
    runs: dict[str, object],
    *,
    metrics: dict[str, str] | None = None,
    references: dict[str, float] | None = None,
    marks: dict[str, float] | None = None,
    title: str | None = None,
    size: tuple[float, float] = (11.0, 3.4),
) -> plt.Figure:
    """Several runs side by side: one panel per metric, one line per run, against the epoch.

    Taught in 04_training (fixed against fresh pairs). A run is a `fit` History, a list of dicts
    with an "epoch" key, or a DataFrame indexed by epoch. `metrics` maps columns to panel titles
    (default: training loss and validation 1-NN accuracy); `references` draws dashed lines on the
    last panel, `marks` dotted vertical lines at named epochs on every panel.
    """
    if not runs:
        raise ValueError("plot_runs needs at least one named run.")
    metrics = metrics or {"train_loss": "training loss", "val_1nn": "validation 1-NN accuracy"}
    frames = {name: _history_frame(run) for name, run in runs.items()}
    figure, axes = plt.subplots(1, len(metrics), figsize=size, squeeze=False)
    axes = tuple(axes[0])
    for axis, (column, panel) in zip(axes, metrics.items(), strict=True):
        for index, (name, frame) in enumerate(frames.items()):
            if column not in frame:
                raise ValueError(f"Run {name!r} has no column {column!r}; it has {list(frame)}.")
            look = series_style(index) | ({} if len(frame) <= 30 else {"marker": None})
            axis.plot(frame.index, frame[column], markersize=3, label=name, **look)
        axis.set(title=panel, xlabel="epoch")
        axis.grid(alpha=0.3)
    _draw_references(axes[-1], references, first_style=len(frames))
    _draw_marks(axes, marks)
    for axis in axes:
        axis.legend(fontsize=8)
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
    summary = [mean_interval(values) for values in scores.values()]
    means = np.array([mean for mean, _ in summary])
    spreads = np.array([spread for _, spread in summary])
    for value in references.values():
        mean_interval(value)  # the same check: finite numbers only
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


def plot_waterfall(
    steps: dict[str, dict[str, float]],
    *,
    counts: dict[str, int],
    references: dict[str, dict[str, float]] | None = None,
    title: str | None = None,
    size: tuple[float, float] | None = None,
) -> plt.Figure:
    """One group of bars per step, one bar per split, from zero, with 95% intervals and gains.

    Taught in 04_training (the fix-by-fix waterfall). `steps` maps each step, in order, to its
    accuracy on every split, e.g. `{"validation": 0.92, "test": 0.91}`; `counts` gives each
    split's number of digits, for binomial (Wilson) intervals. Each label carries the accuracy and
    its gain over the step above. `references` draws a dashed line per split for named scores.
    """
    if not steps:
        raise ValueError("plot_waterfall needs at least one step.")
    splits = list(counts)
    for name, scores in steps.items():
        if set(scores) != set(splits):
            raise ValueError(f"Step {name!r} has splits {sorted(scores)}; counts has {splits}.")
    height = 0.8 / len(splits)
    figure, axis = plt.subplots(figsize=size or (8.0, 1.0 + 0.34 * len(steps) * len(splits)))
    positions = np.arange(len(steps))[::-1]  # the first step on top
    for offset, split in enumerate(splits):
        values = np.array([scores[split] for scores in steps.values()])
        low, high = np.array([accuracy_interval(v, counts[split]) for v in values]).T
        rows = positions + (len(splits) - 1 - 2 * offset) * height / 2
        look = series_style(offset)
        axis.barh(
            rows, values, height=0.9 * height, color=look["color"], alpha=0.75, label=split,
            xerr=[values - low, high - values], capsize=2,
        )  # fmt: skip
        gains = np.diff(values, prepend=np.nan)
        for row, value, gain in zip(rows, values, gains, strict=True):
            text = f" {value:.3f}" + ("" if np.isnan(gain) else f" ({gain:+.3f})")
            axis.text(0.01, row, text, va="center", fontsize=8, color="white")
    for index, (name, by_split) in enumerate((references or {}).items()):
        for offset, split in enumerate(splits):
            look = series_style(offset)
            axis.axvline(
                by_split[split], color=look["color"], linestyle=_MARK_STYLES[index % 4],
                linewidth=1.2, label=f"{name}, {split} ({by_split[split]:.3f})",
            )  # fmt: skip
    axis.set_yticks(positions, list(steps))
    axis.set_xlim(0.0, 1.0)
    axis.set_xlabel("1-NN accuracy (95% interval from the number of digits)")
    axis.grid(alpha=0.3, axis="x")
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return finish(figure, title)

"""Figures of scaling out: accuracy against negatives per anchor, recall against search latency.

Both are drawn in the series' neutral tones (`style.series_style`): nothing here is a digit, a
positive or a negative, so neither tab10 nor green and red appear.

Taught in 07_scaling_out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from helpers.evaluation import mean_interval  # the 95% t-interval of plot_scores
from helpers.plots.style import finish, series_style


def plot_negatives(
    scores: Mapping[int, Sequence[float]],
    *,
    ylabel: str = "validation 1-NN accuracy",
    title: str | None = None,
    size: tuple[float, float] = (6.0, 3.5),
) -> plt.Figure:
    """A score against the number of negatives per anchor: each seed as a thin line, their mean
    with a 95% interval (Student's t) as a thick one, on a log-2 axis of negatives.

    Taught in 07_scaling_out. `scores` maps negatives per anchor to one score per seed, the seeds
    in the same order for every count, so each thin line follows one seed (a paired comparison).
    """
    if not scores:
        raise ValueError("plot_negatives needs at least one count of negatives with its scores.")
    counts = sorted(scores)
    if counts[0] < 1:
        raise ValueError(f"Negatives per anchor must be at least 1, got {counts[0]}.")
    summary = [mean_interval(list(scores[count])) for count in counts]
    means = np.array([mean for mean, _ in summary])
    spreads = np.array([spread for _, spread in summary])
    figure, axis = plt.subplots(figsize=size)
    seeds, mean_look = series_style(1), series_style(0)
    runs = max(len(scores[count]) for count in counts)
    for run in range(runs):  # one thin line per seed: the same seed at every count (paired)
        points = [(count, scores[count][run]) for count in counts if run < len(scores[count])]
        axis.plot(*zip(*points, strict=True), linewidth=0.8, alpha=0.6, markersize=4, **seeds)
    axis.errorbar(counts, means, yerr=spreads, capsize=4, label="mean, 95% interval", **mean_look)
    axis.plot([], [], alpha=0.6, markersize=4, linewidth=0.8, label="one seed", **seeds)
    for count, mean in zip(counts, means, strict=True):
        axis.annotate(
            f"{mean:.3f}", (count, mean), textcoords="offset points", xytext=(6, -12), fontsize=8
        )
    axis.set_xscale("log", base=2)
    axis.set_xticks(counts, [str(count) for count in counts])
    axis.minorticks_off()
    axis.set(xlabel="negatives per anchor (log scale)", ylabel=ylabel)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="lower right")
    return finish(figure, title)


def plot_recall_latency(
    rows: Sequence[Mapping[str, object]],
    *,
    exact_ms: Mapping[str, float],
    target: float = 0.95,
    k: int = 10,
    title: str | None = None,
    size: tuple[float, float] = (7.0, 4.0),
) -> plt.Figure:
    """Recall@k against median latency per query, one line of settings per index, exact scans
    as dashed vertical lines and the recall to reach as a dotted horizontal one.

    Taught in 07_scaling_out. Each row is one search setting of one index, as `ann.sweep` returns
    them with the index's name added: "index", "recall" and "median_ms" are read. `exact_ms` names
    each exact search with its milliseconds per query.
    """
    if not rows:
        raise ValueError("plot_recall_latency needs at least one row of search results.")
    missing = {"index", "recall", "median_ms"} - set(rows[0])
    if missing:
        raise ValueError(f"Each row needs index, recall and median_ms; missing {sorted(missing)}.")
    figure, axis = plt.subplots(figsize=size)
    names = list(dict.fromkeys(str(row["index"]) for row in rows))  # in the order first seen
    for number, name in enumerate(names):
        mine = sorted(
            (float(row["median_ms"]), float(row["recall"])) for row in rows if row["index"] == name
        )
        axis.plot(*zip(*mine, strict=True), label=name, markersize=5, **series_style(number))
    for offset, (name, milliseconds) in enumerate(exact_ms.items()):
        look = series_style(len(names) + offset)
        axis.axvline(milliseconds, color=look["color"], linestyle="--", label=name)
    axis.axhline(target, color="#808080", linestyle=":", label=f"recall@{k} = {target:g}")
    axis.set_xscale("log")
    axis.set(xlabel="milliseconds per query (log scale)", ylabel=f"recall@{k} against exact")
    axis.set_ylim(min(0.0, *(float(row["recall"]) for row in rows)), 1.02)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return finish(figure, title)

"""Figures of 07_scaling_out: accuracy against negatives, recall against latency, in neutral tones."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_hex

from helpers import plots
from helpers.plots.style import DIGIT_COLOURS, NEGATIVE, POSITIVE

SWEEP = {62: [0.88, 0.89, 0.90], 2: [0.85, 0.86, 0.84], 510: [0.89, 0.90, 0.89]}
ROWS = [
    {"index": "IVF_FLAT", "nprobes": 5, "recall": 0.99, "median_ms": 4.5},
    {"index": "IVF_FLAT", "nprobes": 1, "recall": 0.70, "median_ms": 3.5},
    {"index": "IVF_PQ", "nprobes": 10, "recall": 0.60, "median_ms": 4.0},
]


def _colours(axis: plt.Axes) -> set[str]:
    return {to_hex(line.get_color()) for line in axis.lines}


def test_plot_negatives_draws_every_seed_and_the_mean_with_a_95_percent_interval():
    figure = plots.plot_negatives(SWEEP, title="equal steps")
    axis = figure.axes[0]
    error_bars = axis.containers[0]
    means_line = error_bars.lines[0]
    assert list(means_line.get_xdata()) == [2, 62, 510]  # sorted by negatives
    assert list(means_line.get_ydata()) == pytest.approx([0.85, 0.89, 0.8933333])
    # t(0.975, 2) = 4.303 times the standard error of [0.85, 0.86, 0.84]: 0.0248
    low, high = error_bars.lines[2][0].get_segments()[0][:, 1]
    assert high - 0.85 == pytest.approx(0.0248, abs=1e-4)
    assert 0.85 - low == pytest.approx(0.0248, abs=1e-4)
    seed_lines = [line for line in axis.lines if line.get_alpha() == 0.6]
    assert sorted(len(line.get_xdata()) for line in seed_lines) == [0, 3, 3, 3]  # and the legend's
    assert list(seed_lines[0].get_ydata()) == [0.85, 0.88, 0.89]  # seed 0 at 2, 62, 510
    assert axis.get_xscale() == "log"
    assert sorted(text.get_text() for text in axis.texts) == ["0.850", "0.890", "0.893"]
    assert figure.texts[0].get_text() == "equal steps"


def test_plot_negatives_refuses_empty_or_impossible_counts():
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_negatives({})
    with pytest.raises(ValueError, match="at least 1"):
        plots.plot_negatives({0: [0.5, 0.6]})
    with pytest.raises(ValueError, match="finite"):
        plots.plot_negatives({2: [0.5, float("nan")]})


def test_plot_recall_latency_draws_one_line_per_index_and_the_exact_scans():
    exact = {"LanceDB flat scan": 330.0, "torch, batched": 5.0}
    figure = plots.plot_recall_latency(ROWS, exact_ms=exact, k=10)
    axis = figure.axes[0]
    flat = next(line for line in axis.lines if line.get_label() == "IVF_FLAT")
    assert list(flat.get_xdata()) == [3.5, 4.5] and list(flat.get_ydata()) == [0.70, 0.99]
    vertical = {
        line.get_label(): line.get_xdata()[0] for line in axis.lines if line.get_label() in exact
    }
    assert vertical == exact
    target = next(line for line in axis.lines if line.get_label() == "recall@10 = 0.95")
    assert target.get_ydata()[0] == 0.95
    assert axis.get_xscale() == "log"
    assert axis.get_ylim()[0] == 0.0


def test_scaling_figures_use_neither_digit_colours_nor_green_and_red():
    reserved = {to_hex(c) for c in (*DIGIT_COLOURS, POSITIVE, NEGATIVE)}
    for figure in (
        plots.plot_negatives(SWEEP),
        plots.plot_recall_latency(ROWS, exact_ms={"exact": 300.0}),
    ):
        assert not _colours(figure.axes[0]) & reserved
        plt.close(figure)


def test_plot_recall_latency_refuses_rows_it_cannot_read():
    with pytest.raises(ValueError, match="at least one row"):
        plots.plot_recall_latency([], exact_ms={})
    with pytest.raises(ValueError, match="median_ms"):
        plots.plot_recall_latency([{"index": "a", "recall": np.float64(0.5)}], exact_ms={})

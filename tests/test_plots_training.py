"""Plots for 04_training: scores of several losses as bars, next to the references they must beat."""

import matplotlib
import numpy as np
import pytest

from helpers import plots

SCORES = {"cosine MSE": 0.94, "margin": 0.896, "SupCon": 0.971, "SimCLR": 0.955}


def test_plot_scores_draws_one_labelled_bar_per_score_first_on_top():
    figure = plots.plot_scores(SCORES)
    axis = figure.axes[0]
    bars = axis.patches
    assert len(bars) == len(SCORES)
    assert [bar.get_width() for bar in bars] == pytest.approx(list(SCORES.values()))
    heights = [bar.get_y() for bar in bars]
    assert heights == sorted(heights, reverse=True), "the first score is drawn on top"
    tick_names = {tick.get_text(): tick.get_position()[1] for tick in axis.get_yticklabels()}
    assert set(tick_names) == set(SCORES)
    assert tick_names["cosine MSE"] > tick_names["SimCLR"]
    labels = sorted(text.get_text().strip() for text in axis.texts)
    assert labels == sorted(f"{value:.3f}" for value in SCORES.values())


def test_plot_scores_draws_each_reference_as_a_dashed_line_in_the_legend():
    references = {"raw pixels": 0.941, "untrained network": 0.889}
    figure = plots.plot_scores(SCORES, references=references, title="same budget")
    axis = figure.axes[0]
    lines = [line for line in axis.lines if line.get_linestyle() == "--"]
    assert [line.get_xdata()[0] for line in lines] == pytest.approx(list(references.values()))
    legend = [text.get_text() for text in axis.get_legend().get_texts()]
    assert legend == ["raw pixels (0.941)", "untrained network (0.889)"]
    assert axis.get_title() == "same budget"


def test_plot_scores_bars_start_at_zero_and_the_labels_carry_the_exact_values():
    figure = plots.plot_scores({"a": 0.95, "b": 0.97}, references={"pixels": 0.94})
    low, high = figure.axes[0].get_xlim()
    assert low == 0.0 and high > 0.97
    assert sorted(text.get_text().strip() for text in figure.axes[0].texts) == ["0.950", "0.970"]


def test_plot_scores_of_several_seeds_draw_the_mean_and_a_95_percent_interval():
    runs = {"SupCon": [0.97, 0.98, 0.99], "single": 0.9}
    figure = plots.plot_scores(runs)
    axis = figure.axes[0]
    assert [bar.get_width() for bar in axis.patches] == pytest.approx([0.98, 0.9])
    # t(0.975, 2) = 4.303; standard error 0.01 / sqrt(3): half-width 0.0248
    labels = sorted(text.get_text().strip() for text in axis.texts)
    assert labels == ["0.900", "0.980 ± 0.025"]
    with pytest.raises(ValueError, match="finite"):
        plots.plot_scores({"a": [0.9, float("nan")]})


def test_plot_scores_works_for_a_single_score_without_references():
    figure = plots.plot_scores({"only": 0.5})
    low, high = figure.axes[0].get_xlim()
    assert low < 0.5 < high
    assert figure.axes[0].get_legend() is None


def test_plot_scores_accepts_numpy_numbers():
    figure = plots.plot_scores({"a": np.float32(0.9)}, references={"b": np.float64(0.8)})
    assert isinstance(figure, matplotlib.figure.Figure)


@pytest.mark.parametrize(
    ("scores", "references", "message"),
    [
        ({}, None, "at least one"),
        ({"a": float("nan")}, None, "finite"),
        ({"a": 0.9}, {"b": float("inf")}, "finite"),
    ],
)
def test_plot_scores_explains_bad_input(scores, references, message):
    with pytest.raises(ValueError, match=message):
        plots.plot_scores(scores, references=references)

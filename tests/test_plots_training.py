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


# ---- 04's figures of runs: curves side by side, marks, and the fix-by-fix waterfall -------------

RUN_A = [{"epoch": e, "train_loss": 1.0 / e, "val_1nn": 0.5 + 0.05 * e} for e in (1, 2, 3)]
RUN_B = [{"epoch": e, "train_loss": 2.0 / e, "val_1nn": 0.6 + 0.01 * e} for e in (1, 2, 3)]


def test_plot_runs_draws_one_line_per_run_on_each_metric_panel():
    figure = plots.plot_runs(
        {"fixed": RUN_A, "fresh": RUN_B},
        references={"untrained": 0.55},
        marks={"picked": 2},
        title="two runs",
    )
    loss, accuracy = figure.axes
    assert (
        loss.get_title() == "training loss" and accuracy.get_title() == "validation 1-NN accuracy"
    )
    curves = [line for line in accuracy.lines if len(line.get_xdata()) == 3]
    assert [line.get_label() for line in curves] == ["fixed", "fresh"]
    assert list(curves[0].get_ydata()) == pytest.approx([0.55, 0.6, 0.65])
    flat = [line for line in accuracy.lines if list(line.get_ydata()) == [0.55, 0.55]]
    assert flat and flat[0].get_label() == "untrained"  # the reference, on the last panel only
    for axis in figure.axes:
        assert any(list(line.get_xdata()) == [2, 2] for line in axis.lines)  # the mark
    assert "picked" in [text.get_text() for text in loss.get_legend().get_texts()]


def test_plot_runs_explains_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_runs({})
    with pytest.raises(ValueError, match="no column 'val_loss'"):
        plots.plot_runs({"a": RUN_A}, metrics={"val_loss": "validation loss"})


def test_plot_history_marks_an_epoch_on_every_panel():
    history = [
        {"epoch": e, "train_loss": 1.0, "val_loss": 1.0, "val_1nn": 0.9, "lr": 1e-3}
        for e in (1, 2, 3)
    ]
    figure = plots.plot_history(history, marks={"kept: epoch 2": 2})
    for axis in figure.axes:
        assert any(list(line.get_xdata()) == [2, 2] for line in axis.lines)


STEPS = {
    "source": {"validation": 0.60, "test": 0.58},
    "+ pixels": {"validation": 0.90, "test": 0.91},
    "+ recipe": {"validation": 0.97, "test": 0.96},
}


def test_plot_waterfall_draws_every_step_and_split_from_zero_with_gains():
    figure = plots.plot_waterfall(
        STEPS,
        counts={"validation": 500, "test": 1000},
        references={"raw pixels": {"validation": 0.94, "test": 0.95}},
    )
    axis = figure.axes[0]
    widths = [bar.get_width() for bar in axis.patches]
    assert widths == pytest.approx([0.60, 0.90, 0.97, 0.58, 0.91, 0.96])  # validation, then test
    assert axis.get_xlim() == (0.0, 1.0)
    labels = sorted(text.get_text().strip() for text in axis.texts)
    assert labels == sorted(
        ["0.600", "0.900 (+0.300)", "0.970 (+0.070)", "0.580", "0.910 (+0.330)", "0.960 (+0.050)"]
    )
    ticks = [tick.get_text() for tick in axis.get_yticklabels()]
    assert ticks == list(STEPS)
    legend = [text.get_text() for text in axis.get_legend().get_texts()]
    assert "raw pixels, test (0.950)" in legend and "validation" in legend


def test_plot_waterfall_bars_carry_binomial_intervals():
    from helpers.evaluation import accuracy_interval

    figure = plots.plot_waterfall({"one": {"test": 0.95}}, counts={"test": 1000})
    (errorbar,) = [c for c in figure.axes[0].containers if hasattr(c, "lines") and c.lines[2]]
    (segments,) = errorbar.lines[2]
    (low, _), (high, _) = segments.get_segments()[0]
    assert (low, high) == pytest.approx(accuracy_interval(0.95, 1000))


def test_plot_waterfall_explains_bad_input():
    with pytest.raises(ValueError, match="at least one step"):
        plots.plot_waterfall({}, counts={"test": 10})
    with pytest.raises(ValueError, match="splits"):
        plots.plot_waterfall({"a": {"validation": 0.9}}, counts={"test": 10})

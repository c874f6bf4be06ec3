"""Plots for 02_pairs and 03_network_and_loss: pair grids, side-by-side pictures, lines, bars."""

import matplotlib
import numpy as np
import pytest
import torch

from helpers import plots
from tests.conftest import stripe_digits as digits


def test_show_pairs_marks_same_and_different_under_each_anchor():
    figure = plots.show_pairs(
        digits(3),
        digits(3),
        torch.tensor([1.0, 0.0, 1.0]),
        anchor_labels=[4, 7, 2],
        partner_labels=[4, 1, 2],
        columns=3,
    )
    axes = np.array(figure.axes).reshape(2, 3)
    assert [axis.get_title() for axis in axes[0]] == ["4", "7", "2"]
    assert [axis.get_title() for axis in axes[1]] == ["same (4)", "different (1)", "same (2)"]
    green = matplotlib.colors.to_rgba("tab:green")
    red = matplotlib.colors.to_rgba("tab:red")
    assert axes[1, 0].spines["left"].get_edgecolor() == green
    assert axes[1, 1].spines["left"].get_edgecolor() == red
    assert not axes[0, 0].spines["left"].get_visible()  # anchors carry no frame


def test_show_pairs_wraps_into_anchor_and_partner_rows():
    figure = plots.show_pairs(digits(5), digits(5), np.ones(5), columns=4)
    assert len(figure.axes) == 4 * 4  # two groups of (anchor row, partner row)
    assert figure.axes[4].get_ylabel() == "partner"
    assert figure.axes[8].get_ylabel() == "anchor"
    assert not figure.axes[-1].images  # unused slots stay empty


def test_show_pairs_accepts_network_input_on_any_device_shape():
    batch = torch.rand(2, 1, 28, 28) * 2 - 1  # (batch, 1, 28, 28) in [-1, 1]
    figure = plots.show_pairs(batch, batch, torch.tensor([0.0, 1.0]))
    assert len(figure.axes[0].images) == 1


def test_show_pairs_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="one partner and one target per anchor"):
        plots.show_pairs(digits(3), digits(2), torch.ones(3))
    with pytest.raises(ValueError, match="columns"):
        plots.show_pairs(digits(1), digits(1), torch.ones(1), columns=0)


def test_show_side_by_side_keeps_each_images_own_value_range():
    low = np.zeros((28, 28))
    high = np.full((28, 28), 3.0)
    high[0, 0] = -1.0
    figure = plots.show_side_by_side([low, torch.from_numpy(high)], ["zeros", "wide"])
    images = [axis.images[0] for axis in figure.axes if axis.images]
    assert [axis.get_title() for axis in figure.axes if axis.images] == ["zeros", "wide"]
    assert images[1].get_clim() == (-1.0, 3.0)
    assert len(figure.axes) == 4  # two pictures and their colour bars


def test_show_side_by_side_needs_a_title_per_image():
    with pytest.raises(ValueError, match="one title per image"):
        plots.show_side_by_side([np.zeros((28, 28))], ["a", "b"])
    with pytest.raises(ValueError, match="at least one image"):
        plots.show_side_by_side([], [])


def test_plot_lines_draws_every_curve_against_x():
    figure = plots.plot_lines(
        {"a": [1.0, 2.0, 3.0], "b": torch.tensor([3.0, 2.0, 1.0])},
        x=[10, 20, 30],
        xlabel="epoch",
        log_y=True,
        steps=True,
    )
    axis = figure.axes[0]
    assert [line.get_label() for line in axis.lines] == ["a", "b"]
    assert list(axis.lines[1].get_xdata()) == [10, 20, 30]
    assert axis.lines[0].get_drawstyle() == "steps-post"
    assert axis.get_yscale() == "log" and axis.get_xlabel() == "epoch"


def test_plot_lines_rejects_empty_and_misaligned_curves():
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_lines({})
    with pytest.raises(ValueError, match="positions"):
        plots.plot_lines({"a": [1.0, 2.0]}, x=[1, 2, 3])


def test_plot_class_counts_draws_one_bar_per_digit_and_set():
    figure = plots.plot_class_counts({"train": np.arange(10), "validation": np.ones(10)})
    axis = figure.axes[0]
    heights = [patch.get_height() for patch in axis.patches]
    assert heights == list(range(10)) + [1.0] * 10
    assert [text.get_text() for text in axis.get_legend().get_texts()] == ["train", "validation"]


def test_plot_class_counts_needs_equal_lengths():
    with pytest.raises(ValueError, match="one count per digit"):
        plots.plot_class_counts({"a": [1, 2], "b": [1, 2, 3]})

"""One visual language: a digit keeps its colour in every figure; green and red mean only right
and wrong; modalities are marker shapes in grey; maps carry digit labels at cluster centres."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex, to_rgb

from helpers import plots
from helpers.plots import style


def _is_grey(colour) -> bool:
    red, green, blue = to_rgb(colour)
    return max(red, green, blue) - min(red, green, blue) < 0.02


def test_digit_colours_are_tab10_in_2d_maps_3d_scatters_and_class_counts():
    points = np.random.default_rng(0).normal(size=(30, 2))
    labels = np.arange(30) % 10
    drawn = plots.scatter_2d(points, labels).axes[0].collections[0].get_facecolors()
    assert [to_hex(c) for c in drawn[:10]] == list(style.DIGIT_COLOURS)
    figure = plots.scatter_3d(np.c_[points, points[:, :1]], labels)
    assert [trace.marker.color for trace in figure.data] == list(style.DIGIT_COLOURS)
    bars = plots.plot_class_counts({"train": np.ones(10), "val": np.ones(10)}).axes[0].patches
    assert [to_hex(bar.get_facecolor()) for bar in bars[:10]] == list(style.DIGIT_COLOURS)
    assert plots.digit_colour(3) == to_hex("tab:red") == style.DIGIT_COLOURS[3]


def test_2d_maps_write_each_digit_at_its_cluster_centre():
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    labels = np.repeat(np.arange(3), 20)
    points = centres[labels] + np.random.default_rng(1).normal(scale=0.5, size=(60, 2))
    axis = plots.scatter_2d(points, labels).axes[0]
    written = {text.get_text(): text.get_position() for text in axis.texts}
    assert set(written) == {"0", "1", "2"}
    for digit, (x, y) in written.items():
        assert np.hypot(*(np.array([x, y]) - centres[int(digit)])) < 0.5
    figure = plots.static_frames([points, points], labels, frame_titles=["a", "b"])
    assert all(len(axis.texts) == 3 for axis in figure.axes if axis.axison)


def test_modality_maps_use_grey_marker_shapes_and_digit_colours_only_for_digits():
    points = np.random.default_rng(0).normal(size=(12, 2))
    modalities = ["image", "text", "audio"] * 4
    figure = plots.plot_modality_maps(points, modalities, np.arange(12) % 4, title="UMAP")
    by_modality, by_digit = figure.axes[:2]
    for collection in by_modality.collections:
        assert all(_is_grey(c) for c in collection.get_facecolors())
    assert len({tuple(c.get_paths()[0].vertices.ravel()) for c in by_modality.collections}) == 3
    legend = [text.get_text() for text in by_modality.get_legend().get_texts()]
    assert legend == ["image", "text", "audio"]
    colours = {to_hex(c) for col in by_digit.collections for c in col.get_facecolors()}
    assert colours == set(style.DIGIT_COLOURS[:4])
    with pytest.raises(ValueError, match="one modality per point"):
        plots.plot_modality_maps(points, ["image"], np.arange(12))
    with pytest.raises(ValueError, match="Unknown modality"):
        plots.plot_modality_maps(points, ["smell"] * 12, np.arange(12))


def test_named_series_are_neutral_so_green_and_red_keep_their_meaning():
    curves = {name: [1.0, 0.5, 0.2] for name in ("a", "b", "c", "d", "e")}
    axis = plots.plot_lines(curves).axes[0]
    assert all(_is_grey(line.get_color()) for line in axis.lines)
    assert len({(line.get_color(), str(line.get_linestyle())) for line in axis.lines}) == 5
    history = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "val_1nn": 0.9, "lr": 0.1}]
    for axis in plots.plot_history(history, references={"raw pixels": 0.94}).axes:
        assert all(_is_grey(line.get_color()) for line in axis.lines)
    figure = plots.plot_similarity_histograms(np.array([0.9, 0.8]), np.array([0.1, 0.2]))
    same, different = figure.axes[0].patches[0], figure.axes[0].patches[-1]
    assert to_hex(same.get_facecolor()) == to_hex(style.POSITIVE)
    assert to_hex(different.get_facecolor()) == to_hex(style.NEGATIVE)


@pytest.mark.parametrize(
    ("values", "decimals"),
    [([0.999, 0.998, 0.997], 3), ([0.97, 0.96], 3), ([0.9, 0.8, 0.6], 2), ([0.8, 0.996], 3)],
)
def test_cosines_near_one_get_three_decimals(values, decimals):
    assert style.cosine_decimals(values) == decimals


def test_a_gallery_of_cosines_near_one_writes_three_decimals():
    from tests.conftest import stripe_digits as digits

    figure = plots.show_neighbours(
        digits(1), [7], digits(3).reshape(1, 3, 28, 28), [[7, 7, 7]],
        similarities=[[0.9991, 0.9987, 0.9979]],
    )  # fmt: skip
    assert [axis.get_title() for axis in figure.axes[1:]] == ["7 (0.999)", "7 (0.999)", "7 (0.998)"]

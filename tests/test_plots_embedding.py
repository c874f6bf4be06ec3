"""Figures of 05_embedding_space: maps side by side, animation stills, neighbour galleries."""

import numpy as np
import pytest
from matplotlib.colors import to_hex

from helpers import plots
from tests.conftest import stripe_digits as digits


def test_scatter_maps_puts_maps_side_by_side_with_their_scores_and_one_legend():
    rng = np.random.default_rng(0)
    maps = {"cosine": rng.normal(size=(30, 2)), "euclidean": rng.normal(size=(30, 2))}
    figure = plots.scatter_maps(
        maps, np.arange(30) % 3, scores={"cosine": {"5-NN": 0.9512, "silhouette": 0.5}}
    )
    left, right = figure.axes
    assert left.get_title() == "cosine\n5-NN 0.951, silhouette 0.500"
    assert right.get_title() == "euclidean"
    assert left.get_legend() is None
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["0", "1", "2"]
    drawn = np.asarray(right.collections[0].get_offsets())
    assert np.allclose(drawn, maps["euclidean"])
    with pytest.raises(ValueError, match="at least one"):
        plots.scatter_maps({}, [])


def test_static_frames_draws_every_frame_on_shared_limits():
    rng = np.random.default_rng(0)
    frames = [rng.normal(size=(20, 3)) * scale for scale in (1.0, 2.0, 3.0)]
    labels = np.arange(20) % 4
    figure = plots.static_frames(frames, labels, frame_titles=["a", "b", "c"], columns=2)
    shown = [axis for axis in figure.axes if axis.axison]
    assert [axis.get_title() for axis in shown] == ["a", "b", "c"]
    assert len({axis.get_xlim() for axis in shown}) == 1
    assert np.allclose(np.asarray(shown[2].collections[0].get_offsets()), frames[2][:, :2])
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["0", "1", "2", "3"]
    with pytest.raises(ValueError, match="one title per frame"):
        plots.static_frames(frames, labels, frame_titles=["a"])
    with pytest.raises(ValueError, match="same N"):
        plots.static_frames([np.zeros((5, 2))], labels, frame_titles=["a"])


def test_neighbour_gallery_frames_right_digits_green_and_wrong_ones_red():
    figure = plots.show_neighbours(
        digits(2),
        [7, 1],
        digits(6).reshape(2, 3, 28, 28),
        [[7, 7, 1], [1, 4, 1]],
        similarities=[[0.99, 0.9, 0.8], [0.95, 0.7, 0.6]],
    )
    axes = np.array(figure.axes).reshape(2, 4)
    assert axes[0, 0].get_title() == "query 7"
    assert axes[0, 3].get_title() == "1 (0.80)"
    colour = {
        (r, c): to_hex(axes[r, c].spines["left"].get_edgecolor()) for r in range(2) for c in (1, 2)
    }
    assert colour[(0, 1)] == colour[(1, 1)] == to_hex("tab:green")
    assert colour[(1, 2)] == to_hex("tab:red")
    with pytest.raises(ValueError, match="one label per query"):
        plots.show_neighbours(digits(2), [7], digits(2), [7, 1])


def test_confusion_gallery_shows_each_query_beside_its_wrong_match():
    examples = {
        "4 taken for 9 (3 times)": (digits(3), digits(3)),
        "7 taken for 1": (digits(1), digits(1)),
    }
    figure = plots.show_confusions(examples, per_row=3)
    axes = np.array(figure.axes).reshape(2, 6)
    assert axes[0, 0].get_title(loc="left") == "4 taken for 9 (3 times)"
    assert sum(axis.axison for axis in axes[0]) == 6
    assert sum(axis.axison for axis in axes[1]) == 2  # one couple; the rest of the row is blank
    assert to_hex(axes[0, 1].spines["left"].get_edgecolor()) == to_hex("tab:red")
    assert not axes[0, 0].spines["left"].get_visible()
    with pytest.raises(ValueError, match="2 queries but 1"):
        plots.show_confusions({"x": (digits(2), digits(1))})

"""Plots of training and embeddings: they draw the data they are given, and plotly picks a renderer."""

import sys

import numpy as np
import plotly.io as pio
import pytest
import torch

from helpers import plots

HISTORY = [
    {"epoch": 1, "train_loss": 0.20, "val_loss": 0.18, "val_1nn": 0.90, "lr": 1e-3, "seconds": 1.0},
    {"epoch": 2, "train_loss": 0.10, "val_loss": 0.12, "val_1nn": 0.95, "lr": 1e-4, "seconds": 1.0},
]


def test_history_plot_has_loss_accuracy_and_learning_rate_panels():
    figure = plots.plot_history(HISTORY, references={"raw pixels": 0.941})
    loss, accuracy, rate = figure.axes
    assert [line.get_label() for line in loss.get_lines()] == ["train", "validation"]
    assert list(loss.get_lines()[1].get_ydata()) == [0.18, 0.12]
    assert [line.get_label() for line in accuracy.get_lines()] == ["network", "raw pixels"]
    assert rate.get_yscale() == "log"
    with pytest.raises(ValueError, match="empty"):
        plots.plot_history([])


def test_similarity_histograms_show_both_distributions():
    figure = plots.plot_similarity_histograms(np.array([0.9, 0.8, 0.95]), np.array([0.1, -0.2]))
    (axis,) = figure.axes
    assert [t.get_text() for t in axis.get_legend().get_texts()] == [
        "same digit",
        "different digits",
    ]
    assert axis.get_xlim() == (-1.0, 1.0)


def test_scatter_2d_colours_each_digit():
    points = np.random.default_rng(0).normal(size=(30, 2))
    figure = plots.scatter_2d(points, np.arange(30) % 3, title="map")
    legend = figure.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["0", "1", "2"]
    with pytest.raises(ValueError, match="shaped"):
        plots.scatter_2d(np.zeros((5, 3)), np.zeros(5))


def test_scatter_3d_has_one_trace_per_digit_with_every_point():
    points = torch.randn(40, 3)
    labels = torch.arange(40) % 4
    figure = plots.scatter_3d(points, labels)
    assert [trace.name for trace in figure.data] == ["0", "1", "2", "3"]
    assert sum(len(trace.x) for trace in figure.data) == 40
    assert np.allclose(figure.data[1].z, points[labels == 1, 2].numpy())


def test_animation_has_a_frame_per_epoch_and_fixed_axes():
    frames = [np.random.default_rng(seed).normal(size=(20, 3)) for seed in range(3)]
    figure = plots.animate_3d(frames, np.arange(20) % 2, frame_names=["1", "2", "3"])
    assert [frame.name for frame in figure.frames] == ["1", "2", "3"]
    assert len(figure.layout.sliders[0].steps) == 3
    low = min(f[:, 0].min() for f in frames)
    assert figure.layout.scene.xaxis.range[0] == pytest.approx(low)
    with pytest.raises(ValueError, match="one name per frame"):
        plots.animate_3d(frames, np.arange(20) % 2, frame_names=["1"])


def test_static_figure_redraws_the_same_points_without_kaleido():
    points = np.random.default_rng(0).normal(size=(30, 3))
    figure = plots.scatter_3d(points, np.arange(30) % 3, title="space")
    canvas = plots.static_figure(figure)
    axis = canvas.axes[0]
    assert axis.name == "3d" and axis.get_title() == "space"
    drawn = np.concatenate([np.asarray(c.get_offsets()) for c in axis.collections])
    assert len(drawn) == 30
    animation = plots.animate_3d([points, points * 2], np.arange(30) % 3)
    first = plots.static_figure(animation, frame=0).axes[0]
    assert len(np.concatenate([np.asarray(c.get_offsets()) for c in first.collections])) == 30


def test_configure_plotly_picks_the_renderer_for_each_front_end(monkeypatch):
    before = pio.renderers.default
    try:
        monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
        assert plots.configure_plotly() == before  # a script: left alone
        monkeypatch.setitem(sys.modules, "ipykernel", object())
        assert plots.configure_plotly() == "plotly_mimetype+notebook_connected"
        assert plots.configure_plotly(offline=True) == "plotly_mimetype+notebook"
        monkeypatch.setitem(sys.modules, "google.colab", object())
        assert plots.configure_plotly() == "colab"
        assert pio.renderers.default == "colab"
    finally:
        pio.renderers.default = before

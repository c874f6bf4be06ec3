"""The similarity-matrix figure of 03_network_and_loss: positives outlined green, hidden cells blank."""

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.patches import Rectangle

from helpers import plots
from helpers.plots.style import POSITIVE


def views_of(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The 2N x 2N masks of two views: same digit, the other view, the diagonal."""
    y = torch.cat([labels, labels])  # (2N,)
    itself = torch.eye(len(y), dtype=torch.bool)
    return (y[:, None] == y[None, :]) & ~itself, itself.roll(len(labels), dims=1), itself


def green_boxes(axis) -> list[Rectangle]:
    return [
        patch
        for patch in axis.patches
        if isinstance(patch, Rectangle)
        and matplotlib.colors.same_color(patch.get_edgecolor(), POSITIVE)
    ]


def test_every_positive_is_outlined_and_the_other_view_more_thickly():
    labels = torch.tensor([1, 1, 4, 7])
    positive, partner, itself = views_of(labels)
    similarity = torch.rand(8, 8, generator=torch.Generator().manual_seed(0))
    figure = plots.plot_similarity_matrices(
        {"before": similarity, "after": similarity}, labels=torch.cat([labels, labels]),
        positive=positive, partner=partner, hidden=itself, groups=2,
    )  # fmt: skip
    heatmaps = [axis for axis in figure.axes if axis.get_title() in ("before", "after")]
    assert len(heatmaps) == 2
    for axis in heatmaps:
        boxes = green_boxes(axis)
        assert len(boxes) == int(positive.sum())  # the other views are positives too
        thick = [box for box in boxes if box.get_linewidth() > 2]
        assert len(thick) == int(partner.sum()) == 8
        corners = {(round(box.get_x() + 0.5), round(box.get_y() + 0.5)) for box in thick}
        assert corners == {(int(c), int(r)) for r, c in np.argwhere(partner.numpy())}
        shown = axis.images[0].get_array()
        assert np.ma.getmaskarray(shown)[np.eye(8, dtype=bool)].all()  # the diagonal is blank
        ticks = [tick.get_text() for tick in axis.get_yticklabels()]
        assert ticks == ["1", "1", "4", "7"] * 2


def test_the_colour_scale_starts_at_zero_or_lower_for_negative_cosines():
    labels = torch.tensor([0, 1, 2])
    positive = torch.eye(3, dtype=torch.bool)
    high = plots.plot_similarity_matrices({"a": torch.full((3, 3), 0.5)}, labels=labels,
                                          positive=positive)  # fmt: skip
    assert high.axes[0].images[0].get_clim() == (0.0, 1.0)
    low = plots.plot_similarity_matrices({"a": torch.full((3, 3), -0.3)}, labels=labels,
                                         positive=positive)  # fmt: skip
    assert low.axes[0].images[0].get_clim() == (-0.5, 1.0)


def test_wrong_shapes_and_groups_are_refused_with_the_argument_named():
    labels = torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="positive must be shaped"):
        plots.plot_similarity_matrices(
            {"a": torch.zeros(3, 3)}, labels=labels, positive=torch.zeros(2, 2)
        )
    with pytest.raises(ValueError, match="groups"):
        plots.plot_similarity_matrices(
            {"a": torch.zeros(3, 3)}, labels=labels, positive=torch.zeros(3, 3), groups=2
        )
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_similarity_matrices({}, labels=labels, positive=torch.zeros(3, 3))

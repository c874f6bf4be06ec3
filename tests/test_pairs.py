"""Pairs: balanced, fresh each epoch, never an image with itself, reproducible with a seed."""

import pytest
import torch

from helpers.data import to_network_input
from helpers.pairs import (
    Augmentation,
    PairDataset,
    augment,
    digit_batches,
    draw_pairs,
    epoch_batches,
    num_batches,
    pair_batches,
    view_batches,
)


def make_labels(per_class: int = 30, num_classes: int = 10) -> torch.Tensor:
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    return labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(1))]


def make_images(labels: torch.Tensor) -> torch.Tensor:
    """uint8 digits whose first pixel encodes the image's index, so batches can be traced back."""
    images = torch.zeros(len(labels), 28, 28, dtype=torch.uint8)
    images[:, 0, 0] = torch.arange(len(labels)) % 256
    images[:, 0, 1] = torch.arange(len(labels)) // 256
    images[:, 5:20, 10:18] = 200
    return images


def index_of(batch: torch.Tensor) -> torch.Tensor:
    pixels = ((batch[:, 0, 0, :2] + 1.0) * 127.5).round().long()
    return pixels[:, 0] + 256 * pixels[:, 1]


def test_targets_match_labels_and_half_are_positive():
    labels = make_labels()
    pairs = draw_pairs(labels, generator=torch.Generator().manual_seed(0), num_pairs=1000)
    same = labels[pairs.anchor] == labels[pairs.partner]
    assert torch.equal(same.float(), pairs.target)
    assert int(pairs.target.sum()) == 500


@pytest.mark.parametrize("fraction", [0.0, 0.3, 1.0])
def test_positive_fraction_is_a_parameter(fraction):
    labels = make_labels()
    pairs = draw_pairs(
        labels,
        generator=torch.Generator().manual_seed(0),
        num_pairs=200,
        positive_fraction=fraction,
    )
    assert int(pairs.target.sum()) == round(fraction * 200)


def test_a_positive_is_never_the_anchor_itself():
    labels = make_labels(per_class=2)  # only one other image per class: easy to hit by mistake
    pairs = draw_pairs(
        labels, generator=torch.Generator().manual_seed(0), num_pairs=5000, positive_fraction=1.0
    )
    assert not torch.any(pairs.anchor == pairs.partner)


def test_classes_are_balanced_for_anchors_and_negatives():
    labels = torch.cat([torch.zeros(500), torch.ones(50), torch.full((50,), 2)]).long()
    pairs = draw_pairs(labels, generator=torch.Generator().manual_seed(0), num_pairs=3000)
    anchor_counts = torch.bincount(labels[pairs.anchor], minlength=3)
    assert torch.equal(anchor_counts, torch.tensor([1000, 1000, 1000]))  # not 5:1 like the labels
    negative = pairs.target == 0
    negative_counts = torch.bincount(labels[pairs.partner[negative]], minlength=3).float()
    assert negative_counts.min() / negative_counts.max() > 0.8


def test_same_seed_same_pairs_and_each_draw_is_fresh():
    labels = make_labels()
    first = draw_pairs(labels, generator=torch.Generator().manual_seed(7))
    again = draw_pairs(labels, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first.anchor, again.anchor) and torch.equal(first.partner, again.partner)
    generator = torch.Generator().manual_seed(7)
    epoch_1 = draw_pairs(labels, generator=generator)
    epoch_2 = draw_pairs(labels, generator=generator)
    assert not torch.equal(epoch_1.partner, epoch_2.partner)


def test_bad_arguments_raise_value_errors():
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="positive_fraction"):
        draw_pairs(make_labels(), generator=generator, positive_fraction=1.5)
    with pytest.raises(ValueError, match="two different digits"):
        draw_pairs(torch.zeros(10).long(), generator=generator)
    with pytest.raises(ValueError, match="at least two images"):
        draw_pairs(torch.tensor([0, 1, 1]), generator=generator)


def test_pair_batches_match_the_dataset_view():
    labels = make_labels()
    images = make_images(labels)
    batches = list(
        pair_batches(images, labels, batch_size=64, generator=torch.Generator().manual_seed(3))
    )
    assert len(batches) == num_batches(len(labels), 64) == 4
    pairs = draw_pairs(labels, generator=torch.Generator().manual_seed(3)).to("cpu")
    dataset = PairDataset(images, pairs)
    anchor, partner, target = batches[1]
    assert anchor.shape == (64, 1, 28, 28) and anchor.dtype == torch.float32
    for row in (0, 17, 63):
        item_anchor, item_partner, item_target = dataset[64 + row]
        assert torch.equal(anchor[row], item_anchor)
        assert torch.equal(partner[row], item_partner)
        assert item_target == target[row]
    assert torch.equal(labels[index_of(anchor)] == labels[index_of(partner)], target.bool())


def test_pair_batches_are_normalised_on_the_fly():
    labels = make_labels()
    images = make_images(labels)
    anchor, _, _ = next(
        pair_batches(images, labels, batch_size=8, generator=torch.Generator().manual_seed(0))
    )
    assert anchor.min() >= -1.0 and anchor.max() <= 1.0
    assert torch.equal(anchor, to_network_input(images[index_of(anchor)]))


def test_view_batches_cover_every_image_and_keep_labels_optional():
    labels = make_labels()
    images = make_images(labels)
    generator = torch.Generator().manual_seed(0)
    seen = []
    for view_1, view_2, batch_labels in view_batches(
        images, None, batch_size=50, generator=generator
    ):
        assert batch_labels is None
        assert view_1.shape == view_2.shape == (50, 1, 28, 28)
        assert not torch.equal(view_1, view_2)  # two different random views
    labelled = epoch_batches(
        "labelled_views", images, labels, batch_size=300, generator=generator, drop_last=False
    )
    for _, _, batch_labels in labelled:
        seen.append(batch_labels)
    assert torch.equal(torch.sort(torch.cat(seen)).values, torch.sort(labels).values)
    with pytest.raises(ValueError, match="unknown"):
        epoch_batches("triplets", images, labels, batch_size=8, generator=generator)


def test_augment_without_change_is_the_identity():
    images = make_images(make_labels(per_class=1))
    still = Augmentation(
        max_rotation_degrees=0, scale_range=(1.0, 1.0), max_shift=0.0, max_shear_degrees=0
    )
    out = augment(images, generator=torch.Generator().manual_seed(0), augmentation=still)
    assert torch.allclose(out, to_network_input(images), atol=1e-5)


def test_augment_keeps_range_and_black_background():
    images = make_images(make_labels(per_class=3))
    out = augment(images, generator=torch.Generator().manual_seed(0))
    assert out.shape == (len(images), 1, 28, 28)
    assert out.min() >= -1.0 and out.max() <= 1.0
    assert torch.allclose(out[:, :, 27, 27], torch.tensor(-1.0))  # the corner stays background


def test_in_batch_batches_hold_each_image_once_with_its_label():
    labels = make_labels()
    images = make_images(labels)
    generator = torch.Generator().manual_seed(0)
    batches = list(epoch_batches("in_batch", images, labels, batch_size=64, generator=generator))
    assert len(batches) == num_batches(len(labels), 64) == 4  # the short last batch is dropped
    seen = []
    for x, batch_labels in batches:  # one input and its labels: no pairs are drawn at all
        assert x.shape == (64, 1, 28, 28) and x.dtype == torch.float32
        assert torch.equal(x, to_network_input(images[index_of(x)]))
        assert torch.equal(batch_labels, labels[index_of(x)])
        seen.append(index_of(x))
    assert len(torch.unique(torch.cat(seen))) == 4 * 64  # no image twice in an epoch
    everything = digit_batches(images, labels, batch_size=64, generator=generator, drop_last=False)
    assert sorted(torch.cat([index_of(x) for x, _ in everything]).tolist()) == list(range(300))

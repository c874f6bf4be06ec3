"""Pairs of digits for contrastive learning, drawn with a `torch.Generator`, without Python loops.

Four kinds of training batch come out of `epoch_batches` (the kinds are named in `helpers.losses`,
and every loss says which it reads):

- **pairs** `(anchor, partner, target)`: target 1.0 when both show the same digit, 0.0 when not.
- **in_batch** `(images, labels)`: each image once; the loss scores every pair inside the batch,
  so one forward pass of B images gives B(B-1)/2 pairs.
- **views** `(view_1, view_2, None)` and **labelled_views** `(view_1, view_2, labels)`: two random
  augmentations of the same images, for self-supervised or supervised InfoNCE.

The images stay one uint8 tensor (on the GPU when there is one) and are turned into network input
batch by batch with `to_network_input`. `PairDataset` is the same thing as a `Dataset` for
teaching and for inspecting single pairs.

Taught in 02_pairs (pairs), 03_network_and_loss (in-batch pairs) and 04_training (views).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from helpers.data import to_network_input
from helpers.losses import BATCH_KINDS, IN_BATCH, LABELLED_VIEWS, PAIRS, VIEWS


@dataclass(frozen=True)
class Pairs:
    """Indices of anchor and partner images, and the target: 1.0 same digit, 0.0 different."""

    anchor: torch.Tensor  # (num_pairs,) int64 index into the images
    partner: torch.Tensor  # (num_pairs,) int64 index into the images
    target: torch.Tensor  # (num_pairs,) float32, 1.0 same digit, 0.0 different

    def __len__(self) -> int:
        return len(self.anchor)

    def to(self, device: torch.device | str) -> Pairs:
        """The same pairs with their index tensors on `device`."""
        return Pairs(self.anchor.to(device), self.partner.to(device), self.target.to(device))


def _check_labels(labels: torch.Tensor) -> None:
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.dtype.is_floating_point:
        raise ValueError("labels must be a 1-D integer tensor, one digit label per image.")


def draw_pairs(
    labels: torch.Tensor,
    *,
    generator: torch.Generator,
    num_pairs: int | None = None,
    positive_fraction: float = 0.5,
) -> Pairs:
    """Draw fresh anchor/partner pairs: classes balanced, a positive is never the anchor itself.

    Taught in 02_pairs. Every class is the anchor's class equally often (to within one pair), the
    anchor is a uniformly drawn image of that class, and exactly
    `round(positive_fraction * num_pairs)` pairs are positives. A positive partner is another image
    of the same digit; a negative partner is an image of one of the other digits, each digit equally
    likely. `num_pairs` defaults to one pair per image.
    """
    _check_labels(labels)
    if not 0.0 <= positive_fraction <= 1.0:
        raise ValueError(f"positive_fraction must lie in [0, 1], got {positive_fraction}.")
    num_pairs = len(labels) if num_pairs is None else num_pairs
    if num_pairs < 1:
        raise ValueError(f"num_pairs must be at least 1, got {num_pairs}.")
    device = labels.device
    cpu_labels = labels.cpu()
    classes, counts = torch.unique(cpu_labels, return_counts=True)  # (C,), (C,)
    num_classes = len(classes)
    if num_classes < 2:
        raise ValueError("Negative pairs need at least two different digits in labels.")
    if positive_fraction > 0 and int(counts.min()) < 2:
        raise ValueError(
            "Every digit needs at least two images, so that a positive is never the anchor itself; "
            f"digit {int(classes[counts.argmin()])} has only one."
        )
    # Images sorted by class: class c owns positions starts[c] .. starts[c] + counts[c] - 1.
    by_class = torch.argsort(cpu_labels, stable=True)  # (N,)
    starts = torch.cumsum(counts, 0) - counts  # (C,)

    def uniform_below(high: torch.Tensor) -> torch.Tensor:
        """One integer in [0, high) per entry, drawn with the generator."""
        draws = torch.rand(len(high), generator=generator) * high
        return torch.minimum(draws.long(), high - 1)

    # Anchors: classes in equal shares, shuffled; then one image of that class.
    anchor_class = torch.arange(num_pairs) % num_classes  # (P,) positions in `classes`
    anchor_class = anchor_class[torch.randperm(num_pairs, generator=generator)]
    anchor_rank = uniform_below(counts[anchor_class])  # (P,)
    anchor = by_class[starts[anchor_class] + anchor_rank]  # (P,)

    # Which pairs are positive: exactly round(fraction * P) of them, in random places.
    num_positive = int(round(positive_fraction * num_pairs))
    is_positive = torch.zeros(num_pairs, dtype=torch.bool)
    is_positive[torch.randperm(num_pairs, generator=generator)[:num_positive]] = True

    # Positives: another image of the anchor's class. Draw a rank among the other counts-1 images
    # and step over the anchor's own rank, so the anchor itself can never come back.
    other_rank = uniform_below(counts[anchor_class] - 1)
    other_rank = other_rank + (other_rank >= anchor_rank).long()
    positive = by_class[starts[anchor_class] + other_rank]  # (P,)

    # Negatives: one of the other C-1 classes, each equally likely, then any image of it.
    shift = 1 + uniform_below(torch.full((num_pairs,), num_classes - 1))
    negative_class = (anchor_class + shift) % num_classes
    negative = by_class[starts[negative_class] + uniform_below(counts[negative_class])]  # (P,)

    partner = torch.where(is_positive, positive, negative)
    target = is_positive.to(torch.float32)
    return Pairs(anchor, partner, target).to(device)


class PairDataset(Dataset):
    """A map-style `Dataset` view of drawn pairs: item i is (anchor, partner, target) as tensors.

    Taught in 02_pairs. Fine for looking at pairs and for a `DataLoader`; the training path uses
    `pair_batches`, which slices whole batches at once instead of paying Python per sample.
    """

    def __init__(self, images: torch.Tensor, pairs: Pairs) -> None:
        if images.dtype != torch.uint8 or images.ndim != 3:
            raise ValueError("images must be a uint8 tensor shaped (N, 28, 28).")
        self.images = images
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        anchor = to_network_input(self.images[self.pairs.anchor[index]])[0]  # (1, 28, 28)
        partner = to_network_input(self.images[self.pairs.partner[index]])[0]  # (1, 28, 28)
        return anchor, partner, self.pairs.target[index]


def num_batches(num_items: int, batch_size: int, *, drop_last: bool = True) -> int:
    """How many batches `num_items` make: full batches only when `drop_last`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    return num_items // batch_size if drop_last else math.ceil(num_items / batch_size)


def shuffled_rows(
    count: int, batch_size: int, *, generator: torch.Generator, drop_last: bool = True
) -> Iterator[torch.Tensor]:
    """Row indices of one epoch in a fresh random order, cut into batches: each row exactly once."""
    order = torch.randperm(count, generator=generator)  # (count,)
    for batch in range(num_batches(count, batch_size, drop_last=drop_last)):
        yield order[batch * batch_size : (batch + 1) * batch_size]  # (batch,)


def pair_batches(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int,
    generator: torch.Generator,
    positive_fraction: float = 0.5,
    num_pairs: int | None = None,
    drop_last: bool = True,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One epoch of fresh pairs as batches `(anchor, partner, target)` on the images' device.

    Taught in 02_pairs. Call it again for the next epoch: the pairs are drawn anew each time.
    `drop_last` skips a final short batch (BatchNorm dislikes tiny batches).
    """
    pairs = draw_pairs(
        labels, generator=generator, num_pairs=num_pairs, positive_fraction=positive_fraction
    ).to(images.device)
    for batch in range(num_batches(len(pairs), batch_size, drop_last=drop_last)):
        rows = slice(batch * batch_size, (batch + 1) * batch_size)
        anchor = to_network_input(images[pairs.anchor[rows]])  # (batch, 1, 28, 28)
        partner = to_network_input(images[pairs.partner[rows]])  # (batch, 1, 28, 28)
        yield anchor, partner, pairs.target[rows]


@dataclass(frozen=True)
class Augmentation:
    """Random affine changes for two views of one digit: rotation, scale, shift (and shear).

    Taught in 04_training (self-supervised views). The defaults keep a digit readable: a 6 must
    not turn into a 9, so rotations stay small.
    """

    max_rotation_degrees: float = 15.0
    scale_range: tuple[float, float] = (0.85, 1.15)
    max_shift: float = 0.12  # a fraction of the image's half-width (grid units run -1..1)
    max_shear_degrees: float = 10.0


def augment(
    images: torch.Tensor, *, generator: torch.Generator, augmentation: Augmentation = Augmentation()
) -> torch.Tensor:
    """Randomly transform a batch of uint8 digits (B, 28, 28) into network input, one affine map each.

    Taught in 04_training. Uses `affine_grid` + `grid_sample`, so a whole batch is one call;
    the background stays at -1 (black) where the image is shifted in from outside.
    """
    # Shifted up by 1 to [0, 2], so the zeros grid_sample pads with are black once shifted back.
    x = to_network_input(images) + 1.0  # (B, 1, 28, 28) in [0, 2]
    batch = x.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(batch, generator=generator)

    angle = torch.deg2rad(
        uniform(-augmentation.max_rotation_degrees, augmentation.max_rotation_degrees)
    )
    shear = torch.deg2rad(uniform(-augmentation.max_shear_degrees, augmentation.max_shear_degrees))
    scale = uniform(*augmentation.scale_range)
    shift = torch.stack(
        [uniform(-augmentation.max_shift, augmentation.max_shift) for _ in range(2)], dim=1
    )  # (B, 2)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # theta maps output coordinates to input coordinates: dividing by scale enlarges the digit.
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0] = cos / scale
    theta[:, 0, 1] = (-sin + torch.tan(shear) * cos) / scale
    theta[:, 1, 0] = sin / scale
    theta[:, 1, 1] = (cos + torch.tan(shear) * sin) / scale
    theta[:, :, 2] = shift
    theta = theta.to(x.device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, 28, 28, 2)
    moved = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return moved - 1.0  # (B, 1, 28, 28) in [-1, 1]


def digit_batches(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int,
    generator: torch.Generator,
    drop_last: bool = True,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of `(images, labels)` batches, each image once, in a fresh random order.

    Taught in 03_network_and_loss: the in-batch kind. `InBatchCosineMSELoss` embeds a batch once
    and scores every pair inside it, so no pairs are drawn at all.
    """
    _check_labels(labels)
    for rows in shuffled_rows(len(images), batch_size, generator=generator, drop_last=drop_last):
        rows = rows.to(images.device)
        yield to_network_input(images[rows]), labels[rows]  # (batch, 1, 28, 28), (batch,)


def view_batches(
    images: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    batch_size: int,
    generator: torch.Generator,
    augmentation: Augmentation = Augmentation(),
    drop_last: bool = True,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """One epoch of `(view_1, view_2, labels or None)`: each image once, two random views of it.

    Taught in 04_training. Pass `labels=None` for self-supervised learning (SimCLR): no label is
    read at all. With labels, `InfoNCELoss` treats every same-digit image as a positive (SupCon).
    """
    for rows in shuffled_rows(len(images), batch_size, generator=generator, drop_last=drop_last):
        rows = rows.to(images.device)
        chosen = images[rows]  # (batch, 28, 28) uint8
        view_1 = augment(chosen, generator=generator, augmentation=augmentation)
        view_2 = augment(chosen, generator=generator, augmentation=augmentation)
        yield view_1, view_2, (None if labels is None else labels[rows])


def epoch_batches(
    kind: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int,
    generator: torch.Generator,
    positive_fraction: float = 0.5,
    augmentation: Augmentation = Augmentation(),
    drop_last: bool = True,
) -> Iterator[tuple[torch.Tensor | None, ...]]:
    """One epoch of batches of the named kind: "pairs", "in_batch", "views" or "labelled_views".

    Taught in 04_training: `fit` calls this once per epoch, so every epoch sees fresh batches.
    `positive_fraction` is read by "pairs" only, `augmentation` by the two view kinds only.
    """
    if kind == PAIRS:
        return pair_batches(
            images,
            labels,
            batch_size=batch_size,
            generator=generator,
            positive_fraction=positive_fraction,
            drop_last=drop_last,
        )
    if kind == IN_BATCH:
        return digit_batches(
            images, labels, batch_size=batch_size, generator=generator, drop_last=drop_last
        )
    if kind in (VIEWS, LABELLED_VIEWS):
        return view_batches(
            images,
            labels if kind == LABELLED_VIEWS else None,
            batch_size=batch_size,
            generator=generator,
            augmentation=augmentation,
            drop_last=drop_last,
        )
    raise ValueError(f"batch kind {kind!r} is unknown; use one of {', '.join(BATCH_KINDS)}.")

"""Contrastive losses, each a small module whose `forward` mirrors the equation in its docstring.

A training step feeds a loss one *batch kind*; the kinds are named here, once, and shared with
`helpers.pairs` (which makes them) and `helpers.training` (which checks that a loss and its batches
fit). Every loss names the kinds it reads in `batch_kinds`:

- "pairs" `(anchor, partner, target)`: target 1.0 same digit, 0.0 different. `CosineMSELoss`,
  `MarginContrastiveLoss`.
- "in_batch" `(images, labels)`: one embedding per image; every pair inside the batch is scored.
  `InBatchCosineMSELoss`.
- "views" `(view_1, view_2, None)` and "labelled_views" `(view_1, view_2, labels)`: two augmented
  views of the same images, self-supervised or supervised. `InfoNCELoss`.
- "cross_modal" `(items_a, items_b, labels or None)`: item i of one modality paired with item i of
  another. `CrossModalInfoNCELoss` (its batches are made in 06, not by `helpers.pairs`).

Taught in 03_network_and_loss (pair losses, in-batch pairs), 04_training (InfoNCE) and
06_any_to_any_search (cross-modal InfoNCE).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PAIRS = "pairs"
IN_BATCH = "in_batch"
VIEWS = "views"
LABELLED_VIEWS = "labelled_views"
CROSS_MODAL = "cross_modal"
# The kinds `helpers.pairs.epoch_batches` makes, so the kinds `fit` can train on.
BATCH_KINDS = (PAIRS, IN_BATCH, VIEWS, LABELLED_VIEWS)


def check_loss_reads(loss_fn: nn.Module, kind: str) -> None:
    """Refuse a loss that does not read the batch kind `kind` (losses name theirs in `batch_kinds`)."""
    reads = getattr(loss_fn, "batch_kinds", None)
    if reads is None or kind in reads:
        return  # a loss that does not say what it reads is trusted
    hint = " (self-supervised) or batches='labelled_views' (supervised)" if VIEWS in reads else ""
    raise ValueError(
        f"{type(loss_fn).__name__} reads {' or '.join(repr(k) for k in reads)} batches, not "
        f"{kind!r}; set TrainConfig(batches={reads[0]!r}){hint}."
    )


def _at_least_float32(z: torch.Tensor) -> torch.Tensor:
    """Half-precision embeddings (mixed precision) are compared in fp32; float64 stays float64."""
    return z.to(torch.promote_types(z.dtype, torch.float32))


def _check_alike(z_1: torch.Tensor, z_2: torch.Tensor, what: str) -> None:
    if z_1.shape != z_2.shape or z_1.ndim != 2:
        raise ValueError(
            f"Both {what} must be shaped (batch, dim) alike, item i of one paired with item i of "
            f"the other; got {tuple(z_1.shape)} and {tuple(z_2.shape)}."
        )


def _check_pair_target(z_1: torch.Tensor, target: torch.Tensor | None) -> None:
    if target is None or target.shape != (z_1.shape[0],):
        raise ValueError(
            "A pair loss needs one target per pair (1.0 same digit, 0.0 different), shaped "
            f"({z_1.shape[0]},); got {None if target is None else tuple(target.shape)}. "
            "Feed it pair batches, not views."
        )


def _check_labels(labels: torch.Tensor, batch: int, loss: str) -> None:
    if labels.shape != (batch,) or labels.dtype.is_floating_point:
        raise ValueError(
            f"{loss} needs labels as integer digits shaped ({batch},) or None; got {labels.dtype} "
            f"{tuple(labels.shape)}. Pair targets 1/0 belong to a pair loss."
        )


class CosineMSELoss(nn.Module):
    """The source material's loss: L = mean_i (cos(z_1i, z_2i) - y_i)^2, y = 1 same, 0 different.

    Taught in 03_network_and_loss. It pulls same-digit pairs to cosine 1 and pushes different
    digits to cosine 0 (orthogonal), not to -1.
    """

    batch_kinds = (PAIRS,)

    def __init__(self, eps: float = 1e-7) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, z_1: torch.Tensor, z_2: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_alike(z_1, z_2, "embedding batches")
        _check_pair_target(z_1, target)
        z_1, z_2 = _at_least_float32(z_1), _at_least_float32(z_2)
        similarity = F.cosine_similarity(z_1, z_2, dim=1, eps=self.eps)  # (batch,)
        return ((similarity - target.to(similarity.dtype)) ** 2).mean()


class MarginContrastiveLoss(nn.Module):
    """Hadsell, Chopra and LeCun (2006): pull same pairs together, push different ones past a margin.

    Taught in 03_network_and_loss. With d the Euclidean distance between the two embeddings and
    y = 1 for the same digit:
    L = mean_i [ y_i * d_i^2 / 2 + (1 - y_i) * max(0, margin - d_i)^2 / 2 ].
    (The paper writes Y = 0 for similar pairs; here 1 means "same" for every loss.) With
    `normalize=True` the embeddings are scaled to length 1 first, so d lies in [0, 2].
    """

    batch_kinds = (PAIRS,)

    def __init__(self, margin: float = 1.0, *, normalize: bool = False) -> None:
        super().__init__()
        if margin <= 0:
            raise ValueError(f"margin must be positive, got {margin}.")
        self.margin = margin
        self.normalize = normalize

    def forward(self, z_1: torch.Tensor, z_2: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_alike(z_1, z_2, "embedding batches")
        _check_pair_target(z_1, target)
        z_1, z_2 = _at_least_float32(z_1), _at_least_float32(z_2)
        if self.normalize:
            z_1, z_2 = F.normalize(z_1, dim=1), F.normalize(z_2, dim=1)
        # A tiny epsilon keeps the gradient of sqrt finite when two embeddings coincide.
        distance = ((z_1 - z_2).pow(2).sum(dim=1) + 1e-12).sqrt()  # (batch,)
        y = target.to(distance.dtype)
        pull = y * distance.pow(2) / 2
        push = (1 - y) * F.relu(self.margin - distance).pow(2) / 2
        return (pull + push).mean()


class InBatchCosineMSELoss(nn.Module):
    """The source's cosine-MSE loss on every pair inside one batch: B images give B(B-1)/2 pairs.

    Taught in 03_network_and_loss. A batch of B digits is embedded once; each pair i < j gets the
    target y_ij = 1 when both show the same digit and 0 when not, and the source's error
    e_ij = (cos(z_i, z_j) - y_ij)^2. With P the positive pairs and N the negative ones,
    L = 1/2 * mean_{(i,j) in P} e_ij + 1/2 * mean_{(i,j) in N} e_ij:
    positives and negatives weigh one half each, as in the source's 50/50 pairs (a batch of ten
    digits holds only about 10% positive pairs). One forward pass scores B(B-1)/2 pairs instead
    of B/2 pairs for B images in two passes.
    """

    batch_kinds = (IN_BATCH,)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or len(z) < 2:
            raise ValueError(
                f"InBatchCosineMSELoss needs at least two embeddings shaped (batch, dim), got "
                f"{tuple(z.shape)}; feed it in_batch batches (images, labels)."
            )
        _check_labels(labels, len(z), "InBatchCosineMSELoss")
        z = F.normalize(_at_least_float32(z), dim=1)  # (B, dim): a dot product is now a cosine
        similarity = z @ z.T  # (B, B)
        same = labels[:, None] == labels[None, :]  # (B, B)
        each_pair_once = torch.ones_like(same).triu(diagonal=1)  # (B, B) i < j: no self-pairs
        error = (similarity - same.to(similarity.dtype)) ** 2  # (B, B)
        positive, negative = same & each_pair_once, ~same & each_pair_once
        positive_mean = (error * positive).sum() / positive.sum().clamp(min=1)
        negative_mean = (error * negative).sum() / negative.sum().clamp(min=1)
        return 0.5 * (positive_mean + negative_mean)


def _labels_or_each_its_own(
    labels: torch.Tensor | None, batch: int, device: torch.device, loss: str
) -> torch.Tensor:
    """Checked digit labels, or (None) labels 0..batch-1 that make each item its own class."""
    if labels is None:
        return torch.arange(batch, device=device)
    _check_labels(labels, batch, loss)
    return labels


def masked_info_nce(logits: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """The InfoNCE core both InfoNCE losses share: mean over rows i of L_i, where
    L_i = -1/|P(i)| * sum_{p in P(i)} log( exp(s_ip) / sum_k exp(s_ik) ).

    Taught in 04_training. `logits` (rows, columns) holds the scaled similarities s; an entry of
    -inf is left out of the denominator. `positive` (rows, columns, bool) marks P(i); every row
    needs at least one positive.
    """
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)  # (rows, columns)
    mean_positive = log_prob.masked_fill(~positive, 0.0).sum(1) / positive.sum(1)  # (rows,)
    return -mean_positive.mean()


class _TemperatureLoss(nn.Module):
    """A loss on cosine similarities divided by a temperature t (small t: sharper softmax)."""

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        self.temperature = temperature


class InfoNCELoss(_TemperatureLoss):
    """InfoNCE over a whole batch: every other embedding in the batch is a negative.

    Taught in 04_training. The two views give 2N embeddings z, scaled to length 1. For each
    anchor i, with P(i) its positives and A(i) every other embedding:
    L_i = -1/|P(i)| * sum_{p in P(i)} log( exp(z_i.z_p / t) / sum_{a in A(i)} exp(z_i.z_a / t) ).
    Self-supervised (labels None; SimCLR, Chen et al. 2020): P(i) is the other view of the same
    image and no label is read. Supervised (labels given; Khosla et al. 2020): P(i) is every
    embedding of the same digit. The loss is the mean of L_i over all 2N anchors.
    """

    batch_kinds = (VIEWS, LABELLED_VIEWS)

    def forward(
        self, z_1: torch.Tensor, z_2: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        _check_alike(z_1, z_2, "views")
        labels = _labels_or_each_its_own(labels, len(z_1), z_1.device, "InfoNCELoss")
        z = F.normalize(_at_least_float32(torch.cat([z_1, z_2])), dim=1)  # (2N, dim)
        y = torch.cat([labels, labels])  # (2N,)
        itself = torch.eye(len(z), dtype=torch.bool, device=z.device)  # (2N, 2N)
        logits = (z @ z.T / self.temperature).masked_fill(itself, float("-inf"))  # not A(i)
        positive = (y[:, None] == y[None, :]) & ~itself  # (2N, 2N)
        return masked_info_nce(logits, positive)


class CrossModalInfoNCELoss(_TemperatureLoss):
    """CLIP's symmetric InfoNCE between two modalities: each item must find its partner.

    Taught in 06_any_to_any_search. z_a (batch, dim) and z_b (batch, dim) are two modalities, item
    i of one paired with item i of the other; both are scaled to length 1 and s_ij = z_a_i.z_b_j / t.
    Direction a->b: L_i = -1/|P(i)| * sum_{j in P(i)} log( exp(s_ij) / sum_k exp(s_ik) ), and b->a
    the same on the transposed matrix; the loss is the mean of the two directions. Without labels
    P(i) = {i}, as in CLIP (Radford et al. 2021): every other item of the batch is a negative.
    With digit labels P(i) is every item of the other modality with the same digit, so two 7s are
    never pushed apart (no false negatives).
    """

    batch_kinds = (CROSS_MODAL,)

    def forward(
        self, z_a: torch.Tensor, z_b: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        _check_alike(z_a, z_b, "modalities")
        labels = _labels_or_each_its_own(labels, len(z_a), z_a.device, "CrossModalInfoNCELoss")
        positive = labels[:, None] == labels[None, :]  # (batch, batch): without labels, i only
        z_a = F.normalize(_at_least_float32(z_a), dim=1)
        z_b = F.normalize(_at_least_float32(z_b), dim=1)
        logits = z_a @ z_b.T / self.temperature  # (batch, batch)
        return (masked_info_nce(logits, positive) + masked_info_nce(logits.T, positive.T)) / 2

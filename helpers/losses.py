"""Contrastive losses, each written to mirror its equation.

Every loss is called the same way: `loss_fn(z_1, z_2, y)` with two batches of embeddings
(batch, dim). For the pair losses `y` is the target (1.0 same digit, 0.0 different); for
`InfoNCELoss` `y` is the digit labels (supervised) or None (self-supervised).

Taught in 03_network_and_loss (pair losses) and 04_training (InfoNCE).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _at_least_float32(z: torch.Tensor) -> torch.Tensor:
    """fp16 embeddings (mixed precision on a GPU) are compared in fp32; float64 stays float64."""
    return z.to(torch.promote_types(z.dtype, torch.float32))


def _check_pair_inputs(z_1: torch.Tensor, z_2: torch.Tensor, target: torch.Tensor) -> None:
    if z_1.shape != z_2.shape or z_1.ndim != 2:
        raise ValueError(
            f"Both embedding batches must be shaped (batch, dim) alike, got {tuple(z_1.shape)} "
            f"and {tuple(z_2.shape)}."
        )
    if target is None or target.shape != (z_1.shape[0],):
        raise ValueError(
            "A pair loss needs one target per pair (1.0 same digit, 0.0 different), shaped "
            f"({z_1.shape[0]},); got {None if target is None else tuple(target.shape)}. "
            "Feed it pair batches, not views."
        )


class CosineMSELoss(nn.Module):
    """The source material's loss: L = mean_i (cos(z_1i, z_2i) - y_i)^2, y = 1 same, 0 different.

    Taught in 03_network_and_loss. It pulls same-digit pairs to cosine 1 and pushes different
    digits to cosine 0 (orthogonal), not to -1.
    """

    batch_kind = "pairs"

    def __init__(self, eps: float = 1e-7) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, z_1: torch.Tensor, z_2: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair_inputs(z_1, z_2, target)
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

    batch_kind = "pairs"

    def __init__(self, margin: float = 1.0, *, normalize: bool = False) -> None:
        super().__init__()
        if margin <= 0:
            raise ValueError(f"margin must be positive, got {margin}.")
        self.margin = margin
        self.normalize = normalize

    def forward(self, z_1: torch.Tensor, z_2: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair_inputs(z_1, z_2, target)
        z_1, z_2 = _at_least_float32(z_1), _at_least_float32(z_2)
        if self.normalize:
            z_1, z_2 = F.normalize(z_1, dim=1), F.normalize(z_2, dim=1)
        # A tiny epsilon keeps the gradient of sqrt finite when two embeddings coincide.
        distance = ((z_1 - z_2).pow(2).sum(dim=1) + 1e-12).sqrt()  # (batch,)
        y = target.to(distance.dtype)
        pull = y * distance.pow(2) / 2
        push = (1 - y) * F.relu(self.margin - distance).pow(2) / 2
        return (pull + push).mean()


class InfoNCELoss(nn.Module):
    """InfoNCE over a whole batch: every other embedding in the batch is a negative.

    Taught in 04_training. The two views give 2N embeddings z, scaled to length 1. For each
    anchor i, with P(i) its positives and A(i) every other embedding:
    L_i = -1/|P(i)| * sum_{p in P(i)} log( exp(z_i.z_p / t) / sum_{a in A(i)} exp(z_i.z_a / t) ).
    Self-supervised (labels None; SimCLR, Chen et al. 2020): P(i) is the other view of the same
    image and no label is read. Supervised (labels given; Khosla et al. 2020): P(i) is every
    embedding of the same digit. The loss is the mean of L_i over all 2N anchors.
    """

    batch_kind = "views"

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        self.temperature = temperature

    def forward(
        self, z_1: torch.Tensor, z_2: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        if z_1.shape != z_2.shape or z_1.ndim != 2:
            raise ValueError(
                f"Both views must be shaped (batch, dim) alike, got {tuple(z_1.shape)} and "
                f"{tuple(z_2.shape)}."
            )
        batch = z_1.shape[0]
        if labels is None:
            labels = torch.arange(batch, device=z_1.device)  # each image is its own class
        elif labels.shape != (batch,) or labels.dtype.is_floating_point:
            raise ValueError(
                "InfoNCELoss needs integer digit labels shaped (batch,) or None; got "
                f"{labels.dtype} {tuple(labels.shape)}. Pair targets 1/0 belong to a pair loss."
            )
        z = F.normalize(_at_least_float32(torch.cat([z_1, z_2])), dim=1)  # (2N, dim)
        y = torch.cat([labels, labels])  # (2N,)
        logits = z @ z.T / self.temperature  # (2N, 2N)
        itself = torch.eye(2 * batch, dtype=torch.bool, device=z.device)
        logits = logits.masked_fill(itself, float("-inf"))  # an anchor is not its own negative
        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)  # (2N, 2N)
        positive = (y[:, None] == y[None, :]) & ~itself  # (2N, 2N)
        mean_log_prob = log_prob.masked_fill(~positive, 0.0).sum(1) / positive.sum(1)  # (2N,)
        return -mean_log_prob.mean()


class CrossModalInfoNCELoss(nn.Module):
    """CLIP's symmetric InfoNCE between two modalities: each item must find its partner.

    Taught in 06_any_to_any_search. z_a (batch, dim) and z_b (batch, dim) are two modalities, item
    i of one paired with item i of the other; both are scaled to length 1 and s_ij = z_a_i.z_b_j / t.
    Direction a->b: L_i = -1/|P(i)| * sum_{j in P(i)} log( exp(s_ij) / sum_k exp(s_ik) ), and b->a
    the same on the transposed matrix; the loss is the mean of the two directions. Without labels
    P(i) = {i}, as in CLIP (Radford et al. 2021): every other item of the batch is a negative.
    With digit labels P(i) is every item of the other modality with the same digit, so two 7s are
    never pushed apart (no false negatives).
    """

    batch_kind = "cross_modal"

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}.")
        self.temperature = temperature

    def forward(
        self, z_a: torch.Tensor, z_b: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        if z_a.ndim != 2 or z_b.ndim != 2 or z_a.shape != z_b.shape:
            raise ValueError(
                "Both modalities must be shaped (batch, dim) alike, item i of one paired with "
                f"item i of the other; got {tuple(z_a.shape)} and {tuple(z_b.shape)}."
            )
        batch = z_a.shape[0]
        if labels is None:
            positive = torch.eye(batch, dtype=torch.bool, device=z_a.device)  # (batch, batch)
        elif labels.shape != (batch,) or labels.dtype.is_floating_point:
            raise ValueError(
                f"labels must be integer digits shaped ({batch},) or None; got {labels.dtype} "
                f"{tuple(labels.shape)}."
            )
        else:
            positive = labels[:, None] == labels[None, :]  # (batch, batch)
        z_a = F.normalize(_at_least_float32(z_a), dim=1)
        z_b = F.normalize(_at_least_float32(z_b), dim=1)
        logits = z_a @ z_b.T / self.temperature  # (batch, batch)

        def one_direction(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            log_prob = scores - torch.logsumexp(scores, dim=1, keepdim=True)  # (batch, batch)
            return -(log_prob.masked_fill(~mask, 0.0).sum(1) / mask.sum(1)).mean()

        return (one_direction(logits, positive) + one_direction(logits.T, positive.T)) / 2

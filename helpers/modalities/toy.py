"""Contrastive learning on a 2-D toy: an anchor, its positives and negatives, moved by a loss.

Before any digit is involved, 01 shows the whole idea on ten points in a plane: a loss that pulls
positives towards the anchor and pushes negatives away, and a few steps of gradient descent.

Taught in 01_modalities.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def toy_points(
    *,
    n_positives: int = 4,
    n_negatives: int = 6,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An anchor (2,), positives (n_positives, 2) and negatives (n_negatives, 2), all mixed up.

    The anchor sits near the middle; positives and negatives are drawn from the same spread, so
    before any learning a positive is no closer to the anchor than a negative.
    Taught in 01_modalities.
    """
    if n_positives < 1 or n_negatives < 1:
        raise ValueError("Use at least one positive and one negative.")
    anchor = 0.3 * torch.randn(2, generator=generator)  # (2,)
    others = torch.randn(n_positives + n_negatives, 2, generator=generator)  # (P + N, 2)
    return anchor, others[:n_positives], others[n_positives:]


def toy_distances(
    anchor: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor
) -> tuple[float, float]:
    """Mean anchor-positive and mean anchor-negative Euclidean distance.

    Taught in 01_modalities.
    """
    positive = (positives - anchor).norm(dim=-1).mean().item()
    negative = (negatives - anchor).norm(dim=-1).mean().item()
    return positive, negative


ToyLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def run_toy_contrastive(
    anchor: torch.Tensor,
    positives: torch.Tensor,
    negatives: torch.Tensor,
    loss_fn: ToyLoss,
    *,
    steps: int = 15,
    lr: float = 0.1,
    encoder: nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Take `steps` SGD steps on `loss_fn(anchor, positives, negatives)` and record every position.

    Without `encoder` the points themselves are the parameters (each point is its own embedding).
    With `encoder` the inputs stay fixed and the encoder's weights learn; the record holds its
    outputs. Returns the trajectory (steps + 1, 1 + P + N, 2), row 0 the anchor then positives
    then negatives, and the loss before each step (steps,). Taught in 01_modalities, where the
    same loop is written out by hand.
    """
    inputs = torch.cat([anchor[None], positives, negatives]).detach().clone()  # (1 + P + N, 2)
    if encoder is None:
        points = nn.Parameter(inputs)
        parameters: list[torch.Tensor] = [points]

        def embed() -> torch.Tensor:
            return points

    else:
        parameters = list(encoder.parameters())

        def embed() -> torch.Tensor:
            return encoder(inputs)

    optimizer = torch.optim.SGD(parameters, lr=lr)
    n_pos = len(positives)
    trajectory = [embed().detach().clone()]
    losses = []
    for _ in range(steps):
        z = embed()  # (1 + P + N, 2)
        loss = loss_fn(z[0], z[1 : 1 + n_pos], z[1 + n_pos :])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
        trajectory.append(embed().detach().clone())
    return torch.stack(trajectory), torch.stack(losses)

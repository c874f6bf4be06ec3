"""Binding a new modality to a frozen image space: the training loop that notebook 06 writes by hand.

An encoder of another modality (text, audio) learns to put each of its items near the images of
the same digit. The image network is frozen, so its embeddings are computed once and passed in as
`anchors`; every step pairs each item of a batch with a random anchor of its digit, drawn afresh,
and the loss (for example `losses.CrossModalInfoNCELoss`) compares the two sides. Only the
encoder's weights change.

The loss, the encoder and the data are arguments: this module owns the loop, nothing else, so
notebook 08 rebuilds 06's space by importing it instead of pasting the loop.

Taught in 06_any_to_any_search.
"""

from __future__ import annotations

import torch
from torch import nn


def _check(
    encoder: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    anchors: torch.Tensor,
    anchor_labels: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
) -> None:
    """Refuse inputs the loop cannot use, with a sentence that says what to pass instead."""
    if labels.ndim != 1 or len(labels) != len(inputs) or labels.dtype.is_floating_point:
        raise ValueError(
            f"Pass one integer digit label per input: {len(inputs)} inputs, labels shaped "
            f"{tuple(labels.shape)} {labels.dtype}."
        )
    if anchors.ndim != 2 or anchor_labels.shape != (len(anchors),):
        raise ValueError(
            "anchors must be frozen image embeddings (M, dim) with anchor_labels (M,), got "
            f"{tuple(anchors.shape)} and {tuple(anchor_labels.shape)}."
        )
    missing = sorted(set(labels.unique().tolist()) - set(anchor_labels.unique().tolist()))
    if missing:
        raise ValueError(f"No anchor image of digit(s) {missing} to pair those inputs with.")
    if isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs!r}.")
    if not 2 <= batch_size <= len(inputs):
        raise ValueError(
            f"batch_size={batch_size} must lie between 2 and the {len(inputs)} inputs: only "
            "full batches are trained."
        )
    if not any(p.requires_grad for p in encoder.parameters()):
        raise ValueError("The encoder has no trainable weights; nothing would be bound.")


def bind(
    encoder: nn.Module,
    loss_fn: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    *,
    anchors: torch.Tensor,
    anchor_labels: torch.Tensor,
    epochs: int = 8,
    batch_size: int = 256,
    learning_rate: float = 3e-3,
    seed: int = 0,
    supervised: bool = True,
) -> list[float]:
    """Train `encoder` so each input lands near the anchors (frozen image embeddings) of its digit.

    Taught in 06_any_to_any_search. `inputs` (N, ...) are what the encoder reads (character ids,
    spectrograms) with digit `labels` (N,); `anchors` (M, dim) and `anchor_labels` (M,) are the
    frozen side. Adam on the encoder's weights only. Each epoch shuffles the inputs and cuts them
    into full batches; the last len(inputs) % batch_size items of that order sit the epoch out,
    and the next epoch's shuffle gives them their turn. Each item is paired with a random anchor
    of its digit, drawn uniformly, and `loss_fn(z, partners, labels)` is minimised; with
    `supervised=False` the loss gets None instead of labels (CLIP's form: one positive per row).
    The same seed gives the same weights. Returns the loss of every step; leaves the encoder in
    eval mode.
    """
    _check(encoder, inputs, labels, anchors, anchor_labels, epochs=epochs, batch_size=batch_size)
    device = next(encoder.parameters()).device
    labels, anchor_labels = labels.cpu(), anchor_labels.cpu()  # drawn with a CPU generator
    by_digit = torch.argsort(anchor_labels, stable=True)  # (M,) anchor rows: the 0s, the 1s, ...
    count = torch.bincount(anchor_labels)  # (digits,) anchors of each digit
    first = count.cumsum(0) - count  # (digits,) where each digit's rows start in by_digit
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=learning_rate)
    encoder.train()
    history = []
    for _ in range(epochs):
        order = torch.randperm(len(inputs), generator=generator)  # (N,)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            batch = order[start : start + batch_size]  # (batch,)
            y = labels[batch]  # (batch,)
            draw = torch.rand(
                len(y), generator=generator, dtype=torch.float64
            )  # (batch,) in [0, 1)
            pick = first[y] + (draw * count[y]).long()  # (batch,) a random anchor of each digit
            partners = anchors[by_digit[pick]]  # (batch, dim)
            z = encoder(inputs[batch].to(device))  # (batch, dim)
            loss = loss_fn(z, partners.to(device), y.to(device) if supervised else None)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(loss.item())
    encoder.eval()
    return history

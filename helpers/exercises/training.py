"""Checks for the exercises of 04_training: a training step, the rule that keeps an epoch, a copy.

Each check runs the reader's function on small fixed inputs, compares the result with the series'
own code (`training.train_step`, `bookkeeping.BestWeights`, `checkpoints.copy_state`) and prints
one verdict line through `report`: "right", or a hint aimed at the mistake it found. A check
returns None, so a notebook cell that ends with it shows the verdict and nothing else. The checks
leave torch's global random state as they found it.

Taught in 04_training.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from helpers.bookkeeping import BestWeights
from helpers.exercises import attempt, report
from helpers.losses import InBatchCosineMSELoss, InfoNCELoss
from helpers.model import EmbeddingNet
from helpers.pairs import Augmentation, digit_batches, view_batches
from helpers.training import train_step

STEPS = 2  # steps each check of exercise 1 runs: a missing zero_grad shows from the second on


# --- exercise 1: a training step for any batch kind ---------------------------------------------


def _step_cases() -> list[tuple[str, nn.Module, tuple[torch.Tensor | None, ...]]]:
    """Two batch kinds: labelled views (two inputs) and in-batch digits (one input)."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (16, 28, 28), dtype=torch.uint8, generator=generator)
    labels = torch.arange(16) % 4
    views = next(
        view_batches(images, labels, batch_size=8, generator=generator, augmentation=Augmentation())
    )
    single = next(digit_batches(images, labels, batch_size=8, generator=generator))
    return [
        ("labelled views", InfoNCELoss(), views),
        ("in-batch digits", InBatchCosineMSELoss(), single),
    ]


def _steps(
    step: Callable[..., Any], loss_fn: nn.Module, batch: tuple[torch.Tensor | None, ...]
) -> tuple[list[Any], dict[str, torch.Tensor], str | None]:
    """Run `step` STEPS times from fixed weights and dropout masks: losses, weights, error."""
    torch.manual_seed(0)
    model = EmbeddingNet(embedding_dim=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for number in range(STEPS):
        torch.manual_seed(100 + number)  # the same dropout masks for the reader and the series
        loss, error = attempt(step, model, loss_fn, batch, optimizer)
        if error is not None:
            return losses, {}, error
        losses.append(loss)
    return losses, {n: t.detach().clone() for n, t in model.state_dict().items()}, None


def check_train_step(train_step_by_hand: Callable[..., Any]) -> None:
    """Exercise 1: `train_step_by_hand(model, loss_fn, batch, optimizer)` is `training.train_step`.

    Taught in 04_training. Runs two steps of each on two batch kinds (labelled views: two inputs;
    in-batch digits: one) from the same weights with the same dropout masks, and compares the
    returned losses and the weights after each run.
    """
    with torch.random.fork_rng():
        hints = (_case_hint(train_step_by_hand, *case) for case in _step_cases())
        hint = next((hint for hint in hints if hint), None)  # the first case that went wrong
    right = "Two steps on labelled views and on in-batch digits give train_step's weights."
    report(1, hint is None, right=right, hint=hint or "")


def _case_hint(
    train_step_by_hand: Callable[..., Any],
    kind: str,
    loss_fn: nn.Module,
    batch: tuple[torch.Tensor | None, ...],
) -> str | None:
    """Two steps of the reader's and two of `train_step` on one batch kind: None or a hint."""
    expected_losses, expected, _ = _steps(train_step, loss_fn, batch)
    losses, weights, error = _steps(train_step_by_hand, loss_fn, batch)
    return _step_hint(kind, losses, weights, error, expected_losses, expected)


def _step_hint(
    kind: str,
    losses: list[Any],
    weights: dict[str, torch.Tensor],
    error: str | None,
    expected_losses: list[torch.Tensor],
    expected: dict[str, torch.Tensor],
) -> str | None:
    """None when the reader's steps match the series', else a hint aimed at the mistake."""
    if error is not None:
        return f"on {kind} your function raised {error}."
    if any(not isinstance(loss, torch.Tensor) or loss.numel() != 1 for loss in losses):
        return "return the loss of the step, a one-number tensor (loss.detach())."
    if not math.isclose(float(losses[0]), float(expected_losses[0]), rel_tol=1e-5):
        return (
            f"on {kind} the first loss differs from train_step's. Send every input of the batch "
            "(all but its last item, the target) through the model in ONE forward pass, "
            "model(torch.cat(inputs)), and give the loss the embeddings split back with "
            ".chunk(len(inputs)) and the target: two passes normalise each half by itself."
        )
    initial = _initial_weights()
    if all(torch.equal(weights[name], initial[name]) for name in initial):
        return "the weights never moved: call loss.backward() and then optimizer.step()."
    later_losses = zip(losses[1:], expected_losses[1:], strict=True)
    if any(not math.isclose(float(a), float(b), rel_tol=1e-5) for a, b in later_losses) or any(
        not torch.allclose(weights[name], expected[name], atol=1e-6) for name in expected
    ):
        return (
            "the first step is right but the next is not: clear the old gradients with "
            "optimizer.zero_grad() before the forward pass (backward adds to .grad), and "
            "call optimizer.step() once per call."
        )
    return None


def _initial_weights() -> dict[str, torch.Tensor]:
    """The parameters the exercise's network starts from (BatchNorm's statistics left out)."""
    torch.manual_seed(0)
    return dict(EmbeddingNet(embedding_dim=8).named_parameters())


# --- exercise 2: the epoch a rule keeps ---------------------------------------------------------


def _replay(history: list[dict[str, Any]], metric: str) -> int | None:
    """The epoch `fit` keeps by `metric`: BestWeights run over the history."""
    keeper = BestWeights(metric, nn.Linear(1, 1))
    for row in history:
        keeper.update(row, nn.Linear(1, 1))
    return keeper.epoch


def _rows(values: dict[str, list[float]]) -> list[dict[str, float]]:
    count = len(next(iter(values.values())))
    return [{"epoch": i + 1, **{k: v[i] for k, v in values.items()}} for i in range(count)]


TRICKY_HISTORIES = {
    "a tie": _rows({"val_1nn": [0.90, 0.93, 0.95, 0.95, 0.92],
                    "val_loss": [0.5, 0.35, 0.3, 0.3, 0.4],
                    "train_loss": [0.6, 0.5, 0.4, 0.4, 0.45]}),
    "a first epoch with no value": _rows({"val_1nn": [math.nan, 0.80, 0.85, 0.84],
                                          "val_loss": [math.nan, 0.4, 0.2, 0.3],
                                          "train_loss": [0.7, 0.5, 0.6, 0.4]}),
}  # fmt: skip


def check_pick_epoch(
    pick_epoch: Callable[[list[dict[str, Any]], str], Any],
    history: list[dict[str, Any]] | None = None,
) -> None:
    """Exercise 2: `pick_epoch(history, metric)` keeps the epoch `fit` would keep by `metric`.

    Taught in 04_training. Compared with `BestWeights` on the reader's own run (`history`, if
    given) and on two tricky histories (a tie; a first epoch without a value), for val_1nn
    (highest), val_loss and train_loss (lowest).
    """
    cases = dict(TRICKY_HISTORIES)
    if history is not None:
        cases["the run above"] = list(history)
    hint = None
    for name, rows in cases.items():
        for metric in ("val_1nn", "val_loss", "train_loss"):
            if not all(metric in row for row in rows):
                continue
            answer, error = attempt(pick_epoch, [dict(row) for row in rows], metric)
            expected = _replay(rows, metric)
            if error is not None:
                hint = f"your function raised {error}."
            elif answer is None or answer != expected:
                hint = _pick_hint(name, metric, answer, expected, rows)
            if hint:
                break
        if hint:
            break
    right = "Your rule keeps the same epoch as fit for all three metrics, ties and gaps included."
    report(2, hint is None, right=right, hint=hint or "")


def _pick_hint(
    name: str, metric: str, answer: Any, expected: int | None, rows: list[dict[str, Any]]
) -> str:
    """Name the likely mistake behind a wrong epoch."""
    if answer is None:
        return "return an epoch number (the row's 'epoch'), not None."
    values = [row[metric] for row in rows]
    if (
        metric == "val_1nn"
        and answer == rows[min(range(len(values)), key=values.__getitem__)]["epoch"]
    ):
        return "val_1nn is an accuracy: keep the epoch where it is HIGHEST."
    if isinstance(answer, int) and 0 <= answer < len(rows) and answer + 1 == expected:
        return "return the row's 'epoch' (epochs count from 1), not its position in the list."
    return (
        f"on {name}, by {metric}, fit keeps epoch {expected}, you said {answer!r}. Accuracies: "
        "highest; losses: lowest; on a tie the earliest epoch; skip NaN values."
    )


# --- exercise 3: a copy of the weights that later training cannot change ------------------------


def check_snapshot(snapshot: Callable[[nn.Module], Any]) -> None:
    """Exercise 3: `snapshot(model)` returns weights and buffers that later training leaves alone.

    Taught in 04_training. Takes a snapshot of a small network with BatchNorm, trains it one step
    (which moves the weights and BatchNorm's running statistics), then checks that the snapshot
    still holds the state from before, shares no memory with the network, and loads back.
    """
    with torch.random.fork_rng():
        torch.manual_seed(0)
        network = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
        before = {name: tensor.clone() for name, tensor in network.state_dict().items()}
        kept, error = attempt(snapshot, network)
        optimizer = torch.optim.SGD(network.parameters(), lr=0.5)
        network.train()
        network(torch.randn(16, 4)).pow(2).mean().backward()
        optimizer.step()
    hint = _snapshot_hint(kept, error, before, network)
    right = "The snapshot kept the weights and BatchNorm's statistics through a training step."
    report(3, hint is None, right=right, hint=hint or "")


def _snapshot_hint(
    kept: Any, error: str | None, before: dict[str, torch.Tensor], network: nn.Module
) -> str | None:
    if error is not None:
        return f"your function raised {error}."
    if not isinstance(kept, dict) or not kept:
        return "return a dict of tensors, name -> tensor, like model.state_dict()."
    missing = sorted(set(before) - set(kept))
    if missing:
        return (
            f"{missing[0]!r} is missing: start from model.state_dict(), which also holds "
            "BatchNorm's running statistics (parameters() does not)."
        )
    live = {tensor.data_ptr() for tensor in network.state_dict().values()}
    if any(isinstance(t, torch.Tensor) and t.data_ptr() in live for t in kept.values()):
        return (
            "your dict shares memory with the network, so it followed the training step: "
            "state_dict() returns the live tensors. Clone each one (tensor.clone()) or deep-copy."
        )
    if any(not torch.equal(kept[name], before[name]) for name in before):
        return (
            "the snapshot does not hold the weights from before the step; clone them as they are."
        )
    return None

"""Checks for the exercises of 07_scaling_out: processes that do not gather, the memory of a
CLIP-sized similarity matrix, and recall@k against the exact neighbours.

Each check runs the reader's answer on fixed inputs, compares it with the series' own code
(`distributed.SplitBatchLoss`, `distributed.similarity_bytes`, `ann.recall_at_k`) and prints one
verdict line through `report`: "right", or a hint aimed at the mistake it found. A check returns
None, so a cell that ends with it shows the verdict and nothing else.

Taught in 07_scaling_out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from helpers.ann import recall_at_k
from helpers.distributed import SplitBatchLoss, similarity_bytes
from helpers.exercises import attempt, close, report
from helpers.losses import InfoNCELoss

PROCESSES = 3  # exercise 1: the processes the batch is cut between
BATCH = 12  # exercise 1: the global batch, four items per process
CLIP_PAIRS, CLIP_GPUS = 65_536, 512  # exercise 2: the batch and the GPUs it is spread over
MIB = 2**20


# --- exercise 1: the loss of processes that do not gather ---------------------------------------


def _embeddings() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two views (BATCH, 8) and labels (BATCH,), the same on every call."""
    generator = torch.Generator().manual_seed(7)
    z_1 = torch.randn(BATCH, 8, generator=generator, dtype=torch.float64)  # (12, 8)
    z_2 = torch.randn(BATCH, 8, generator=generator, dtype=torch.float64)  # (12, 8)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])  # every digit in every process
    return z_1, z_2, labels


def check_local_loss(local_loss: Callable[..., Any]) -> None:
    """Exercise 1: `local_loss(loss_fn, z_1, z_2, labels, processes)` is the loss W processes
    compute without a gather: the mean of `loss_fn` over each process's contiguous slice.

    Taught in 07_scaling_out. Compared with `distributed.SplitBatchLoss` with and without labels.
    """
    loss_fn = InfoNCELoss(temperature=0.5)
    z_1, z_2, labels = _embeddings()
    hint = None
    for y in (None, labels):
        expected = float(SplitBatchLoss(loss_fn, groups=PROCESSES)(z_1, z_2, y))
        answer, error = attempt(local_loss, loss_fn, z_1, z_2, y, PROCESSES)
        if error is not None:
            hint = f"your function raised {error}."
        elif not close(answer, expected, tolerance=1e-9):
            hint = _local_loss_hint(answer, loss_fn, z_1, z_2, y)
        if hint:
            break
    right = (
        f"Each of {PROCESSES} processes scores its {BATCH // PROCESSES} pairs against its own "
        "views only, and the losses are averaged, as DDP averages their gradients."
    )
    report(1, hint is None, right=right, hint=hint or "")


def _local_loss_hint(
    answer: Any,
    loss_fn: InfoNCELoss,
    z_1: torch.Tensor,
    z_2: torch.Tensor,
    labels: torch.Tensor | None,
) -> str:
    """Name the likely mistake behind a wrong loss."""
    if answer is None:
        return (
            "return one number: cut z_1, z_2 (and labels) into `processes` equal slices with "
            ".chunk, apply loss_fn to each slice, and average the results."
        )
    size = BATCH // PROCESSES
    parts = [slice(r * size, (r + 1) * size) for r in range(PROCESSES)]
    strided = [slice(r, None, PROCESSES) for r in range(PROCESSES)]

    def over(slices: list[slice]) -> list[float]:
        return [
            float(loss_fn(z_1[s], z_2[s], None if labels is None else labels[s])) for s in slices
        ]

    if close(answer, float(loss_fn(z_1, z_2, labels)), tolerance=1e-9):
        return (
            "that is the loss over the whole batch, which only a gather gives. Without it, "
            "process r sees only its own rows r*b to (r+1)*b."
        )
    if close(answer, sum(over(parts)), tolerance=1e-9):
        return "you summed the processes' losses; average them (DDP averages the gradients)."
    if close(answer, float(np.mean(over(strided))), tolerance=1e-9):
        return (
            "you dealt the rows out in turn (r, r + W, ...); each process holds a contiguous "
            "slice of the batch, rows r*b to (r+1)*b, as torch.chunk cuts it."
        )
    return (
        f"expected a loss near {float(np.mean(over(parts))):.4f}, got {answer!r}. Call loss_fn on "
        "(z_1[s], z_2[s], labels[s] or None) for each process's slice s, then average."
    )


# --- exercise 2: the memory of a CLIP-sized similarity matrix -----------------------------------


def check_similarity_mib(answer: Any) -> None:
    """Exercise 2: MiB of one GPU's share of the fp16 similarity matrix, sharded logits, for a
    global batch of 65,536 pairs on 512 GPUs.

    Taught in 07_scaling_out. The truth is `distributed.similarity_bytes` in MiB (16).
    """
    expected = (
        similarity_bytes(CLIP_PAIRS, world_size=CLIP_GPUS, bytes_per_value=2, sharded=True) / MIB
    )
    mistakes = {
        similarity_bytes(CLIP_PAIRS, bytes_per_value=2) / MIB: (
            "that is the whole 65,536 x 65,536 matrix. With sharded logits each GPU keeps only "
            "its own 65,536 / 512 rows, against all 65,536 columns."
        ),
        2 * expected: "fp16 takes 2 bytes a value, not 4.",
        expected * MIB: "that is in bytes; one MiB is 2**20 bytes.",
        expected * MIB / 1e6: "that is in MB (10**6 bytes); one MiB is 2**20 bytes.",
        expected / CLIP_GPUS: "each GPU holds 128 whole rows: every row has 65,536 columns.",
    }
    if close(answer, expected, tolerance=0.01):
        hint = None
    elif answer is None:
        hint = "set answer to a number of MiB: rows per GPU x columns x bytes per value / 2**20."
    else:
        found = [text for value, text in mistakes.items() if close(answer, value, tolerance=0.01)]
        hint = found[0] if found else (
            "count rows per GPU (65,536 / 512) x columns (65,536) x 2 bytes, then divide by 2**20."
        )  # fmt: skip
    right = (
        f"{expected:.0f} MiB: 128 rows of 65,536 fp16 scores; the whole matrix would be 8,192 MiB."
    )
    report(2, hint is None, right=right, hint=hint or "")


# --- exercise 3: recall@k against the exact neighbours ------------------------------------------

# Found and true neighbours of three queries (k = 4): the same ids in another order, half of
# them, and all but one; the exact recall is (4 + 2 + 3) / 12 = 0.75.
FOUND = np.array([[4, 3, 2, 1], [1, 2, 9, 8], [7, 5, 6, 0]])
TRUTH = np.array([[1, 2, 3, 4], [1, 2, 3, 4], [5, 6, 7, 8]])


def check_recall(my_recall: Callable[[np.ndarray, np.ndarray], Any]) -> None:
    """Exercise 3: `my_recall(found, truth)` for (queries, k) arrays is `ann.recall_at_k`.

    Taught in 07_scaling_out. The fixed rows hold the true ids in another order, so comparing
    position by position is caught.
    """
    expected = recall_at_k(FOUND, TRUTH)
    answer, error = attempt(my_recall, FOUND.copy(), TRUTH.copy())
    if error is not None:
        hint = f"your function raised {error}."
    elif close(answer, expected, tolerance=1e-9):
        hint = None
    elif answer is None:
        hint = (
            "return one number: for each query, count the ids its found row shares with its "
            "true row, add the counts up and divide by the number of true neighbours."
        )
    elif close(answer, float((FOUND == TRUTH).mean()), tolerance=1e-9):
        hint = (
            "you compared position by position; the order does not matter, only which ids were "
            "found. Count the ids each pair of rows shares (a set intersection)."
        )
    elif close(answer, expected * TRUTH.shape[1], tolerance=1e-9):
        hint = "divide by k as well: recall is a share of the true neighbours, at most 1."
    else:
        hint = f"these rows should give {expected:.2f}, not {answer!r}: shared ids / all true ids."
    right = f"Recall counts shared ids in any order: {expected:.2f} on the check's three rows."
    report(3, hint is None, right=right, hint=hint or "")

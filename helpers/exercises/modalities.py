"""Checks for the exercises of 01_modalities: a walking pace, a cosine search, a loss without negatives.

Each check runs the reader's function on fixed inputs, compares the result with the series' own
code (`imu.imu_trace`'s known pace, `evaluation.cosine_top_k`, the pull term of 01's loss) and
prints one verdict line through `report`: "right", or a hint aimed at the mistake it found. A check
returns None, so a notebook cell that ends with it shows the verdict and nothing else (a trailing
semicolon would not hide a returned value under nbval, which runs cells without history).

Taught in 01_modalities.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from helpers.evaluation import cosine_top_k
from helpers.exercises import attempt, close, report
from helpers.modalities import imu, toy

PACES_HZ = (1.4, 1.8, 2.2)  # steps per second of the three walks `check_pace` measures
PACE_TOLERANCE_HZ = 0.12  # a little over half an FFT bin of a 5-second walk (0.2 Hz)
SEARCH_K = 5
PULL_ONLY_STEPS = 100


# --- exercise 1: the walking pace from the accelerometer ----------------------------------------


def check_pace(walking_pace: Callable[[torch.Tensor, torch.Tensor], Any]) -> None:
    """Exercise 1: `walking_pace(time_s, accelerometer)` finds the step rate of three walks.

    Taught in 01_modalities. The walks come from `imu.imu_trace` at 1.4, 1.8 and 2.2 steps per
    second (seeded), so the right answer is known without any reference implementation.
    """
    hint = None
    for index, step_hz in enumerate(PACES_HZ):
        generator = torch.Generator().manual_seed(index)
        time_s, accelerometer, _ = imu.imu_trace(step_hz=step_hz, generator=generator)
        pace, error = attempt(walking_pace, time_s, accelerometer)
        if error is not None:
            hint = f"your function raised {error}."
        elif not close(pace, step_hz, tolerance=PACE_TOLERANCE_HZ):
            hint = _pace_hint(pace, step_hz)
        if hint:
            break
    paces = ", ".join(map(str, PACES_HZ))
    right = f"Your function finds the pace of walks at {paces} steps per second."
    report(1, hint is None, right=right, hint=hint or "")


def _pace_hint(pace: Any, step_hz: float) -> str:
    """Name the likely mistake behind a wrong pace."""
    if pace is None:
        return (
            "return the pace in Hz: take the z column after the first second, subtract its "
            "mean, and find the frequency of the largest |torch.fft.rfft(...)| value."
        )
    if close(pace, 0.0, tolerance=0.05):
        return (
            "you found 0 Hz, the constant part of the signal: gravity (9.81 m/s² on z). "
            "Subtract the mean of the readings before the FFT."
        )
    if close(pace, step_hz / 2, tolerance=PACE_TOLERANCE_HZ):
        return (
            "you found half the pace: that is the sideways sway (one stride is two steps). "
            "Read the vertical axis, z (column 2)."
        )
    return (
        f"a walk at {step_hz} steps/s gave {pace!r}. Use torch.fft.rfftfreq(n, d=1 / rate_hz) "
        "with the trace's 100 samples per second to turn the peak's index into Hz."
    )


# --- exercise 2: the cosine search, written out -------------------------------------------------


def search_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed queries (4, 10) and a database (30, 10) whose rows differ in length 100-fold.

    Taught in 01_modalities. Long rows win a dot-product ranking, so it differs from the cosine one.
    """
    generator = torch.Generator().manual_seed(0)
    lengths = torch.logspace(-1, 1, 30)[torch.randperm(30, generator=generator)]  # 0.1 to 10
    database = torch.randn(30, 10, generator=generator) * lengths[:, None]  # (30, 10)
    queries = 3 * torch.randn(4, 10, generator=generator)  # (4, 10)
    return queries, database


def check_search(cosine_search: Callable[..., Any]) -> None:
    """Exercise 2: `cosine_search(query, database, k=...)` equals `evaluation.cosine_top_k`.

    Taught in 01_modalities. Each of four queries (dim,) must give the same rows, best first, and
    the same cosines (to 1e-5) as the series' one exact search.
    """
    queries, database = search_inputs()
    hint = None
    for query in queries:
        expected_scores, expected_rows = cosine_top_k(query, database, k=SEARCH_K)  # (k,), (k,)
        answer, error = attempt(cosine_search, query.clone(), database.clone(), k=SEARCH_K)
        if error is not None:
            hint = f"your function raised {error}."
        else:
            hint = _search_hint(answer, query, database, expected_scores, expected_rows)
        if hint:
            break
    right = "The same rows and cosines as evaluation.cosine_top_k on four queries."
    report(2, hint is None, right=right, hint=hint or "")


def _search_hint(
    answer: Any,
    query: torch.Tensor,
    database: torch.Tensor,
    expected_scores: torch.Tensor,
    expected_rows: torch.Tensor,
) -> str | None:
    """None when `answer` is right, else a hint aimed at the mistake."""
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        return (
            "return two tensors, (scores, rows): the k largest cosines and their row numbers. "
            "Scale query and rows to length 1 (F.normalize), multiply, then .topk(k)."
        )
    scores, rows = (torch.as_tensor(part) for part in answer)
    if scores.shape != (SEARCH_K,) or rows.shape != (SEARCH_K,):
        return (
            f"for one query (dim,) return scores and rows shaped ({SEARCH_K},); got "
            f"{tuple(scores.shape)} and {tuple(rows.shape)}."
        )
    dot_rows = (database @ query).topk(SEARCH_K).indices  # (k,)
    if torch.equal(rows, dot_rows) and not torch.equal(rows, expected_rows):
        return (
            "you ranked by dot product, so long rows win. Scale every database row (and the "
            "query) to length 1 first: then the dot product is the cosine."
        )
    if torch.equal(rows.long(), expected_rows.flip(0)):
        return "the order is reversed: put the most similar row first (topk does)."
    if not torch.equal(rows.long(), expected_rows):
        return f"the rows {rows.tolist()} are not the {SEARCH_K} most cosine-similar ones."
    if not torch.allclose(scores.float(), expected_scores, atol=1e-5):
        return (
            "the rows are right but the scores are not cosines (they must lie in [-1, 1]): "
            "scale the query to length 1 as well."
        )
    return None


# --- exercise 3: a loss without negatives -------------------------------------------------------


def _reference_pull(
    anchor: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor
) -> torch.Tensor:
    """The pull term of 01's loss: mean squared distance from the anchor to its positives."""
    return (positives - anchor).pow(2).sum(dim=1).mean()


def _seeded_encoder(seed: int = 0) -> nn.Linear:
    """A Linear(2, 2) whose weights come from its own generator (the global RNG is left alone)."""
    encoder = nn.utils.skip_init(nn.Linear, 2, 2)  # no default init: it would draw global RNG
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        encoder.weight.copy_(torch.randn(2, 2, generator=generator) / 2**0.5)
        encoder.bias.copy_(torch.randn(2, generator=generator) / 2**0.5)
    return encoder


def check_pull_only(pull_only_loss: Callable[..., Any]) -> None:
    """Exercise 3: `pull_only_loss(anchor, positives, negatives)` is the pull term alone.

    Taught in 01_modalities. Compares it with the pull term on the toy points (moving the
    negatives must not change it), then trains a shared Linear(2, 2) encoder with it for 100 steps
    and says what happened to the negatives.
    """
    anchor, positives, negatives = toy.toy_points(generator=torch.Generator().manual_seed(0))
    hint = _pull_only_problem(pull_only_loss, anchor, positives, negatives)
    if hint:
        report(3, False, right="", hint=hint)
        return
    trajectory, _ = toy.run_toy_contrastive(
        anchor,
        positives,
        negatives,
        pull_only_loss,
        steps=PULL_ONLY_STEPS,
        lr=0.1,
        encoder=_seeded_encoder(),
    )
    n_pos = len(positives)
    start = toy.toy_distances(
        trajectory[0, 0], trajectory[0, 1 : 1 + n_pos], trajectory[0, 1 + n_pos :]
    )
    end = toy.toy_distances(
        trajectory[-1, 0], trajectory[-1, 1 : 1 + n_pos], trajectory[-1, 1 + n_pos :]
    )
    shrank = "fell by more than 90 %" if end[1] < 0.1 * start[1] else "fell"
    report(
        3,
        True,
        right=f"After {PULL_ONLY_STEPS} steps with it, the mean anchor-negative distance {shrank}, "
        "though the loss never mentions the negatives: the encoder shrank the whole plane.",
        hint="",
    )


def _pull_only_problem(
    pull_only_loss: Callable[..., Any],
    anchor: torch.Tensor,
    positives: torch.Tensor,
    negatives: torch.Tensor,
) -> str | None:
    """None when the loss is the pull term on the toy points and ignores the negatives, else a hint."""
    expected = _reference_pull(anchor, positives, negatives).item()
    for moved in (False, True):
        value, error = attempt(pull_only_loss, anchor, positives, negatives + 5.0 * moved)
        if error is not None:
            return f"your loss raised {error}."
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            return "return the loss as a one-number tensor, not None."
        if not close(value, expected, tolerance=1e-5) and not moved:
            return (
                "use the pull term of section 4's loss: the mean over positives of the squared "
                "distance to the anchor, (positives - anchor).pow(2).sum(dim=1).mean()."
            )
        if not close(value, expected, tolerance=1e-5):
            return "your loss changes when the negatives move; leave them out entirely."
    return None

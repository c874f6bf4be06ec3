"""Checks for the exercises of 05_embedding_space: length or direction, recall@k, a drifting query.

Each check compares the reader's answer with the series' own code (`projection.unit_length`,
`evaluation.recall_at_k`, `evaluation.cosine_top_k`) and prints one verdict line through `report`:
"right", or a hint aimed at the mistake it found. The line holds no measured number, so it is the
same on every machine. A check returns None, so a cell that ends with it shows only the verdict.

Taught in 05_embedding_space.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers.evaluation import cosine_top_k, embed, recall_at_k
from helpers.exercises import attempt, close, report
from helpers.projection import SeededMaps, unit_length

RECALL_KS = (1, 3, 5)  # the k values `check_recall_at_k` tries
DRIFT_ANGLES = tuple(range(-90, 91, 15))  # degrees; positive turns counter-clockwise
DRIFT_K = 10  # results read per rotated query


# --- exercise 1: length or direction? -----------------------------------------------------------


def check_length_or_direction(
    embeddings: torch.Tensor,
    unit_vectors: Any,
    unit_maps: Any,
    *,
    maps: Mapping[str, SeededMaps],
    answer: Any,
) -> None:
    """Exercise 1: unit-length rows, their Euclidean maps, and which map those resemble.

    Taught in 05_embedding_space. `unit_vectors` must be `embeddings` scaled to length 1;
    `unit_maps` their Euclidean UMAP maps over the seeds of `maps["cosine"]`; `answer` is
    "cosine" or "euclidean", the map whose mean silhouette theirs is closer to.
    """
    if set(maps) != {"cosine", "euclidean"}:
        raise ValueError(
            'maps= needs the two SeededMaps of section 3: {"cosine": ..., "euclidean": ...}.'
        )
    hint = _unit_problem(embeddings, unit_vectors) or _maps_problem(unit_maps, maps)
    expected = None
    if hint is None:
        expected = _closer_map(unit_maps, maps)
        if answer not in ("cosine", "euclidean"):
            hint = 'answer with the string "cosine" or "euclidean".'
        elif answer != expected:
            hint = (
                "compare the mean silhouette of your maps with the two maps of section 3 "
                "(np.mean(unit_maps.scores['silhouette'])): which is it closer to?"
            )
    right = {
        "cosine": "Scaled to length 1, Euclidean distance ranks neighbours exactly as cosine does "
        "(|a - b|² = 2 - 2 cos(a, b)), and the maps score like the cosine maps: the lengths "
        "were what made the Euclidean maps differ.",
        "euclidean": "Your maps score like the Euclidean ones, so here something other than the "
        "lengths separates the two maps; look at the maps side by side.",
    }
    report(1, hint is None, right=right.get(expected or "", ""), hint=hint or "")


def _unit_problem(embeddings: torch.Tensor, unit_vectors: Any) -> str | None:
    """None when `unit_vectors` are `embeddings` scaled to length 1, else a hint."""
    if unit_vectors is None:
        return (
            "set unit_vectors to the validation embeddings scaled to length 1: "
            "F.normalize(z, dim=1) or projection.unit_length(z)."
        )
    values = np.asarray(
        unit_vectors.detach().cpu() if isinstance(unit_vectors, torch.Tensor) else unit_vectors,
        dtype=np.float64,
    )
    if values.shape != tuple(embeddings.shape):
        return f"unit_vectors should be shaped {tuple(embeddings.shape)}, got {values.shape}."
    if not np.allclose(np.linalg.norm(values, axis=1), 1.0, atol=1e-4):
        return "some rows of unit_vectors are not of length 1: divide each row by its own norm."
    if not np.allclose(values, unit_length(embeddings), atol=1e-4):
        return "the rows have length 1 but point elsewhere: scale each row, do not change it."
    return None


def _maps_problem(unit_maps: Any, maps: Mapping[str, SeededMaps]) -> str | None:
    """None when `unit_maps` are Euclidean maps over the seeds of the cosine maps, else a hint."""
    if not isinstance(unit_maps, SeededMaps):
        return (
            "set unit_maps to projection.umap_over_seeds(unit_vectors, labels, "
            'metric="euclidean", seeds=...) with the seeds of section 3.'
        )
    if unit_maps.metric != "euclidean":
        return 'draw the maps of the unit vectors with metric="euclidean": that is the question.'
    if unit_maps.seeds != maps["cosine"].seeds:
        return f"use the seeds of section 3, {maps['cosine'].seeds}, so the maps compare fairly."
    return None


def _closer_map(unit_maps: SeededMaps, maps: Mapping[str, SeededMaps]) -> str:
    """ "cosine" or "euclidean": whose mean silhouette is nearer to the unit-length maps'."""
    ours = float(np.mean(unit_maps.scores["silhouette"]))
    gaps = {name: abs(ours - float(np.mean(m.scores["silhouette"]))) for name, m in maps.items()}
    return min(gaps, key=gaps.get)


# --- exercise 2: recall@k, written out ----------------------------------------------------------


def recall_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed embeddings (48, 6) of four digits whose lengths differ 100-fold, and their labels.

    Taught in 05_embedding_space. The clusters overlap, so recall@1 is below 1; the lengths make a
    dot-product ranking differ from the cosine one.
    """
    generator = torch.Generator().manual_seed(5)
    labels = torch.arange(4).repeat_interleave(12)  # (48,)
    centres = torch.randn(4, 6, generator=generator)  # (4, 6)
    directions = centres[labels] + 0.9 * torch.randn(48, 6, generator=generator)  # (48, 6)
    lengths = torch.logspace(-1, 1, 48)[torch.randperm(48, generator=generator)]  # 0.1 to 10
    return F.normalize(directions, dim=1) * lengths[:, None], labels


def check_recall_at_k(recall_function: Callable[..., Any]) -> None:
    """Exercise 2: `recall_function(embeddings, labels, k)` equals `evaluation.recall_at_k`.

    Taught in 05_embedding_space. Tried on `recall_inputs()` for k = 1, 3 and 5; the hint names
    the usual mistakes (an item finding itself, a dot-product ranking, a share instead of "any").
    """
    embeddings, labels = recall_inputs()
    hint = None
    for k in RECALL_KS:
        expected = recall_at_k(embeddings, labels, ks=(k,))[f"recall@{k}"]
        value, error = attempt(recall_function, embeddings.clone(), labels.clone(), k)
        if error is not None:
            hint = f"your function raised {error}."
        elif not close(value, expected, tolerance=1e-6):
            hint = _recall_hint(value, embeddings, labels, k)
        if hint:
            break
    right = f"The same recall@k as evaluation.recall_at_k for k = {', '.join(map(str, RECALL_KS))}."
    report(2, hint is None, right=right, hint=hint or "")


def _recall_variants(embeddings: torch.Tensor, labels: torch.Tensor, k: int) -> dict[str, float]:
    """What the usual wrong answers give: the item counted as its own neighbour, dot-product
    ranking, and the share of same-digit neighbours (precision@k) instead of 'any of them'."""
    same = labels[:, None] == labels[None, :]  # (N, N)
    _, with_self = cosine_top_k(embeddings, embeddings, k=k)  # (N, k), the item itself first
    dot = embeddings @ embeddings.T  # (N, N)
    dot.fill_diagonal_(float("-inf"))
    by_dot = dot.topk(k, dim=1).indices  # (N, k)
    _, nearest = cosine_top_k(embeddings, embeddings, k=k, exclude_self=True)  # (N, k)
    rows = torch.arange(len(labels))[:, None]
    return {
        "self": same[rows, with_self].any(dim=1).float().mean().item(),
        "dot": same[rows, by_dot].any(dim=1).float().mean().item(),
        "share": same[rows, nearest].float().mean().item(),
    }


def _recall_hint(value: Any, embeddings: torch.Tensor, labels: torch.Tensor, k: int) -> str:
    """A hint aimed at the mistake that gives `value`."""
    if value is None:
        return (
            "return one number: the share of items that have at least one item of their digit "
            "among their k most cosine-similar OTHER items."
        )
    variants = _recall_variants(embeddings, labels, k)
    if close(value, variants["self"], tolerance=1e-6):
        return (
            "every item found itself: leave it out of its own results (set the diagonal of the "
            "similarity matrix to -inf, or cosine_top_k(..., exclude_self=True))."
        )
    if close(value, variants["dot"], tolerance=1e-6):
        return "you ranked by dot product, so long rows win: scale the rows to length 1 first."
    if close(value, variants["share"], tolerance=1e-6):
        return (
            "you averaged the share of same-digit results (precision@k); recall@k counts an item "
            "as found when ANY of its k results is of its digit: .any(dim=1)."
        )
    return f"for k={k} your function gave {value!r}, not the recall@{k} of these embeddings."


# --- exercise 3: how far can a query drift? -----------------------------------------------------


def drift_shares(
    model: nn.Module,
    image: torch.Tensor,
    database: torch.Tensor,
    database_labels: torch.Tensor,
    *,
    digit: int,
    angles: tuple[int, ...] = DRIFT_ANGLES,
) -> dict[int, float]:
    """For each angle, the share of the k nearest database rows that show `digit`.

    Taught in 05_embedding_space. `image` (28, 28) uint8 is turned (positive: counter-clockwise), embedded
    (`evaluation.embed`) and searched in `database` (N, dim) with `evaluation.cosine_top_k`.
    """
    from torchvision.transforms.functional import rotate

    shares = {}
    for angle in angles:  # one query at a time, as the exercise asks
        turned = rotate(image.reshape(1, 28, 28), float(angle))  # (1, 28, 28) uint8
        _, found = cosine_top_k(embed(model, turned)[0], database, k=DRIFT_K)  # (k,)
        shares[angle] = (database_labels[found] == digit).float().mean().item()
    return shares


_DRIFT_START = (
    "return a number for each angle: rotate the query (torchvision's rotate), embed it, search "
    "the database for its 10 nearest rows and count the share that show a {digit}."
)


def check_drift(
    share_function: Callable[[int], Any],
    *,
    model: nn.Module,
    image: torch.Tensor,
    database: torch.Tensor,
    database_labels: torch.Tensor,
    digit: int,
) -> None:
    """Exercise 3: `share_function(angle)` is the share of the 10 nearest database rows that show
    `digit` when the query `image` is turned by `angle` degrees (positive: counter-clockwise).

    Taught in 05_embedding_space. Compared with `drift_shares` at every angle of `DRIFT_ANGLES`.
    """
    first, error = attempt(share_function, DRIFT_ANGLES[0])
    if error is None and first is None:  # an unfinished answer: no need to measure anything
        report(3, False, right="", hint=_DRIFT_START.format(digit=digit))
        return
    shares = drift_shares(model, image, database, database_labels, digit=digit)
    hint = None
    for angle, expected in shares.items():
        value, error = attempt(share_function, angle)
        if error is not None:
            hint = f"your function raised {error} at {angle} degrees."
        elif value is None:
            hint = _DRIFT_START.format(digit=digit)
        elif not close(value, expected, tolerance=1e-6):
            hint = _drift_hint(value, angle, shares)
        if hint:
            break
    right = (
        f"Your shares match at every angle from {DRIFT_ANGLES[0]} to {DRIFT_ANGLES[-1]} degrees."
    )
    report(3, hint is None, right=right, hint=hint or "")


def _drift_hint(value: Any, angle: int, shares: dict[int, float]) -> str:
    """A hint aimed at the mistake that gives `value` at `angle`."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"return one number per angle (a share from 0 to 1), not {type(value).__name__}."
    if angle != 0 and close(value, shares[0], tolerance=1e-6):
        return (
            "the share does not change with the angle: embed the rotated image, not the original."
        )
    if close(value, 1 - shares[angle], tolerance=1e-6):
        return "you counted the results of other digits; count those that show the query's digit."
    if not 0 <= number <= 1:
        return f"a share lies between 0 and 1; at {angle} degrees you returned {value!r}."
    return (
        f"at {angle} degrees your share differs: search the whole database for the "
        f"{DRIFT_K} nearest rows (cosine_top_k) of the rotated query's embedding."
    )

"""Checks for the exercises of 08_playground: centring a drawing, drawing a zero, fusing an answer.

Each check runs the reader's answer on fixed inputs, compares it with the series' own code
(`drawing.to_mnist`, `live_search.answer`, the ranking of `vectordb.search_fused`) and prints one verdict line through `report`: "right",
or a hint aimed at the mistake it found. A check returns None, so a notebook cell that ends with it
shows the verdict and nothing else.

Taught in 08_playground.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from helpers import drawing, live_search
from helpers.exercises import attempt, report

# Drawings (strokes of (x, y) points on a 280 x 280 canvas) whose ink is lopsided, so that the
# centre of the ink's box and its centre of mass lie pixels apart.
CENTRING_DRAWINGS = (
    [[(60, 50), (220, 50), (190, 110), (130, 240)]],  # a 7: the mass sits high and right
    [[(80, 40), (80, 240), (200, 240)]],  # an L: the mass sits left and low
    [[(70, 80), (120, 40), (190, 60), (190, 110), (70, 240), (220, 240)]],  # a 2
)
ZERO_NEIGHBOURS = 10  # nearest images a drawn zero is judged by
ZERO_NEEDED = 6  # of them must be zeros ("most")
QUERIES = (  # what exercise 3's function is tried on: a drawing, a word, a key press
    {"kind": "drawing", "strokes": CENTRING_DRAWINGS[0]},
    {"kind": "text", "text": "seven"},
    {"kind": "key", "key": "7"},
)


# --- exercise 1: centre a fitted digit by its mass ----------------------------------------------


def fitted_digit(strokes: Sequence[Sequence[tuple[float, float]]]) -> np.ndarray:
    """The ink of a drawing after MNIST's scaling step: at most 20 x 20, uint8, not yet placed.

    Taught in 08_playground. This is what `drawing.to_mnist` holds just before it centres.
    """
    digit = drawing.drawing_to_digit(strokes).numpy()  # (28, 28)
    rows, columns = np.nonzero(digit)
    return digit[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]


def check_centring(centre_by_mass: Callable[[np.ndarray], Any]) -> None:
    """Exercise 1: `centre_by_mass(fitted)` places a fitted digit as MNIST does.

    Taught in 08_playground. For three lopsided drawings the result must be a 28 x 28 image that
    holds all of `fitted`'s ink, with its centre of mass within half a pixel of (14, 14), the
    most whole-pixel shifts allow.
    """
    hint = None
    for strokes in CENTRING_DRAWINGS:
        fitted = fitted_digit(strokes)
        placed, error = attempt(centre_by_mass, fitted.copy())
        hint = f"your function raised {error}." if error else _centring_hint(placed, fitted)
        if hint:
            break
    missed = max(box_centring_miss(fitted_digit(strokes)) for strokes in CENTRING_DRAWINGS)
    right = (
        "On three lopsided drawings the ink's centre of mass lands on pixel (14, 14) and no "
        f"ink is lost; centring the ink's box instead would have missed by up to {missed:.0f} "
        "pixels."
    )
    report(1, hint is None, right=right, hint=hint or "")


def box_centring_miss(fitted: np.ndarray) -> float:
    """How far (in pixels) the centre of mass ends up from (14, 14) when the ink's box is centred."""
    height, width = fitted.shape
    row, column = drawing.centre_of_mass(fitted)
    top, left = (drawing.FIELD - height) // 2, (drawing.FIELD - width) // 2
    return float(np.hypot(top + row - drawing.CENTRE[0], left + column - drawing.CENTRE[1]))


def _centring_hint(placed: Any, fitted: np.ndarray) -> str | None:
    """None when `placed` is `fitted` centred by mass in 28 x 28, else a hint at the mistake."""
    if placed is None:
        return (
            "return the 28 x 28 digit: a zero array with `fitted` pasted in at rows "
            "top:top + height and columns left:left + width."
        )
    image = np.asarray(placed)
    if image.shape != (drawing.FIELD, drawing.FIELD):
        return f"return a 28 x 28 array, got shape {image.shape}."
    if image.astype(np.int64).sum() != fitted.astype(np.int64).sum():
        return (
            "some ink is missing (or added): paste all of `fitted`, and keep it inside the "
            "field (np.clip the top row to 0 .. 28 - height, and the left column likewise)."
        )
    row, column = drawing.centre_of_mass(image)
    if abs(row - drawing.CENTRE[0]) <= 0.5 and abs(column - drawing.CENTRE[1]) <= 0.5:
        return None
    height, width = fitted.shape
    box = (((drawing.FIELD - height) // 2, (drawing.FIELD - width) // 2), (height, width))
    if _ink_starts_at(image, box[0]):
        return (
            "you centred the ink's box. MNIST centres the ink's mass: compute "
            "drawing.centre_of_mass(fitted) and put that point on (14, 14)."
        )
    return (
        f"the centre of mass is at ({row:.1f}, {column:.1f}), not (14, 14). The top row is "
        "round(14 - the mass's row within `fitted`), and the left column likewise."
    )


def _ink_starts_at(image: np.ndarray, corner: tuple[int, int]) -> bool:
    rows, columns = np.nonzero(image)
    return len(rows) > 0 and (rows.min(), columns.min()) == corner


# --- exercise 2: draw a zero ---------------------------------------------------------------------


def check_zero(strokes: Any, space: live_search.SearchSpace) -> None:
    """Exercise 2: most of the ten images nearest to the reader's drawn zero are zeros.

    Taught in 08_playground. The strokes go through the playground's own answer (MNIST's recipe,
    the image encoder, the table), exactly as a drawing on the canvas would.
    """
    if strokes is None:
        hint = "set `zero` to a list of strokes, each a list of (x, y) points on the canvas."
        report(2, False, right="", hint=hint)
        return
    query = {"kind": "drawing", "strokes": strokes}
    reply, error = attempt(live_search.answer, space, query, k=ZERO_NEIGHBOURS, targets=["image"])
    if error is not None:
        report(2, False, right="", hint=f"searching your drawing raised {error}.")
        return
    if reply["status"] != "ok":
        report(2, False, right="", hint=reply["message"])
        return
    labels = [row["label"] for row in reply["results"]["image"]]
    zeros = labels.count(0)
    hint = (
        f"{zeros} of the {ZERO_NEIGHBOURS} nearest images are zeros (the others: "
        f"{sorted(set(labels) - {0})}). MNIST's zeros are upright ovals, taller than wide: "
        "go round once with 30 or more points and end where you started."
    )
    right = f"Most of the {ZERO_NEIGHBOURS} nearest images are zeros."
    report(2, zeros >= ZERO_NEEDED, right=right, hint=hint)


# --- exercise 3: one mixed list from the answer's columns (reciprocal rank fusion) --------------


def fused_reference(reply: Mapping[str, Any], k: int) -> list[tuple[str, int]]:
    """The k best (modality, id) of an answer by reciprocal rank fusion, ties by higher cosine.

    Taught in 08_playground. Each row scores 1 / (60 + its rank within its modality), so every
    modality's first row comes before any second row; `vectordb.search_fused` ranks the same way.
    """
    rows = [
        (rank, -row["similarity"], modality, row["id"])
        for modality, found in reply["results"].items()
        for rank, row in enumerate(found, start=1)
    ]
    return [(modality, row_id) for _, _, modality, row_id in sorted(rows)[:k]]


def check_fuse(
    fuse: Callable[[Mapping[str, Any], int], Any], space: live_search.SearchSpace
) -> None:
    """Exercise 3: `fuse(reply, k)` merges an answer's columns into one list, as 06's fused search.

    Taught in 08_playground. Tried on the answers to a drawn 7, the word "seven" and a press of
    key 7 (three modalities, five results each), for k = 6 and k = 4.
    """
    hint = next(
        filter(None, (_fuse_attempt(fuse, space, query, k) for query in QUERIES for k in (6, 4))),
        None,
    )
    report(3, hint is None, right=FUSED_RIGHT, hint=hint or "")


FUSED_RIGHT = (
    "Every modality's best result, then every second best, and so on: a mixed list, "
    "whatever the modality of the query."
)


def _fuse_attempt(fuse: Callable[..., Any], space: live_search.SearchSpace, query: Any, k: int):
    """The hint for one query and k (None when `fuse` merged that answer right)."""
    reply = live_search.answer(space, query, k=5)
    found, error = attempt(fuse, reply, k)
    return f"your function raised {error}." if error else _fuse_hint(found, reply, k)


def _fuse_hint(found: Any, reply: Mapping[str, Any], k: int) -> str | None:
    """None when `found` is the fused list of `reply`, else a hint at the mistake."""
    expected = fused_reference(reply, k)
    try:
        answer = [(str(modality), int(row_id)) for modality, row_id in found]
    except (TypeError, ValueError):
        return "return a list of (modality, id) pairs, e.g. [('text', 1042), ('image', 17), ...]."
    if answer == expected:
        return None
    if len(answer) != k:
        return f"return exactly k = {k} pairs, got {len(answer)}."
    by_cosine = sorted(
        ((row["similarity"], modality, row["id"]) for modality, rows in reply["results"].items()
         for row in rows),
        reverse=True,
    )  # fmt: skip
    if answer == [(modality, row_id) for _, modality, row_id in by_cosine[:k]]:
        return (
            "you ranked every row by its cosine, so the modality closest to the query fills the "
            "list (the modality gap of 06). Score each row 1 / (60 + its rank in its own column)."
        )
    if sorted(answer) == sorted(expected):
        return (
            "the right rows in the wrong order: within one round of ranks, put the higher "
            "cosine first."
        )
    return (
        "score each row 1 / (60 + rank), rank 1 for the first row of its column; keep the k best."
    )

"""The checks of 08_playground's exercises: right answers pass, typical mistakes get their hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import drawing, live_search, vectordb
from helpers.exercises import playground as checks
from tests import test_playground

# The small tables of the playground's tests, as fixtures here too: `space` (an untrained network)
# and `pixel_space` (cosine on raw pixels, so a drawing's neighbours depend on its shape only).
space, pixel_space = test_playground.space, test_playground.pixel_space


def verdict(capsys) -> str:
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines  # one line per check, so nbval compares one line
    return lines[0]


# --- exercise 1: centring by mass ---------------------------------------------------------------


def by_mass(fitted):
    fitted = np.asarray(fitted)
    height, width = fitted.shape
    row, column = drawing.centre_of_mass(fitted)
    top = int(np.clip(round(14 - row), 0, 28 - height))
    left = int(np.clip(round(14 - column), 0, 28 - width))
    placed = np.zeros((28, 28), dtype=np.uint8)
    placed[top : top + height, left : left + width] = fitted
    return placed


def by_box(fitted):
    height, width = fitted.shape
    placed = np.zeros((28, 28), dtype=np.uint8)
    top, left = (28 - height) // 2, (28 - width) // 2
    placed[top : top + height, left : left + width] = fitted
    return placed


def sign_flipped(fitted):
    height, width = fitted.shape
    row, column = drawing.centre_of_mass(fitted)
    top = int(np.clip(round(row - 14), 0, 28 - height))  # the shift the wrong way round
    left = int(np.clip(round(column - 14), 0, 28 - width))
    placed = np.zeros((28, 28), dtype=np.uint8)
    placed[top : top + height, left : left + width] = fitted
    return placed


def test_centring_check_accepts_centring_by_mass_and_to_mnist_agrees(capsys):
    checks.check_centring(by_mass)
    assert verdict(capsys).startswith("Exercise 1: right.")
    for strokes in checks.CENTRING_DRAWINGS:  # the reference solution is to_mnist's last step
        placed = by_mass(checks.fitted_digit(strokes))
        assert np.array_equal(placed, drawing.drawing_to_digit(strokes).numpy())


def test_the_drawings_are_lopsided_enough_that_box_centring_misses():
    misses = [checks.box_centring_miss(checks.fitted_digit(s)) for s in checks.CENTRING_DRAWINGS]
    assert max(misses) > 4 and sum(miss > 0.75 for miss in misses) >= 2  # 0.5 passes the check


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda fitted: None, "return the 28 x 28 digit"),
        (lambda fitted: np.zeros((20, 20)), "return a 28 x 28 array"),
        (lambda fitted: np.zeros((28, 28)), "ink is missing"),
        (by_box, "you centred the ink's box"),
        (sign_flipped, "the centre of mass is at"),
        (lambda fitted: 1 / 0, "raised ZeroDivisionError"),
    ],
    ids=["stub", "shape", "no ink", "box", "sign", "raises"],
)
def test_centring_check_names_the_mistake(answer, hint, capsys):
    checks.check_centring(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 1: not yet.") and hint in line, line


# --- exercise 2: a drawn zero -------------------------------------------------------------------


def oval(width: float, height: float) -> list[list[tuple[float, float]]]:
    angles = np.linspace(0, 2 * np.pi, 40)
    return [[(140 + width * np.sin(a), 140 - height * np.cos(a)) for a in angles]]


def test_zero_check_accepts_an_upright_oval_on_raw_pixels(pixel_space, capsys):
    checks.check_zero(oval(70, 105), pixel_space)
    assert verdict(capsys) == "Exercise 2: right. Most of the 10 nearest images are zeros."


@pytest.mark.parametrize(
    ("strokes", "hint"),
    [
        (None, "set `zero` to a list of strokes"),
        ([], "canvas is empty"),
        ([[(140, 30), (140, 250)]], "of the 10 nearest images are zeros"),
        ("0", "Pass strokes as a list of strokes"),
    ],
    ids=["stub", "empty", "a one", "a string"],
)
def test_zero_check_explains_what_is_wrong(pixel_space, strokes, hint, capsys):
    checks.check_zero(strokes, pixel_space)
    line = verdict(capsys)
    assert line.startswith("Exercise 2: not yet.") and hint in line, line


# --- exercise 3: reciprocal rank fusion ---------------------------------------------------------


def rrf(reply, k):
    scored = [
        (1 / (60 + rank), row["similarity"], modality, row["id"])
        for modality, rows in reply["results"].items()
        for rank, row in enumerate(rows, start=1)
    ]
    scored.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    return [(modality, row_id) for _, _, modality, row_id in scored[:k]]


def by_cosine(reply, k):
    rows = [
        (row["similarity"], m, row["id"]) for m, found in reply["results"].items() for row in found
    ]
    return [(m, row_id) for _, m, row_id in sorted(rows, reverse=True)[:k]]


def ties_by_lower_cosine(reply, k):
    scored = [
        (1 / (60 + rank), -row["similarity"], modality, row["id"])
        for modality, rows in reply["results"].items()
        for rank, row in enumerate(rows, start=1)
    ]
    scored.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    return [(modality, row_id) for _, _, modality, row_id in scored[:k]]


def test_fuse_check_accepts_reciprocal_rank_fusion(space, capsys):
    checks.check_fuse(rrf, space)
    assert verdict(capsys).startswith("Exercise 3: right.")


def test_the_reference_ranks_as_vectordb_search_fused_does(space):
    for query in checks.QUERIES:
        reply = live_search.answer(space, query, k=6)
        fused = vectordb.search_fused(space.table, torch.tensor(reply["vector"]), k=6)
        expected = list(zip(fused["modality"], fused["id"].tolist(), strict=True))
        assert checks.fused_reference(reply, 6) == expected


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda reply, k: None, "return a list of (modality, id) pairs"),
        (by_cosine, "you ranked every row by its cosine"),
        (ties_by_lower_cosine, "the right rows in the wrong order"),
        (lambda reply, k: rrf(reply, k)[:-1], "return exactly k"),
        (lambda reply, k: rrf(reply, 2 * k)[k:], "score each row 1 / (60 + rank)"),
        (lambda reply, k: {}["x"], "raised KeyError"),
    ],
    ids=["stub", "by cosine", "tie order", "too short", "wrong rows", "raises"],
)
def test_fuse_check_names_the_mistake(space, answer, hint, capsys):
    checks.check_fuse(answer, space)
    line = verdict(capsys)
    assert line.startswith("Exercise 3: not yet.") and hint in line, line

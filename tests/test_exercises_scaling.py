"""The checks of 07_scaling_out's exercises: right answers pass, typical mistakes get their hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.exercises import scaling as checks


def verdict(capsys) -> str:
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines  # one line per check, so nbval compares one line
    return lines[0]


# --- exercise 1: the loss of processes that do not gather ---------------------------------------


def local_loss(loss_fn, z_1, z_2, labels, processes):
    parts_y = [None] * processes if labels is None else labels.chunk(processes)
    losses = [
        loss_fn(a, b, y)
        for a, b, y in zip(z_1.chunk(processes), z_2.chunk(processes), parts_y, strict=True)
    ]
    return torch.stack(losses).mean()


def by_hand_slices(loss_fn, z_1, z_2, labels, processes):
    size = len(z_1) // processes
    total = 0.0
    for r in range(processes):
        mine = slice(r * size, (r + 1) * size)
        total += float(loss_fn(z_1[mine], z_2[mine], None if labels is None else labels[mine]))
    return total / processes  # a float is accepted too


@pytest.mark.parametrize("answer", [local_loss, by_hand_slices])
def test_local_loss_check_accepts_the_mean_over_contiguous_slices(answer, capsys):
    checks.check_local_loss(answer)
    assert verdict(capsys).startswith("Exercise 1: right.")


def summed(loss_fn, z_1, z_2, labels, processes):
    return local_loss(loss_fn, z_1, z_2, labels, processes) * processes


def strided(loss_fn, z_1, z_2, labels, processes):
    order = torch.cat([torch.arange(r, len(z_1), processes) for r in range(processes)])
    y = None if labels is None else labels[order]
    return local_loss(loss_fn, z_1[order], z_2[order], y, processes)


def ignores_labels(loss_fn, z_1, z_2, labels, processes):
    return local_loss(loss_fn, z_1, z_2, None, processes)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda f, a, b, y, w: None, "return one number"),
        (lambda f, a, b, y, w: f(a, b, y), "only a gather gives"),
        (summed, "average them"),
        (strided, "contiguous slice"),
        (ignores_labels, "expected a loss near"),
        (lambda f, a, b, y, w: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_local_loss_check_names_the_mistake(answer, hint, capsys):
    checks.check_local_loss(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 1: not yet. Hint:") and hint in line


def test_the_check_batch_tells_the_mistakes_apart():
    """The fixed embeddings make every named mistake give another value than the right one."""
    loss_fn = checks.InfoNCELoss(temperature=0.5)
    z_1, z_2, labels = checks._embeddings()
    for y in (None, labels):
        right = float(local_loss(loss_fn, z_1, z_2, y, checks.PROCESSES))
        for wrong in (summed, strided):
            assert abs(float(wrong(loss_fn, z_1, z_2, y, checks.PROCESSES)) - right) > 1e-3
        assert abs(float(loss_fn(z_1, z_2, y)) - right) > 1e-3


# --- exercise 2: the memory of a CLIP-sized similarity matrix -----------------------------------


def test_similarity_check_accepts_16_mib(capsys):
    checks.check_similarity_mib(16)
    assert verdict(capsys).startswith("Exercise 2: right. 16 MiB")
    checks.check_similarity_mib(128 * 65_536 * 2 / 2**20)
    assert verdict(capsys).startswith("Exercise 2: right.")


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (None, "set answer to a number"),
        (8192, "whole 65,536 x 65,536 matrix"),
        (32, "2 bytes a value"),
        (16 * 2**20, "in bytes"),
        (16.777216, "in MB"),
        (16 / 512, "128 whole rows"),
        ("sixteen", "count rows per GPU"),
        (3, "count rows per GPU"),
    ],
)
def test_similarity_check_names_the_mistake(answer, hint, capsys):
    checks.check_similarity_mib(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 2: not yet. Hint:") and hint in line


# --- exercise 3: recall@k -----------------------------------------------------------------------


def my_recall(found, truth):
    hits = [len(set(f) & set(t)) for f, t in zip(found.tolist(), truth.tolist(), strict=True)]
    return sum(hits) / truth.size


def test_recall_check_accepts_a_set_intersection(capsys):
    checks.check_recall(my_recall)
    assert verdict(capsys) == (
        "Exercise 3: right. Recall counts shared ids in any order: 0.75 on the check's three rows."
    )


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda f, t: None, "return one number"),
        (lambda f, t: float((f == t).mean()), "position by position"),
        (lambda f, t: my_recall(f, t) * t.shape[1], "divide by k"),
        (lambda f, t: 1.0, "should give 0.75"),
        (lambda f, t: f.missing, "AttributeError"),
    ],
)
def test_recall_check_names_the_mistake(answer, hint, capsys):
    checks.check_recall(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 3: not yet. Hint:") and hint in line


def test_position_by_position_differs_from_recall_on_the_check_rows():
    assert float((checks.FOUND == checks.TRUTH).mean()) != pytest.approx(0.75)
    assert my_recall(checks.FOUND, checks.TRUTH) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (checks.check_local_loss, local_loss),
        (checks.check_similarity_mib, 16),
        (checks.check_recall, my_recall),
    ],
)
def test_a_check_returns_nothing_so_a_cell_shows_only_its_verdict(check, answer, capsys):
    assert check(answer) is None
    assert check(None if not callable(answer) else (lambda *args: None)) is None
    capsys.readouterr()


def test_checks_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.check_local_loss(local_loss)
    assert torch.equal(torch.rand(3), expected)
    assert np.array_equal(checks.FOUND, np.array([[4, 3, 2, 1], [1, 2, 9, 8], [7, 5, 6, 0]]))

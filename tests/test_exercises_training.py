"""04's exercise checks: right answers pass, typical mistakes get the hint aimed at them."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from helpers.exercises import training as checks
from helpers.training import train_step


def verdict(capsys) -> str:
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines  # one verdict line per check
    return lines[0]


# --- exercise 1 ---------------------------------------------------------------------------------


def by_hand(model, loss_fn, batch, optimizer):
    *inputs, target = batch
    optimizer.zero_grad()
    embeddings = model(torch.cat(inputs))
    loss = loss_fn(*embeddings.chunk(len(inputs)), target)
    loss.backward()
    optimizer.step()
    return loss.detach()


def two_passes(model, loss_fn, batch, optimizer):
    *inputs, target = batch
    optimizer.zero_grad()
    loss = loss_fn(*[model(x) for x in inputs], target)
    loss.backward()
    optimizer.step()
    return loss.detach()


def no_zero_grad(model, loss_fn, batch, optimizer):
    *inputs, target = batch
    loss = loss_fn(*model(torch.cat(inputs)).chunk(len(inputs)), target)
    loss.backward()
    optimizer.step()
    return loss.detach()


def no_step(model, loss_fn, batch, optimizer):
    *inputs, target = batch
    optimizer.zero_grad()
    return loss_fn(*model(torch.cat(inputs)).chunk(len(inputs)), target).detach()


def test_train_step_itself_and_a_hand_written_step_pass(capsys):
    checks.check_train_step(train_step)
    assert verdict(capsys).startswith("Exercise 1: right.")
    checks.check_train_step(by_hand)
    assert verdict(capsys).startswith("Exercise 1: right.")


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (lambda *args: None, "return the loss"),
        (two_passes, "ONE forward pass"),
        (no_zero_grad, "zero_grad"),
        (no_step, "never moved"),
        (lambda *args: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_train_step_mistakes_get_their_hint(capsys, answer, words):
    checks.check_train_step(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 1: not yet.") and words in line


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (checks.check_train_step, by_hand),
        (checks.check_snapshot, lambda model: copy.deepcopy(model.state_dict())),
    ],
)
def test_checks_that_train_leave_torchs_random_state_as_they_found_it(check, answer):
    state = torch.random.get_rng_state()
    check(answer)
    assert torch.equal(torch.random.get_rng_state(), state)


# --- exercise 2 ---------------------------------------------------------------------------------


def pick(history, metric):
    best_epoch, best_value = None, None
    for row in history:
        value = row[metric]
        if math.isnan(value):
            continue
        if best_value is None:
            better = True
        else:
            better = value > best_value if metric == "val_1nn" else value < best_value
        if better:
            best_epoch, best_value = row["epoch"], value
    return best_epoch


def pick_guarded(history, metric):
    return pick(history, metric) if history else None


def lowest_always(history, metric):
    return min(history, key=lambda row: row[metric])["epoch"]


def last_on_tie(history, metric):
    sign = 1 if metric == "val_1nn" else -1
    rows = [row for row in history if not math.isnan(row[metric])]
    return max(reversed(rows), key=lambda row: sign * row[metric])["epoch"]


def position(history, metric):
    return pick(history, metric) - 1


HISTORY = [
    {"epoch": 1, "train_loss": 0.5, "val_loss": 0.4, "val_1nn": 0.90},
    {"epoch": 2, "train_loss": 0.4, "val_loss": 0.3, "val_1nn": 0.94},
    {"epoch": 3, "train_loss": 0.3, "val_loss": 0.35, "val_1nn": 0.93},
]


def test_a_right_rule_passes_on_the_run_and_the_tricky_histories(capsys):
    checks.check_pick_epoch(pick, HISTORY)
    assert verdict(capsys).startswith("Exercise 2: right.")
    checks.check_pick_epoch(pick)  # without a run of the reader's own
    assert verdict(capsys).startswith("Exercise 2: right.")


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (lambda history, metric: None, "not None"),
        (lowest_always, "HIGHEST"),
        (last_on_tie, "earliest"),
        (position, "count from 1"),
    ],
)
def test_pick_epoch_mistakes_get_their_hint(capsys, answer, words):
    checks.check_pick_epoch(answer, HISTORY)
    line = verdict(capsys)
    assert line.startswith("Exercise 2: not yet.") and words in line


def test_pick_epoch_is_given_copies_so_a_reader_cannot_change_the_run():
    rows = [dict(row) for row in HISTORY]

    def destructive(history, metric):
        history.clear()
        return 2

    checks.check_pick_epoch(destructive, rows)
    assert rows == HISTORY


# --- exercise 3 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        lambda model: copy.deepcopy(model.state_dict()),
        lambda model: {name: tensor.clone() for name, tensor in model.state_dict().items()},
    ],
)
def test_real_copies_pass(capsys, answer):
    checks.check_snapshot(answer)
    assert verdict(capsys).startswith("Exercise 3: right.")


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (lambda model: model.state_dict(), "shares memory"),
        (lambda model: {n: p.detach().clone() for n, p in model.named_parameters()}, "missing"),
        (lambda model: None, "return a dict"),
    ],
)
def test_snapshot_mistakes_get_their_hint(capsys, answer, words):
    checks.check_snapshot(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 3: not yet.") and words in line

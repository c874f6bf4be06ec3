"""The checks of 01_modalities' exercises: right answers pass, typical mistakes get their hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers.evaluation import cosine_top_k
from helpers.exercises import modalities as checks
from helpers.modalities import imu, toy


def verdict(capsys) -> str:
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines  # one line per check, so nbval compares one line
    return lines[0]


# --- exercise 1: walking pace -------------------------------------------------------------------


def pace_after_rest(time_s, accelerometer):
    rate_hz = 1 / (time_s[1] - time_s[0]).item()
    vertical = accelerometer[time_s >= 1.0, 2]
    vertical = vertical - vertical.mean()
    frequencies = torch.fft.rfftfreq(len(vertical), d=1 / rate_hz)
    return frequencies[torch.fft.rfft(vertical).abs().argmax()].item()


def pace_of_whole_trace(time_s, accelerometer):
    vertical = accelerometer[:, 2] - accelerometer[:, 2].mean()
    frequencies = torch.fft.rfftfreq(len(vertical), d=0.01)
    return frequencies[torch.fft.rfft(vertical).abs().argmax()]  # a tensor is accepted too


@pytest.mark.parametrize("solution", [pace_after_rest, pace_of_whole_trace])
def test_pace_check_accepts_an_fft_of_the_vertical_axis(solution, capsys):
    checks.check_pace(solution)
    assert verdict(capsys).startswith("Exercise 1: right.")


def test_the_walks_peak_well_inside_the_tolerance():
    for index, step_hz in enumerate(checks.PACES_HZ):
        walk = imu.imu_trace(step_hz=step_hz, generator=torch.Generator().manual_seed(index))
        for solution in (pace_after_rest, pace_of_whole_trace):
            assert abs(float(solution(walk[0], walk[1])) - step_hz) < 0.07


def without_the_mean(time_s, accelerometer):
    frequencies = torch.fft.rfftfreq(len(time_s), d=0.01)
    return frequencies[torch.fft.rfft(accelerometer[:, 2]).abs().argmax()].item()


def sideways(time_s, accelerometer):
    return pace_after_rest(time_s, accelerometer[:, [0, 2, 1]])  # y read as z


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda t, a: None, "return the pace in Hz"),
        (without_the_mean, "gravity"),
        (sideways, "half the pace"),
        (lambda t, a: 3.0, "rfftfreq"),
        (lambda t, a: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_pace_check_names_the_mistake(answer, hint, capsys):
    checks.check_pace(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 1: not yet. Hint:") and hint in line


# --- exercise 2: cosine search ------------------------------------------------------------------


def right_search(query, database, k):
    similarity = F.normalize(database, dim=1) @ F.normalize(query, dim=0)  # (N,)
    return similarity.topk(k)


def test_search_inputs_separate_cosine_from_dot_product_with_clear_gaps():
    queries, database = checks.search_inputs()
    for query in queries:
        scores, rows = cosine_top_k(query, database, k=checks.SEARCH_K + 1)
        assert (scores.diff().abs() > 1e-4).all()  # no near-ties: float order cannot swap rows
        dot_rows = (database @ query).topk(checks.SEARCH_K).indices
        assert not torch.equal(dot_rows, rows[: checks.SEARCH_K])


def test_search_check_accepts_the_cosine_search(capsys):
    checks.check_search(right_search)
    assert verdict(capsys).startswith("Exercise 2: right.")


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda q, d, k: None, "return two tensors"),
        (lambda q, d, k: (d @ q).topk(k), "dot product"),
        (lambda q, d, k: (F.normalize(d, dim=1) @ q).topk(k), "scale the query"),
        (lambda q, d, k: tuple(t.flip(0) for t in right_search(q, d, k)), "reversed"),
        (lambda q, d, k: right_search(q, d, k + 1), "shaped"),
        (lambda q, d, k: (F.normalize(d, dim=1) @ F.normalize(q, dim=0)).topk(k, largest=False),
         "not the 5 most"),
    ],
)  # fmt: skip
def test_search_check_names_the_mistake(answer, hint, capsys):
    checks.check_search(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 2: not yet. Hint:") and hint in line


# --- exercise 3: a loss without negatives -------------------------------------------------------


def pull_only(anchor, positives, negatives):
    return (positives - anchor).pow(2).sum(dim=1).mean()


def test_pull_only_check_accepts_the_pull_term_and_reports_the_collapse(capsys):
    checks.check_pull_only(pull_only)
    line = verdict(capsys)
    assert line.startswith("Exercise 3: right.") and "more than 90 %" in line


def test_the_collapse_is_far_past_the_90_percent_line():
    anchor, positives, negatives = toy.toy_points(generator=torch.Generator().manual_seed(0))
    trajectory, _ = toy.run_toy_contrastive(
        anchor, positives, negatives, pull_only, steps=checks.PULL_ONLY_STEPS,
        encoder=checks._seeded_encoder(),
    )  # fmt: skip
    start = toy.toy_distances(trajectory[0, 0], trajectory[0, 1:5], trajectory[0, 5:])
    end = toy.toy_distances(trajectory[-1, 0], trajectory[-1, 1:5], trajectory[-1, 5:])
    assert end[1] < 0.07 * start[1]  # measured 0.048: the check's 90 % line is far off


def with_negatives(anchor, positives, negatives):
    return pull_only(anchor, positives, negatives) + 0.1 * (negatives - anchor).norm(dim=1).mean()


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda a, p, n: None, "one-number tensor"),
        (lambda a, p, n: (p - a).pow(2).sum(), "pull term of section 4"),
        (with_negatives, "pull term of section 4"),
        (lambda a, p, n: pull_only(a, p, n) + 0 * n.sum(), None),
    ],
)
def test_pull_only_check_names_the_mistake(answer, hint, capsys):
    checks.check_pull_only(answer)
    line = verdict(capsys)
    if hint is None:  # touching the negatives without changing the value is still the pull term
        assert line.startswith("Exercise 3: right.")
    else:
        assert line.startswith("Exercise 3: not yet. Hint:") and hint in line


def test_a_loss_that_moves_with_the_negatives_is_told_to_drop_them(capsys):
    anchor, positives, negatives = toy.toy_points(generator=torch.Generator().manual_seed(0))
    reference = pull_only(anchor, positives, negatives)

    def sneaky(a, p, n):  # right on the toy points, wrong once the negatives move
        return reference + 0 * a.sum() + (n - negatives).abs().sum()

    checks.check_pull_only(sneaky)
    assert "leave them out" in verdict(capsys)


def test_checks_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.check_pull_only(pull_only)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    ("check", "answer"),
    [(checks.check_pace, pace_after_rest), (checks.check_search, right_search),
     (checks.check_pull_only, pull_only)],
)  # fmt: skip
def test_a_check_returns_nothing_so_a_cell_shows_only_its_verdict(check, answer, capsys):
    assert check(answer) is None
    assert check(lambda *args, **kwargs: None) is None
    capsys.readouterr()

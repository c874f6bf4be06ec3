"""The checks of 03_network_and_loss' exercises: right answers pass, typical mistakes get their hint."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import losses
from helpers.exercises import losses as checks
from helpers.model import EmbeddingNet, count_parameters


def verdict(capsys) -> str:
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines  # one line per check, so nbval compares one line
    return lines[0]


# --- exercise 1: padded shapes ------------------------------------------------------------------


def test_padding_answer_is_what_a_padded_network_computes():
    blocks = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, kernel_size=5, padding=2),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, kernel_size=5, padding=2),
        torch.nn.MaxPool2d(2),
    )
    features = blocks(torch.zeros(1, 1, 28, 28)).numel()
    assert features == checks.PADDED_FEATURES
    assert count_parameters(torch.nn.Linear(features, 512)) == checks.PADDED_HEAD_PARAMETERS
    assert count_parameters(EmbeddingNet().head[0]) == checks.UNPADDED


@pytest.mark.parametrize("answer", [(3136, 1606144), (3136.0, torch.tensor(1606144))])
def test_padding_check_accepts_the_numbers_in_any_numeric_type(answer, capsys):
    checks.check_padding(*answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 1: right.") and "3.1 times" in line


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        ((None, None), "set both numbers"),
        ((1024, 524800), "unpadded network"),
        ((64 * 14 * 14, 0), "halves the side again"),
        ((64 * 28 * 28, 0), "still halves"),
        ((32 * 7 * 7, 0), "64 channels, not 32"),
        ((1000, 0), "follow one side"),
        ((3136, 3136 * 512), "add the biases"),
        ((3136, 5), "one bias per output"),
    ],
)
def test_padding_check_names_the_mistake(answer, hint, capsys):
    checks.check_padding(*answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 1: not yet. Hint:") and hint in line


# --- exercise 2: CLIP's loss --------------------------------------------------------------------


def clip_loss(image_z, text_z, temperature):
    logits = F.normalize(image_z, dim=1) @ F.normalize(text_z, dim=1).T / temperature
    targets = torch.arange(len(image_z))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def test_clip_check_accepts_the_symmetric_cross_entropy(capsys):
    checks.check_clip_loss(clip_loss)
    assert verdict(capsys).startswith("Exercise 2: right.")


def test_every_typical_clip_mistake_is_far_from_the_right_loss():
    images, captions = checks.clip_inputs()
    for temperature in checks.CLIP_TEMPERATURES:
        right = float(losses.CrossModalInfoNCELoss(temperature=temperature)(images, captions))
        wrong = checks._wrong_clip_losses(images, captions, temperature)
        values = [float(value) for value in wrong.values()]
        assert all(abs(value - right) > 1e-2 for value in values), (temperature, right, values)
        assert abs(values[0] - values[1]) > 1e-2  # the two directions differ too


def one_direction(image_z, text_z, temperature):
    logits = F.normalize(image_z, dim=1) @ F.normalize(text_z, dim=1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(image_z)))


def unnormalised(image_z, text_z, temperature):
    logits, targets = image_z @ text_z.T / temperature, torch.arange(len(image_z))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda a, b, t: None, "one-number tensor"),
        (lambda a, b, t: 1 / 0, "ZeroDivisionError"),
        (one_direction, "one direction only"),
        (unnormalised, "length 1"),
        (lambda a, b, t: clip_loss(a, b, 1.0), "divide the cosines"),
        (lambda a, b, t: clip_loss(a, b, 1 / t), "do not multiply"),
        (lambda a, b, t: clip_loss(a, b, t) * len(a), "do not sum"),
        (lambda a, b, t: clip_loss(a, b, 0.1), "temperature 0.5"),
    ],
)
def test_clip_check_names_the_mistake(answer, hint, capsys):
    checks.check_clip_loss(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 2: not yet. Hint:") and hint in line


# --- exercise 3: scale --------------------------------------------------------------------------


def test_only_the_margin_loss_on_raw_embeddings_notices_length():
    assert checks.scale_effects() == {
        "cosine MSE": False,
        "in-batch cosine MSE": False,
        "margin": True,
        "margin on unit vectors": False,
        "InfoNCE": False,
    }


def test_scale_check_accepts_the_measured_answer(capsys):
    checks.check_scale(checks.scale_effects())
    assert verdict(capsys).startswith("Exercise 3: right.")


@pytest.mark.parametrize(
    ("changed", "hint"),
    [
        ({"margin": False}, "you said the margin loss does not change, but the margin loss reads"),
        ({"InfoNCE": True}, "InfoNCE scales every embedding"),
        ({"margin on unit vectors": True}, "normalize=True"),
        ({"cosine MSE": True}, "a cosine ignores length"),
    ],
)
def test_scale_check_explains_the_first_wrong_answer(changed, hint, capsys):
    checks.check_scale(checks.scale_effects() | changed)
    line = verdict(capsys)
    assert line.startswith("Exercise 3: not yet. Hint:") and hint in line


@pytest.mark.parametrize("answer", [None, {"margin": True}])
def test_scale_check_asks_for_every_loss(answer, capsys):
    checks.check_scale(answer)
    assert "for each of 'cosine MSE'" in verdict(capsys)


def test_scale_check_gives_nothing_away_for_an_unfilled_answer(capsys):
    checks.check_scale(dict.fromkeys(checks.SCALE_LOSSES))
    line = verdict(capsys)
    assert line.endswith("Hint: set each value to True (the loss changes) or False (it does not).")

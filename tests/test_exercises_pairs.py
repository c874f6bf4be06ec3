"""The checks of 02_pairs' exercises: right answers pass, typical mistakes get their hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision import transforms

from helpers import data
from helpers.exercises import pairs as checks
from helpers.losses import InBatchCosineMSELoss

SOURCE_TRANSFORM = transforms.Compose(
    [transforms.ToPILImage(), transforms.ToTensor(), transforms.Normalize(0.5, 0.5)]
)


def verdict(capsys) -> str:
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines  # one line per check, so nbval compares one line
    return lines[0]


# --- exercise 1: the source's transform, fixed ---------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        lambda pixels: SOURCE_TRANSFORM(pixels),  # uint8 in: ToPILImage keeps the bytes
        lambda pixels: SOURCE_TRANSFORM(pixels.astype(np.float32) / 255),  # floats in [0, 1]
    ],
    ids=["uint8", "divided-by-255"],
)
def test_transform_check_accepts_both_fixes(answer, capsys):
    result = checks.check_transform(answer)
    assert result is None  # a returned bool would become a second output under nbval
    assert verdict(capsys).startswith("Exercise 1: right.")


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda pixels: None, "return the transform's output"),
        (lambda pixels: SOURCE_TRANSFORM(pixels.astype(np.float32)), "still the wrapped output"),
        (lambda pixels: SOURCE_TRANSFORM(pixels)[0], "shaped (1, 28, 28)"),
        (lambda pixels: transforms.ToTensor()(pixels), "come out differently"),
        (lambda pixels: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_transform_check_names_the_mistake(answer, hint, capsys):
    checks.check_transform(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 1: not yet. Hint:") and hint in line


def test_every_pixel_value_holds_each_value():
    values = checks.every_pixel_value()
    assert values.dtype == np.uint8 and values.shape == (28, 28)
    assert np.array_equal(values.flatten()[:256], np.arange(256))


# --- exercise 2: in-batch pair masks -------------------------------------------------------------


def right_masks(labels):
    same = labels[:, None] == labels[None, :]
    upper = torch.triu(torch.ones(len(labels), len(labels), dtype=torch.bool), diagonal=1)
    return same & upper, ~same & upper


def int_masks(labels):
    positive, negative = right_masks(labels)
    return positive.int(), negative.long()  # 0/1 integers are accepted as masks


@pytest.mark.parametrize("answer", [right_masks, int_masks])
def test_mask_check_accepts_right_masks(answer, capsys):
    assert checks.check_pair_masks(answer) is None
    line = verdict(capsys)
    assert line.startswith("Exercise 2: right.") and "66 = N(N-1)/2" in line


def test_reference_masks_count_every_pair_once_and_match_the_loss():
    labels = torch.tensor(checks.MASK_BATCHES[0])
    positive, negative = checks.reference_masks(labels)
    n = len(labels)
    assert int(positive.sum() + negative.sum()) == n * (n - 1) // 2
    counts = torch.bincount(labels)
    assert int(positive.sum()) == int((counts * (counts - 1) // 2).sum())
    # The loss built on these masks equals a loop over the same pairs (positives, negatives half each).
    z = torch.randn(n, 4, generator=torch.Generator().manual_seed(0))
    cos = torch.nn.functional.cosine_similarity
    errors = {True: [], False: []}
    for i in range(n):
        for j in range(i + 1, n):
            same = bool(labels[i] == labels[j])
            errors[same].append((cos(z[i], z[j], dim=0) - float(same)) ** 2)
    expected = 0.5 * (torch.stack(errors[True]).mean() + torch.stack(errors[False]).mean())
    assert torch.allclose(InBatchCosineMSELoss()(z, labels), expected, atol=1e-6)


def with_diagonal(labels):
    same = labels[:, None] == labels[None, :]
    upper = torch.ones_like(same).triu(diagonal=1)
    return same & (upper | torch.eye(len(labels), dtype=torch.bool)), ~same & upper


def both_orders(labels):
    same = labels[:, None] == labels[None, :]
    off = ~torch.eye(len(labels), dtype=torch.bool)
    return same & off, ~same & off


def negative_with_diagonal(labels):
    positive, negative = right_masks(labels)
    return positive, negative | torch.eye(len(labels), dtype=torch.bool)


def swapped(labels):
    positive, negative = right_masks(labels)
    return negative, positive


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda labels: None, "return two masks"),
        (lambda labels: right_masks(labels)[0], "return two masks"),
        (lambda labels: (torch.zeros(3, 3), torch.zeros(3, 3)), "tensor of True/False"),
        (lambda labels: tuple(m.float() * 2 for m in right_masks(labels)), "True/False"),
        (with_diagonal, "self-pair"),
        (negative_with_diagonal, "never differs from itself"),
        (both_orders, "counts twice"),
        (swapped, "labels[i] == labels[j]"),
        (lambda labels: labels.item(), "RuntimeError"),
    ],
)
def test_mask_check_names_the_mistake(answer, hint, capsys):
    checks.check_pair_masks(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 2: not yet. Hint:") and hint in line


# --- exercise 3: counting the digits a checkpoint trained on -------------------------------------


def right_count(record, images):
    return int(torch.isin(data.content_hashes(images), record["train_hashes"]).sum())


def tensor_count(record, images):
    return torch.isin(data.content_hashes(images), record["train_hashes"]).sum()


@pytest.mark.parametrize("answer", [right_count, tensor_count])
def test_leak_check_accepts_a_hash_count(answer, capsys):
    assert checks.check_trained_on(answer) is None
    assert verdict(capsys).startswith("Exercise 3: right.")


def test_leak_cases_hold_what_they_say():
    digits, fresh = checks.leak_digits()
    record = digits.provenance()
    for what, images, expected in checks.leak_cases(digits, fresh):
        assert right_count(record, images) == expected, what
    everything = torch.cat([digits.train_images, digits.val_images, digits.test_images, fresh])
    assert len(data.content_hashes(everything).unique()) == len(everything)  # no duplicates


def by_fingerprint(record, images):
    same_set = data.fingerprint(data.content_hashes(images)) == record["train_fingerprint"]
    return len(images) if same_set else 0


def by_position(record, images):
    hashes = data.content_hashes(images)
    length = min(len(hashes), len(record["train_hashes"]))
    return int((hashes[:length] == record["train_hashes"][:length]).sum())


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda record, images: None, "return one whole number"),
        (lambda record, images: 2.0, "return one whole number"),
        (lambda record, images: True, "return one whole number"),
        (by_fingerprint, "A fingerprint only says"),
        (by_position, "Compare contents, not positions"),
        (lambda record, images: len(images), "the answer is 0"),
        (lambda record, images: record["missing"], "KeyError"),
    ],
)
def test_leak_check_names_the_mistake(answer, hint, capsys):
    checks.check_trained_on(answer)
    line = verdict(capsys)
    assert line.startswith("Exercise 3: not yet. Hint:") and hint in line

"""Checks for the exercises of 02_pairs: the source's transform fixed, in-batch pair masks, a leak count.

Each check runs the reader's function on fixed inputs, compares the result with the series' own
code (`data.to_network_input`, the masks `losses.InBatchCosineMSELoss` builds, the content hashes
of `Digits.provenance`) and prints one verdict line through `report`: "right", or a hint aimed at
the mistake it found. A check returns None, so a notebook cell that ends with it shows the verdict
and nothing else.

Taught in 02_pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from helpers.data import Digits, to_network_input
from helpers.exercises import attempt, report

# Labels of the fixed batches `check_pair_masks` tries: repeats, one digit only, all different.
MASK_BATCHES = (
    (3, 1, 3, 7, 1, 3, 0, 9, 7, 3, 2, 1),
    (5, 5, 5, 5, 5),
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
)
TRANSFORM_TOLERANCE = 1e-5  # network input is exact to float32 rounding; one pixel step is 0.0078


# --- exercise 1: the source's transform, fixed ---------------------------------------------------


def every_pixel_value() -> np.ndarray:
    """A (28, 28) uint8 image that holds every value 0..255 (the first 256 pixels, row by row)."""
    return (np.arange(784) % 256).astype(np.uint8).reshape(28, 28)


def _wrapped(pixels: np.ndarray) -> torch.Tensor:
    """The source's own call: float32 0..255 into ToPILImage, which wraps (what to recognise)."""
    from torchvision import transforms

    pipeline = transforms.Compose(
        [transforms.ToPILImage(), transforms.ToTensor(), transforms.Normalize(0.5, 0.5)]
    )
    return pipeline(pixels.astype(np.float32))  # (1, 28, 28)


def check_transform(source_input: Callable[[np.ndarray], Any]) -> None:
    """Exercise 1: `source_input(pixels)` feeds the source's transform so nothing wraps.

    Taught in 02_pairs. `pixels` is a (28, 28) uint8 NumPy array; the answer must equal
    `data.to_network_input(pixels)[0]`, shaped (1, 28, 28), on all 256 pixel values.
    """
    pixels = every_pixel_value()
    expected = to_network_input(torch.from_numpy(pixels))[0]  # (1, 28, 28)
    answer, error = attempt(source_input, pixels.copy())
    hint = f"your function raised {error}." if error else _transform_hint(answer, pixels, expected)
    right = "All 256 pixel values come out as data.to_network_input gives them; nothing wraps."
    report(1, hint is None, right=right, hint=hint or "")


def _transform_hint(answer: Any, pixels: np.ndarray, expected: torch.Tensor) -> str | None:
    """None when `answer` equals `expected`, else a hint aimed at the mistake."""
    if not isinstance(answer, torch.Tensor):
        return (
            "return the transform's output, a tensor shaped (1, 28, 28): "
            "source_transform(...) of the pixels, handed over in the form ToPILImage expects."
        )
    if answer.shape != expected.shape:
        return f"return a tensor shaped (1, 28, 28), as the transform gives; got {tuple(answer.shape)}."
    difference = (answer.float() - expected).abs()
    if bool((difference <= TRANSFORM_TOLERANCE).all()):
        return None
    if torch.allclose(answer.float(), _wrapped(pixels), atol=TRANSFORM_TOLERANCE):
        return (
            "that is still the wrapped output: float32 values 0..255 reach ToPILImage, which "
            "multiplies them by 255. Hand it the uint8 pixels themselves (or floats in [0, 1])."
        )
    wrong = int((difference.flatten()[:256] > TRANSFORM_TOLERANCE).sum())
    return (
        f"{wrong} of the 256 pixel values come out differently from data.to_network_input "
        "(pixel / 127.5 - 1). Change only what you hand the transform, not the transform."
    )


# --- exercise 2: the masks of in-batch pairs -----------------------------------------------------


def reference_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) (B, B) bool: pairs i < j of the same digit, and of different digits."""
    same = labels[:, None] == labels[None, :]  # (B, B)
    each_pair_once = torch.ones_like(same).triu(diagonal=1)  # (B, B) True where i < j
    return same & each_pair_once, ~same & each_pair_once


def check_pair_masks(pair_masks: Callable[[torch.Tensor], Any]) -> None:
    """Exercise 2: `pair_masks(labels)` marks every in-batch pair once, as positive or negative.

    Taught in 02_pairs. Three fixed batches (repeated digits, one digit only, ten different
    digits); the masks must equal the ones `losses.InBatchCosineMSELoss` builds.
    """
    hint = None
    for batch in MASK_BATCHES:
        labels = torch.tensor(batch)
        answer, error = attempt(pair_masks, labels.clone())
        hint = f"your function raised {error}." if error else _masks_hint(answer, labels)
        if hint:
            break
    labels = torch.tensor(MASK_BATCHES[0])
    positive, negative = reference_masks(labels)
    right = (
        f"In the batch of {len(labels)} digits your masks mark {int(positive.sum())} positive "
        f"and {int(negative.sum())} negative pairs, {len(labels) * (len(labels) - 1) // 2} = "
        "N(N-1)/2 in all, each pair once and no image with itself."
    )
    report(2, hint is None, right=right, hint=hint or "")


def _as_mask(value: Any, size: int) -> torch.Tensor | None:
    """A (size, size) bool mask from a bool or 0/1 tensor, or None when it is not one."""
    if not isinstance(value, torch.Tensor) or value.shape != (size, size):
        return None
    if value.dtype != torch.bool and not bool(((value == 0) | (value == 1)).all()):
        return None
    return value.bool()


def _masks_hint(answer: Any, labels: torch.Tensor) -> str | None:
    """None when `answer` is the two right masks for `labels`, else a hint aimed at the mistake."""
    size = len(labels)
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        return (
            "return two masks, (positive, negative), each an (N, N) boolean tensor: start from "
            "labels[:, None] == labels[None, :]."
        )
    positive, negative = (_as_mask(part, size) for part in answer)
    if positive is None or negative is None:
        return f"each mask must be a ({size}, {size}) tensor of True/False for a batch of {size}."
    expected_positive, expected_negative = reference_masks(labels)
    if positive.diagonal().any():
        return (
            "positive[i, i] is True: that pairs an image with itself, the self-pair of section 7. "
            "Keep only i < j."
        )
    if negative.diagonal().any():
        return "negative[i, i] is True, but an image never differs from itself. Keep only i < j."
    if positive.tril().any() or negative.tril().any():
        return (
            "your masks mark pairs below the diagonal too, so every pair counts twice, as (i, j) "
            "and (j, i). Keep i < j: torch.ones_like(same).triu(diagonal=1) marks those places."
        )
    if not torch.equal(positive, expected_positive):
        return "positive must be True exactly where i < j and labels[i] == labels[j]."
    if not torch.equal(negative, expected_negative):
        return "negative must be True exactly where i < j and labels[i] != labels[j]."
    return None


# --- exercise 3: which of these digits did the network train on? --------------------------------


def leak_digits(seed: int = 0) -> tuple[Digits, torch.Tensor]:
    """Small made-up digits (12 train / 4 val / 4 test) and 8 fresh images none of them holds.

    Taught in 02_pairs. Random pixels stand in for handwriting: only content hashes are compared.
    """
    generator = torch.Generator().manual_seed(seed)
    shape = (20 + 8, 28, 28)  # 20 split into train / val / test, then 8 fresh images
    images = torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)
    labels = torch.arange(20) % 10
    digits = Digits(
        train_images=images[:12],
        train_labels=labels[:12],
        val_images=images[12:16],
        val_labels=labels[12:16],
        source="made-up",
        description="random pixels for exercise 3",
        test_images=images[16:20],
        test_labels=labels[16:20],
    )
    return digits, images[20:]  # (8, 28, 28) never seen


def leak_cases(digits: Digits, fresh: torch.Tensor) -> list[tuple[str, torch.Tensor, int]]:
    """(what, images, how many of them are training digits) for the check's four questions."""
    train = digits.train_images
    touched = train[:3].clone()
    touched[:, 14, 14] ^= 1  # one pixel of each changed by one step: other images now
    return [
        ("the training digits in reverse order", train.flip(0), len(train)),
        ("the validation and test digits", torch.cat([digits.val_images, digits.test_images]), 0),
        ("5 training digits among 8 new ones", torch.cat([fresh[:4], train[2:7], fresh[4:]]), 5),
        ("3 training digits with one pixel changed", touched, 0),
    ]


def check_trained_on(count_trained_on: Callable[[dict[str, Any], torch.Tensor], Any]) -> None:
    """Exercise 3: `count_trained_on(record, images)` counts the images a checkpoint trained on.

    Taught in 02_pairs. `record` is `Digits.provenance()` of small made-up digits; the images are
    the training digits reordered, held-out digits, a mix, and training digits with one pixel
    changed.
    """
    digits, fresh = leak_digits()
    record = digits.provenance()
    hint = None
    for what, images, expected in leak_cases(digits, fresh):
        answer, error = attempt(count_trained_on, record, images.clone())
        if error is not None:
            hint = f"your function raised {error}."
        elif not _is_whole_number(answer):
            hint = (
                "return one whole number: how many of the images have a content hash "
                "(data.content_hashes) among record['train_hashes']."
            )
        elif int(answer) != expected:
            hint = _leak_hint(what, int(answer), expected, len(images))
        if hint:
            break
    right = (
        "Reordered, mixed or held out, the per-image hashes find exactly the training digits; "
        "a single changed pixel makes another image."
    )
    report(3, hint is None, right=right, hint=hint or "")


def _is_whole_number(value: Any) -> bool:
    """True for an int or a one-element integer tensor (bool is not a count)."""
    if isinstance(value, torch.Tensor):
        return (
            value.numel() == 1 and not value.dtype.is_floating_point and value.dtype != torch.bool
        )
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _leak_hint(what: str, answer: int, expected: int, count: int) -> str:
    """A hint for a wrong count on one of the check's image sets."""
    if answer in (0, count) and 0 < expected < count:
        return (
            f"for {what} you counted {answer}; the answer is {expected}. A fingerprint only says "
            "whether two sets are identical: count image by image with the per-image hashes."
        )
    if expected == count:
        return (
            f"for {what} you counted {answer}, not {expected}. Compare contents, not positions: "
            "a checkpoint cannot know where an image sits in your tensor."
        )
    return f"for {what} you counted {answer}; the answer is {expected}."

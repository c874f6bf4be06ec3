"""Checks for the exercises of 03_network_and_loss: a padded network's shapes, CLIP's loss, scale.

Each check compares the reader's answer with what the series' own code computes (the layer
arithmetic of `model.EmbeddingNet`, `losses.CrossModalInfoNCELoss`, and every pair and batch loss
of `helpers.losses` measured on embeddings made ten times longer) and prints one verdict line
through `report`: "right", or a hint aimed at the mistake it found. A check returns None, so a
notebook cell that ends with it shows the verdict and nothing else.

Taught in 03_network_and_loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from helpers import losses
from helpers.exercises import attempt, close, report

# --- exercise 1: the shapes of a padded network -------------------------------------------------

PADDED_FEATURES = 64 * 7 * 7  # 28 -> conv (padding 2) 28 -> pool 14 -> conv 14 -> pool 7
PADDED_HEAD_PARAMETERS = PADDED_FEATURES * 512 + 512  # weights and biases of Linear(F, 512)
UNPADDED = 64 * 4 * 4 * 512 + 512  # head.0 of model.EmbeddingNet


def _as_count(value: Any) -> int | None:
    """A whole number given as int, float or one-number tensor; None for anything else."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def check_padding(features_per_digit: Any, first_linear_parameters: Any) -> None:
    """Exercise 1: with padding=2 in both convolutions, the features per digit and head.0's size.

    Taught in 03_network_and_loss. Right: 64 x 7 x 7 = 3,136 features, and a first linear layer
    of 3,136 x 512 weights plus 512 biases.
    """
    features, parameters = _as_count(features_per_digit), _as_count(first_linear_parameters)
    hint = _padding_hint(features, parameters)
    right = (
        f"{PADDED_FEATURES:,} features (64 channels of 7 x 7) and {PADDED_HEAD_PARAMETERS:,} "
        f"parameters in the first linear layer, {PADDED_HEAD_PARAMETERS / UNPADDED:.1f} times "
        "the unpadded network's."
    )
    report(1, hint is None, right=right, hint=hint or "")


def _padding_hint(features: int | None, parameters: int | None) -> str | None:
    """None when both numbers are right, else a hint aimed at the first wrong one."""
    if features is None or parameters is None:
        return (
            "set both numbers: the features that come out of the second block per digit, and "
            "the parameters of the linear layer that reads them (it still has 512 outputs)."
        )
    wrong_features = {
        64 * 4 * 4: "that is the unpadded network. With padding=2 a 5x5 convolution keeps the "
        "side of its input (28 -> 28), so only the two poolings shrink it.",
        64 * 14 * 14: "the second 2x2 max-pooling halves the side again: 14 -> 7.",
        64 * 28 * 28: "each 2x2 max-pooling still halves the side: 28 -> 14 -> 7.",
        7 * 7: "count every channel: the second block has 64 of them.",
        32 * 7 * 7: "the second block has 64 channels, not 32.",
    }
    if features != PADDED_FEATURES:
        return wrong_features.get(
            features,
            "follow one side through the blocks: a 5x5 convolution with padding 2 keeps it, "
            "each 2x2 max-pooling halves it (28 -> 14 -> 7); then multiply by the channels.",
        )
    if parameters == PADDED_FEATURES * 512:
        return "add the biases: the layer has one per output, 512 of them."
    if parameters != PADDED_HEAD_PARAMETERS:
        return (
            f"a linear layer from {PADDED_FEATURES:,} inputs to 512 outputs has one weight per "
            "input and output, plus one bias per output."
        )
    return None


# --- exercise 2: CLIP's loss, the core code -----------------------------------------------------

CLIP_TEMPERATURES = (0.1, 0.5)  # two temperatures, so a hard-coded one is caught
CLIP_TOLERANCE = 1e-5


def clip_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed image and caption embeddings (6, 8): caption i is near image i, rows of mixed length.

    Taught in 03_network_and_loss. The lengths differ fivefold, so a loss that forgets to
    normalise gives another number; caption 0 is vague (near every image), so the two directions
    of the loss differ and a one-direction loss gives another number too.
    """
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(6, 8, generator=generator)  # (6, 8)
    captions = images + 0.8 * torch.randn(6, 8, generator=generator)  # (6, 8) noisy partners
    captions[0] += images.sum(dim=0)  # a vague caption: close to every image
    lengths = torch.linspace(0.5, 2.5, 6)[:, None]  # (6, 1)
    return images * lengths, captions * lengths.flip(0)


def _wrong_clip_losses(
    images: torch.Tensor, captions: torch.Tensor, temperature: float
) -> dict[str, torch.Tensor]:
    """The value of each typical mistake on these inputs, keyed by its hint."""
    unit = torch.nn.functional.normalize
    cross_entropy = torch.nn.functional.cross_entropy
    targets = torch.arange(len(images))
    cosines = unit(images, dim=1) @ unit(captions, dim=1).T  # (N, N)
    dots = images @ captions.T  # (N, N)

    def both(logits: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        forward = cross_entropy(logits, targets, reduction=reduction)
        return (forward + cross_entropy(logits.T, targets, reduction=reduction)) / 2

    return {
        "you scored one direction only (images finding their captions, or the reverse); CLIP "
        "averages both: add F.cross_entropy(logits.T, targets).": cross_entropy(
            cosines / temperature, targets
        ),
        "the other direction is missing: average the loss of logits and of logits.T.": (
            cross_entropy(cosines.T / temperature, targets)
        ),
        "scale both embeddings to length 1 first (F.normalize(z, dim=1)): the matrix must "
        "hold cosines, not dot products.": both(dots / temperature),
        "divide the cosines by the temperature.": both(cosines),
        "divide by the temperature; do not multiply.": both(cosines * temperature),
        "average over the items (F.cross_entropy's default), do not sum.": both(
            cosines / temperature, "sum"
        ),
    }


def check_clip_loss(clip_loss: Callable[..., Any]) -> None:
    """Exercise 2: `clip_loss(image_z, text_z, temperature)` equals `losses.CrossModalInfoNCELoss`.

    Taught in 03_network_and_loss. Compared at two temperatures on `clip_inputs()` to 1e-5.
    """
    images, captions = clip_inputs()
    hint = None
    for temperature in CLIP_TEMPERATURES:
        expected = losses.CrossModalInfoNCELoss(temperature=temperature)(images, captions)
        value, error = attempt(clip_loss, images.clone(), captions.clone(), temperature)
        if error is not None:
            hint = f"your function raised {error}."
        elif not isinstance(value, torch.Tensor) or value.numel() != 1:
            hint = (
                "return the loss as a one-number tensor: logits = cosines / temperature (N, N), "
                "targets = torch.arange(N), the mean of F.cross_entropy in both directions."
            )
        elif not close(value, float(expected), tolerance=CLIP_TOLERANCE):
            hint = _clip_hint(float(value), images, captions, temperature)
        if hint:
            break
    right = "The same loss as losses.CrossModalInfoNCELoss at temperatures 0.1 and 0.5."
    report(2, hint is None, right=right, hint=hint or "")


def _clip_hint(value: float, images: torch.Tensor, captions: torch.Tensor, t: float) -> str:
    """The hint of the mistake whose value matches, else the recipe."""
    for hint, wrong in _wrong_clip_losses(images, captions, t).items():
        if close(value, float(wrong), tolerance=CLIP_TOLERANCE):
            return hint
    return (
        f"at temperature {t} your loss gave {value:.4g}. Build logits = "
        "F.normalize(image_z, dim=1) @ F.normalize(text_z, dim=1).T / temperature; caption i "
        "belongs to image i, so targets = torch.arange(N)."
    )


# --- exercise 3: which losses notice the length of an embedding? --------------------------------

SCALE = 10.0
SCALE_LOSSES = ("cosine MSE", "in-batch cosine MSE", "margin", "margin on unit vectors", "InfoNCE")
_SCALE_REASONS = {
    "cosine MSE": "a cosine ignores length: scaling both vectors leaves their angle alone.",
    "in-batch cosine MSE": "it is the cosine MSE on every pair of the batch, and cosines ignore "
    "length.",
    "margin": "the margin loss reads Euclidean distances: ten times longer embeddings are ten "
    "times farther apart, so positives cost a hundred times more and negatives clear the margin.",
    "margin on unit vectors": "with normalize=True every embedding is scaled to length 1 before "
    "the distance is taken, so the original length is gone.",
    "InfoNCE": "InfoNCE scales every embedding to length 1 first; only the temperature sets how "
    "sharp its softmax is.",
}


def scale_effects() -> dict[str, bool]:
    """For each loss of `SCALE_LOSSES`: does it change when every embedding is ten times longer?

    Taught in 03_network_and_loss. Measured on fixed embeddings with the series' own losses.
    """
    generator = torch.Generator().manual_seed(0)
    z_1, z_2 = torch.randn(2, 12, 8, generator=generator)  # (12, 8) each
    target = (torch.arange(12) % 2).float()  # (12,) alternate same / different
    labels = torch.arange(12) % 4  # (12,) four digits
    measured = {
        "cosine MSE": lambda s: losses.CosineMSELoss()(s * z_1, s * z_2, target),
        "in-batch cosine MSE": lambda s: losses.InBatchCosineMSELoss()(s * z_1, labels),
        "margin": lambda s: losses.MarginContrastiveLoss()(s * z_1, s * z_2, target),
        "margin on unit vectors": lambda s: losses.MarginContrastiveLoss(normalize=True)(
            s * z_1, s * z_2, target
        ),
        "InfoNCE": lambda s: losses.InfoNCELoss()(s * z_1, s * z_2, labels),
    }
    return {
        name: not torch.allclose(loss(1.0), loss(SCALE), rtol=1e-4)
        for name, loss in measured.items()
    }


def check_scale(changes: Any) -> None:
    """Exercise 3: `changes` maps each name of `SCALE_LOSSES` to True (the loss changes) or False.

    Taught in 03_network_and_loss. Compared with `scale_effects()`, which measures it.
    """
    names = ", ".join(repr(name) for name in SCALE_LOSSES)
    if not isinstance(changes, dict) or set(changes) != set(SCALE_LOSSES):
        hint = f"set changes to a dict with True or False for each of {names}."
        report(3, False, right="", hint=hint)
        return
    if not all(isinstance(value, bool) for value in changes.values()):
        hint = "set each value to True (the loss changes) or False (it does not)."
        report(3, False, right="", hint=hint)
        return
    truth = scale_effects()
    wrong = [name for name in SCALE_LOSSES if changes[name] != truth[name]]
    hint = None
    if wrong:
        said = "changes" if changes[wrong[0]] else "does not change"
        hint = f"you said the {wrong[0]} loss {said}, but {_SCALE_REASONS[wrong[0]]}"
    right = (
        "Only the margin loss on raw embeddings changes: every other loss here reads cosines, "
        "which ignore an embedding's length."
    )
    report(3, not wrong, right=right, hint=hint or "")

"""The series' training recipe: the `TrainConfig` and the loss that 04 trains its main run with.

Taught in 04_training. Notebooks 05-08 train the same recipe when 04's checkpoint is not there
(in Colab every notebook has its own machine), and `make bench` headlines it, so the numbers in
the README describe what a learner runs.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from helpers.losses import LABELLED_VIEWS, InfoNCELoss
from helpers.pairs import Augmentation
from helpers.training import TrainConfig

TEMPERATURE = 0.1  # how sharply InfoNCE prefers the positives

# Supervised InfoNCE on two augmented views of 64 digits (one forward pass of 128 images a step),
# channels-last, mixed precision chosen for the device, the best epoch kept by validation 1-NN.
SERIES = TrainConfig(
    epochs=30,
    batch_size=64,
    learning_rate=1e-3,
    batches=LABELLED_VIEWS,
    augmentation=Augmentation(),
    channels_last=True,
    precision="auto",
    seed=0,
)
# On a GPU a small batch leaves it idle: batches of 512 digits, the learning rate scaled with them.
SERIES_GPU = replace(SERIES, batch_size=512, learning_rate=2e-3)


def series_config(device: torch.device, **changes: object) -> TrainConfig:
    """The series' recipe for `device` (larger batches on CUDA), with any fields changed."""
    base = SERIES_GPU if device.type == "cuda" else SERIES
    return replace(base, **changes)


def series_loss() -> InfoNCELoss:
    """The series' loss: supervised InfoNCE at the series' temperature."""
    return InfoNCELoss(temperature=TEMPERATURE)

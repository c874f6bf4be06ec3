"""The same seed gives the same split, pairs, views, weights and metrics: in one process, and in a
fresh process with another hash seed (nothing hidden in process state decides a result)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from helpers.data import Digits, load_digits
from helpers.evaluation import evaluate_model
from helpers.losses import BATCH_KINDS, InfoNCELoss
from helpers.model import EmbeddingNet
from helpers.pairs import draw_pairs, epoch_batches
from helpers.runtime import seed_everything
from helpers.training import TrainConfig, fit

REPO = Path(__file__).resolve().parent.parent


def small_digits() -> Digits:
    """The first 16 training and 5 validation digits of each class of the offline sample."""
    digits = load_digits()

    def per_digit(images: torch.Tensor, labels: torch.Tensor, count: int) -> tuple:
        rows = torch.cat([torch.nonzero(labels == digit)[:count, 0] for digit in range(10)])
        return images[rows], labels[rows]

    train_images, train_labels = per_digit(digits.train_images, digits.train_labels, 16)
    val_images, val_labels = per_digit(digits.val_images, digits.val_labels, 5)
    return replace(
        digits,
        train_images=train_images,
        train_labels=train_labels,
        val_images=val_images,
        val_labels=val_labels,
    )


def train_briefly(digits: Digits) -> tuple[dict, list, dict]:
    """Two short epochs of supervised InfoNCE on augmented views from a seeded start: final
    weights, history (without timings) and metrics."""
    seed_everything(0)
    config = TrainConfig(epochs=2, batch_size=40, batches="labelled_views", seed=0)
    loss = InfoNCELoss(temperature=0.1)
    result = fit(EmbeddingNet(embedding_dim=8), loss, digits, config=config, progress=False)
    history = [{k: v for k, v in row.items() if k != "seconds"} for row in result.history]
    return result.final_state, history, evaluate_model(result.model, digits)


def fingerprint(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def digits() -> Digits:
    return small_digits()


def test_the_same_seed_gives_the_same_split():
    first, again, other = load_digits(seed=3), load_digits(seed=3), load_digits(seed=4)
    assert torch.equal(first.train_images, again.train_images)
    assert torch.equal(first.val_labels, again.val_labels)
    assert not torch.equal(first.val_images, other.val_images)


def test_the_same_seed_gives_the_same_pairs_and_views(digits):
    def pairs(seed: int):
        return draw_pairs(
            digits.train_labels, generator=torch.Generator().manual_seed(seed), num_pairs=500
        )

    first, again, other = pairs(7), pairs(7), pairs(8)
    for field in ("anchor", "partner", "target"):
        assert torch.equal(getattr(first, field), getattr(again, field))
    assert not torch.equal(first.anchor, other.anchor)
    for kind in BATCH_KINDS:
        runs = [
            list(
                epoch_batches(
                    kind,
                    digits.train_images,
                    digits.train_labels,
                    batch_size=32,
                    generator=torch.Generator().manual_seed(seed),
                )
            )
            for seed in (5, 5, 6)
        ]
        for batch, same in zip(runs[0], runs[1], strict=True):
            for one, two in zip(batch, same, strict=True):
                assert (one is None and two is None) or torch.equal(one, two), kind
        assert not torch.equal(runs[0][0][0], runs[2][0][0]), kind


@pytest.fixture(scope="module")
def first_run(digits) -> tuple[dict, list, dict]:
    return train_briefly(digits)


def test_the_same_seed_gives_the_same_weights_history_and_metrics(digits, first_run):
    state, history, metrics = first_run
    again = train_briefly(digits)
    assert fingerprint(state) == fingerprint(again[0])
    assert history == again[1] and metrics == again[2]
    assert len(history) == 2 and set(metrics) >= {"val_1nn", "same_digit_auc", "silhouette"}


CHILD = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))  # the parent's: float sums depend on the thread count
from tests.test_determinism import fingerprint, small_digits, train_briefly
state, history, metrics = train_briefly(small_digits())
print(fingerprint(state), metrics["val_1nn"], metrics["silhouette"])
"""


def test_a_fresh_process_with_another_hash_seed_trains_the_same_weights(first_run):
    state, _, metrics = first_run
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(torch.get_num_threads())],
        cwd=REPO,
        env={**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert child.stdout.split() == [
        fingerprint(state),
        str(metrics["val_1nn"]),
        str(metrics["silhouette"]),
    ]

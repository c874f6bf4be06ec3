"""The benchmark's timing harness: `helpers.training.fit` on a recipe, with its figures read off the
history `fit` returns; the machine's matmul peak; the FLOPs of one trained image.

Imports torch and `helpers` only (no pandas, scikit-learn, tqdm, umap or matplotlib on this path),
so `bench/gpu.py` runs on a machine that has nothing but torch (tests/test_bench.py proves it).
Times are seconds spent in training steps, as `fit` records them: validation is not counted, and
the time to reach an accuracy is read at the end of the first epoch that reached it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import torch
from recipes import loss_for

from helpers.data import Digits
from helpers.losses import IN_BATCH, PAIRS
from helpers.model import EmbeddingNet
from helpers.pairs import epoch_batches
from helpers.runtime import amp_policy
from helpers.training import TrainConfig, fit, train_step


def new_model(seed: int = 0, device: torch.device | str = "cpu") -> EmbeddingNet:
    """The series' `EmbeddingNet` (the source's layers), seeded, on `device`."""
    torch.manual_seed(seed)
    return EmbeddingNet().to(device)


def time_to(evaluations: list[dict[str, Any]], level: float) -> float | None:
    """Seconds of training until validation 1-NN first reached `level` (None: never)."""
    return next((e["trained_s"] for e in evaluations if e["val_1nn"] >= level), None)


def pairs_per_image(config: TrainConfig) -> float:
    """Pairs a loss scores per image embedded: one pair per two images for pair batches; for
    in-batch and view batches every pair among the n images of a step, n(n-1)/2 per n images."""
    if config.batches == PAIRS:
        return 0.5
    images = config.batch_size * (1 if config.batches == IN_BATCH else 2)
    return (images - 1) / 2


def run_recipe(
    config: TrainConfig,
    digits: Digits,
    *,
    budget_s: float,
    device: torch.device | str = "cpu",
    seed: int = 0,
) -> dict[str, Any]:
    """`fit` on `config` for `budget_s` seconds of training: time to quality and throughput.

    The digits move to `device` inside `fit`, as in the notebooks. Returns the figures and, under
    "model", the trained model (best weights).
    """
    config = replace(config, time_budget_s=budget_s, seed=seed)
    result = fit(new_model(seed, device), loss_for(config), digits, config=config, progress=False)
    evaluations, trained_s, images = [], 0.0, 0
    for row in result.history:
        trained_s += row["seconds"]
        images += row["images"]
        evaluations.append(
            {
                "epoch": row["epoch"],
                "seconds": row["seconds"],
                "trained_s": trained_s,
                "val_1nn": row["val_1nn"],
            }
        )
    return {
        "config": config.to_dict(),
        "precision": str(amp_policy(torch.device(device), precision=config.precision).dtype),
        "epochs": len(result.history),
        "trained_s": trained_s,
        "images_per_s": images / trained_s if trained_s else None,
        "time_to_095_s": time_to(evaluations, 0.95),
        "time_to_097_s": time_to(evaluations, 0.97),
        "best_val_1nn": result.best_value,
        "final_val_1nn": evaluations[-1]["val_1nn"] if evaluations else None,
        "evaluations": evaluations,
        "model": result.model,
    }


def throughput(
    config: TrainConfig, digits: Digits, *, seconds: float, device: torch.device | str = "cpu"
) -> float:
    """Training images per second of `config`, after a short warm-up run of the same recipe."""
    run_recipe(config, digits, budget_s=min(0.5, seconds), device=device)  # warm-up
    found = run_recipe(config, digits, budget_s=seconds, device=device)
    return found["images_per_s"]


def matmul_peak_gflops(
    dtype: torch.dtype, *, size: int = 1024, seconds: float = 1.0, device: str = "cpu"
) -> float:
    """Measured matrix-multiply rate (GFLOP/s) in `dtype`: the ceiling a training step works under."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    (a @ b).sum().item()  # warm-up, and wait for it
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        c = a @ b
        count += 1
    c.sum().item()  # on a GPU, wait for the queued products
    return 2 * size**3 * count / (time.perf_counter() - start) / 1e9


def training_flops_per_image(config: TrainConfig, digits: Digits) -> float:
    """FLOPs of one `train_step` (forward and backward) per image, counted by torch itself (it
    counts matrix products and convolutions, so the optimiser's few element-wise FLOPs are not in)."""
    from torch.utils.flop_counter import FlopCounterMode

    generator = torch.Generator().manual_seed(0)
    batch = next(
        epoch_batches(
            config.batches,
            digits.train_images,
            digits.train_labels,
            batch_size=config.batch_size,
            generator=generator,
        )
    )
    images = sum(len(x) for x in batch[:-1])
    model = new_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # a step that changes nothing
    counter = FlopCounterMode(display=False)
    with counter:
        train_step(model, loss_for(config), batch, optimizer)
    return counter.get_total_flops() / images

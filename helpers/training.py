"""The training loop, once taught, as one function: `fit(model, loss_fn, digits, config=...)`.

What it adds to the hand-written loop of 04_training: fresh batches every epoch, a validation
loss and validation 1-NN accuracy per epoch, the best weights kept as a real copy, checkpoints
(best, last, every N epochs), resuming, a wall-clock budget, mixed precision on CUDA, progress
bars, and a clean stop on Ctrl-C.

Taught in 04_training.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from helpers.checkpoints import (
    copy_state,
    load_checkpoint,
    load_weights,
    make_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from helpers.data import Digits
from helpers.evaluation import validation_1nn
from helpers.pairs import BATCH_KINDS, Augmentation, epoch_batches, num_batches
from helpers.runtime import amp_policy

BEST_METRICS = {"val_1nn": "max", "val_loss": "min", "train_loss": "min"}


@dataclass(frozen=True)
class TrainConfig:
    """Every hyperparameter of a training run, in one place; saved inside every checkpoint.

    Taught in 04_training. `batches` names what one step feeds the loss: "pairs" (anchor,
    partner, target 1/0) for the pair losses, "views" (two augmented views, no labels) or
    "labelled_views" (the same plus digit labels) for `InfoNCELoss`. `time_budget_s` stops
    training once that many seconds were spent in training steps (validation not counted).
    """

    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    lr_step_size: int = 10  # StepLR: multiply the learning rate by lr_gamma every this many epochs
    lr_gamma: float = 0.1
    batches: str = "pairs"
    positive_fraction: float = 0.5
    augmentation: Augmentation = field(default_factory=Augmentation)
    time_budget_s: float | None = None
    best_metric: str = "val_1nn"
    checkpoint_every: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError("epochs must be at least 1 and batch_size at least 2.")
        if self.learning_rate <= 0 or self.lr_step_size < 1 or not 0 < self.lr_gamma <= 1:
            raise ValueError(
                "learning_rate > 0, lr_step_size >= 1 and 0 < lr_gamma <= 1 are needed."
            )
        if self.batches not in BATCH_KINDS:
            raise ValueError(f"batches={self.batches!r} is unknown; use one of {BATCH_KINDS}.")
        if self.best_metric not in BEST_METRICS:
            raise ValueError(f"best_metric must be one of {sorted(BEST_METRICS)}.")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ValueError("time_budget_s must be positive, or None for no budget.")
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1, or None.")

    def to_dict(self) -> dict[str, Any]:
        """Plain values only (nested dicts, tuples, numbers, strings): safe for weights_only."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Rebuild a config saved with `to_dict` (unknown keys are an error, missing ones default)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown TrainConfig fields {unknown}; was it saved by another version?"
            )
        values = dict(values)
        if isinstance(values.get("augmentation"), dict):
            augmentation = dict(values["augmentation"])
            augmentation["scale_range"] = tuple(augmentation.get("scale_range", (0.85, 1.15)))
            values["augmentation"] = Augmentation(**augmentation)
        return cls(**values)


class History(list):
    """One dict per epoch: epoch, train_loss, val_loss, val_1nn, lr, seconds, examples, stopped_early.

    `seconds` counts training steps only (validation not included); `examples` is the number of
    pairs trained on; `stopped_early` marks an epoch cut short by the time budget.
    """

    def to_frame(self) -> pd.DataFrame:
        """The history as a DataFrame indexed by epoch."""
        return pd.DataFrame(list(self)).set_index("epoch") if self else pd.DataFrame()


@dataclass
class FitResult:
    """What `fit` hands back: the model (best weights loaded), its history and where things are."""

    model: nn.Module
    history: History
    best_epoch: int | None
    best_metric: str
    best_value: float | None
    final_state: dict[str, torch.Tensor]
    checkpoints: dict[str, Any]
    interrupted: bool = False
    budget_reached: bool = False

    def summary(self) -> str:
        """One line, rounded so it is the same from run to run on the same machine."""
        if self.best_epoch is None:
            return "No epoch finished, so there is no best model yet."
        how = " (stopped by Ctrl-C)" if self.interrupted else ""
        how += " (time budget reached)" if self.budget_reached else ""
        return (
            f"{len(self.history)} epochs{how}; best epoch {self.best_epoch} with "
            f"{self.best_metric} {self.best_value:.3f}"
        )


def _is_better(value: float, best: float | None, metric: str) -> bool:
    if best is None:
        return not math.isnan(value)
    return value > best if BEST_METRICS[metric] == "max" else value < best


def _check_loss_fits_batches(loss_fn: nn.Module, kind: str) -> None:
    expected = getattr(loss_fn, "batch_kind", None)
    if expected == "pairs" and kind != "pairs":
        raise ValueError(
            f"{type(loss_fn).__name__} compares pairs with a 1/0 target; set "
            "TrainConfig(batches='pairs')."
        )
    if expected == "views" and kind == "pairs":
        raise ValueError(
            f"{type(loss_fn).__name__} needs two views per image; set TrainConfig(batches='views') "
            "(self-supervised) or batches='labelled_views' (supervised)."
        )


def _validation_loss(
    model: nn.Module,
    loss_fn: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    config: TrainConfig,
) -> float:
    """Mean loss on validation batches drawn the same way every epoch (a fixed generator)."""
    generator = torch.Generator().manual_seed(config.seed + 1)
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for x_1, x_2, y in epoch_batches(
            config.batches,
            images,
            labels,
            batch_size=config.batch_size,
            generator=generator,
            positive_fraction=config.positive_fraction,
            augmentation=config.augmentation,
        ):
            total += loss_fn(model(x_1), model(x_2), y).item() * len(x_1)
            count += len(x_1)
    return total / max(count, 1)


def fit(
    model: nn.Module,
    loss_fn: nn.Module,
    digits: Digits,
    *,
    config: TrainConfig | None = None,
    checkpoint_dir: str | Path | None = None,
    resume_from: str | Path | None = None,
    progress: bool = True,
    on_epoch_end: Callable[[int, nn.Module], None] | None = None,
) -> FitResult:
    """Train `model` with `loss_fn` on fresh batches each epoch; keep the best weights by validation.

    Taught in 04_training. The model trains on the device it sits on (move it first); the images
    move there once, as uint8. Adam with a StepLR schedule (the source's step 10, gamma 0.1 by
    default). With `checkpoint_dir`, best.pt, last.pt and every `checkpoint_every` epochs
    epoch_NNN.pt are written. With `resume_from`, training continues from that checkpoint
    (its config too, unless `config` is given). Ctrl-C stops cleanly: the history so far comes
    back and the checkpoints of finished epochs stay as they were. Prints nothing; the progress
    bars (tqdm, stderr or a widget) show the loss. `on_epoch_end(epoch, model)` is called after
    each epoch's validation, for example to keep embeddings for an animation.
    """
    checkpoint = load_checkpoint(resume_from) if resume_from is not None else None
    if config is None:
        config = TrainConfig.from_dict(checkpoint["config"]) if checkpoint else TrainConfig()
    _check_loss_fits_batches(loss_fn, config.batches)
    device = next(model.parameters()).device
    amp = amp_policy(device)
    train_images = digits.train_images.to(device)  # uint8 on the device: 4 MB for the sample
    train_labels = digits.train_labels.to(device)
    val_images = digits.val_images.to(device)
    val_labels = digits.val_labels.to(device)
    on_device = replace(digits, train_images=train_images, val_images=val_images)
    batches_per_epoch = num_batches(len(train_images), config.batch_size)
    if batches_per_epoch == 0:
        raise ValueError(
            f"batch_size={config.batch_size} is larger than the {len(train_images)} training "
            "images; use a smaller batch_size."
        )

    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=config.lr_step_size, gamma=config.lr_gamma
    )
    scaler = torch.amp.GradScaler(device.type, enabled=amp.use_scaler)
    generator = torch.Generator().manual_seed(config.seed)
    history = History()
    best_epoch: int | None = None
    best_value: float | None = None
    best_state = copy_state(model.state_dict())
    start_epoch = 0
    if checkpoint is not None:
        load_weights(model, checkpoint, source=resume_from)
        optimizer.load_state_dict(checkpoint["optimizer_state"])
        scheduler.load_state_dict(checkpoint["scheduler_state"])
        if checkpoint.get("scaler_state"):
            scaler.load_state_dict(checkpoint["scaler_state"])
        restore_rng_state(checkpoint["rng_state"], generator)
        history = History(checkpoint["history"])
        start_epoch = checkpoint["epoch"]
        best_epoch = checkpoint["best"].get("epoch")
        best_value = checkpoint["best"].get("value")
        if checkpoint.get("best_model_state") is not None:
            best_state = copy_state(checkpoint["best_model_state"])

    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    paths: dict[str, Any] = {"best": None, "last": None, "every": []}
    if folder is not None:
        for name in ("best", "last"):
            if (folder / f"{name}.pt").is_file() and checkpoint is not None:
                paths[name] = folder / f"{name}.pt"

    def write(name: str, epoch: int) -> Path:
        state = make_checkpoint(
            model,
            epoch=epoch,
            config=config.to_dict(),
            optimizer=optimizer,
            scheduler=scheduler,
            scaler=scaler if amp.use_scaler else None,
            history=history,
            best={"epoch": best_epoch, "metric": config.best_metric, "value": best_value},
            best_model_state=best_state,
            generator=generator,
        )
        return save_checkpoint(folder / name, state)

    interrupted = budget_reached = False
    trained_seconds = 0.0
    epoch_bar = tqdm(
        total=config.epochs, initial=start_epoch, desc="epochs", unit="epoch", disable=not progress
    )
    batch_bar = None
    try:
        for epoch in range(start_epoch + 1, config.epochs + 1):
            learning_rate = optimizer.param_groups[0]["lr"]
            model.train()
            epoch_start = time.perf_counter()
            loss_sum = torch.zeros((), device=device)
            steps = examples = 0
            batch_bar = tqdm(
                total=batches_per_epoch, desc=f"epoch {epoch}", leave=False, disable=not progress
            )
            for x_1, x_2, y in epoch_batches(
                config.batches,
                train_images,
                train_labels,
                batch_size=config.batch_size,
                generator=generator,
                positive_fraction=config.positive_fraction,
                augmentation=config.augmentation,
            ):
                if (
                    config.time_budget_s is not None
                    and trained_seconds + time.perf_counter() - epoch_start >= config.time_budget_s
                ):
                    budget_reached = True
                    break
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast(device.type, dtype=amp.dtype, enabled=amp.enabled):
                    loss = loss_fn(model(x_1), model(x_2), y)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                loss_sum += loss.detach().float()
                steps += 1
                examples += len(x_1)
                batch_bar.update()
                if progress and steps % 10 == 0:
                    batch_bar.set_postfix(loss=f"{loss_sum.item() / steps:.4f}")
            batch_bar.close()
            seconds = time.perf_counter() - epoch_start
            trained_seconds += seconds
            if steps == 0:
                break  # the budget ran out before this epoch's first step
            scheduler.step()
            row = {
                "epoch": epoch,
                "train_loss": loss_sum.item() / steps,
                "val_loss": _validation_loss(model, loss_fn, val_images, val_labels, config),
                "val_1nn": validation_1nn(model, on_device),
                "lr": learning_rate,
                "seconds": seconds,
                "examples": examples,  # pairs (or pairs of views) trained on this epoch
                "stopped_early": steps < batches_per_epoch,
            }
            history.append(row)
            if _is_better(row[config.best_metric], best_value, config.best_metric):
                best_epoch, best_value = epoch, row[config.best_metric]
                best_state = copy_state(model.state_dict())
                if folder is not None:
                    paths["best"] = write("best.pt", epoch)
            if folder is not None:
                paths["last"] = write("last.pt", epoch)
                if config.checkpoint_every and epoch % config.checkpoint_every == 0:
                    paths["every"].append(write(f"epoch_{epoch:03d}.pt", epoch))
            epoch_bar.update()
            epoch_bar.set_postfix(
                train_loss=f"{row['train_loss']:.4f}", val_1nn=f"{row['val_1nn']:.3f}"
            )
            if on_epoch_end is not None:
                on_epoch_end(epoch, model)
                model.train()
            if budget_reached:
                break
    except KeyboardInterrupt:
        interrupted = True  # the finished epochs' history and checkpoints stay as they are
    finally:
        if batch_bar is not None:
            batch_bar.close()
        epoch_bar.close()

    final_state = copy_state(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(
        model=model,
        history=history,
        best_epoch=best_epoch,
        best_metric=config.best_metric,
        best_value=best_value,
        final_state=final_state,
        checkpoints=paths,
        interrupted=interrupted,
        budget_reached=budget_reached,
    )

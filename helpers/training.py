"""Training as three functions: `train_step`, `train_epoch` and `fit`.

`train_step` is the step 04_training writes by hand (zero_grad, forward, loss, backward, step);
`train_epoch` runs it over one epoch of fresh batches; `fit` adds what a real run needs around
them: a validation loss and validation 1-NN accuracy per epoch, the best weights kept as a real
copy, checkpoints, resuming, a time budget, one progress line per epoch and a clean stop on
Ctrl-C. The speed options of `TrainConfig` (channels-last, mixed precision, `torch.compile`)
change how fast a step runs, not what it computes.

Taught in 04_training.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from helpers.bookkeeping import (
    BEST_METRICS,
    BestWeights,
    CheckpointFiles,
    History,
    ProgressLines,
    TrainingClock,
)
from helpers.checkpoints import (
    copy_state,
    load_checkpoint,
    load_weights,
    make_checkpoint,
    restore_rng_state,
)
from helpers.data import Digits
from helpers.evaluation import validation_1nn
from helpers.losses import BATCH_KINDS, check_loss_reads
from helpers.pairs import Augmentation, epoch_batches, num_batches
from helpers.runtime import PRECISIONS, AmpPolicy, CompiledOrEager, amp_policy

Batch = tuple[torch.Tensor | None, ...]  # (inputs..., target): see helpers.losses for the kinds


def batch_loss(
    model: Callable[[torch.Tensor], torch.Tensor],
    loss_fn: nn.Module,
    batch: Batch,
    *,
    precision: AmpPolicy | None = None,
) -> torch.Tensor:
    """The loss of one batch: every image of it through the model in one forward pass, then the loss.

    Taught in 04_training. A batch is `(inputs..., target)`: pairs and views carry two inputs
    (anchors and partners, or first and second views), in-batch batches one. Under mixed
    `precision` only the forward pass runs in bf16 or fp16; the loss compares in fp32.
    """
    *inputs, target = batch
    x = torch.cat(inputs) if len(inputs) > 1 else inputs[0]  # (images, 1, 28, 28)
    with precision.autocast() if precision is not None else nullcontext():
        embeddings = model(x)  # (images, dim)
    return loss_fn(*embeddings.chunk(len(inputs)), target)


def train_step(
    model: Callable[[torch.Tensor], torch.Tensor],
    loss_fn: nn.Module,
    batch: Batch,
    optimizer: torch.optim.Optimizer,
    *,
    precision: AmpPolicy | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> torch.Tensor:
    """One optimisation step, as 04_training writes it by hand; returns the loss (detached).

    Taught in 04_training. `precision` runs the forward pass under autocast (bf16 or fp16);
    `scaler` (fp16 only) scales the loss so that small gradients do not round to zero.
    """
    optimizer.zero_grad(set_to_none=True)
    loss = batch_loss(model, loss_fn, batch, precision=precision)  # forward pass, then the loss
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return loss.detach()


def train_epoch(
    model: nn.Module | CompiledOrEager,
    loss_fn: nn.Module,
    batches: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    *,
    precision: AmpPolicy | None = None,
    scaler: torch.amp.GradScaler | None = None,
    clock: TrainingClock | None = None,
) -> dict[str, Any]:
    """`train_step` over one epoch of batches in train mode, until they or the time budget run out.

    Taught in 04_training. Returns train_loss (the mean over steps), steps, examples (rows of the
    batches: pairs, images or pairs of views), images (through the network) and seconds.
    """
    clock = clock or TrainingClock()
    model.train()
    loss_sum, steps, examples, images = 0.0, 0, 0, 0
    clock.start()
    for batch in batches:
        if clock.exhausted():
            break
        loss_sum = loss_sum + train_step(
            model, loss_fn, batch, optimizer, precision=precision, scaler=scaler
        )
        steps += 1
        examples += len(batch[0])
        images += sum(len(x) for x in batch[:-1])
    seconds = clock.stop()
    train_loss = float(loss_sum) / steps if steps else math.nan
    return {
        "train_loss": train_loss,
        "steps": steps,
        "examples": examples,
        "images": images,
        "seconds": seconds,
    }


def validation_loss(model: nn.Module, loss_fn: nn.Module, batches: Iterable[Batch]) -> float:
    """Mean loss over validation batches, in eval mode without gradients (NaN when there are none)."""
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for batch in batches:
            total += float(batch_loss(model, loss_fn, batch)) * len(batch[0])
            count += len(batch[0])
    return total / count if count else math.nan


@dataclass(frozen=True)
class TrainConfig:
    """Every hyperparameter of a training run, in one place; saved inside every checkpoint.

    Taught in 04_training. `batches` names the batch kind one step feeds the loss (see
    `helpers.losses`): "pairs", "in_batch", "views" or "labelled_views". `augmentation` makes the
    two views (view kinds only). `time_budget_s` stops training once that many seconds were spent
    in training steps (validation not counted). Speed options: `channels_last` memory format,
    `precision` ("auto": fp16 on CUDA, bf16 on a CPU with bf16 instructions, else fp32; see
    `helpers.runtime.amp_policy`) and `compile` (`torch.compile`, falling back when it fails).
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
    channels_last: bool = True
    precision: str = "auto"
    compile: bool = False
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
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision={self.precision!r} is unknown; use one of {PRECISIONS}.")
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
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(
                f"Unknown TrainConfig fields {unknown}; was it saved by another version?"
            )
        values = dict(values)
        if isinstance(values.get("augmentation"), dict):
            augmentation = dict(values["augmentation"])
            if "scale_range" in augmentation:  # saved as a list or a tuple
                augmentation["scale_range"] = tuple(augmentation["scale_range"])
            values["augmentation"] = Augmentation(**augmentation)
        return cls(**values)


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


@dataclass
class _Run:
    """A run in progress: what an epoch needs, and what a checkpoint saves and restores."""

    model: nn.Module
    config: TrainConfig
    provenance: dict[str, Any]  # what the checkpoints record about the training digits
    on_device: Digits  # the same digits on the model's device, still uint8
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    precision: AmpPolicy
    scaler: torch.amp.GradScaler | None
    generator: torch.Generator
    best: BestWeights
    history: History = field(default_factory=History)
    epoch: int = 0  # epochs finished

    @classmethod
    def start(cls, model: nn.Module, config: TrainConfig, digits: Digits) -> _Run:
        """Move the digits to the model's device once, and set up the optimiser and schedule."""
        device = next(model.parameters()).device
        if config.channels_last and device.type in ("cpu", "cuda"):
            model.to(memory_format=torch.channels_last)  # faster convolutions, the same numbers
        moved = {name: getattr(digits, name).to(device) for name in _SPLITS}
        if num_batches(len(moved["train_images"]), config.batch_size) == 0:
            raise ValueError(
                f"batch_size={config.batch_size} is larger than the "
                f"{len(moved['train_images'])} training images; use a smaller batch_size."
            )
        optimizer = torch.optim.Adam(
            model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=config.lr_step_size, gamma=config.lr_gamma
        )
        precision = amp_policy(device, precision=config.precision)
        return cls(
            model=model,
            config=config,
            provenance=digits.provenance(),
            on_device=replace(digits, **moved),
            optimizer=optimizer,
            scheduler=scheduler,
            precision=precision,
            scaler=precision.scaler(),
            generator=torch.Generator().manual_seed(config.seed),
            best=BestWeights(config.best_metric, model),
        )

    def resume(self, checkpoint: dict[str, Any], *, source: str | Path | None) -> None:
        """Continue from a checkpoint: weights, optimiser, schedule, random state, history, best."""
        trained_on = (checkpoint.get("data") or {}).get("train_fingerprint")
        if trained_on is not None and trained_on != self.provenance["train_fingerprint"]:
            raise ValueError(
                f"{source} was trained on other digits ({checkpoint['data'].get('description')}); "
                "resume it with the same data, or start a new run without resume_from."
            )
        load_weights(self.model, checkpoint, source=source)
        self.optimizer.load_state_dict(checkpoint["optimizer_state"])
        self.scheduler.load_state_dict(checkpoint["scheduler_state"])
        if self.scaler is not None and checkpoint.get("scaler_state"):
            self.scaler.load_state_dict(checkpoint["scaler_state"])
        restore_rng_state(checkpoint["rng_state"], self.generator)
        self.history = History(checkpoint["history"])
        self.epoch = checkpoint["epoch"]
        self.best.restore(checkpoint["best"], checkpoint.get("best_model_state"))

    def batches(self, *, validation: bool = False) -> Iterator[Batch]:
        """One epoch of fresh training batches, or the validation batches (the same every epoch)."""
        config, digits = self.config, self.on_device
        if validation:
            images, labels = digits.val_images, digits.val_labels
            generator = torch.Generator().manual_seed(config.seed + 1)
        else:
            images, labels, generator = digits.train_images, digits.train_labels, self.generator
        return epoch_batches(
            config.batches,
            images,
            labels,
            batch_size=config.batch_size,
            generator=generator,
            positive_fraction=config.positive_fraction,
            augmentation=config.augmentation,
        )

    def amp(self) -> dict[str, Any]:
        """The mixed-precision plumbing `train_step` takes: autocast policy and gradient scaler."""
        return {"precision": self.precision, "scaler": self.scaler}

    def validate(self, loss_fn: nn.Module) -> dict[str, float]:
        """Validation loss and validation 1-NN accuracy of the model as it is now."""
        return {
            "val_loss": validation_loss(self.model, loss_fn, self.batches(validation=True)),
            "val_1nn": validation_1nn(self.model, self.on_device),
        }

    def record(self, row: dict[str, Any]) -> bool:
        """Add a finished epoch to the history; True when it is the best so far."""
        self.history.append(row)
        self.epoch = row["epoch"]
        return self.best.update(row, self.model)

    def checkpoint(self, epoch: int) -> dict[str, Any]:
        """Everything a checkpoint holds after `epoch`: the one place its contents are gathered."""
        return make_checkpoint(
            self.model,
            epoch=epoch,
            config=self.config.to_dict(),
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            scaler=self.scaler,
            history=self.history,
            best=self.best.summary(),
            best_model_state=self.best.state,
            generator=self.generator,
            data=self.provenance,
        )

    def finish(self, **outcome: Any) -> FitResult:
        """Load the best weights into the model (eval mode) and hand back the result."""
        final_state = copy_state(self.model.state_dict())
        self.model.load_state_dict(self.best.state)
        self.model.eval()
        return FitResult(
            model=self.model,
            history=self.history,
            best_epoch=self.best.epoch,
            best_metric=self.best.metric,
            best_value=self.best.value,
            final_state=final_state,
            **outcome,
        )


_SPLITS = ("train_images", "train_labels", "val_images", "val_labels")


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

    Taught in 04_training. The model trains on the device it sits on (move it first); the digits
    move there once, as uint8. Adam with a StepLR schedule (the source's step 10, gamma 0.1 by
    default). With `checkpoint_dir`, best.pt, last.pt and every `checkpoint_every` epochs
    epoch_NNN.pt are written. With `resume_from`, training continues from that checkpoint (its
    config too, unless `config` is given) and ends as an uninterrupted run would. Ctrl-C stops
    cleanly: the finished epochs' history comes back and their checkpoints stay as they were.
    `progress` prints one line per epoch as it ends. `on_epoch_end(epoch, model)` is called after
    each epoch's validation, for example to keep embeddings for an animation.
    """
    checkpoint = load_checkpoint(resume_from) if resume_from is not None else None
    if config is None:
        config = TrainConfig.from_dict(checkpoint["config"]) if checkpoint else TrainConfig()
    check_loss_reads(loss_fn, config.batches)
    run = _Run.start(model, config, digits)
    if checkpoint is not None:
        run.resume(checkpoint, source=resume_from)
    forward = CompiledOrEager(model) if config.compile else model
    clock = TrainingClock(config.time_budget_s, device=next(model.parameters()).device)
    files = CheckpointFiles(checkpoint_dir, resumed=checkpoint is not None)
    lines = ProgressLines(config.epochs, enabled=progress)
    interrupted = False
    try:
        for epoch in range(run.epoch + 1, config.epochs + 1):
            trained = train_epoch(
                forward, loss_fn, run.batches(), run.optimizer, clock=clock, **run.amp()
            )
            if trained["steps"] == 0:
                break  # the time budget ran out before this epoch's first step
            row = {"epoch": epoch, **trained, "lr": run.scheduler.get_last_lr()[0]}
            run.scheduler.step()
            row.update(run.validate(loss_fn), stopped_early=clock.reached)
            improved = run.record(row)
            files.save(
                run.checkpoint, epoch=epoch, improved=improved, every=config.checkpoint_every
            )
            lines.epoch(row)
            if on_epoch_end is not None:
                on_epoch_end(epoch, model)
            if clock.reached:
                break
    except KeyboardInterrupt:
        interrupted = True  # the finished epochs' history and checkpoints stay as they are
        lines.interrupted(len(run.history))
    return run.finish(
        checkpoints=files.paths, interrupted=interrupted, budget_reached=clock.reached
    )

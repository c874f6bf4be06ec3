"""What `fit` keeps track of around its training steps: the history, the clock and its time
budget, the best weights so far, the checkpoint files, and one progress line per epoch.

Each is a small object `helpers.training.fit` calls at fixed points, so `fit` itself reads like
the hand-written loop of 04_training. Nothing here trains or builds a checkpoint's contents.

Taught in 04_training.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from helpers.checkpoints import copy_state, save_checkpoint

if TYPE_CHECKING:
    import pandas as pd

BEST_METRICS = {"val_1nn": "max", "val_loss": "min", "train_loss": "min"}


class History(list):
    """One dict per epoch: epoch, train_loss, steps, examples, images, seconds, val_loss, val_1nn,
    lr, stopped_early.

    `seconds` counts training steps only (validation not included); `examples` the rows of the
    batches (pairs, images, or pairs of views), `images` the images through the network;
    `stopped_early` marks an epoch cut short by the time budget.
    """

    def to_frame(self) -> pd.DataFrame:
        """The history as a DataFrame indexed by epoch."""
        import pandas as pd

        return pd.DataFrame(list(self)).set_index("epoch") if self else pd.DataFrame()


class TrainingClock:
    """Seconds spent in training steps (validation not counted), and an optional budget for them.

    `start` and `stop` bracket an epoch's steps; `exhausted` is asked before every step, so a
    budget is overshot by one step at most. On a GPU `stop` waits for queued work first, so the
    seconds are real.
    """

    def __init__(
        self, budget_s: float | None = None, *, device: torch.device | None = None
    ) -> None:
        self.budget_s = budget_s
        self.device = device
        self.spent_s = 0.0
        self.reached = False
        self._started = 0.0

    def start(self) -> None:
        self._started = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since `start` (not yet added to `spent_s`)."""
        return time.perf_counter() - self._started

    def exhausted(self) -> bool:
        """True once this call's training seconds reach the budget (never without one)."""
        if self.budget_s is not None and not self.reached:
            self.reached = self.spent_s + self.elapsed() >= self.budget_s
        return self.reached

    def stop(self) -> float:
        """The seconds since `start`, added to the total."""
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - self._started
        self.spent_s += seconds
        return seconds


class BestWeights:
    """The best epoch by one metric of the history, and a real copy of its weights.

    Taught in 04_training: `model.state_dict()` returns the live tensors, so the best weights must
    be copied when they are seen (the source material's "best" file held the last weights).
    """

    def __init__(self, metric: str, model: nn.Module) -> None:
        if metric not in BEST_METRICS:
            raise ValueError(f"best_metric must be one of {sorted(BEST_METRICS)}, got {metric!r}.")
        self.metric = metric
        self.epoch: int | None = None
        self.value: float | None = None
        self.state = copy_state(model.state_dict())

    def update(self, row: dict[str, Any], model: nn.Module) -> bool:
        """Keep `model`'s weights if the epoch in `row` beats the best so far; True when it did."""
        value = row[self.metric]
        if self.value is None:
            better = not math.isnan(value)
        else:
            better = (
                value > self.value if BEST_METRICS[self.metric] == "max" else value < self.value
            )
        if better:
            self.epoch, self.value = row["epoch"], value
            self.state = copy_state(model.state_dict())
        return better

    def summary(self) -> dict[str, Any]:
        """Plain values for a checkpoint: epoch, metric and value."""
        return {"epoch": self.epoch, "metric": self.metric, "value": self.value}

    def restore(self, saved: dict[str, Any], state: dict[str, torch.Tensor] | None) -> None:
        """Take back what `summary` and the checkpoint's best weights saved."""
        self.epoch, self.value = saved.get("epoch"), saved.get("value")
        if state is not None:
            self.state = copy_state(state)


class CheckpointFiles:
    """best.pt, last.pt and epoch_NNN.pt in one folder (or nothing, without a folder).

    Each file is written atomically by `helpers.checkpoints.save_checkpoint`, so a run stopped
    at any moment leaves the previous good file in place. `paths` says what was written.
    """

    def __init__(self, folder: str | Path | None, *, resumed: bool = False) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.paths: dict[str, Any] = {"best": None, "last": None, "every": []}
        if self.folder is not None and resumed:  # files of the run being resumed still count
            for name in ("best", "last"):
                if (self.folder / f"{name}.pt").is_file():
                    self.paths[name] = self.folder / f"{name}.pt"

    def save(
        self,
        build: Callable[[int], dict[str, Any]],
        *,
        epoch: int,
        improved: bool,
        every: int | None = None,
    ) -> None:
        """After an epoch: last.pt always, best.pt when it `improved`, epoch_NNN.pt every N epochs.

        `build(epoch)` makes the checkpoint dict, once, only when there is a folder to write to.
        """
        if self.folder is None:
            return
        checkpoint = build(epoch)
        if improved:
            self.paths["best"] = save_checkpoint(self.folder / "best.pt", checkpoint)
        self.paths["last"] = save_checkpoint(self.folder / "last.pt", checkpoint)
        if every and epoch % every == 0:
            self.paths["every"].append(
                save_checkpoint(self.folder / f"epoch_{epoch:03d}.pt", checkpoint)
            )


def epoch_line(row: dict[str, Any], *, epochs: int) -> str:
    """One epoch as one line of fixed layout, e.g.
    `epoch  3/10  train loss 0.2184  val loss 0.2411  val 1-NN 0.962  2.4 s`.

    The layout never changes, so a notebook's output differs only in its numbers.
    """
    width = len(str(epochs))
    line = (
        f"epoch {row['epoch']:>{width}}/{epochs}  train loss {row['train_loss']:.4f}  "
        f"val loss {row['val_loss']:.4f}  val 1-NN {row['val_1nn']:.3f}  {row['seconds']:.1f} s"
    )
    return line + ("  (time budget reached)" if row.get("stopped_early") else "")


class ProgressLines:
    """Prints `epoch_line` as each epoch ends (plain text: the same live, in a terminal, in
    JupyterLab, Colab and GitHub's notebook viewer), or nothing when disabled."""

    def __init__(self, epochs: int, *, enabled: bool = True) -> None:
        self.epochs = epochs
        self.enabled = enabled

    def epoch(self, row: dict[str, Any]) -> None:
        if self.enabled:
            print(epoch_line(row, epochs=self.epochs), flush=True)

    def interrupted(self, finished: int) -> None:
        if self.enabled:
            print(f"stopped by Ctrl-C; {finished} finished epochs kept", flush=True)

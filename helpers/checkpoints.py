"""Checkpoints that rebuild a model without the notebook: save atomically, load with weights_only.

A checkpoint is one dict of plain values and tensors, so `torch.load(..., weights_only=True)` can
read it (nothing in it runs code when loaded):

- ``format_version``, ``model_class``, ``model_config`` (the arguments that rebuild the network),
- ``model_state``, ``optimizer_state``, ``scheduler_state``, ``scaler_state``,
- ``epoch`` (epochs completed), ``config`` (the `TrainConfig` as a dict), ``history`` (one dict
  of metrics per epoch), ``metrics`` (the last epoch's), ``best`` (epoch, metric, value),
- ``rng_state`` (torch's global generator, CUDA's, and the pair generator), and
  ``best_model_state`` so an interrupted run can resume and still hand back its best weights.

Taught in 04_training.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from helpers import model as model_module

FORMAT_VERSION = 1
REQUIRED_KEYS = ("format_version", "model_class", "model_config", "model_state", "epoch", "config")


def copy_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A real copy of a state dict (on the CPU): later training steps cannot change it.

    Taught in 04_training: `net.state_dict()` returns references to the live tensors, which is why
    the source material's "best" file held the last weights.
    """
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in state.items()}


def rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """The random state a resumed run needs: torch's global one, CUDA's, and the pair generator."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def restore_rng_state(state: dict[str, Any], generator: torch.Generator | None = None) -> None:
    """Put back what `rng_state` saved (CUDA's only where the GPUs still exist)."""
    torch.set_rng_state(state["torch"])
    cuda_state = state.get("cuda")
    if cuda_state and torch.cuda.is_available() and len(cuda_state) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_state)
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])


def save_checkpoint(path: str | Path, checkpoint: dict[str, Any]) -> Path:
    """Write a checkpoint dict atomically: to a temporary file first, then renamed over `path`.

    Taught in 04_training. A crash mid-write leaves the old file intact, never half a file.
    """
    path = Path(path)
    missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
    if missing:
        raise ValueError(f"A checkpoint needs the keys {missing}; build it with make_checkpoint.")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with open(partial, "wb") as handle:
            torch.save(checkpoint, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def make_checkpoint(
    model: nn.Module,
    *,
    epoch: int,
    config: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    scaler: Any = None,
    history: list[dict[str, Any]] | None = None,
    best: dict[str, Any] | None = None,
    best_model_state: dict[str, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, Any]:
    """Gather everything a checkpoint holds into one dict of plain values and tensors."""
    history = [dict(row) for row in (history or [])]
    model_config = model.config() if hasattr(model, "config") else {}
    return {
        "format_version": FORMAT_VERSION,
        "model_class": type(model).__name__,
        "model_config": dict(model_config),
        "model_state": copy_state(model.state_dict()),
        "optimizer_state": None if optimizer is None else optimizer.state_dict(),
        "scheduler_state": None if scheduler is None else scheduler.state_dict(),
        "scaler_state": None if scaler is None else scaler.state_dict(),
        "epoch": int(epoch),
        "config": dict(config),
        "history": history,
        "metrics": dict(history[-1]) if history else {},
        "best": dict(best or {}),
        "best_model_state": None if best_model_state is None else copy_state(best_model_state),
        "rng_state": rng_state(generator),
    }


def load_checkpoint(
    path: str | Path, *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint with `weights_only=True`, with errors that name the file and the fix.

    Taught in 04_training.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such checkpoint. Train with fit(..., checkpoint_dir=...) to write one, "
            "or check the path (fit writes best.pt, last.pt and epoch_NNN.pt)."
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path} could not be read as a checkpoint ({type(error).__name__}); it is truncated, "
            "corrupted or not a checkpoint of this series. Delete it and train again, or load "
            "another checkpoint such as last.pt."
        ) from None
    if not isinstance(checkpoint, dict) or any(key not in checkpoint for key in REQUIRED_KEYS):
        raise ValueError(
            f"{path} is a torch file but not a checkpoint of this series (it lacks "
            f"{', '.join(REQUIRED_KEYS)}). Save checkpoints with fit(..., checkpoint_dir=...)."
        )
    if checkpoint["format_version"] != FORMAT_VERSION:
        raise ValueError(
            f"{path} has checkpoint format {checkpoint['format_version']}, this helpers package "
            f"reads format {FORMAT_VERSION}. Train again to write a current checkpoint."
        )
    return checkpoint


def load_weights(model: nn.Module, checkpoint: dict[str, Any], *, key: str = "model_state") -> None:
    """Load a checkpoint's weights into `model`, with a clear error when the shapes differ."""
    state = checkpoint.get(key)
    if state is None:
        raise ValueError(f"This checkpoint holds no {key!r}.")
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first_line = str(error).splitlines()[1].strip() if "\n" in str(error) else str(error)
        raise ValueError(
            f"The checkpoint's weights do not fit this {type(model).__name__} ({first_line}). "
            f"It was saved from {checkpoint['model_class']}({checkpoint['model_config']}); build "
            "that network, or use rebuild_model(path)."
        ) from None


def rebuild_model(path: str | Path, *, map_location: str | torch.device = "cpu") -> nn.Module:
    """Build the saved network from its class name and arguments and load its weights (eval mode).

    Taught in 04_training: no notebook code is needed to get a trained model back.
    """
    checkpoint = load_checkpoint(path, map_location=map_location)
    model_class = getattr(model_module, checkpoint["model_class"], None)
    if not (isinstance(model_class, type) and issubclass(model_class, nn.Module)):
        raise ValueError(
            f"{path} holds a {checkpoint['model_class']}, which helpers.model does not define; "
            "build that network yourself and call load_weights(model, load_checkpoint(path))."
        )
    model = model_class(**checkpoint["model_config"])
    load_weights(model, checkpoint)
    return model.eval()

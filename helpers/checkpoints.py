"""Checkpoints that rebuild a model without the notebook: save atomically, load with weights_only.

A checkpoint is one dict of plain values and tensors, so `torch.load(..., weights_only=True)` can
read it (nothing in it runs code when loaded):

- ``format_version``, ``model_class``, ``model_config`` (the arguments that rebuild the network),
- ``model_state``, ``optimizer_state``, ``scheduler_state``, ``scaler_state``,
- ``epoch`` (epochs completed), ``config`` (the `TrainConfig` as a dict), ``history`` (one dict
  of metrics per epoch), ``metrics`` (the last epoch's), ``best`` (epoch, metric, value),
- ``rng_state`` (torch's global generator, CUDA's, and the pair generator), and
  ``best_model_state`` so an interrupted run can resume and still hand back its best weights,
- ``data``: `Digits.provenance()` of the training digits (source, fingerprints, one content hash
  per training image), so `check_held_out` can tell whether digits were held out from training.

Taught in 04_training; `check_held_out` in 05_embedding_space.
"""

from __future__ import annotations

import errno
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from helpers import model as model_module
from helpers.data import Digits, content_hashes, fingerprint
from helpers.files import atomic_write, require_file

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


def _save_error(error: OSError, path: Path) -> OSError:
    """The same kind of OSError, with a sentence naming the folder and saying what to do."""
    folder = path.parent
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "the disk is full"
        action = "free some space or pass another checkpoint folder"
    elif error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        reason = "the folder is read-only or not writable"
        action = "pass a writable checkpoint folder (checkpoint_dir=...)"
    else:
        reason = f"{error.strerror or error}"
        action = "check the folder and try again"
    detail = error.strerror or str(error) or type(error).__name__
    return OSError(
        error.errno,
        f"Could not save the checkpoint {path.name} in the folder {folder}: {reason} ({detail}). "
        f"Nothing was changed there: any previous {path.name} is untouched; {action}.",
    )


def save_checkpoint(path: str | Path, checkpoint: dict[str, Any]) -> Path:
    """Write a checkpoint dict atomically: to a temporary file first, then renamed over `path`.

    Taught in 04_training. A crash mid-write leaves the old file intact, never half a file: the
    bytes go to a temporary file in the same folder (see `helpers.files.atomic_write`), are
    fsynced, renamed over `path` with `os.replace`, and the folder itself is fsynced. Temporary
    files that killed writers left for the same name are removed after a successful save. A full
    disk or a read-only folder raises an OSError naming the folder; the old file stays as it was.
    """
    path = Path(path)
    missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
    if missing:
        raise ValueError(f"A checkpoint needs the keys {missing}; build it with make_checkpoint.")
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)  # serialise first: a bad value fails before any file is made
    try:
        return atomic_write(path, buffer.getbuffer())
    except OSError as error:
        raise _save_error(error, path) from error


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
    data: Digits | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Gather everything a checkpoint holds into one dict of plain values and tensors.

    `data` is the training `Digits` (or its `provenance()`, computed once by the caller); the
    checkpoint keeps the provenance under ``"data"`` for `check_held_out`.
    """
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
        "data": _data_record(data),
    }


_RECORD_TYPES = {"source": str, "train_fingerprint": str, "train_hashes": torch.Tensor}


def _data_record(data: Digits | dict[str, Any] | None) -> dict[str, Any] | None:
    """The provenance a checkpoint stores, checked: plain values and one int64 tensor."""
    if data is None:
        return None
    record = dict(data.provenance() if isinstance(data, Digits) else data)
    wrong = [key for key, kind in _RECORD_TYPES.items() if not isinstance(record.get(key), kind)]
    if wrong or record["train_hashes"].dtype != torch.int64 or record["train_hashes"].ndim != 1:
        raise ValueError(
            f"data= needs the training Digits or their provenance() (a dict with source, "
            f"train_fingerprint and train_hashes, an int64 tensor); {wrong or ['train_hashes']} "
            "did not fit."
        )
    record["train_hashes"] = record["train_hashes"].detach().cpu()
    return record


_FIELD_TYPES = {
    "format_version": int,
    "model_class": str,
    "model_config": dict,
    "model_state": dict,
    "epoch": int,
    "config": dict,
}


def _unreadable(path: Path, error: Exception) -> ValueError:
    """The error for a file torch cannot read back: refused code, or damaged bytes."""
    text = str(error)
    refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if refused:
        return ValueError(
            f"{path} was refused: loading it would call {refused.group(1)}, and a checkpoint of this series "
            "holds only tensors and plain values. torch.load(..., weights_only=True) stopped it "
            "before anything ran. Do not load this file unless you trust whoever made it; train "
            "again to get a checkpoint you can share."
        )
    return ValueError(
        f"{path} could not be read as a checkpoint ({type(error).__name__}); it is truncated, "
        "corrupted or not a checkpoint of this series. Delete it and train again, or load "
        "another checkpoint such as last.pt."
    )


def _failed_crc(path: Path) -> str | None:
    """The first record of a torch zip file whose CRC-32 does not match, or None.

    torch.load does not check these CRCs: a flipped byte inside a tensor loads silently as a
    wrong weight. Python's zipfile does check them. Files that are not zip archives pass here
    and are judged by torch.load.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return None  # not a readable zip archive: torch.load gives the error


def load_checkpoint(
    path: str | Path, *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint with `weights_only=True`, with errors that name the file and the fix.

    Taught in 04_training. A missing file raises FileNotFoundError; an empty, truncated,
    corrupted or foreign file, or one whose pickle would run code, raises ValueError (nothing in
    the file runs: `weights_only=True` allows tensors and plain values only).
    """
    path = require_file(
        path,
        missing="no such checkpoint. Train with fit(..., checkpoint_dir=...) to write one, "
        "or check the path (fit writes best.pt, last.pt and epoch_NNN.pt).",
        empty=": a save into it never finished. Delete it and train again, or load another "
        "checkpoint such as last.pt.",
    )
    damaged = _failed_crc(path)
    if damaged:
        raise ValueError(
            f"{path} is corrupted: its record {damaged} fails the CRC check stored in the file, "
            "so some bytes changed after it was written. Delete it and train again, or load "
            "another checkpoint such as last.pt."
        )
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # damaged bytes fail in many ways (EOF, zip, pickle, KeyError)
        raise _unreadable(path, error) from None
    if not isinstance(checkpoint, dict) or any(key not in checkpoint for key in REQUIRED_KEYS):
        bare_state = isinstance(checkpoint, dict) and all(
            isinstance(value, torch.Tensor) for value in checkpoint.values()
        )
        hint = (
            " It looks like a bare state_dict: load it with "
            "model.load_state_dict(torch.load(path, weights_only=True))."
            if bare_state and checkpoint
            else ""
        )
        raise ValueError(
            f"{path} is a torch file but not a checkpoint of this series (it lacks "
            f"{', '.join(REQUIRED_KEYS)}). Save checkpoints with fit(..., checkpoint_dir=...).{hint}"
        )
    for key, kind in _FIELD_TYPES.items():
        if not isinstance(checkpoint[key], kind) or isinstance(checkpoint[key], bool):
            raise ValueError(
                f"{path}: {key!r} should be a {kind.__name__}, the file has "
                f"{type(checkpoint[key]).__name__}; it is not a checkpoint this package wrote."
            )
    if checkpoint["format_version"] != FORMAT_VERSION:
        raise ValueError(
            f"{path} has checkpoint format {checkpoint['format_version']}, this helpers package "
            f"reads format {FORMAT_VERSION}. Train again to write a current checkpoint."
        )
    return checkpoint


def _mismatch(model: nn.Module, checkpoint: dict[str, Any]) -> str:
    """What differs between `model` and the network the checkpoint was saved from, or ''."""
    saved_class = checkpoint.get("model_class")
    if saved_class != type(model).__name__:
        return f"expected a {type(model).__name__}, the file has a {saved_class}"
    ours = model.config() if hasattr(model, "config") else {}
    theirs = checkpoint.get("model_config") or {}
    differences = [
        f"expected {name} {ours[name]}, the file has {theirs[name]}"
        for name in ours
        if name in theirs and ours[name] != theirs[name] and name != "dropout"
    ]
    return "; ".join(differences)


def load_weights(
    model: nn.Module,
    checkpoint: dict[str, Any],
    *,
    key: str = "model_state",
    source: str | Path | None = None,
) -> None:
    """Load a checkpoint's weights into `model`, with a clear error when the shapes differ.

    `source` (the checkpoint's path) is named in the error; a different class or embedding size
    is spelled out ("expected embedding_dim 64, the file has 32").
    """
    where = f"{source}" if source is not None else "The checkpoint"
    state = checkpoint.get(key)
    if state is None:
        raise ValueError(f"{where} holds no {key!r}.")
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as error:
        lines = str(error).splitlines()
        first_line = lines[1].strip() if len(lines) > 1 else str(error)
        mismatch = _mismatch(model, checkpoint)
        raise ValueError(
            f"{where}: the weights do not fit this {type(model).__name__} "
            f"({mismatch + '; ' if mismatch else ''}{first_line}). It was saved from "
            f"{checkpoint.get('model_class')}({checkpoint.get('model_config')}); build that "
            "network, or use rebuild_model(path)."
        ) from None


def rebuild_model(path: str | Path, *, map_location: str | torch.device = "cpu") -> nn.Module:
    """Build the saved network from its class name and arguments and load its weights (eval mode).

    Taught in 04_training: no notebook code is needed to get a trained model back. Only classes
    defined in helpers.model are built.
    """
    checkpoint = load_checkpoint(path, map_location=map_location)
    model_class = getattr(model_module, checkpoint["model_class"], None)
    if not (
        isinstance(model_class, type)
        and issubclass(model_class, nn.Module)
        and model_class.__module__ == model_module.__name__
    ):
        raise ValueError(
            f"{path} holds a {checkpoint['model_class']}, which helpers.model does not define; "
            "build that network yourself and call load_weights(model, load_checkpoint(path))."
        )
    try:
        model = model_class(**checkpoint["model_config"])
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{path}: its model_config {checkpoint['model_config']} does not build a "
            f"{model_class.__name__} ({error})."
        ) from None
    load_weights(model, checkpoint, source=path)
    return model.eval()


# --- evaluation digits held out from training -----------------------------------------------------


class EvaluationDataError(ValueError):
    """A checkpoint cannot be scored honestly on these digits: it trained on them, or may have.

    ``overlap`` is how many of the evaluation digits it trained on (None: no record to tell).
    Taught in 05_embedding_space.
    """

    def __init__(self, message: str, *, overlap: int | None) -> None:
        super().__init__(message)
        self.overlap = overlap


SPLITS = ("val", "test")


def check_held_out(
    checkpoint: str | Path | dict[str, Any],
    digits: Digits,
    *,
    splits: tuple[str, ...] = SPLITS,
) -> str:
    """Say in one sentence that `digits`' evaluation splits were held out from the checkpoint's
    training, or raise EvaluationDataError saying how many it trained on and what to do instead.

    Taught in 05_embedding_space. Compares the content hashes of the evaluation images with the
    ones the checkpoint recorded for its training images, so overlaps across sources are found
    too (the offline sample is part of MNIST's training set; Kaggle's CSV is MNIST). The
    checkpoint's own validation and test digits always pass, even when the source itself holds a
    few identical images on both sides. A missing file raises FileNotFoundError.
    """
    name = str(checkpoint) if isinstance(checkpoint, (str, Path)) else "the checkpoint"
    if isinstance(checkpoint, (str, Path)):
        checkpoint = load_checkpoint(checkpoint)
    if not splits or any(split not in SPLITS for split in splits):
        raise ValueError(f"splits={splits!r}: choose from {SPLITS}.")
    hashes = {split: content_hashes(getattr(digits, f"{split}_images")) for split in splits}
    parts = " and ".join("validation" if split == "val" else split for split in splits)
    evaluated = f"{sum(len(h) for h in hashes.values()):,} {parts} digits"
    here = digits.loaded_by or f"the {digits.source!r} digits"
    record = checkpoint.get("data")
    if record is None:
        if checkpoint.get("epoch") == 0:
            return f"{name} is untrained (epoch 0): it has seen no digit yet."
        raise EvaluationDataError(
            f"{name} holds no record of the digits it was trained on (saved by an older helpers, "
            "or by make_checkpoint without data=), so nothing shows that these "
            f"{evaluated} were held out from its training. Retrain a network here on these "
            "digits (training.fit records them in every checkpoint) and evaluate that one.",
            overlap=None,
        )
    record = _data_record(record)
    own = {record.get("val_fingerprint"), record.get("test_fingerprint")}
    overlap = sum(
        int(torch.isin(values, record["train_hashes"]).sum())
        for values in hashes.values()
        if fingerprint(values) not in own  # its own held-out digits: held out by construction
    )
    origin = record.get("loaded_by") or f"the {record['source']!r} digits"
    trained = f"{len(record['train_hashes']):,} training digits of {origin}"
    if overlap:
        raise EvaluationDataError(
            f"{name} was trained on {trained}, and {overlap:,} of the {evaluated} of {here} "
            "are among them: its scores on them would measure memory, not generalisation. "
            f"Evaluate it on the digits it held out (digits = {origin}), or retrain a network "
            "here on these digits (training.fit(..., digits, ...)) and evaluate that one.",
            overlap=overlap,
        )
    return f"{name}: none of the {evaluated} of {here} is among its {trained}; they are held out."

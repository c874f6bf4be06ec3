"""Where the series runs: device choice, seeding, mixed precision and DataLoader settings.

Taught in 01_modalities (the setup cell every notebook shares).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


def _mps_is_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(
    *,
    prefer: str | None = None,
    cuda_available: Callable[[], bool] | None = None,
    mps_available: Callable[[], bool] | None = None,
) -> torch.device:
    """Pick CUDA, then Apple MPS, then the CPU; `prefer="cpu"` forces a device.

    The availability checks are arguments so the decision can be tested on a machine without a GPU.
    """
    cuda_available = cuda_available or torch.cuda.is_available
    mps_available = mps_available or _mps_is_available
    if prefer is not None:
        known = {"cpu", "cuda", "mps"}
        if prefer not in known:
            raise ValueError(
                f"prefer={prefer!r} is not a device this series knows; use one of {sorted(known)}."
            )
        if prefer == "cuda" and not cuda_available():
            raise ValueError(
                "prefer='cuda' was asked for, but no CUDA GPU is visible; leave prefer=None."
            )
        if prefer == "mps" and not mps_available():
            raise ValueError(
                "prefer='mps' was asked for, but Apple MPS is not available; leave prefer=None."
            )
        return torch.device(prefer)
    if cuda_available():
        return torch.device("cuda")
    if mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device: torch.device) -> str:
    """One line naming the device the notebook will use (with the GPU's name on CUDA)."""
    if device.type == "cuda":
        return f"Using CUDA GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Using Apple MPS GPU"
    return f"Using CPU ({torch.get_num_threads()} threads)"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (every device) in one call."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)


def setup(seed: int = 0, *, prefer: str | None = None) -> torch.device:
    """Seed everything, pick the device and print one line saying which: a notebook's setup call."""
    seed_everything(seed)
    device = pick_device(prefer=prefer)
    print(describe_device(device))
    return device


@dataclass(frozen=True)
class AmpPolicy:
    """Mixed-precision settings for one device: autocast on/off, its dtype, and a GradScaler."""

    enabled: bool
    dtype: torch.dtype
    use_scaler: bool


def amp_policy(device: torch.device) -> AmpPolicy:
    """fp16 autocast with a gradient scaler on CUDA (a T4 has no bf16); off on CPU and MPS."""
    if device.type == "cuda":
        return AmpPolicy(enabled=True, dtype=torch.float16, use_scaler=True)
    return AmpPolicy(enabled=False, dtype=torch.float32, use_scaler=False)


def loader_settings(device: torch.device) -> dict[str, object]:
    """DataLoader keyword arguments that suit the device.

    Pinned memory only helps copies to a CUDA GPU (on the CPU it only warns). The data of this
    series fits in memory as one tensor, so worker processes would add start-up cost and no speed:
    `num_workers=0`, and therefore no `prefetch_factor` (it is an error without workers).
    """
    return {"pin_memory": device.type == "cuda", "num_workers": 0}

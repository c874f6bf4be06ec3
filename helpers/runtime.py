"""Where the series runs: device choice, seeding, and the speed plumbing of training (mixed
precision, `torch.compile` with a fallback).

Taught in 01_modalities (the setup cell every notebook shares) and 04_training (speed options).
"""

from __future__ import annotations

import os
import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


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


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def cpu_runs_bf16_natively() -> bool:
    """True when this CPU has bfloat16 instructions (AVX-512 BF16 or AMX), so bf16 is not emulated."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


@dataclass(frozen=True)
class AmpPolicy:
    """Mixed precision on one device: the autocast dtype (float32 means off) and a GradScaler or not."""

    device_type: str
    dtype: torch.dtype
    use_scaler: bool

    @property
    def enabled(self) -> bool:
        return self.dtype != torch.float32

    def autocast(self) -> torch.autocast:
        """The context a forward pass and its loss run in."""
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.enabled)

    def scaler(self) -> torch.amp.GradScaler | None:
        """A GradScaler for fp16 (small gradients would round to zero without it), else None."""
        return torch.amp.GradScaler(self.device_type) if self.use_scaler else None


def amp_policy(
    device: torch.device,
    *,
    precision: str = "auto",
    native_bf16: Callable[[], bool] | None = None,
) -> AmpPolicy:
    """Mixed precision for `device`: "auto", "fp32", "bf16" or "fp16".

    Taught in 04_training. "auto" picks fp16 autocast with a gradient scaler on CUDA (a T4 has no
    fast bf16), bf16 autocast on a CPU with bfloat16 instructions (where it is faster than fp32;
    an emulated bf16 would be slower), and fp32 everywhere else. `native_bf16` is an argument so
    the choice can be tested on any machine.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is unknown; use one of {PRECISIONS}.")
    native_bf16 = native_bf16 or cpu_runs_bf16_natively
    kind = device.type
    if precision == "auto":
        if kind == "cuda":
            precision = "fp16"
        else:
            precision = "bf16" if kind == "cpu" and native_bf16() else "fp32"
    if precision == "fp16" and kind != "cuda":
        raise ValueError(
            f"precision='fp16' needs a CUDA GPU (it was asked for on {kind}); use 'bf16' or 'fp32'."
        )
    if precision == "bf16" and kind not in ("cpu", "cuda"):
        raise ValueError(f"precision='bf16' runs on a CPU or a CUDA GPU, not {kind}; use 'fp32'.")
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return AmpPolicy(device_type=kind, dtype=dtype, use_scaler=precision == "fp16")


class CompiledOrEager:
    """`torch.compile(model)` that falls back to the model itself, with a warning, if compiling fails.

    Taught in 04_training. Compilation happens at the first call; when it fails there (no C++
    compiler, an unsupported Python), that call and every later one run the model as it is.
    `error` holds the reason, or None while the compiled model works.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.error: str | None = None
        try:
            self.compiled: Callable[..., torch.Tensor] | None = torch.compile(model)
        except Exception as error:  # torch.compile itself refused (an unsupported Python)
            self.compiled = None
            self._fall_back(error)

    def _fall_back(self, error: Exception) -> None:
        self.error = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
        warnings.warn(f"torch.compile failed, training without it: {self.error}", stacklevel=3)

    def train(self, mode: bool = True) -> CompiledOrEager:
        """Train or eval mode for the model underneath (as `nn.Module.train`)."""
        self.model.train(mode)
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.compiled is not None:
            try:
                return self.compiled(x)
            except Exception as error:  # the compiler failed at its first call
                self.compiled = None
                self._fall_back(error)
        return self.model(x)

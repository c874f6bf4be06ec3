"""Device choice, seeding, mixed precision and DataLoader settings."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from helpers import runtime


def yes() -> bool:
    return True


def no() -> bool:
    return False


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(yes, yes, "cuda"), (yes, no, "cuda"), (no, yes, "mps"), (no, no, "cpu")],
)
def test_pick_device_order(cuda, mps, expected):
    assert runtime.pick_device(cuda_available=cuda, mps_available=mps).type == expected


def test_pick_device_on_this_machine_is_cpu():
    assert runtime.pick_device().type == "cpu"


def test_prefer_cpu_even_with_a_gpu():
    assert runtime.pick_device(prefer="cpu", cuda_available=yes).type == "cpu"


def test_prefer_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA GPU is visible"):
        runtime.pick_device(prefer="cuda", cuda_available=no)


def test_prefer_unknown_device():
    with pytest.raises(ValueError, match="'tpu' is not a device"):
        runtime.pick_device(prefer="tpu")


def test_describe_cuda_names_the_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    assert runtime.describe_device(torch.device("cuda")) == "Using CUDA GPU: Tesla T4"


def test_setup_prints_one_line_and_returns_cpu(capsys):
    device = runtime.setup(seed=3)
    out = capsys.readouterr().out
    assert device.type == "cpu"
    assert out.count("\n") == 1 and out.startswith("Using CPU (")


def test_seed_everything_repeats_python_numpy_torch():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    runtime.seed_everything(7)
    first = draw()
    runtime.seed_everything(7)
    assert draw() == first


def test_seed_must_be_non_negative_int():
    with pytest.raises(ValueError, match="non-negative integer"):
        runtime.seed_everything(-1)


def test_amp_policy_fp16_with_scaler_on_cuda_only():
    cuda = runtime.amp_policy(torch.device("cuda"))
    assert cuda.enabled and cuda.dtype == torch.float16 and cuda.use_scaler
    for name in ("cpu", "mps"):
        policy = runtime.amp_policy(torch.device(name))
        assert not policy.enabled and not policy.use_scaler


def test_loader_settings_pin_memory_only_for_cuda():
    assert runtime.loader_settings(torch.device("cuda"))["pin_memory"] is True
    cpu = runtime.loader_settings(torch.device("cpu"))
    assert cpu["pin_memory"] is False and cpu["num_workers"] == 0 and "prefetch_factor" not in cpu
    # the settings are valid DataLoader arguments on this machine, with no warning about pinning
    loader = torch.utils.data.DataLoader(list(range(4)), batch_size=2, **cpu)
    assert [batch.tolist() for batch in loader] == [[0, 1], [2, 3]]

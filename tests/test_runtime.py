"""Device choice, seeding, mixed precision and torch.compile with its fallback."""

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


def test_amp_policy_auto_is_fp16_with_a_scaler_on_cuda_and_bf16_only_on_native_cpus():
    cuda = runtime.amp_policy(torch.device("cuda"))
    assert cuda.enabled and cuda.dtype == torch.float16 and cuda.use_scaler
    native = runtime.amp_policy(torch.device("cpu"), native_bf16=yes)
    assert native.dtype == torch.bfloat16 and not native.use_scaler and native.scaler() is None
    emulated = runtime.amp_policy(torch.device("cpu"), native_bf16=no)
    assert emulated.dtype == torch.float32 and not emulated.enabled
    assert not runtime.amp_policy(torch.device("mps"), native_bf16=yes).enabled


def test_amp_policy_takes_an_explicit_precision_and_refuses_what_cannot_run():
    cpu = torch.device("cpu")
    assert runtime.amp_policy(cpu, precision="fp32", native_bf16=yes).dtype == torch.float32
    assert runtime.amp_policy(cpu, precision="bf16", native_bf16=no).dtype == torch.bfloat16
    assert runtime.amp_policy(torch.device("cuda"), precision="bf16").dtype == torch.bfloat16
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        runtime.amp_policy(cpu, precision="fp16")
    with pytest.raises(ValueError, match="unknown"):
        runtime.amp_policy(cpu, precision="int8")


def test_autocast_runs_a_cpu_matmul_in_bf16_only_when_enabled():
    x = torch.ones(4, 4)
    with runtime.amp_policy(torch.device("cpu"), precision="bf16").autocast():
        assert (x @ x).dtype == torch.bfloat16
    with runtime.amp_policy(torch.device("cpu"), precision="fp32").autocast():
        assert (x @ x).dtype == torch.float32


def test_cpu_bf16_check_answers_a_bool():
    assert isinstance(runtime.cpu_runs_bf16_natively(), bool)


def test_compiled_or_eager_falls_back_when_the_compiler_fails():
    """A broken C++ compiler makes torch.compile fail at the first call: the model runs as it is."""
    import torch._inductor.config as inductor

    broken_compiler = inductor.patch({"cpp.cxx": ("/nonexistent/c++",), "fx_graph_cache": False})
    torch._dynamo.reset()
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())  # tanh needs C++ code
    forward = runtime.CompiledOrEager(model)
    x = torch.randn(5, 3)
    with broken_compiler, pytest.warns(UserWarning, match="torch.compile failed"):
        out = forward(x)
    assert torch.equal(out, model(x)) and forward.error and forward.compiled is None
    assert forward.train(False) is forward and not model.training

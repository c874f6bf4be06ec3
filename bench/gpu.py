"""Time to quality and throughput on a GPU, plus a full-MNIST-sized epoch: one short command.

    python bench/gpu.py                          # CUDA, with the project's environment
    python bench/gpu.py --save-digits digits.pt  # on a machine with it: the digits as one file
    python bench/gpu.py --digits digits.pt       # CUDA with nothing but torch installed
    python bench/gpu.py --device cpu --quick     # a smoke run of the same code on the CPU

It trains with `helpers.training.fit` itself, the code the notebooks run, through the harness
that `make bench` uses (bench/harness.py). With `--digits` nothing but torch is imported on the
way (no pandas, scikit-learn, tqdm, umap or matplotlib; tests/test_bench.py proves it with those
blocked), so a lent GPU machine without the project's environment runs it as it is.

1. The offline sample: seconds of training until validation 1-NN first reaches 0.95 and 0.97,
   and images per second, with `recipes.SERIES_GPU` (batches of 512 digits, fp16 autocast).
2. A full-MNIST-sized epoch (full MNIST with `--source mnist`, else the sample tiled to 60,000
   digits; the results say which): seconds per epoch, and the share of the GPU's fp16 peak (from a
   table of datasheet figures) and of the fp16 matmul rate measured in the same run.
3. The CPU's recipe (`recipes.SERIES`, batches of 64) on the GPU, and `torch.compile` against
   eager mode (compile time and throughput; it falls back to eager when compiling fails).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from dataclasses import fields, replace
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import harness  # noqa: E402
import recipes  # noqa: E402

from helpers.data import Digits  # noqa: E402
from helpers.training import TrainConfig  # noqa: E402

RESULTS = BENCH / "results_gpu.json"
FULL_SIZE = 60_000

# Peak dense fp16 tensor-core throughput (TFLOP/s) by the name CUDA reports; None when unknown.
FP16_PEAK_TFLOPS = {
    "T4": 65.0,
    "A100": 312.0,
    "H100": 989.0,  # SXM, dense; the PCIe card is lower (756)
    "H200": 989.0,  # the same compute as an H100 SXM
    "L4": 121.0,
    "A10": 125.0,
    "V100": 125.0,
}


def fp16_peak_tflops(name: str) -> tuple[float | None, str]:
    """The fp16 peak of a GPU named `name`, and which table entry it came from ("unknown" if none).

    A table entry must be a whole word of the name ("Tesla T4", "NVIDIA A100-SXM4-80GB"), so an
    L40S is not taken for an L4 nor an A10G for an A10.
    """
    words = name.upper().replace("-", " ").split()
    if "H100" in words and "PCIE" in words:
        return 756.0, "H100 PCIe"
    for key, value in FP16_PEAK_TFLOPS.items():
        if key in words:
            return value, key
    return None, "unknown"


def save_digits(digits: Digits, path: Path) -> None:
    """Every field of `digits` in one file that `torch.load(weights_only=True)` reads back."""
    torch.save({f.name: getattr(digits, f.name) for f in fields(digits)}, path)


def read_digits(path: Path) -> Digits:
    """Digits written by `save_digits`."""
    return Digits(**torch.load(path, weights_only=True))


def tile_to(digits: Digits, count: int) -> Digits:
    """The training digits repeated until there are `count` of them (a full-MNIST-sized epoch)."""
    index = torch.arange(count) % len(digits.train_images)  # (count,)
    return replace(
        digits,
        train_images=digits.train_images[index],
        train_labels=digits.train_labels[index],
        description=digits.description + f"; training digits tiled to {count:,}",
    )


def first_part(digits: Digits, train: int, val: int) -> Digits:
    """The first `train` training and `val` validation digits (a smoke run's data)."""
    return replace(
        digits,
        train_images=digits.train_images[:train],
        train_labels=digits.train_labels[:train],
        val_images=digits.val_images[:val],
        val_labels=digits.val_labels[:val],
        description=digits.description + f"; the first {train:,} / {val:,} of it",
    )


def load(args: argparse.Namespace) -> Digits:
    if args.digits is not None:
        return read_digits(args.digits)
    from helpers.data import load_digits  # the project's environment: pandas, scikit-learn

    return load_digits(args.source)


def full_size_epoch(
    digits: Digits, config: TrainConfig, *, device: torch.device, epochs: int, size: int = FULL_SIZE
) -> dict:
    """Seconds per epoch on full MNIST, or on the digits tiled to `size`, and the FLOP rate."""
    real = digits.source == "mnist"
    full = digits if real else tile_to(digits, size)
    timed = harness.run_recipe(replace(config, epochs=epochs), full, budget_s=1e9, device=device)
    epoch_s = min(e["seconds"] for e in timed["evaluations"])
    flops = harness.training_flops_per_image(config, digits)
    achieved = timed["images_per_s"] * flops / 1e12  # TFLOP/s
    return {
        "data": full.description,
        "real_mnist": real,
        "train_images": len(full.train_images),
        "epoch_s": epoch_s,
        "images_per_s": timed["images_per_s"],
        "training_flops_per_image": flops,
        "achieved_tflops": achieved,
        "best_val_1nn": timed["best_val_1nn"],
    }


def compile_against_eager(digits: Digits, config: TrainConfig, *, device: torch.device) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        harness.run_recipe(replace(config, compile=True), digits, budget_s=0.5, device=device)
        first_s = time.perf_counter() - start
        compiled = harness.run_recipe(
            replace(config, compile=True), digits, budget_s=5.0, device=device
        )
    failures = [str(w.message) for w in caught if "torch.compile failed" in str(w.message)]
    eager = harness.throughput(config, digits, seconds=5.0, device=device)
    return {
        "compiled": not failures,
        "compile_error": failures[0] if failures else None,
        "first_run_wall_s": first_s,
        "compiled_images_per_s": compiled["images_per_s"],
        "eager_images_per_s": eager,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny budgets")
    parser.add_argument("--budget-s", type=float, default=None, help="training seconds per run")
    parser.add_argument("--digits", type=Path, default=None, help="a file from --save-digits")
    parser.add_argument("--source", default="sample", help="helpers.data source without --digits")
    parser.add_argument("--save-digits", type=Path, default=None, help="write the digits, stop")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.save_digits is not None:
        save_digits(load(args), args.save_digits)
        print(f"digits written to {args.save_digits}")
        return {}
    if args.threads or (args.quick and args.device == "cpu"):
        torch.set_num_threads(args.threads or 1)  # spinning OpenMP threads collapse on shared cores
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit(
            "No CUDA GPU is visible. On a CPU run the smoke version: "
            "python bench/gpu.py --device cpu --quick"
        )
    device = torch.device(args.device)
    budget = args.budget_s or (1.0 if args.quick else 30.0)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    config = replace(recipes.SERIES_GPU, batch_size=64) if args.quick else recipes.SERIES_GPU
    digits = load(args)
    if args.quick:
        digits = first_part(digits, 1000, 200)
    print(f"{name}: budget {budget:g} s of training per run; {digits.description}", flush=True)
    started = time.perf_counter()
    found = harness.run_recipe(config, digits, budget_s=budget, device=device)
    found.pop("model")
    results: dict = {"device": name, "data": digits.description, "budget_s": budget, **found}
    print(
        f"sample: 0.95 after {found['time_to_095_s']} s, 0.97 after {found['time_to_097_s']} s, "
        f"{found['images_per_s']:.0f} images/s",
        flush=True,
    )
    if args.quick:
        full = full_size_epoch(digits, config, device=device, epochs=1, size=1024)
    else:
        full = full_size_epoch(digits, config, device=device, epochs=3)
    peak, entry = fp16_peak_tflops(name) if device.type == "cuda" else (None, "cpu")
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    measured = harness.matmul_peak_gflops(dtype, device=args.device, size=4096 if peak else 512)
    full.update(
        fp16_peak_tflops=peak,
        fp16_peak_entry=entry,
        fraction_of_fp16_peak=full["achieved_tflops"] / peak if peak else None,
        measured_matmul_tflops=measured / 1e3,
        measured_matmul_dtype=str(dtype),
        fraction_of_measured_matmul=full["achieved_tflops"] / (measured / 1e3),
    )
    results["full_size"] = full
    print(
        f"{full['train_images']:,} images: {full['epoch_s']:.2f} s an epoch, "
        f"{full['achieved_tflops']:.2f} TFLOP/s = {full['fraction_of_measured_matmul']:.1%} of "
        f"the measured {dtype} matmul rate",
        flush=True,
    )
    if not args.quick:  # the CPU's recipe (batches of 64) on the GPU, for comparison
        small = harness.run_recipe(recipes.SERIES, digits, budget_s=budget, device=device)
        small.pop("model")
        results["cpu_recipe_on_gpu"] = small
        if not args.skip_compile:
            results["compile"] = compile_against_eager(digits, config, device=device)
    results["machine"] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda": torch.version.cuda,
        "wall_s": time.perf_counter() - started,
    }
    args.output.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print(f"written to {args.output} in {results['machine']['wall_s']:.0f} s")
    return results


if __name__ == "__main__":
    main()

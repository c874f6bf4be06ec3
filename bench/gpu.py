"""Time to quality and throughput on a GPU, plus a full-MNIST-sized epoch: one short command.

    python bench/gpu.py                       # CUDA: about 3-4 minutes, writes bench/results_gpu.json
    python bench/gpu.py --device cpu --quick  # a smoke run of the same code on the CPU (seconds)

Needs only torch and numpy with the repository on the path (this script adds it): no pandas,
scikit-learn, tqdm, umap or matplotlib anywhere on its import path, so a lent GPU machine without
the project's environment runs it as it is (tests/test_bench.py proves it with those blocked).
It trains through `bench/fast_training.py`, the same code `make bench` measures on the CPU:

1. the offline sample (4,000 / 1,000, the series' split): seconds of training until validation
   1-NN first reaches 0.95 and 0.97, and images and pairs per second;
2. a 60,000-image training set (real MNIST when data/MNIST holds it, else the sample tiled to that
   size, and the results say which): seconds per epoch, and the share of the GPU's fp16 peak
   that the training achieves (FLOPs of one image's training step counted by
   `torch.utils.flop_counter`); with real MNIST also the seconds to test 1-NN 0.99;
3. `torch.compile` against eager mode (compile time and throughput), falling back when it fails.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

import fast_training as fast  # noqa: E402

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


def training_flops_per_image(recipe: fast.Recipe, device: torch.device) -> float:
    """FLOPs of one training step (forward and backward) per image, counted by torch itself."""
    from torch.utils.flop_counter import FlopCounterMode

    model = fast.new_model(device=device)
    images = torch.randint(0, 256, (recipe.batch_size, 28, 28), dtype=torch.uint8, device=device)
    labels = torch.arange(recipe.batch_size, device=device) % 10
    counter = FlopCounterMode(display=False)
    with counter:
        loss = fast.InBatchCosineMSELoss()(model(fast.to_input(images)), labels)
        loss.backward()
    return counter.get_total_flops() / recipe.batch_size


def read_idx(path: Path) -> np.ndarray:
    """An MNIST idx file (optionally .gz) as a numpy array, read with numpy alone."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def full_size_digits(sample: fast.ArrayDigits, count: int) -> tuple[fast.ArrayDigits, bool]:
    """Real MNIST (60,000 / 10,000) when data/MNIST/raw holds it, else the sample tiled to `count`."""
    raw = ROOT / "data" / "MNIST" / "raw"
    stems = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    stems += ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    paths = [find_idx(raw, stem) for stem in stems]
    if all(paths) and count == FULL_SIZE:
        arrays = [torch.from_numpy(read_idx(path).copy()) for path in paths]
        digits = fast.ArrayDigits(
            arrays[0],
            arrays[1].long(),
            arrays[2],
            arrays[3].long(),
            "full MNIST from data/MNIST/raw: 60,000 training, 10,000 test digits as validation",
        )
        return digits, True
    return fast.tile_to(sample, count), False


def one_epoch(model: torch.nn.Module, digits: fast.ArrayDigits, recipe: fast.Recipe) -> dict:
    """Train one epoch's worth of images (len(train) / batch steps) and time it."""
    steps = len(digits.train_images) // recipe.batch_size
    run = fast.train(model, digits, recipe, budget_s=1e9, eval_every_s=None, max_steps=steps)
    return {"seconds": run.trained_s, "steps": run.steps, "images": run.images}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny budgets")
    parser.add_argument("--budget-s", type=float, default=None, help="training seconds per run")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (--quick on a CPU: 1)"
    )
    args = parser.parse_args(argv)
    if args.threads or (args.quick and args.device == "cpu"):
        torch.set_num_threads(args.threads or 1)  # spinning OpenMP threads collapse on shared cores
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit(
            "No CUDA GPU is visible. On a CPU run the smoke version: "
            "python bench/gpu.py --device cpu --quick"
        )
    device = torch.device(args.device)
    budget = args.budget_s or (1.0 if args.quick else 30.0)
    eval_every = budget / 2 if args.quick else 1.0
    full_count = 1_024 if args.quick else FULL_SIZE
    started = time.perf_counter()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak, peak_entry = fp16_peak_tflops(name) if device.type == "cuda" else (None, "cpu")
    recipe = replace(fast.GPU_RECIPE, batch_size=64) if args.quick else fast.GPU_RECIPE
    print(f"{name or device.type}: budget {budget:g} s of training per run", flush=True)

    sample = fast.load_sample_split()
    if args.quick:  # a smoke run: 1,000 training and 200 validation digits of the same split
        sample = fast.ArrayDigits(
            sample.train_images[:1000],
            sample.train_labels[:1000],
            sample.val_images[:200],
            sample.val_labels[:200],
            sample.description + "; quick: the first 1,000 / 200 of it",
        )
    sample = sample.to(device)
    model = fast.new_model(device=device)
    fast.train(model, sample, recipe, budget_s=1e9, eval_every_s=None, max_steps=3)  # warm-up
    run = fast.train(
        fast.new_model(device=device), sample, recipe, budget_s=budget, eval_every_s=eval_every
    )
    summary = run.summary()
    results: dict = {
        "device": name,
        "data": sample.description,
        "recipe": asdict(recipe),
        "cpu_headline_recipe": asdict(fast.HEADLINE),
        "budget_s": budget,
        "eval_every_s": eval_every,
        "time_to_095_s": summary["time_to_095_s"],
        "time_to_097_s": summary["time_to_097_s"],
        "val_1nn": summary["final_val_1nn"],
        "best_val_1nn": summary["best_val_1nn"],
        "train_images_per_s": summary["images_per_s"],
        "train_pairs_per_s": summary["pairs_per_s"],
        "evaluations": summary["evaluations"],
    }
    print(
        f"sample: 0.95 after {results['time_to_095_s']} s, 0.97 after {results['time_to_097_s']} s, "
        f"{results['train_images_per_s']:.0f} images/s",
        flush=True,
    )

    full, real = full_size_digits(fast.load_sample_split(), full_count)
    full = full.to(device)
    model = fast.new_model(device=device)
    one_epoch(model, fast.tile_to(full, recipe.batch_size * 3), recipe)  # warm-up
    epochs = [one_epoch(model, full, recipe) for _ in range(1 if args.quick else 3)]
    fastest = min(epochs, key=lambda e: e["seconds"])
    epoch_s = fastest["seconds"]
    flops = training_flops_per_image(recipe, device)
    achieved = flops * fastest["images"] / epoch_s  # views: two images per digit
    results["full_size"] = {
        "data": full.description,
        "real_mnist": real,
        "train_images": len(full.train_images),
        "epoch_s": epoch_s,
        "epochs_timed": [e["seconds"] for e in epochs],
        "images_per_epoch": fastest["images"],
        "training_flops_per_image": flops,
        "achieved_tflops": achieved / 1e12,
        "fp16_peak_tflops": peak,
        "fp16_peak_entry": peak_entry,
        "fraction_of_fp16_peak": achieved / (peak * 1e12) if peak else None,
    }
    print(
        f"{'real MNIST' if real else 'sample tiled'} ({len(full.train_images):,} images): "
        f"{epoch_s:.2f} s an epoch, {achieved / 1e12:.2f} TFLOP/s"
        + (f" = {achieved / (peak * 1e12):.1%} of the fp16 peak" if peak else ""),
        flush=True,
    )
    if real:
        to_quality = fast.train(
            fast.new_model(device=device), full, recipe, budget_s=budget, eval_every_s=2.0
        )
        results["full_size"]["time_to_099_s"] = to_quality.time_to(0.99)
        results["full_size"]["best_test_1nn"] = to_quality.best_val_1nn

    if not args.quick:  # the CPU's headline recipe (batch 64) on the GPU, for comparison
        small = fast.train(
            fast.new_model(device=device), sample, fast.HEADLINE, budget_s=budget, eval_every_s=1.0
        )
        results["cpu_headline_recipe_run"] = {
            key: value for key, value in small.summary().items() if key != "evaluations"
        }

    if not args.skip_compile and not args.quick:
        compiled = fast.measure_throughput(
            lambda: fast.new_model(device=device), sample, replace(recipe, compile=True), seconds=5
        )
        eager = fast.measure_throughput(
            lambda: fast.new_model(device=device), sample, recipe, seconds=5
        )
        results["compile"] = {
            "compiled": compiled["compiled"],
            "compile_s": compiled["compile_s"],
            "compiled_images_per_s": compiled["images_per_s"],
            "eager_images_per_s": eager["images_per_s"],
        }
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

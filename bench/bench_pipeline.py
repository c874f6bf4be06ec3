"""Benchmark: the notebooks' own training (`helpers.training.fit` on the recipe `SERIES`) side by
side with a re-implementation of the source material's pipeline, in one run.

Run with `make bench` or `python bench/bench_pipeline.py [--budget-s 30] [--threads 1]`. Both
pipelines see the same digits (the offline sample's split) on the same machine, and each trains
for the same budget of training seconds (evaluation is not counted). Prints a table whose first
row is the headline, and writes bench/results.json. A script that prints figures, not a test.

The source pipeline is `helpers.source_pipeline` with every one of the chapter's choices
(`SourceRecipe()`): a pandas DataFrame walked with `iterrows`, one random partner per row drawn
with NumPy, each image passed through `ToPILImage()`, `ToTensor()`, `Normalize(0.5, 0.5)` as
float32 (which scrambles the pixels on current torchvision), pairs drawn once and reused every
epoch, a DataLoader with batch 16, the cosine-MSE loss, Adam 1e-3 with StepLR(10, 0.1). It lives
in `helpers` because notebook 04 removes its choices one at a time (and Colab has no bench/
folder). Its embedding is measured twice: properly (eval mode) and with its own loop (train mode,
no_grad). Everything else here is `helpers` code too: the series side is `fit` itself, and the
recipes are `TrainConfig` values in bench/recipes.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import harness  # noqa: E402
import recipes  # noqa: E402

from helpers import source_pipeline as source  # noqa: E402
from helpers.data import Digits, load_digits  # noqa: E402
from helpers.evaluation import embed, knn_accuracy  # noqa: E402
from helpers.model import EmbeddingNet  # noqa: E402
from helpers.pairs import draw_pairs, pair_batches  # noqa: E402
from helpers.runtime import seed_everything  # noqa: E402

RESULTS = BENCH / "results.json"


# ---- The runs ----------------------------------------------------------------------------------


def median_seconds(action: Callable[[], None], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_source(digits: Digits, budget_s: float, *, eval_every_s: float) -> dict:
    """The rebuilt source pipeline (helpers.source_pipeline): pair building, training, and its
    embedding measured twice (eval mode, and the chapter's own train-mode loop)."""
    recipe = source.SourceRecipe()  # every one of the chapter's choices
    train_frame = source.as_frame(digits.train_images, digits.train_labels)
    start = time.perf_counter()
    train_set = source.pairs_from_frame(train_frame, rng=np.random.default_rng(0))
    build_s = time.perf_counter() - start
    gallery = (train_set.pixels, train_set.labels)  # scrambled, as it trained
    queries = {"val": (source.source_pixels(digits.val_images, scrambled=True), digits.val_labels)}

    def evaluate(net: torch.nn.Module) -> float:  # eval mode, the series' 1-NN
        return knn_accuracy(
            embed(net, gallery[0]), gallery[1], embed(net, queries["val"][0]), digits.val_labels
        )

    seed_everything(0)
    run = source.train_source(
        EmbeddingNet(),
        train_set,
        recipe,
        budget_s=budget_s,
        evaluate=evaluate,
        eval_every_s=eval_every_s,
    )
    evaluations = run.evaluations
    return {
        "seed_pair_build_s": build_s,
        "seed_train_pairs_per_s": run.pairs / run.trained_s,
        "seed_train_images_per_s": run.images / run.trained_s,
        "seed_epochs": run.epochs,
        "seed_pairs_trained": run.pairs,
        "seed_val_1nn": evaluations[-1]["val_1nn"],
        "seed_val_1nn_own_loop": source.source_scores(run, recipe, gallery, queries)["val"],
        "seed_best_val_1nn": max(e["val_1nn"] for e in evaluations),
        "seed_time_to_095_s": harness.time_to(evaluations, 0.95),
        "seed_time_to_097_s": harness.time_to(evaluations, 0.97),
        "seed_evaluations": evaluations,
        "seed_positives_that_are_the_anchor": train_set.self_pairs(),
        "seed_transform_of_pixels": {
            str(value): round(result, 4) for value, result in source.scrambled_values().items()
        },
    }


def run_series(digits: Digits, budget_s: float, peaks: dict[str, float]) -> dict:
    """The headline: `fit` on the notebooks' recipe, with its share of the matmul peak."""
    found = harness.run_recipe(recipes.SERIES, digits, budget_s=budget_s)
    model = found.pop("model")
    flops = harness.training_flops_per_image(recipes.SERIES, digits)
    achieved = found["images_per_s"] * flops / 1e9  # GFLOP/s
    found.update(
        training_mflop_per_image=flops / 1e6,
        achieved_gflops=achieved,
        share_of_fp32_peak=achieved / peaks["fp32"],
        share_of_bf16_peak=achieved / peaks["bf16"],
        pairs_per_s=found["images_per_s"] * harness.pairs_per_image(recipes.SERIES),
    )
    return {"series": found, "embeddings": embed(model, digits.train_images).numpy()}


def series_pair_build_s(digits: Digits, batch_size: int) -> dict:
    """Draw one epoch of pairs and turn every batch into network input (what training reads)."""
    labels, images = digits.train_labels, digits.train_images

    def draw_only() -> None:
        draw_pairs(labels, generator=torch.Generator().manual_seed(0))

    def draw_and_materialise() -> None:
        generator = torch.Generator().manual_seed(0)
        for _ in pair_batches(
            images, labels, batch_size=batch_size, generator=generator, drop_last=False
        ):
            pass

    return {
        "pair_draw_s": median_seconds(draw_only),
        "pair_build_s": median_seconds(draw_and_materialise),
    }


# ---- Levers ------------------------------------------------------------------------------------


def throughput_levers(digits: Digits, *, seconds: float, rounds: int = 3) -> dict:
    """Images per second of each recipe in recipes.THROUGHPUT_LEVERS: `rounds` short turns each,
    interleaved (a burst of load on a shared machine then hits every lever alike), median."""
    turns: dict[str, list[float]] = {name: [] for name in recipes.THROUGHPUT_LEVERS}
    for _ in range(rounds):
        for name, config in recipes.THROUGHPUT_LEVERS.items():
            turns[name].append(harness.throughput(config, digits, seconds=seconds / rounds))
    return {
        name: {
            "images_per_s": statistics.median(measured),
            "pairs_per_s": statistics.median(measured)
            * harness.pairs_per_image(recipes.THROUGHPUT_LEVERS[name]),
            "config": recipes.THROUGHPUT_LEVERS[name].to_dict(),
        }
        for name, measured in turns.items()
    }


def quality_levers(digits: Digits, *, budget_s: float) -> dict:
    """Validation 1-NN after equal training time for recipes that differ in one lever each."""
    found = {}
    for name, config in recipes.QUALITY_LEVERS.items():
        run = harness.run_recipe(config, digits, budget_s=budget_s)
        found[name] = {
            key: run[key]
            for key in ("final_val_1nn", "best_val_1nn", "time_to_095_s", "images_per_s")
        }
        found[name]["config"] = config.to_dict()
    return found


def precision_effect(digits: Digits, *, epochs: int, seeds: tuple[int, ...]) -> dict:
    """Validation 1-NN after the same number of epochs in fp32 and under mixed precision ("auto"):
    what the faster arithmetic costs in accuracy, over several seeds."""
    found = {}
    for precision in ("fp32", "auto"):
        config = replace(recipes.SERIES, epochs=epochs, precision=precision)
        runs = [harness.run_recipe(config, digits, budget_s=1e9, seed=seed) for seed in seeds]
        scores = [run["final_val_1nn"] for run in runs]
        found[precision] = {
            "dtype": runs[0]["precision"],
            "val_1nn": scores,
            "mean": statistics.mean(scores),
            "images_per_s": statistics.median(run["images_per_s"] for run in runs),
        }
    found["epochs"], found["seeds"] = epochs, list(seeds)
    return found


def compile_lever(digits: Digits, *, seconds: float) -> dict:
    """torch.compile on the series recipe: the first call's cost, then throughput against eager."""
    compiled_config = replace(recipes.SERIES, compile=True)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = harness.run_recipe(compiled_config, digits, budget_s=0.5)
        first_s = time.perf_counter() - start
        compiled = harness.run_recipe(compiled_config, digits, budget_s=seconds)
    failures = [str(w.message) for w in caught if "torch.compile failed" in str(w.message)]
    eager = harness.throughput(recipes.SERIES, digits, seconds=seconds)
    return {
        "compiled": not failures,
        "compile_error": failures[0] if failures else None,
        "first_run_wall_s": first_s,
        "first_run_trained_s": first["trained_s"],
        "compiled_images_per_s": compiled["images_per_s"],
        "eager_images_per_s": eager,
    }


# ---- UMAP, measured in fresh processes ---------------------------------------------------------

UMAP_CHILD = """
import json, sys, time
start = time.perf_counter()
import umap
import numpy as np
import_s = time.perf_counter() - start
points = np.load(sys.argv[1])
result = {"import_s": import_s}
def fit(count, seeded):
    start = time.perf_counter()
    umap.UMAP(n_neighbors=15, metric="cosine", n_epochs=200, random_state=0 if seeded else None,
              n_jobs=1 if seeded else -1).fit_transform(points[:count])
    return time.perf_counter() - start
result["first_fit_s"] = fit(500, True)
for count in [int(c) for c in sys.argv[2].split(",") if c]:
    result[f"seeded_{count}_s"] = fit(count, True)
    result[f"unseeded_{count}_s"] = fit(count, False)
print(json.dumps(result))
"""


def umap_costs(embeddings: np.ndarray, *, sizes: tuple[int, ...]) -> dict:
    """Import and first-fit time of UMAP with an empty numba cache, then again with it warm.

    Each measurement is a fresh Python process (`NUMBA_CACHE_DIR` pointing at a new temporary
    folder, then at the same folder again), so what is cached is exactly what numba wrote to disk.
    The warm process also times seeded (`random_state=0`, one thread) and unseeded fits.
    """
    with tempfile.TemporaryDirectory() as folder:
        points = Path(folder) / "points.npy"
        np.save(points, embeddings.astype(np.float32))
        environment = {**os.environ, "NUMBA_CACHE_DIR": str(Path(folder) / "numba")}
        found = {}
        for name, counts in (("cold", ""), ("warm", ",".join(str(c) for c in sizes))):
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", UMAP_CHILD, str(points), counts],
                env=environment,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                return {"error": done.stderr.strip().splitlines()[-1:]}
            found[name] = json.loads(done.stdout.strip().splitlines()[-1])
            found[name]["process_s"] = time.perf_counter() - start
    return found


# ---- The whole benchmark -----------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=30.0, help="training seconds per run")
    parser.add_argument(
        "--eval-every-s", type=float, default=2.0, help="the source: seconds between evaluations"
    )
    parser.add_argument("--lever-s", type=float, default=10.0, help="seconds per quality lever")
    parser.add_argument("--throughput-s", type=float, default=3.0, help="seconds per lever")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--output", type=Path, default=RESULTS)
    for part in ("source", "levers", "precision", "compile", "umap"):
        parser.add_argument(f"--skip-{part}", action="store_true", help=f"leave out: {part}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    digits = load_digits("sample")
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    started = time.perf_counter()
    section_s: dict[str, float] = {}
    clock = {"name": "matmul peaks and pair building", "start": started}

    def section(name: str) -> None:
        """Print what runs next and record how long the previous part took (wall time)."""
        now = time.perf_counter()
        section_s[clock["name"]] = now - clock["start"]
        clock.update(name=name, start=now)
        print(f"{name} ...", flush=True)

    print(f"{digits.description}; budget {args.budget_s:g} s of training per run", flush=True)
    peaks = {
        "fp32": harness.matmul_peak_gflops(torch.float32),
        "bf16": harness.matmul_peak_gflops(torch.bfloat16),
    }
    results: dict = {
        "budget_s": args.budget_s,
        "eval_every_s": args.eval_every_s,
        "data": digits.description,
        "train_images": len(digits.train_images),
        "val_images": len(digits.val_images),
        "matmul_peak_gflops": peaks,
        "raw_pixel_val_1nn": knn_accuracy(
            digits.train_images, digits.train_labels, digits.val_images, digits.val_labels
        ),
        **series_pair_build_s(digits, recipes.SERIES.batch_size),
    }
    section("headline: helpers.training.fit on recipes.SERIES")
    series = run_series(digits, args.budget_s, peaks)
    results["series"] = series["series"]
    if not args.skip_source:
        section("source pipeline: building pairs and training")
        results.update(run_source(digits, args.budget_s, eval_every_s=args.eval_every_s))
    if not args.skip_levers:
        section("throughput levers")
        results["throughput_levers"] = throughput_levers(digits, seconds=args.throughput_s)
        section("quality levers at equal training time")
        results["quality_levers_s"] = args.lever_s
        results["quality_levers"] = quality_levers(digits, budget_s=args.lever_s)
    if not args.skip_precision:
        section("mixed precision against fp32 at equal epochs")
        results["precision_effect"] = precision_effect(digits, epochs=3, seeds=(0, 1, 2))
    if not args.skip_compile:
        section("torch.compile")
        results["compile"] = compile_lever(digits, seconds=args.throughput_s)
    if not args.skip_umap:
        section("UMAP in fresh processes (cold numba cache, then warm)")
        results["umap"] = umap_costs(series["embeddings"], sizes=(1000, 4000))
    section("writing results")
    results["machine"] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "load_average_at_start": load_before,
        "load_average_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "bench_wall_s": time.perf_counter() - started,
        "section_wall_s": section_s,
    }
    args.output.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print_report(results)
    print(f"\nwritten to {args.output}")
    return results


def show(value: float | None, form: str) -> str:
    return "never" if value is None else form.format(value)


def print_report(results: dict) -> None:
    series, budget = results["series"], results["budget_s"]
    reached = series["time_to_097_s"]
    when = f"after {reached:.1f} s" if reached is not None else f"never in {budget:g} s"
    print(
        f"\nHEADLINE  helpers.training.fit on recipes.SERIES: validation 1-NN 0.97 {when} of "
        f"training, {series['images_per_s']:.0f} images/s = {series['share_of_fp32_peak']:.0%} of "
        f"the measured fp32 matmul peak ({results['matmul_peak_gflops']['fp32']:.0f} GFLOP/s; "
        f"{series['share_of_bf16_peak']:.0%} of bf16's {results['matmul_peak_gflops']['bf16']:.0f}"
        f"), precision {series['precision']}"
    )
    if "seed_val_1nn" in results:
        print_side_by_side(results)
    print(f"raw pixels, validation 1-NN: {results['raw_pixel_val_1nn']:.3f}")
    print(f"series best val 1-NN in {budget:g} s: {series['best_val_1nn']:.3f}")
    if "throughput_levers" in results:
        print(f"\n{'throughput lever (helpers.training.fit)':52} {'images/s':>9} {'pairs/s':>10}")
        for name, found in results["throughput_levers"].items():
            print(f"{name:52} {found['images_per_s']:>9.0f} {found['pairs_per_s']:>10.0f}")
        print(f"\n{'quality lever (' + str(results['quality_levers_s']) + ' s each)':52} "
              f"{'val 1-NN':>9} {'to 0.95':>8} {'images/s':>9}")  # fmt: skip
        for name, found in results["quality_levers"].items():
            print(
                f"{name:52} {found['final_val_1nn']:>9.3f} "
                f"{show(found['time_to_095_s'], '{:.1f}'):>8} {found['images_per_s']:>9.0f}"
            )
    if "precision_effect" in results:
        effect = results["precision_effect"]
        print(
            f"\nafter {effect['epochs']} epochs, seeds {effect['seeds']}: val 1-NN fp32 "
            f"{effect['fp32']['mean']:.3f} ({effect['fp32']['images_per_s']:.0f} images/s), "
            f"auto = {effect['auto']['dtype']} {effect['auto']['mean']:.3f} "
            f"({effect['auto']['images_per_s']:.0f} images/s)"
        )
    if "compile" in results:
        found = results["compile"]
        print(
            f"torch.compile: compiled={found['compiled']}, first run {found['first_run_wall_s']:.1f} s "
            f"wall, {show(found['compiled_images_per_s'], '{:.0f}')} images/s against "
            f"{found['eager_images_per_s']:.0f} eager"
        )
    print_umap(results.get("umap"))
    print(f"bench wall time {results['machine']['bench_wall_s']:.0f} s")


def print_side_by_side(results: dict) -> None:
    series, budget = results["series"], results["budget_s"]
    rows = [
        ("seconds of training to val 1-NN 0.97", "seed_time_to_097_s", "time_to_097_s", "{:.1f}"),
        ("seconds of training to val 1-NN 0.95", "seed_time_to_095_s", "time_to_095_s", "{:.1f}"),
        ("training images per second", "seed_train_images_per_s", "images_per_s", "{:.0f}"),
        ("training pairs per second", "seed_train_pairs_per_s", "pairs_per_s", "{:.0f}"),
        (f"val 1-NN after {budget:g} s (final weights)", "seed_val_1nn", "final_val_1nn", "{:.3f}"),
        ("best val 1-NN seen in the budget", "seed_best_val_1nn", "best_val_1nn", "{:.3f}"),
    ]
    print(f"\n{'':42} {'source':>10} {'fit':>10} {'ratio':>8}")
    for name, source_key, series_key, form in rows:
        source, ours = results[source_key], series[series_key]
        if source is None or ours is None:
            ratio = ""
        else:
            ratio = (
                f"{source / ours:.1f}x" if name.startswith("seconds") else f"{ours / source:.1f}x"
            )
        print(f"{name:42} {show(source, form):>10} {show(ours, form):>10} {ratio:>8}")
    print(
        f"{'pair building, one epoch (s)':42} {results['seed_pair_build_s']:>10.3f} "
        f"{results['pair_build_s']:>10.3f}"
    )
    print(
        "pairs: source = pairs through the pair loss (two images each); fit = pairs scored in-batch"
    )
    print(f"the source, its own train-mode embedding loop: {results['seed_val_1nn_own_loop']:.3f}")


def print_umap(umap: dict | None) -> None:
    if not umap or "error" in umap:
        return
    cold, warm = umap["cold"], umap["warm"]
    print(
        f"UMAP import + first fit: cold numba cache {cold['import_s']:.1f} + "
        f"{cold['first_fit_s']:.1f} s, warm {warm['import_s']:.1f} + {warm['first_fit_s']:.1f} s"
    )
    for count in (1000, 4000):
        print(
            f"UMAP on {count:,} points: random_state=0 (one thread) "
            f"{warm[f'seeded_{count}_s']:.1f} s, random_state=None (all cores) "
            f"{warm[f'unseeded_{count}_s']:.1f} s"
        )


if __name__ == "__main__":
    main()

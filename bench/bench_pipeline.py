"""Benchmark: this series' pipeline side by side with a re-implementation of the source's.

Run with `make bench` or `python bench/bench_pipeline.py [--budget-s 30]`. Both pipelines see the
same digits (the offline sample by default) on the same machine in one run, and each trains for
the same wall-clock budget (seconds spent in training steps; evaluation is not counted). Prints a
table and writes bench/results.json. A script that prints figures, not a timed test.

The source pipeline is rebuilt from the chapter's description (see /work/shared/FINDINGS.md):
a pandas DataFrame walked with `iterrows`, one random partner per row drawn with NumPy, both
images passed through `ToPILImage()`, `ToTensor()`, `Normalize(0.5, 0.5)` as float32 (which
scrambles the pixels on current torchvision), pairs drawn once and reused every epoch, a
DataLoader with batch 16, the cosine-MSE loss, Adam 1e-3 with StepLR(10, 0.1). Its embedding is
measured twice: properly (eval mode) and with its own loop (train mode, no_grad).
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
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.data import Digits, load_digits  # noqa: E402
from helpers.evaluation import embed, knn_accuracy  # noqa: E402
from helpers.losses import CosineMSELoss, InfoNCELoss  # noqa: E402
from helpers.model import EmbeddingNet  # noqa: E402
from helpers.pairs import draw_pairs, pair_batches  # noqa: E402
from helpers.runtime import seed_everything  # noqa: E402
from helpers.training import TrainConfig, fit  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import fast_training as fast  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results.json"

# What this series trains with in the benchmark (see bench/README.md for how it was chosen).
SERIES_CONFIG = TrainConfig(epochs=100, batch_size=128, batches="labelled_views", seed=0)
SERIES_TEMPERATURE = 0.1


# ---- The source's pipeline, rebuilt ------------------------------------------------------------


class SourcePairDataset(Dataset):
    """The source's dataset: one pass of `iterrows`, a random partner per row, PIL transforms."""

    def __init__(self, frame: pd.DataFrame, transform: transforms.Compose) -> None:
        by_label = {label: frame[frame.label == label].to_numpy() for label in frame.label.unique()}
        others = {label: frame[frame.label != label].to_numpy() for label in frame.label.unique()}
        self.items = []
        for _, row in frame.iterrows():
            values = row.to_numpy()
            label, anchor = values[0], values[1:].reshape(28, 28)
            if np.random.randint(0, 2) == 0:  # same digit; may be this very row
                partner_row = by_label[label][np.random.randint(0, len(by_label[label]))]
            else:
                partner_row = others[label][np.random.randint(0, len(others[label]))]
            target = 1.0 if partner_row[0] == label else 0.0
            partner = partner_row[1:].reshape(28, 28)
            self.items.append(
                (
                    transform(anchor.astype(np.float32)),
                    transform(partner.astype(np.float32)),
                    target,
                    label,
                )
            )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        return self.items[index]


def source_transform() -> transforms.Compose:
    return transforms.Compose(
        [transforms.ToPILImage(), transforms.ToTensor(), transforms.Normalize(0.5, 0.5)]
    )


def scrambled_pixels() -> dict[str, float]:
    """What the source's transform makes of a few pixel values (0 should be -1, 255 should be +1)."""
    transform = source_transform()
    return {
        str(value): round(float(transform(np.full((28, 28), value, dtype=np.float32))[0, 0, 0]), 4)
        for value in (0, 1, 128, 255)
    }


def as_frame(images: torch.Tensor, labels: torch.Tensor) -> pd.DataFrame:
    """Digits as the Kaggle CSV's table: a label column, then pixel0..pixel783."""
    frame = pd.DataFrame(images.reshape(len(images), -1).numpy().astype(np.int64))
    frame.columns = [f"pixel{i}" for i in range(784)]
    frame.insert(0, "label", labels.numpy())
    return frame


def train_source(
    dataset: Dataset,
    budget_s: float,
    *,
    batch_size: int = 16,
    evaluate: Callable[[torch.nn.Module], float] | None = None,
    eval_every_s: float | None = None,
) -> dict:
    """The source's loop for `budget_s` seconds of training steps (epochs of 4,000 reused pairs).

    With `evaluate`, validation 1-NN is measured every `eval_every_s` seconds of training (the
    clock stops while it is measured), so the time to reach an accuracy can be read off.
    """
    net = EmbeddingNet()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.1)
    loss_function = CosineMSELoss()  # the same equation as the source's ContrastiveLoss
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0)
    trained_s, pairs, epochs, last_eval = 0.0, 0, 0, 0.0
    evaluations: list[dict] = []
    while trained_s < budget_s:
        net.train()
        start = time.perf_counter()
        for anchor, partner, target, _ in loader:
            if trained_s + time.perf_counter() - start >= budget_s:
                break
            optimizer.zero_grad()
            loss = loss_function(net(anchor), net(partner), target.to(torch.float32))
            loss.item()  # the source reads every batch's loss
            loss.backward()
            optimizer.step()
            pairs += len(anchor)
            now = trained_s + time.perf_counter() - start
            if evaluate is not None and eval_every_s and now - last_eval >= eval_every_s:
                trained_s, last_eval = now, now
                evaluations.append({"trained_s": now, "pairs": pairs, "val_1nn": evaluate(net)})
                net.train()
                start = time.perf_counter()
        trained_s += time.perf_counter() - start
        scheduler.step()
        epochs += 1
    if evaluate is not None:
        evaluations.append({"trained_s": trained_s, "pairs": pairs, "val_1nn": evaluate(net)})
    return {
        "net": net,
        "trained_s": trained_s,
        "pairs": pairs,
        "epochs": epochs,
        "evaluations": evaluations,
    }


def source_own_loop_embeddings(
    net: torch.nn.Module, dataset: Dataset
) -> tuple[np.ndarray, np.ndarray]:
    """The source's embedding loop: batches of 16 in train mode under no_grad (BatchNorm drifts)."""
    outputs, labels = [], []
    net.train()
    with torch.no_grad():
        for anchor, _, _, label in DataLoader(dataset, batch_size=16, shuffle=True):
            outputs.append(net(anchor).numpy())
            labels.append(label.numpy())
    return np.concatenate(outputs), np.concatenate(labels)


# ---- The two runs ------------------------------------------------------------------------------


def median_seconds(action, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_source(digits: Digits, budget_s: float, *, eval_every_s: float) -> dict:
    seed_everything(0)
    train_frame = as_frame(digits.train_images, digits.train_labels)
    val_frame = as_frame(digits.val_images, digits.val_labels)
    start = time.perf_counter()
    train_set = SourcePairDataset(train_frame, source_transform())
    build_s = time.perf_counter() - start
    val_set = SourcePairDataset(val_frame, source_transform())
    same_image = sum(
        1
        for (anchor, partner, target, _) in train_set.items
        if target == 1.0 and torch.equal(anchor, partner)
    )
    gallery = torch.stack([item[0] for item in train_set.items])  # scrambled, as it trained
    queries = torch.stack([item[0] for item in val_set.items])

    def evaluate(net: torch.nn.Module) -> float:  # eval mode, the series' 1-NN (torch, cosine)
        return fast.nearest_neighbour_accuracy(
            fast.embed_input(net, gallery),
            digits.train_labels,
            fast.embed_input(net, queries),
            digits.val_labels,
        )

    run = train_source(train_set, budget_s, evaluate=evaluate, eval_every_s=eval_every_s)
    net = run["net"]
    val_1nn = knn_accuracy(
        embed(net, gallery), digits.train_labels, embed(net, queries), digits.val_labels
    )
    own_gallery, own_gallery_labels = source_own_loop_embeddings(net, train_set)
    own_queries, own_query_labels = source_own_loop_embeddings(net, val_set)
    own_val_1nn = knn_accuracy(own_gallery, own_gallery_labels, own_queries, own_query_labels)
    evaluations = run["evaluations"]
    return {
        "seed_pair_build_s": build_s,
        "seed_train_pairs_per_s": run["pairs"] / run["trained_s"],
        "seed_train_images_per_s": 2 * run["pairs"] / run["trained_s"],
        "seed_epochs": run["epochs"],
        "seed_pairs_trained": run["pairs"],
        "seed_val_1nn": val_1nn,
        "seed_val_1nn_own_loop": own_val_1nn,
        "seed_best_val_1nn": max(e["val_1nn"] for e in evaluations),
        "seed_time_to_095_s": first_time(evaluations, 0.95),
        "seed_time_to_097_s": first_time(evaluations, 0.97),
        "seed_evaluations": evaluations,
        "seed_positives_that_are_the_anchor": same_image,
        "seed_transform_of_pixels": scrambled_pixels(),
    }


def first_time(evaluations: list[dict], level: float) -> float | None:
    """Seconds of training until validation 1-NN first reached `level`, or None if it never did."""
    return next((e["trained_s"] for e in evaluations if e["val_1nn"] >= level), None)


def run_series_fit(digits: Digits, budget_s: float) -> dict:
    """The notebooks' own pipeline (`helpers.training.fit`, supervised InfoNCE on two views)."""
    seed_everything(0)
    result = fit(
        EmbeddingNet(),
        InfoNCELoss(temperature=SERIES_TEMPERATURE),
        digits,
        config=replace(SERIES_CONFIG, time_budget_s=budget_s),
        progress=False,
    )
    history = result.history.to_frame()
    seconds = history["seconds"].cumsum()
    evaluations = [
        {"trained_s": float(t), "epoch": int(epoch), "val_1nn": float(v)}
        for epoch, t, v in zip(history.index, seconds, history["val_1nn"], strict=True)
    ]
    pairs = int(history["examples"].sum())  # pairs of views, each scored against the batch
    return {
        "fit_val_1nn": evaluations[-1]["val_1nn"],
        "fit_best_val_1nn": float(result.best_value),
        "fit_epochs": len(history),
        "fit_images_per_s": 2 * pairs / float(history["seconds"].sum()),
        "fit_time_to_095_s": first_time(evaluations, 0.95),
        "fit_time_to_097_s": first_time(evaluations, 0.97),
        "fit_evaluations": evaluations,
        "fit_config": SERIES_CONFIG.to_dict(),
        "fit_loss": f"InfoNCELoss(temperature={SERIES_TEMPERATURE}), supervised",
    }


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

# Throughput levers, each a recipe of the fast path; measured interleaved (see `throughput_levers`).
THROUGHPUT_LEVERS = {
    "uint8 tensor, pairs, batch 16, two passes": fast.Recipe(
        loss="pairs", batch_size=16, learning_rate=1e-3, channels_last=False
    ),
    "uint8 tensor, pairs, batch 128, two passes": fast.Recipe(
        loss="pairs", batch_size=128, learning_rate=1e-3, channels_last=False
    ),
    "in-batch pairs, batch 128": fast.Recipe(batch_size=128, channels_last=False),
    "in-batch pairs, batch 128, channels_last": fast.Recipe(batch_size=128, channels_last=True),
    "in-batch pairs, batch 256, channels_last": fast.Recipe(batch_size=256, channels_last=True),
    "InfoNCE two shifted views, batch 64 (headline)": fast.HEADLINE,
}


def throughput_levers(data: fast.ArrayDigits, *, seconds: float, rounds: int = 3) -> dict:
    """Images and pairs per second of each lever: `rounds` short turns each, interleaved, median.

    Interleaving matters on a shared machine: a burst of load hits every lever alike instead of
    whichever happened to run at that moment.
    """
    turns: dict[str, list[dict]] = {name: [] for name in THROUGHPUT_LEVERS}
    for _ in range(rounds):
        for name, recipe in THROUGHPUT_LEVERS.items():
            turns[name].append(
                fast.measure_throughput(fast.new_model, data, recipe, seconds=seconds / rounds)
            )
    found = {}
    for name, measured in turns.items():
        found[name] = {
            "images_per_s": statistics.median(m["images_per_s"] for m in measured),
            "pairs_per_s": statistics.median(m["pairs_per_s"] for m in measured),
            "recipe": asdict(THROUGHPUT_LEVERS[name]),
        }
    return found


def compile_lever(data: fast.ArrayDigits, *, seconds: float) -> dict:
    """torch.compile on the headline recipe: compile time, then throughput against eager mode."""
    compiled = fast.measure_throughput(
        fast.new_model, data, replace(fast.HEADLINE, compile=True), seconds=seconds
    )
    eager = fast.measure_throughput(fast.new_model, data, fast.HEADLINE, seconds=seconds)
    return {
        "compiled": compiled["compiled"],
        "compile_s": compiled["compile_s"],
        "compiled_images_per_s": compiled["images_per_s"],
        "eager_images_per_s": eager["images_per_s"],
        "seconds_to_pay_back": (
            compiled["compile_s"] / (1 - eager["images_per_s"] / compiled["images_per_s"])
            if compiled["compiled"] and compiled["images_per_s"] > eager["images_per_s"]
            else None
        ),
    }


def quality_levers(data: fast.ArrayDigits, *, budget_s: float, eval_every_s: float) -> dict:
    """Validation 1-NN after equal wall time for recipes that differ in one lever each."""
    recipes = {
        "two passes per pair, batch 128, lr 1e-3": fast.Recipe(loss="pairs"),
        "in-batch pairs, batch 128, lr 1e-3": fast.Recipe(),
        "in-batch pairs, batch 256, lr 2e-3": fast.Recipe(batch_size=256, learning_rate=2e-3),
        "in-batch pairs, batch 128, lr 1e-3, shift 2 px": fast.Recipe(max_shift=2),
        "InfoNCE two shifted views, batch 64, lr 1e-3": fast.Recipe(
            loss="views", batch_size=64, max_shift=2
        ),
    }
    found = {}
    for name, recipe in recipes.items():
        run = fast.train(
            fast.new_model(), data, recipe, budget_s=budget_s, eval_every_s=eval_every_s
        )
        summary = run.summary()
        found[name] = {
            key: summary[key]
            for key in ("final_val_1nn", "best_val_1nn", "time_to_095_s", "images_per_s")
        }
        found[name]["pairs_per_s"] = summary["pairs_per_s"]
        found[name]["recipe"] = asdict(recipe)
    return found


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


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=30.0, help="training seconds per run")
    parser.add_argument(
        "--eval-every-s", type=float, default=2.0, help="seconds of training between evaluations"
    )
    parser.add_argument(
        "--lever-s", type=float, default=10.0, help="training seconds per quality lever"
    )
    parser.add_argument(
        "--throughput-s", type=float, default=3.0, help="seconds per throughput lever"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--skip-fit", action="store_true", help="skip the notebooks' fit run")
    parser.add_argument("--skip-levers", action="store_true", help="skip the lever measurements")
    parser.add_argument("--skip-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--skip-umap", action="store_true", help="skip the UMAP measurements")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    digits = load_digits("sample")
    data = fast.load_sample_split()
    if not torch.equal(data.val_images, digits.val_images):
        raise ValueError("bench/sample_split.json no longer matches helpers.data's split.")
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    started = time.perf_counter()
    section_s: dict[str, float] = {}
    clock = {"name": "data and pair building", "start": started}

    def section(name: str) -> None:
        """Print what runs next and record how long the previous part took (wall time)."""
        now = time.perf_counter()
        section_s[clock["name"]] = now - clock["start"]
        clock.update(name=name, start=now)
        print(f"{name} ...", flush=True)

    print(f"{digits.description}; budget {args.budget_s:g} s of training per run", flush=True)
    results: dict = {
        "budget_s": args.budget_s,
        "eval_every_s": args.eval_every_s,
        "data": digits.description,
        "train_images": len(digits.train_images),
        "val_images": len(digits.val_images),
        "raw_pixel_val_1nn": knn_accuracy(
            digits.train_images, digits.train_labels, digits.val_images, digits.val_labels
        ),
    }
    results.update(series_pair_build_s(digits, SERIES_CONFIG.batch_size))
    section("source pipeline: building pairs and training")
    results.update(run_source(digits, args.budget_s, eval_every_s=args.eval_every_s))
    section("series fast path: training")
    series_model = fast.new_model()
    series = fast.train(
        series_model, data, fast.HEADLINE, budget_s=args.budget_s, eval_every_s=args.eval_every_s
    )
    summary = series.summary()
    results.update(
        {
            "recipe": asdict(fast.HEADLINE),
            "val_1nn": summary["final_val_1nn"],
            "best_val_1nn": summary["best_val_1nn"],
            "time_to_095_s": summary["time_to_095_s"],
            "time_to_097_s": summary["time_to_097_s"],
            "train_pairs_per_s": summary["pairs_per_s"],
            "train_images_per_s": summary["images_per_s"],
            "steps": series.steps,
            "evaluations": series.evaluations,
        }
    )
    embeddings = fast.embed(series_model, data.train_images, channels_last=True).numpy()
    if not args.skip_fit:
        section("the notebooks' fit (supervised InfoNCE on two views)")
        results.update(run_series_fit(digits, args.budget_s))
    if not args.skip_levers:
        section("throughput levers")
        results["throughput_levers"] = throughput_levers(data, seconds=args.throughput_s)
        section("quality levers at equal wall time")
        results["quality_levers_s"] = args.lever_s
        results["quality_levers"] = quality_levers(
            data, budget_s=args.lever_s, eval_every_s=args.eval_every_s
        )
    if not args.skip_compile:
        section("torch.compile")
        results["compile"] = compile_lever(data, seconds=args.throughput_s)
    results["amp"] = "not applicable on CPU (fp16 autocast + GradScaler run on CUDA: bench/gpu.py)"
    if not args.skip_umap:
        section("UMAP in fresh processes (cold numba cache, then warm)")
        results["umap"] = umap_costs(embeddings, sizes=(1000, 4000))
    section("writing results")
    add_ratios(results)
    results["machine"] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "load_average_at_start": load_before,
        "load_average_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "device": "cpu",
        "bench_wall_s": time.perf_counter() - started,
        "section_wall_s": section_s,
    }
    args.output.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print_table(results)
    print(f"\nwritten to {args.output}")
    return results


def add_ratios(results: dict) -> None:
    """Series over source: throughput ratios and time-to-quality ratios (None when undefined)."""
    results["pair_build_speedup"] = results["seed_pair_build_s"] / results["pair_build_s"]
    results["train_pairs_per_s_ratio"] = (
        results["train_pairs_per_s"] / results["seed_train_pairs_per_s"]
    )
    results["train_images_per_s_ratio"] = (
        results["train_images_per_s"] / results["seed_train_images_per_s"]
    )
    for level in ("095", "097"):
        ours, theirs = results[f"time_to_{level}_s"], results[f"seed_time_to_{level}_s"]
        results[f"time_to_{level}_ratio"] = theirs / ours if ours and theirs else None


def show(value: float | None, form: str) -> str:
    return "never" if value is None else form.format(value)


def print_table(results: dict) -> None:
    budget = results["budget_s"]
    seed_best = results["seed_best_val_1nn"]
    rows = [
        (
            "pair building, one epoch (s)",
            results["seed_pair_build_s"],
            results["pair_build_s"],
            "{:.3f}",
        ),
        (
            "training images per second",
            results["seed_train_images_per_s"],
            results["train_images_per_s"],
            "{:.0f}",
        ),
        (
            "training pairs per second",
            results["seed_train_pairs_per_s"],
            results["train_pairs_per_s"],
            "{:.0f}",
        ),
        (
            "seconds of training to val 1-NN 0.95",
            results["seed_time_to_095_s"],
            results["time_to_095_s"],
            "{:.1f}",
        ),
        (
            "seconds of training to val 1-NN 0.97",
            results["seed_time_to_097_s"],
            results["time_to_097_s"],
            "{:.1f}",
        ),
        (
            f"val 1-NN after {budget:g} s (final weights)",
            results["seed_val_1nn"],
            results["val_1nn"],
            "{:.3f}",
        ),
        ("best val 1-NN seen in the budget", seed_best, results["best_val_1nn"], "{:.3f}"),
    ]
    print(f"\n{'':42} {'source':>10} {'series':>10} {'ratio':>8}")
    for name, source, series, form in rows:
        if source is None or series is None:
            ratio = ""
        elif "(s)" in name or name.startswith("seconds"):
            ratio = f"{source / series:.1f}x"
        else:
            ratio = f"{series / source:.1f}x"
        print(f"{name:42} {show(source, form):>10} {show(series, form):>10} {ratio:>8}")
    recipe = results["recipe"]
    per_step = recipe["batch_size"] * (2 if recipe["loss"] == "views" else 1)
    print(
        "\npairs: source = pairs through the pair loss (two images each); series = pairs scored "
        f"in-batch, N(N-1)/2 per step of N={per_step} embeddings"
    )
    if results["seed_time_to_097_s"] is None:
        print(f"the source never reached 0.97 in {budget:g} s; its best was {seed_best:.3f}")
    print(f"validation measured every {results['eval_every_s']:g} s of training (clock stopped)")
    print(f"raw pixels, validation 1-NN:               {results['raw_pixel_val_1nn']:.3f}")
    print(f"source, its own train-mode embedding loop: {results['seed_val_1nn_own_loop']:.3f}")
    if "fit_val_1nn" in results:
        print(
            f"the notebooks' fit (InfoNCE, two views): {results['fit_val_1nn']:.3f} after "
            f"{budget:g} s, 0.95 at {show(results['fit_time_to_095_s'], '{:.1f}')} s, 0.97 at "
            f"{show(results['fit_time_to_097_s'], '{:.1f}')} s, {results['fit_images_per_s']:.0f} "
            "images/s (evaluated once per epoch)"
        )
    if "throughput_levers" in results:
        print(f"\n{'throughput lever':46} {'images/s':>9} {'pairs/s':>10}")
        print(
            f"{'source: DataLoader, batch 16, two passes':46} "
            f"{results['seed_train_images_per_s']:>9.0f} {results['seed_train_pairs_per_s']:>10.0f}"
        )
        for name, found in results["throughput_levers"].items():
            print(f"{name:46} {found['images_per_s']:>9.0f} {found['pairs_per_s']:>10.0f}")
        print(
            f"\n{'quality lever (' + str(results['quality_levers_s']) + ' s each)':46} "
            f"{'val 1-NN':>9} {'to 0.95':>8} {'images/s':>9}"
        )
        for name, found in results["quality_levers"].items():
            print(
                f"{name:46} {found['final_val_1nn']:>9.3f} "
                f"{show(found['time_to_095_s'], '{:.1f}'):>8} {found['images_per_s']:>9.0f}"
            )
    if "compile" in results:
        found = results["compile"]
        print(
            f"\ntorch.compile: compiled={found['compiled']}, first step {show(found['compile_s'], '{:.1f}')} s, "
            f"{found['compiled_images_per_s']:.0f} images/s against {found['eager_images_per_s']:.0f} eager; "
            f"pays back after {show(found['seconds_to_pay_back'], '{:.0f}')} s of training"
        )
    print(f"mixed precision: {results['amp']}")
    if "umap" in results and "error" not in results["umap"]:
        cold, warm = results["umap"]["cold"], results["umap"]["warm"]
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
    print(f"bench wall time {results['machine']['bench_wall_s']:.0f} s")


if __name__ == "__main__":
    main()

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
import sys
import time
from dataclasses import replace
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


def train_source(dataset: Dataset, budget_s: float, *, batch_size: int = 16) -> dict:
    """The source's loop for `budget_s` seconds of training steps (epochs of 4,000 reused pairs)."""
    net = EmbeddingNet()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.1)
    loss_function = CosineMSELoss()  # the same equation as the source's ContrastiveLoss
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0)
    trained_s, pairs, epochs = 0.0, 0, 0
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
        trained_s += time.perf_counter() - start
        scheduler.step()
        epochs += 1
    return {"net": net, "trained_s": trained_s, "pairs": pairs, "epochs": epochs}


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


def run_source(digits: Digits, budget_s: float) -> dict:
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
    run = train_source(train_set, budget_s)
    net = run["net"]
    gallery = torch.stack([item[0] for item in train_set.items])  # scrambled, as it trained
    queries = torch.stack([item[0] for item in val_set.items])
    val_1nn = knn_accuracy(
        embed(net, gallery), digits.train_labels, embed(net, queries), digits.val_labels
    )
    own_gallery, own_gallery_labels = source_own_loop_embeddings(net, train_set)
    own_queries, own_query_labels = source_own_loop_embeddings(net, val_set)
    own_val_1nn = knn_accuracy(own_gallery, own_gallery_labels, own_queries, own_query_labels)
    return {
        "seed_pair_build_s": build_s,
        "seed_train_pairs_per_s": run["pairs"] / run["trained_s"],
        "seed_epochs": run["epochs"],
        "seed_pairs_trained": run["pairs"],
        "seed_val_1nn": val_1nn,
        "seed_val_1nn_own_loop": own_val_1nn,
        "seed_positives_that_are_the_anchor": same_image,
        "seed_transform_of_pixels": scrambled_pixels(),
    }


def run_series(
    digits: Digits, budget_s: float, *, loss_fn: torch.nn.Module, config: TrainConfig
) -> dict:
    seed_everything(0)
    model = EmbeddingNet()
    result = fit(
        model, loss_fn, digits, config=replace(config, time_budget_s=budget_s), progress=False
    )
    frame = result.history.to_frame()
    return {
        "val_1nn": float(frame["val_1nn"].iloc[-1]),  # the final weights, like the source's
        "best_epoch_val_1nn": float(result.best_value),
        "epochs": len(frame),
        "pairs_trained": int(frame["examples"].sum()),
        "train_pairs_per_s": float(frame["examples"].sum() / frame["seconds"].sum()),
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


def measure_throughput(digits: Digits, batch_sizes: tuple[int, ...], seconds: float = 3.0) -> dict:
    """Training pairs per second of the series' pair pipeline for a few batch sizes."""
    found = {}
    for batch_size in batch_sizes:
        seed_everything(0)
        net = EmbeddingNet().train()
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        loss_fn = CosineMSELoss()
        generator = torch.Generator().manual_seed(0)
        pairs, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for x_1, x_2, y in pair_batches(
                digits.train_images, digits.train_labels, batch_size=batch_size, generator=generator
            ):
                optimizer.zero_grad()
                loss_fn(net(x_1), net(x_2), y).backward()
                optimizer.step()
                pairs += len(y)
                if time.perf_counter() - start >= seconds:
                    break
        found[str(batch_size)] = pairs / (time.perf_counter() - start)
    return found


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=30.0, help="training seconds per run")
    parser.add_argument("--source", default="sample", help="load_digits source (default: sample)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--skip-extra", action="store_true", help="skip the cosine-MSE series run")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    digits = load_digits(args.source)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"{digits.description}; budget {args.budget_s:g} s of training per run", flush=True)
    results: dict = {
        "budget_s": args.budget_s,
        "data": digits.description,
        "train_images": len(digits.train_images),
        "val_images": len(digits.val_images),
        "raw_pixel_val_1nn": knn_accuracy(
            digits.train_images, digits.train_labels, digits.val_images, digits.val_labels
        ),
    }
    results.update(series_pair_build_s(digits, SERIES_CONFIG.batch_size))
    print("source pipeline: building pairs and training ...", flush=True)
    results.update(run_source(digits, args.budget_s))
    print("series pipeline: training ...", flush=True)
    series = run_series(
        digits,
        args.budget_s,
        loss_fn=InfoNCELoss(temperature=SERIES_TEMPERATURE),
        config=SERIES_CONFIG,
    )
    results.update(series)
    results["series_loss"] = f"InfoNCELoss(temperature={SERIES_TEMPERATURE}), supervised"
    results["series_config"] = SERIES_CONFIG.to_dict()
    if not args.skip_extra:
        print("series pipeline with the source's loss (cosine MSE) ...", flush=True)
        same_loss = run_series(
            digits,
            args.budget_s,
            loss_fn=CosineMSELoss(),
            config=replace(SERIES_CONFIG, batches="pairs"),
        )
        results.update({f"cosine_mse_{key}": value for key, value in same_loss.items()})
    print("throughput by batch size ...", flush=True)
    results["train_pairs_per_s_by_batch_size"] = measure_throughput(digits, (64, 128, 256))
    results["pair_build_speedup"] = results["seed_pair_build_s"] / results["pair_build_s"]
    results["train_throughput_speedup"] = (
        results["train_pairs_per_s"] / results["seed_train_pairs_per_s"]
    )
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
    }
    args.output.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print_table(results)
    print(f"\nwritten to {args.output}")
    return results


def print_table(results: dict) -> None:
    rows = [
        (
            "pair building, one epoch (s)",
            results["seed_pair_build_s"],
            results["pair_build_s"],
            "{:.4f}",
        ),
        (
            "training pairs per second",
            results["seed_train_pairs_per_s"],
            results["train_pairs_per_s"],
            "{:.0f}",
        ),
        (
            "pairs trained in the budget",
            results["seed_pairs_trained"],
            results["pairs_trained"],
            "{:.0f}",
        ),
        ("validation 1-NN after the budget", results["seed_val_1nn"], results["val_1nn"], "{:.3f}"),
    ]
    print(f"\n{'':36} {'source':>10} {'series':>10} {'ratio':>8}")
    for name, source, series, form in rows:
        ratio = series / source if "(s)" not in name else source / series
        print(f"{name:36} {form.format(source):>10} {form.format(series):>10} {ratio:>7.1f}x")
    print(f"\nraw pixels, validation 1-NN:              {results['raw_pixel_val_1nn']:.3f}")
    print(f"source, its own train-mode embedding loop: {results['seed_val_1nn_own_loop']:.3f}")
    if "cosine_mse_val_1nn" in results:
        print(f"series pipeline with the source's loss:    {results['cosine_mse_val_1nn']:.3f}")
    print(
        f"source positives that are the anchor itself: {results['seed_positives_that_are_the_anchor']}"
    )
    sizes = ", ".join(
        f"{k}: {v:.0f}" for k, v in results["train_pairs_per_s_by_batch_size"].items()
    )
    print(f"series training pairs/s by batch size:     {sizes}")


if __name__ == "__main__":
    main()

"""The fast training path that the benchmarks measure, with nothing but torch and numpy.

`bench/bench_pipeline.py` (CPU, next to the source's pipeline) and `bench/gpu.py` (CUDA) both
train through this module, so their figures describe the same code. It imports only torch, numpy
and two light `helpers` modules (`helpers.model`, `helpers.losses`, which import torch alone), so a
machine with torch and the repository on PYTHONPATH can run it: no pandas, scikit-learn, tqdm or
umap on its path (`tests/test_bench.py` proves that by blocking them).

What makes it fast, each lever measured in bench/README.md:
- the digits stay one uint8 tensor on the training device; a batch is indexed and normalised on
  the fly (`to_input`), with no per-sample Python and no DataLoader;
- in-batch pairs: a batch of images is embedded once and every pair inside it is scored with the
  source's own cosine-MSE loss (`InBatchCosineMSELoss`), instead of two forward passes per pair;
- channels-last memory format, and on CUDA fp16 autocast with a gradient scaler; `torch.compile`
  is optional and falls back to eager mode when it fails.

The pair losses themselves are taught in 03_network_and_loss; the training loop in 04_training.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers.losses import CosineMSELoss, InfoNCELoss
from helpers.model import EmbeddingNet

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PATH = ROOT / "data" / "mnist_sample.csv.gz"
SPLIT_PATH = Path(__file__).resolve().parent / "sample_split.json"
LOSSES = ("in_batch", "pairs", "views")


# ---- Data, without pandas or scikit-learn ----------------------------------------------------------


def read_sample(path: Path = SAMPLE_PATH) -> tuple[np.ndarray, np.ndarray]:
    """The offline sample as (images (N, 28, 28) uint8, labels (N,) int64), read with numpy alone."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: the offline MNIST sample is missing; restore it with `git checkout -- data/`."
        )
    with gzip.open(path, "rt") as handle:
        header = handle.readline().strip().split(",")
        if header[:2] != ["label", "pixel0"] or len(header) != 785:
            raise ValueError(f"{path} does not have the columns label, pixel0..pixel783.")
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)  # (N, 785)
    if table.ndim != 2 or table.shape[1] != 785 or table.min() < 0 or table[:, 1:].max() > 255:
        raise ValueError(f"{path} holds rows that are not a label and 784 pixels in 0..255.")
    return table[:, 1:].astype(np.uint8).reshape(-1, 28, 28), table[:, 0]


@dataclass(frozen=True)
class ArrayDigits:
    """Training and validation digits as plain tensors (uint8 images, int64 labels), and a note."""

    train_images: torch.Tensor  # (N, 28, 28) uint8
    train_labels: torch.Tensor  # (N,) int64
    val_images: torch.Tensor  # (M, 28, 28) uint8
    val_labels: torch.Tensor  # (M,) int64
    description: str

    def to(self, device: torch.device) -> ArrayDigits:
        """The same digits on `device` (uint8 there: 4 MB for the sample, 47 MB for full MNIST)."""
        return ArrayDigits(
            self.train_images.to(device),
            self.train_labels.to(device),
            self.val_images.to(device),
            self.val_labels.to(device),
            self.description,
        )


def load_sample_split(path: Path = SAMPLE_PATH, split_path: Path = SPLIT_PATH) -> ArrayDigits:
    """The offline sample split 4,000 / 1,000 exactly as `helpers.data.load_digits("sample")` does.

    The split's indices are stored in bench/sample_split.json (written by `write_sample_split`,
    checked against scikit-learn's split by tests/test_bench.py), so no scikit-learn is needed here.
    """
    images, labels = read_sample(path)
    split = json.loads(split_path.read_text())
    train, val = np.asarray(split["train"]), np.asarray(split["validation"])
    return ArrayDigits(
        torch.from_numpy(images[train]),
        torch.from_numpy(labels[train]),
        torch.from_numpy(images[val]),
        torch.from_numpy(labels[val]),
        "offline sample: 5,000 real MNIST digits shipped in data/, split 4,000 train / 1,000 "
        "validation (the series' stratified split, seed 0)",
    )


def write_sample_split(split_path: Path = SPLIT_PATH) -> None:
    """Store the series' split of the sample as indices (needs scikit-learn: run it once, here)."""
    from sklearn.model_selection import train_test_split

    _, labels = read_sample()
    train, val = train_test_split(
        np.arange(len(labels)), test_size=1000, stratify=labels, random_state=0, shuffle=True
    )
    split_path.write_text(
        json.dumps({"train": train.tolist(), "validation": val.tolist()}, separators=(",", ":"))
        + "\n"
    )


def tile_to(digits: ArrayDigits, count: int) -> ArrayDigits:
    """The training digits repeated until there are `count` of them (a full-MNIST-sized epoch)."""
    repeats = -(-count // len(digits.train_images))
    device = digits.train_images.device
    index = torch.arange(repeats * len(digits.train_images), device=device)[:count]
    index = index % len(digits.train_images)  # (count,)
    return ArrayDigits(
        digits.train_images[index],
        digits.train_labels[index],
        digits.val_images,
        digits.val_labels,
        digits.description + f"; training digits tiled to {count:,}",
    )


def to_input(images: torch.Tensor, *, channels_last: bool = False) -> torch.Tensor:
    """uint8 digits (B, 28, 28) to network input (B, 1, 28, 28) in [-1, 1], on their device.

    The same mapping as `helpers.data.to_network_input` (0 to -1, 255 to +1), written here so that
    this module needs no pandas; tests/test_bench.py checks the two agree exactly.
    """
    x = images.unsqueeze(1).to(torch.float32) / 127.5 - 1.0  # (B, 1, 28, 28)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def random_shift(
    images: torch.Tensor, *, max_shift: int, generator: torch.Generator
) -> torch.Tensor:
    """Each uint8 digit (B, 28, 28) moved by up to `max_shift` pixels each way, zeros shifted in."""
    if max_shift == 0:
        return images
    batch, device = len(images), images.device
    padded = F.pad(images, (max_shift,) * 4)  # (B, 28 + 2s, 28 + 2s)
    offset = torch.randint(0, 2 * max_shift + 1, (2, batch), device=device, generator=generator)
    grid = torch.arange(28, device=device)  # (28,)
    rows = (offset[0][:, None] + grid)[:, :, None]  # (B, 28, 1)
    columns = (offset[1][:, None] + grid)[:, None, :]  # (B, 1, 28)
    return padded[torch.arange(batch, device=device)[:, None, None], rows, columns]  # (B, 28, 28)


# ---- The loss on every pair of a batch ---------------------------------------------------------


class InBatchCosineMSELoss(nn.Module):
    """The source's cosine-MSE loss, scored on every pair of images inside one batch.

    For a batch of B embeddings there are B(B-1)/2 pairs (i < j); each has target 1 when both
    digits are the same and 0 when not, and error (cos(z_i, z_j) - target)^2, as in
    `helpers.losses.CosineMSELoss`. Positives and negatives each weigh one half, as in the source's
    50/50 pairs (a batch of ten digits holds about 10% positives).
    """

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        z = F.normalize(z.float(), dim=1)  # (B, dim), unit length: dot product = cosine
        similarity = z @ z.T  # (B, B)
        same = labels[:, None] == labels[None, :]  # (B, B)
        upper = torch.ones_like(same).triu(diagonal=1)  # (B, B) each pair once, no self-pairs
        error = (similarity - same.float()) ** 2  # (B, B)
        positive, negative = same & upper, ~same & upper
        positive_mean = (error * positive).sum() / positive.sum().clamp(min=1)
        negative_mean = (error * negative).sum() / negative.sum().clamp(min=1)
        return 0.5 * (positive_mean + negative_mean)


def pairs_in_batch(batch_size: int) -> int:
    """How many distinct pairs of images a batch holds: B(B-1)/2."""
    return batch_size * (batch_size - 1) // 2


# ---- Evaluation -------------------------------------------------------------------------------


def embed(
    model: nn.Module, images: torch.Tensor, *, batch_size: int = 1000, channels_last: bool = False
) -> torch.Tensor:
    """Embeddings (N, dim) in eval mode without gradients, on the images' device."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            parts = [
                model(to_input(images[start : start + batch_size], channels_last=channels_last))
                for start in range(0, len(images), batch_size)
            ]
    finally:
        model.train(was_training)
    return torch.cat(parts).float()  # (N, dim)


def embed_input(model: nn.Module, inputs: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """Embeddings (N, dim) of ready network input (N, 1, 28, 28), in eval mode, no gradients."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            parts = [model(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(parts).float()  # (N, dim)


def nearest_neighbour_accuracy(
    gallery: torch.Tensor,
    gallery_labels: torch.Tensor,
    queries: torch.Tensor,
    query_labels: torch.Tensor,
) -> float:
    """1-NN accuracy with cosine similarity: the same figure as `helpers.evaluation.knn_accuracy`."""
    gallery = F.normalize(gallery.float(), dim=1)  # (N, dim)
    queries = F.normalize(queries.float(), dim=1)  # (M, dim)
    nearest = (queries @ gallery.T).argmax(dim=1)  # (M,)
    return float((gallery_labels[nearest] == query_labels).float().mean())


def validation_1nn(model: nn.Module, digits: ArrayDigits, *, channels_last: bool = False) -> float:
    """Validation 1-NN accuracy with the training digits as gallery (the series' `fit` metric)."""
    return nearest_neighbour_accuracy(
        embed(model, digits.train_images, channels_last=channels_last),
        digits.train_labels,
        embed(model, digits.val_images, channels_last=channels_last),
        digits.val_labels,
    )


# ---- Training ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """How the fast path trains: loss kind, batch, learning rate and the speed levers.

    `loss="in_batch"` embeds `batch_size` images once and scores all their pairs;
    `loss="pairs"` draws `batch_size` anchor/partner pairs (half positive) and runs two forward
    passes, as the source does; `loss="views"` embeds two shifted views of `batch_size` images and
    scores them with the series' supervised `InfoNCELoss` (temperature 0.1).
    """

    loss: str = "in_batch"
    batch_size: int = 128
    learning_rate: float = 1e-3
    channels_last: bool = True
    compile: bool = False
    amp: bool = True  # fp16 autocast + GradScaler, used on CUDA only
    max_shift: int = 0  # random translation of each training digit, in pixels
    seed: int = 0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss={self.loss!r} is unknown; use one of {LOSSES}.")
        if self.batch_size < 2 or self.learning_rate <= 0:
            raise ValueError("batch_size must be at least 2 and learning_rate positive.")


# The headline recipe of `make bench` and bench/gpu.py (chosen by the quality levers, bench/README.md).
HEADLINE = Recipe(loss="views", batch_size=64, learning_rate=1e-3, channels_last=True, max_shift=2)
# On a GPU small batches leave it idle: the same recipe with batches of 512 digits (1,024 views).
GPU_RECIPE = Recipe(
    loss="views", batch_size=512, learning_rate=2e-3, channels_last=True, max_shift=2
)


@dataclass
class Run:
    """What one training run did: evaluations along the way and its counters."""

    recipe: dict
    device: str
    trained_s: float = 0.0
    steps: int = 0
    images: int = 0  # images through a forward and backward pass
    pairs_scored: int = 0  # pairs whose loss term was computed (in-batch: B(B-1)/2 per step)
    compile_s: float | None = None  # the first step's extra time when compiled (not in trained_s)
    compiled: bool = False
    compile_error: str | None = None
    evaluations: list[dict] = field(default_factory=list)  # {trained_s, steps, val_1nn}

    def time_to(self, level: float) -> float | None:
        """Seconds of training until validation 1-NN first reached `level` (None: never)."""
        return next((e["trained_s"] for e in self.evaluations if e["val_1nn"] >= level), None)

    @property
    def best_val_1nn(self) -> float | None:
        return max((e["val_1nn"] for e in self.evaluations), default=None)

    @property
    def final_val_1nn(self) -> float | None:
        return self.evaluations[-1]["val_1nn"] if self.evaluations else None

    def summary(self) -> dict:
        trained = max(self.trained_s, 1e-9)
        return {
            **{k: v for k, v in asdict(self).items() if k != "evaluations"},
            "images_per_s": self.images / trained,
            "pairs_per_s": self.pairs_scored / trained,
            "time_to_095_s": self.time_to(0.95),
            "time_to_097_s": self.time_to(0.97),
            "best_val_1nn": self.best_val_1nn,
            "final_val_1nn": self.final_val_1nn,
            "evaluations": self.evaluations,
        }


def synchronize(device: torch.device) -> None:
    """Wait for the GPU to finish queued work, so a clock reads real time (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _compiled(model: nn.Module, run: Run) -> Callable[[torch.Tensor], torch.Tensor]:
    try:
        forward = torch.compile(model)
        run.compiled = True
        return forward
    except Exception as error:  # no compiler on this machine: stay in eager mode
        run.compile_error = f"{type(error).__name__}: {error}"[:300]
        return model


def train(
    model: nn.Module,
    digits: ArrayDigits,
    recipe: Recipe,
    *,
    budget_s: float,
    eval_every_s: float | None = 1.0,
    stop_at: float | None = None,
    max_steps: int | None = None,
) -> Run:
    """Train `model` on `digits` (already on the model's device) for `budget_s` seconds of steps.

    Validation 1-NN is measured whenever `eval_every_s` more seconds of training have passed (and
    at the end); evaluation time is not counted in `trained_s`. `stop_at` ends the run once that
    accuracy is reached. Returns a `Run`. Adam, constant learning rate.
    """
    device = next(model.parameters()).device
    use_amp = recipe.amp and device.type == "cuda"
    run = Run(recipe=asdict(recipe), device=str(device))
    if recipe.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.learning_rate)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    forward = _compiled(model, run) if recipe.compile else model
    generator = torch.Generator(device=device).manual_seed(recipe.seed)
    in_batch_loss, pair_loss = InBatchCosineMSELoss(), CosineMSELoss()
    views_loss = InfoNCELoss(temperature=0.1)
    images, labels = digits.train_images, digits.train_labels
    count, batch = len(images), recipe.batch_size
    classes = _class_members(labels) if recipe.loss == "pairs" else []

    def step() -> None:
        if recipe.loss == "in_batch":
            rows = torch.randint(0, count, (batch,), device=device, generator=generator)  # (B,)
            chosen = random_shift(images[rows], max_shift=recipe.max_shift, generator=generator)
            x = to_input(chosen, channels_last=recipe.channels_last)  # (B, 1, 28, 28)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                loss = in_batch_loss(forward(x), labels[rows])
            run.images += batch
            run.pairs_scored += pairs_in_batch(batch)
        elif recipe.loss == "views":
            rows = torch.randint(0, count, (batch,), device=device, generator=generator)  # (B,)
            views = [
                to_input(
                    random_shift(images[rows], max_shift=recipe.max_shift, generator=generator),
                    channels_last=recipe.channels_last,
                )
                for _ in range(2)
            ]  # two (B, 1, 28, 28)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                z = forward(torch.cat(views))  # (2B, dim) one forward pass for both views
                loss = views_loss(z[:batch], z[batch:], labels[rows])
            run.images += 2 * batch
            run.pairs_scored += pairs_in_batch(2 * batch)
        else:
            anchor, partner, target = _draw_pairs(labels, classes, batch, generator)
            x_1 = to_input(images[anchor], channels_last=recipe.channels_last)  # (B, 1, 28, 28)
            x_2 = to_input(images[partner], channels_last=recipe.channels_last)  # (B, 1, 28, 28)
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                loss = pair_loss(forward(x_1), forward(x_2), target)
            run.images += 2 * batch
            run.pairs_scored += batch
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        run.steps += 1

    if recipe.compile and run.compiled:
        start = time.perf_counter()
        try:
            step()
            synchronize(device)
        except Exception as error:  # the compiler failed at the first call: fall back
            run.compiled, run.compile_error = False, f"{type(error).__name__}: {error}"[:300]
            forward = model
        run.compile_s = time.perf_counter() - start
        run.steps = run.images = run.pairs_scored = 0  # the compiling step is not counted

    last_eval = 0.0
    while run.trained_s < budget_s and (max_steps is None or run.steps < max_steps):
        start = time.perf_counter()
        step()
        synchronize(device)
        run.trained_s += time.perf_counter() - start
        due = eval_every_s is not None and run.trained_s - last_eval >= eval_every_s
        if due:
            last_eval = run.trained_s
            accuracy = validation_1nn(model, digits, channels_last=recipe.channels_last)
            run.evaluations.append(
                {"trained_s": run.trained_s, "steps": run.steps, "val_1nn": accuracy}
            )
            if stop_at is not None and accuracy >= stop_at:
                break
    if not run.evaluations or run.evaluations[-1]["steps"] != run.steps:
        accuracy = validation_1nn(model, digits, channels_last=recipe.channels_last)
        run.evaluations.append(
            {"trained_s": run.trained_s, "steps": run.steps, "val_1nn": accuracy}
        )
    return run


def _class_members(labels: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """For each digit: the indices of its images and the indices of every other image."""
    return [
        (torch.nonzero(labels == digit).flatten(), torch.nonzero(labels != digit).flatten())
        for digit in range(10)
    ]


def _draw_pairs(
    labels: torch.Tensor,
    classes: list[tuple[torch.Tensor, torch.Tensor]],
    batch: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`batch` anchor/partner pairs, half positive (never the anchor itself), on the labels' device."""
    device = labels.device
    anchor = torch.randint(0, len(labels), (batch,), device=device, generator=generator)  # (B,)
    positive = torch.arange(batch, device=device) < batch // 2  # (B,) the first half
    partner = torch.empty_like(anchor)
    for digit, (members, others) in enumerate(classes):
        draws = torch.randint(0, len(members), (batch,), device=device, generator=generator)
        other = torch.randint(0, len(others), (batch,), device=device, generator=generator)
        candidate = torch.where(positive, members[draws], others[other])  # (B,)
        # A positive that drew the anchor itself takes the next member of its digit instead.
        clash = positive & (candidate == anchor)
        candidate = torch.where(clash, members[(draws + 1) % len(members)], candidate)
        partner = torch.where(labels[anchor] == digit, candidate, partner)
    return anchor, partner, positive.float()


def measure_throughput(
    model_factory: Callable[[], nn.Module],
    digits: ArrayDigits,
    recipe: Recipe,
    *,
    seconds: float,
    warmup_steps: int = 3,
) -> dict:
    """Images and pairs per second of `recipe` for `seconds` of steps, after a few warm-up steps."""
    model = model_factory()
    warm = train(model, digits, recipe, budget_s=1e9, eval_every_s=None, max_steps=warmup_steps)
    run = train(model, digits, recipe, budget_s=seconds, eval_every_s=None)
    return {
        "images_per_s": run.images / run.trained_s,
        "pairs_per_s": run.pairs_scored / run.trained_s,
        "steps": run.steps,
        "compile_s": warm.compile_s,
        "compiled": warm.compiled if recipe.compile else None,
    }


def new_model(seed: int = 0, device: torch.device | str = "cpu") -> EmbeddingNet:
    """The series' `EmbeddingNet` (the source's layers), seeded, on `device`."""
    torch.manual_seed(seed)
    return EmbeddingNet().to(device)

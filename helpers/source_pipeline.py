"""The source chapter's pipeline, rebuilt so that its choices can be removed one at a time.

The chapter this series grows from trains the same network with choices that cost it accuracy.
Each is a field of `SourceRecipe`, so 04_training can switch them off one by one and measure what
each was worth (the fix-by-fix waterfall), and `bench/bench_pipeline.py` times the same code:

- **scrambled pixels**: `ToPILImage()` on float32 arrays multiplies by 255 and casts to uint8,
  which wraps: a pixel x >= 1 ends up as 256 - x, so strokes and faint edges swap brightness;
- **pairs drawn once**, at construction, and reused every epoch; a positive partner may be the
  anchor itself;
- **batches of 16 pairs**, each half through its own forward pass, scored by the cosine MSE;
- **embeddings taken in train mode** (dropout on, BatchNorm statistics drifting), shuffled
  batches of 16 under `no_grad`;
- **the final weights as "best"**: `best_model = net.state_dict()` keeps a reference, so the
  saved "best" model is always the last one.

`train_source` is the chapter's loop, the only training step written out in `helpers` besides
`helpers.training.train_step` (and the only backward pass of the benchmark). Evaluation, the
network and the losses are the series' own (`helpers.evaluation`, `model`, `losses`).

Taught in 04_training.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from helpers.bookkeeping import BestWeights, TrainingClock
from helpers.data import Digits
from helpers.evaluation import embed, knn_accuracy
from helpers.losses import CosineMSELoss, InBatchCosineMSELoss

if TYPE_CHECKING:
    import pandas as pd

SOURCE_BATCH = 16  # the chapter's batch size, for training and for its embedding loop


@dataclass(frozen=True)
class SourceRecipe:
    """The chapter's choices; each field set the other way is one fix of 04's waterfall.

    Taught in 04_training. The first four fields are the chapter's mistakes; `in_batch` and
    `batch_size` are the series' speed idea (every pair inside a batch of 128, one forward pass).
    Adam and StepLR(10, 0.1) are the chapter's, unchanged by any fix.
    """

    scrambled_pixels: bool = True  # False: the image goes to ToPILImage as uint8, as it should
    fresh_pairs: bool = False  # True: partners drawn anew every epoch
    eval_mode: bool = False  # True: embeddings in eval mode (evaluation.embed)
    keep_best: bool = False  # True: the best evaluation's weights, copied when seen
    in_batch: bool = False  # True: every pair inside a batch scored (InBatchCosineMSELoss)
    batch_size: int = SOURCE_BATCH
    learning_rate: float = 1e-3
    lr_step_size: int = 10
    lr_gamma: float = 0.1

    def __post_init__(self) -> None:
        if self.batch_size < 2 or self.learning_rate <= 0:
            raise ValueError("batch_size must be at least 2 and learning_rate positive.")

    def training_choices(self) -> tuple[Any, ...]:
        """The fields that change training (two recipes equal here can share one run)."""
        measured_only = {"eval_mode", "keep_best"}
        return tuple(
            (name, getattr(self, name))
            for name in self.__dataclass_fields__
            if name not in measured_only
        )


# --- pixels and pairs, the chapter's way --------------------------------------------------------


def source_transform() -> Any:
    """The chapter's transform: ToPILImage, ToTensor, Normalize(0.5, 0.5)."""
    from torchvision import transforms

    return transforms.Compose(
        [transforms.ToPILImage(), transforms.ToTensor(), transforms.Normalize(0.5, 0.5)]
    )


def source_input(pixels: np.ndarray, transform: Any, *, scrambled: bool) -> torch.Tensor:
    """One digit (28, 28) of values 0..255 through the chapter's transform, as (1, 28, 28).

    Taught in 04_training. The chapter hands the transform float32 values (`scrambled`), which
    ToPILImage wraps around; handed the same values as uint8, it maps 0 to -1 and 255 to +1.
    """
    return transform(pixels.astype(np.float32 if scrambled else np.uint8))  # (1, 28, 28)


def source_pixels(images: torch.Tensor, *, scrambled: bool) -> torch.Tensor:
    """uint8 digits (N, 28, 28) as the chapter feeds them to the network: float (N, 1, 28, 28)."""
    transform = source_transform()
    return torch.stack(
        [source_input(image, transform, scrambled=scrambled) for image in images.numpy()]
    )  # (N, 1, 28, 28)


def scrambled_values(values: tuple[int, ...] = (0, 1, 128, 255)) -> dict[int, float]:
    """What the chapter's transform makes of a few pixel values (0 should give -1, 255 give +1)."""
    transform = source_transform()
    return {
        value: float(source_input(np.full((28, 28), value), transform, scrambled=True)[0, 0, 0])
        for value in values
    }


def as_frame(images: torch.Tensor, labels: torch.Tensor) -> pd.DataFrame:
    """Digits as the chapter reads them, Kaggle's CSV table: a label column, then 784 pixels."""
    import pandas as pd

    frame = pd.DataFrame(images.reshape(len(images), -1).numpy().astype(np.int64))
    frame.columns = [f"pixel{i}" for i in range(784)]
    frame.insert(0, "label", labels.numpy())
    return frame


class SourcePairs(Dataset):
    """The chapter's pair dataset: every digit once as an anchor, each with one drawn partner.

    Taught in 04_training. Item i is `(anchor, partner, target, label)`: the anchor's network
    input (1, 28, 28), its partner's, 1.0 or 0.0 for same or different digit, and the anchor's
    digit. `redraw` draws every partner again (the chapter never does: its pairs are fixed).
    """

    def __init__(
        self, pixels: torch.Tensor, labels: torch.Tensor, *, rng: np.random.Generator
    ) -> None:
        if pixels.ndim != 4 or pixels.shape[1:] != (1, 28, 28) or len(pixels) != len(labels):
            raise ValueError(
                f"SourcePairs needs pixels (N, 1, 28, 28) and N labels, got "
                f"{tuple(pixels.shape)} and {len(labels)} labels."
            )
        self.pixels = pixels  # (N, 1, 28, 28)
        self.labels = labels  # (N,)
        numbers = labels.numpy()
        self._same = {int(d): np.flatnonzero(numbers == d) for d in np.unique(numbers)}
        self._other = {int(d): np.flatnonzero(numbers != d) for d in np.unique(numbers)}
        self.partner = torch.zeros(len(labels), dtype=torch.long)  # (N,)
        self.target = torch.zeros(len(labels))  # (N,)
        self.redraw(rng)

    def redraw(self, rng: np.random.Generator) -> None:
        """The chapter's rule, for every anchor: a fair coin, then any image of the same digit
        (the anchor itself included) or any image of another digit."""
        for row, digit in enumerate(self.labels.tolist()):
            candidates = self._same[digit] if rng.integers(0, 2) == 0 else self._other[digit]
            self.partner[row] = int(candidates[rng.integers(0, len(candidates))])
        self.target = (self.labels[self.partner] == self.labels).float()  # (N,)

    def self_pairs(self) -> int:
        """How many anchors are paired with themselves."""
        return int((self.partner == torch.arange(len(self.partner))).sum())

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(
        self, row: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        partner = self.partner[row]
        return self.pixels[row], self.pixels[partner], self.target[row], self.labels[row]


def pairs_from_frame(
    frame: pd.DataFrame, *, scrambled: bool = True, rng: np.random.Generator
) -> SourcePairs:
    """The chapter's construction from the CSV table: `iterrows`, each row through the transform.

    Taught in 04_training. About a millisecond a row (pandas builds a Series per row, PIL an image
    per digit): what `make bench` times as building the pairs.
    """
    transform = source_transform()
    pixels, labels = [], []
    for _, row in frame.iterrows():
        values = row.to_numpy()
        labels.append(int(values[0]))
        pixels.append(source_input(values[1:].reshape(28, 28), transform, scrambled=scrambled))
    return SourcePairs(torch.stack(pixels), torch.tensor(labels), rng=rng)


# --- the chapter's loop -------------------------------------------------------------------------


@dataclass
class SourceRun:
    """What `train_source` hands back: the final network, the best evaluated weights, the record.

    `evaluations` holds one dict per evaluation: epoch (epochs trained, fractional when the budget
    ended one midway), trained_s, steps, pairs, train_loss (mean since the last evaluation) and
    val_1nn. `best` holds a real copy of the weights of the evaluation with the best val_1nn (the
    series' rule), `lowest_loss` of the one with the lowest training loss (the chapter's rule, had
    it copied its weights).
    """

    model: nn.Module
    best: BestWeights
    lowest_loss: BestWeights
    evaluations: list[dict[str, float]] = field(default_factory=list)
    trained_s: float = 0.0
    steps: int = 0
    epochs: int = 0  # epochs trained (the last one may have been cut short by the budget)
    images: int = 0
    pairs: int = 0

    def chosen_model(self, recipe: SourceRecipe) -> nn.Module:
        """The final network (the chapter's "best"), or a copy with the best evaluated weights."""
        if not recipe.keep_best or self.best.epoch is None:
            return self.model
        return self.copy_with(self.best)

    def copy_with(self, kept: BestWeights) -> nn.Module:
        """A copy of the network holding the weights that `kept` (`best` or `lowest_loss`) kept."""
        network = copy.deepcopy(self.model)
        network.load_state_dict(kept.state)
        return network.eval()


def source_step(
    model: nn.Module,
    loss_fn: nn.Module,
    batch: tuple[torch.Tensor, ...],
    optimizer: torch.optim.Optimizer,
    *,
    in_batch: bool,
) -> torch.Tensor:
    """One step of the chapter's loop; returns the loss (detached).

    Taught in 04_training. Pairs go through the network in two forward passes, anchors and then
    partners, so BatchNorm normalises each half by itself (`helpers.training.train_step` sends
    both through in one pass); `in_batch` embeds the anchors once and scores every pair of them.
    """
    device = next(model.parameters()).device
    anchor, partner, target, label = (part.to(device) for part in batch)
    optimizer.zero_grad()
    if in_batch:
        loss = loss_fn(model(anchor), label)  # every pair inside the batch
    else:
        loss = loss_fn(model(anchor), model(partner), target)  # one partner per anchor
    loss.backward()
    optimizer.step()
    return loss.detach()


def train_source(
    model: nn.Module,
    pairs: SourcePairs,
    recipe: SourceRecipe,
    *,
    budget_s: float | None = None,
    epochs: int | None = None,
    seed: int = 0,
    evaluate: Callable[[nn.Module], float] | None = None,
    eval_every_s: float | None = None,
) -> SourceRun:
    """The chapter's training loop, for `budget_s` seconds of training steps or `epochs` epochs.

    Taught in 04_training. A DataLoader shuffles the pairs into batches of `recipe.batch_size`,
    `source_step` trains on each, and StepLR steps once an epoch; with `recipe.fresh_pairs` the
    partners are drawn anew before every epoch after the first. `evaluate(model)` (the clock
    stopped) runs after every epoch, or every `eval_every_s` seconds of training, and at the end:
    it gives the curves and the best weights. Seed torch before building `model` for a repeatable
    run: dropout draws from torch's global generator.
    """
    if budget_s is None and epochs is None:
        raise ValueError("Give train_source a budget_s (seconds of training), epochs, or both.")
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.learning_rate)
    scheduler = torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=recipe.lr_step_size, gamma=recipe.lr_gamma
    )
    loss_fn = InBatchCosineMSELoss() if recipe.in_batch else CosineMSELoss()
    rng = np.random.default_rng(seed)
    shuffle = torch.Generator().manual_seed(seed)
    loader = DataLoader(pairs, batch_size=recipe.batch_size, shuffle=True, generator=shuffle)
    clock = TrainingClock(budget_s)
    run = SourceRun(
        model=model,
        best=BestWeights("val_1nn", model),
        lowest_loss=BestWeights("train_loss", model),
    )
    losses: list[torch.Tensor] = []  # since the last evaluation
    next_check = eval_every_s if eval_every_s is not None else math.inf
    while not clock.reached and run.epochs != epochs:
        if recipe.fresh_pairs and run.epochs > 0:
            pairs.redraw(rng)  # the fix: new partners every epoch (the chapter keeps its first)
        steps_before = run.steps
        model.train()
        clock.start()
        for batch in loader:
            if clock.exhausted():
                break
            losses.append(source_step(model, loss_fn, batch, optimizer, in_batch=recipe.in_batch))
            run.steps += 1
            size = len(batch[0])
            run.images += size if recipe.in_batch else 2 * size
            run.pairs += size * (size - 1) // 2 if recipe.in_batch else size
            if evaluate is not None and clock.spent_s + clock.elapsed() >= next_check:
                clock.stop()
                _evaluate(run, evaluate, losses, clock.spent_s, run.steps / len(loader))
                next_check = clock.spent_s + eval_every_s
                clock.start()
        clock.stop()
        if run.steps == steps_before:
            break  # the budget ran out before this epoch's first step
        run.epochs += 1
        scheduler.step()
        if evaluate is not None and eval_every_s is None and not clock.reached:
            _evaluate(run, evaluate, losses, clock.spent_s, run.steps / len(loader))
    run.trained_s = clock.spent_s
    if evaluate is not None and (not run.evaluations or run.evaluations[-1]["steps"] < run.steps):
        _evaluate(run, evaluate, losses, clock.spent_s, run.steps / len(loader))
    return run


def _evaluate(
    run: SourceRun,
    evaluate: Callable[[nn.Module], float],
    losses: list[torch.Tensor],
    trained_s: float,
    epoch: float,
) -> None:
    """Record one evaluation, keep a copy of the weights when they are the best so far, and put
    the model back in train mode."""
    row = {
        "epoch": epoch,
        "trained_s": trained_s,
        "steps": run.steps,
        "pairs": run.pairs,
        "train_loss": float(torch.stack(losses).mean()) if losses else math.nan,
        "val_1nn": evaluate(run.model),
    }
    losses.clear()
    run.evaluations.append(row)
    run.best.update(row, run.model)
    run.lowest_loss.update(row, run.model)
    run.model.train()


# --- embeddings and scores, the chapter's way or the right way ----------------------------------


def source_embeddings(
    model: nn.Module, pixels: torch.Tensor, *, eval_mode: bool, seed: int = 0
) -> torch.Tensor:
    """Embeddings (N, dim) of network input (N, 1, 28, 28): the right way, or the chapter's.

    Taught in 04_training. `eval_mode=True` is `evaluation.embed`. Otherwise the chapter's loop:
    train mode (dropout on, BatchNorm normalising by each batch and updating its running
    statistics), shuffled batches of 16, no gradients; it runs on a copy of `model`, because it
    changes the BatchNorm statistics of the network it embeds with.
    """
    if eval_mode:
        return embed(model, pixels)
    network = copy.deepcopy(model).train()
    order = torch.randperm(len(pixels), generator=torch.Generator().manual_seed(seed))  # (N,)
    outputs = torch.empty(len(pixels), _output_size(network))  # (N, dim)
    device = next(network.parameters()).device
    with torch.no_grad():
        for rows in order.split(SOURCE_BATCH):
            outputs[rows] = network(pixels[rows].to(device)).float().cpu()  # (16, dim)
    return outputs


def _output_size(model: nn.Module) -> int:
    """The embedding size of a digit network, read off its last layer with weights."""
    return [module for module in model.modules() if hasattr(module, "out_features")][
        -1
    ].out_features


Prepared = tuple[torch.Tensor, torch.Tensor]  # (pixels (N, 1, 28, 28), labels (N,))


def source_splits(digits: Digits, *, scrambled: bool) -> dict[str, Prepared]:
    """Every split of `digits` ("train", "val", "test") as the chapter feeds it to the network."""
    return {
        split: (
            source_pixels(getattr(digits, f"{split}_images"), scrambled=scrambled),
            getattr(digits, f"{split}_labels"),
        )
        for split in ("train", "val", "test")
    }


def one_nn(
    model: nn.Module,
    gallery: Prepared,
    queries: Prepared,
    *,
    eval_mode: bool = True,
    seed: int = 0,
) -> float:
    """1-NN accuracy of the queries against the gallery, embedded the right way or the chapter's.

    Taught in 04_training. `gallery` and `queries` are `(pixels, labels)`, prepared as the
    network was trained (scrambled or not).
    """
    gallery_z = source_embeddings(model, gallery[0], eval_mode=eval_mode, seed=seed)
    query_z = source_embeddings(model, queries[0], eval_mode=eval_mode, seed=seed + 1)
    return knn_accuracy(gallery_z, gallery[1], query_z, queries[1])


def source_scores(
    run: SourceRun,
    recipe: SourceRecipe,
    gallery: Prepared,
    queries: dict[str, Prepared],
    *,
    seed: int = 0,
) -> dict[str, float]:
    """`one_nn` of each named query set, measured as `recipe` says.

    Taught in 04_training. The network is the run's final one or its best evaluated copy
    (`recipe.keep_best`), embedded in eval or train mode (`recipe.eval_mode`).
    """
    model = run.chosen_model(recipe)
    return {
        name: one_nn(model, gallery, prepared, eval_mode=recipe.eval_mode, seed=seed)
        for name, prepared in queries.items()
    }

"""Training across processes with torch.distributed: every process's negatives in every loss.

Each process embeds its own part of the batch. `GatheredLoss` collects the embeddings of all
processes with a gather that carries gradients and hands them to the unchanged loss, so every
anchor is compared with the negatives of every process, as CLIP trains. `DistributedDataParallel`
averages the gradients, and `training.fit` runs as it is. `helpers.launch.launch` starts the
workers below from a notebook; `python -m helpers.distributed` is the same training under torchrun.

Taught in 07_scaling_out.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as autograd_collectives
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from helpers import checkpoints, data, model, recipes, runtime
from helpers.launch import default_backend, rank_device
from helpers.training import Batch, TrainConfig, fit, train_step


def gather(tensor: torch.Tensor, *, with_grad: bool = True) -> torch.Tensor:
    """Every process's `tensor` (batch, ...) stacked in rank order: (world_size * batch, ...).

    Taught in 07_scaling_out. With `with_grad` the gather is differentiable: the gradient that
    any process's loss sends to a slot goes back to the process that owns it (summed over
    processes). Without it (a plain `all_gather`) the other processes' slots are constants and
    only this process's own slot keeps its gradient.
    """
    if with_grad:
        # torch.distributed.nn.functional.all_gather has carried gradients since torch 1.x; torch
        # 2.14 prefers a private successor that older versions (Colab's) lack, so keep this one.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "torch.distributed.nn.functional", FutureWarning)
            return torch.cat(autograd_collectives.all_gather(tensor))
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    parts[dist.get_rank()] = tensor  # the local part, still attached to this process's graph
    return torch.cat(parts)


def _check_equal_batches(batch: int, device: torch.device) -> None:
    sizes = [torch.zeros(1, dtype=torch.long, device=device) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, torch.tensor([batch], device=device))
    if len({int(size) for size in sizes}) != 1:
        raise ValueError(
            f"Every process must embed a batch of the same size; got {[int(s) for s in sizes]}. "
            "Give each process an equal share (drop the last, shorter batch)."
        )


class GatheredLoss(nn.Module):
    """Gathers (z_1, z_2, labels) from every process, then calls the unchanged `loss_fn` on them.

    Taught in 07_scaling_out. With W processes of b items each, every process computes the loss
    over all W * b items, so each anchor meets the negatives of every process. The loss is the
    same number on every process; with the differentiable gather each process's embeddings
    receive W times their share of the gradient, and DistributedDataParallel's average divides
    that by W again: the gradients equal one process's on the whole batch. Under
    `torch.no_grad()` (`fit`'s validation, where every process holds the whole validation split)
    nothing is gathered and the loss is computed on the local batch alone.
    """

    def __init__(self, loss_fn: nn.Module, *, with_grad: bool = True) -> None:
        super().__init__()
        self.loss_fn = loss_fn
        self.with_grad = with_grad
        self.batch_kinds = getattr(loss_fn, "batch_kinds", None)  # what fit checks

    def forward(
        self, z_1: torch.Tensor, z_2: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        if not (dist.is_initialized() and torch.is_grad_enabled()):
            return self.loss_fn(z_1, z_2, labels)
        _check_equal_batches(len(z_1), z_1.device)
        all_1 = gather(z_1, with_grad=self.with_grad)  # (W * batch, dim)
        all_2 = gather(z_2, with_grad=self.with_grad)  # (W * batch, dim)
        all_labels = None if labels is None else gather(labels, with_grad=False)  # (W * batch,)
        return self.loss_fn(all_1, all_2, all_labels)


class SplitBatchLoss(nn.Module):
    """The loss of W processes that do not gather, simulated in one: each group its own negatives.

    Taught in 07_scaling_out. The batch is cut into `groups` equal parts and `loss_fn` is
    averaged over them, so with InfoNCE on two views of b items an anchor meets
    2 * b / groups - 2 negatives instead of 2 * b - 2, at the same images and steps.
    """

    def __init__(self, loss_fn: nn.Module, *, groups: int) -> None:
        super().__init__()
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"groups must be a whole number of at least 1, got {groups!r}.")
        self.loss_fn = loss_fn
        self.groups = groups
        self.batch_kinds = getattr(loss_fn, "batch_kinds", None)

    def forward(
        self, z_1: torch.Tensor, z_2: torch.Tensor, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        if len(z_1) % self.groups or len(z_1) // self.groups < 1:
            raise ValueError(
                f"A batch of {len(z_1)} does not split into {self.groups} equal groups; use a "
                "batch size that is a multiple of groups."
            )
        size = len(z_1) // self.groups
        parts_1 = z_1.reshape(self.groups, size, -1)  # (groups, b / groups, dim)
        parts_2 = z_2.reshape(self.groups, size, -1)  # (groups, b / groups, dim)
        # torch.vmap calls loss_fn on every group at once: the same numbers as a loop over the
        # groups (the tests check it), without a Python loop of many small losses per step.
        if labels is None:
            losses = torch.vmap(lambda a, b: self.loss_fn(a, b, None))(parts_1, parts_2)
        else:
            losses = torch.vmap(self.loss_fn)(parts_1, parts_2, labels.reshape(self.groups, size))
        return losses.mean()  # (groups,) -> the mean over groups


def negatives_per_anchor(batch_size: int, *, groups: int = 1) -> int:
    """How many negatives an InfoNCE anchor meets: the other 2b/g - 2 views of its group."""
    return 2 * batch_size // groups - 2


def shard(digits: Any, *, rank: int, world_size: int, seed: int = 0) -> Any:
    """This process's part of the training digits: equal, disjoint parts of one fixed shuffle.

    Taught in 07_scaling_out. Every part has the same size (a remainder of at most
    world_size - 1 digits is left out), so every process runs the same number of steps. The
    validation (and test) digits stay whole on every process.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must lie in [0, {world_size}), got {rank}.")
    count = len(digits.train_images) // world_size
    if count < 1:
        raise ValueError(f"{len(digits.train_images)} training digits cannot feed {world_size}.")
    order = torch.randperm(len(digits.train_images), generator=torch.Generator().manual_seed(seed))
    mine = order[rank * count : (rank + 1) * count]  # (count,)
    return replace(
        digits, train_images=digits.train_images[mine], train_labels=digits.train_labels[mine]
    )


def wrap(model: nn.Module) -> DistributedDataParallel:
    """The model on this process's device inside DistributedDataParallel (SyncBatchNorm on GPUs).

    SyncBatchNorm computes BatchNorm's statistics over every process's batch, but only on GPUs;
    on the CPU each process normalises with the statistics of its own part of the batch.
    """
    device = rank_device()
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(device)
    return DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None
    )


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}


def loss_and_gradients(
    model: nn.Module, loss_fn: nn.Module, batch: Batch
) -> tuple[float, dict[str, torch.Tensor]]:
    """`training.train_step` with a learning rate of 0: the loss, and the gradient of every weight.

    Taught in 07_scaling_out, to compare one process with several: the very step `fit` takes,
    whose optimiser leaves the weights as they were. The batch moves to the model's device; the
    gradients come back on the CPU, named as in the unwrapped model. The model's mode is kept.
    """
    device = next(model.parameters()).device
    batch = tuple(None if part is None else part.to(device) for part in batch)
    standing_still = torch.optim.SGD(model.parameters(), lr=0.0)  # the step changes no weight
    loss = train_step(model, loss_fn, batch, standing_still)
    inner = model.module if isinstance(model, DistributedDataParallel) else model
    gradients = {
        name: weight.grad.detach().cpu().clone() for name, weight in inner.named_parameters()
    }
    return float(loss), gradients


def my_part(batch: Batch) -> Batch:
    """This process's equal, contiguous slice of every part of a global batch (None stays None)."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    size = len(batch[0]) // world_size
    if len(batch[0]) % world_size or size < 1:
        raise ValueError(
            f"A batch of {len(batch[0])} does not split evenly over {world_size} processes."
        )
    return tuple(None if part is None else part[rank * size : (rank + 1) * size] for part in batch)


def step_worker(
    model: nn.Module, loss_fn: nn.Module, batch: Batch, *, with_grad: bool = True
) -> tuple[float, dict[str, torch.Tensor]]:
    """One process's share of one step on a global batch: it embeds only its own slice of it.

    Taught in 07_scaling_out. Run by `launch`; returns `loss_and_gradients` of the model in
    DistributedDataParallel with the loss in `GatheredLoss`, so after DDP's average every rank
    returns the same values. `with_grad=False` gathers with a plain all_gather instead.
    """
    gathered = GatheredLoss(loss_fn, with_grad=with_grad)
    return loss_and_gradients(wrap(model), gathered, my_part(batch))


def fit_worker(
    model: nn.Module, loss_fn: nn.Module, digits: Any, config: TrainConfig
) -> dict[str, Any]:
    """One process's share of a distributed `training.fit`; rank 0 also returns the weights.

    Taught in 07_scaling_out. `config.batch_size` is the global batch: each of the W processes
    trains on batch_size / W of its own shard of the training digits (seed + rank draws its
    augmentations and dropout masks), and `fit` itself is unchanged. Every process validates on
    the whole validation split, with its own shard as the 1-NN gallery. A time budget would stop
    the processes at different steps, so it is refused.
    """
    rank, world_size = dist.get_rank(), dist.get_world_size()
    if config.time_budget_s is not None:
        raise ValueError(
            "time_budget_s would stop each process after a different number of steps, and the "
            "others would wait for it forever; set epochs instead."
        )
    if config.batch_size % world_size or config.batch_size // world_size < 2:
        raise ValueError(
            f"batch_size {config.batch_size} must split into {world_size} equal parts of 2 or more."
        )
    local = replace(config, batch_size=config.batch_size // world_size, seed=config.seed + rank)
    runtime.seed_everything(local.seed)  # this process's dropout masks, the same on every rerun
    if config.channels_last:  # before DDP: its gradient buckets follow the weights' layout
        model = model.to(memory_format=torch.channels_last)
    wrapped = wrap(model)
    started = time.perf_counter()
    result = fit(
        wrapped,
        GatheredLoss(loss_fn),
        shard(digits, rank=rank, world_size=world_size, seed=config.seed),
        config=local,
        progress=False,
    )
    return {
        "rank": rank,
        "history": [dict(row) for row in result.history],
        "best_epoch": result.best_epoch,
        "seconds": time.perf_counter() - started,
        "state": _cpu_state(wrapped.module) if rank == 0 else None,
    }


def similarity_bytes(
    batch_size: int, *, world_size: int = 1, bytes_per_value: int = 4, sharded: bool = False
) -> int:
    """Bytes of one process's similarity matrix for a global batch of `batch_size` pairs.

    Taught in 07_scaling_out. Unsharded, every process holds all batch x batch scores (CLIP's
    image-text logits); sharded, it holds only its own batch / world_size rows of them.
    """
    rows = batch_size // world_size if sharded else batch_size
    return rows * batch_size * bytes_per_value


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="torchrun --nproc-per-node 2 -m helpers.distributed",
        description="Train the series' recipe (helpers.recipes) across processes.",
    )
    parser.add_argument(
        "--data-source",
        default=None,
        help='"sample", "mnist" or "kaggle" (default: the series\' rule)',
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="the global batch (default: the recipe's per process)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--limit", type=int, default=None, help="use this many training and validation digits"
    )
    parser.add_argument("--out", type=Path, default=Path("checkpoints/07_torchrun"))
    return parser.parse_args(argv)


def _join_torchrun_group() -> torch.device:
    """Join the group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)."""
    if "RANK" not in os.environ:
        raise SystemExit(
            "Start this with torchrun, e.g. torchrun --nproc-per-node 2 -m helpers.distributed"
        )
    backend = default_backend(int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group(backend, timeout=timedelta(minutes=5))  # env:// from torchrun
    return rank_device()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point for torchrun: the series' recipe in `fit_worker`; rank 0 saves best.pt."""
    args = _parse(argv)
    device = _join_torchrun_group()
    try:
        source = args.data_source or data.default_source(device)
        if source == "mnist" and int(os.environ.get("LOCAL_RANK", "0")) == 0:
            data.load_digits("mnist", download=True)  # one download per machine, first
        dist.barrier()
        digits = data.load_digits(source)
        if args.limit is not None:  # a quick smoke run: fewer training and validation digits
            digits = replace(
                digits,
                **{
                    f"{split}_{part}": getattr(digits, f"{split}_{part}")[: args.limit]
                    for split in ("train", "val")
                    for part in ("images", "labels")
                },
            )
        recipe = recipes.series_config(device, epochs=args.epochs, seed=args.seed)
        batch_size = args.batch_size or recipe.batch_size * dist.get_world_size()
        config = replace(recipe, batch_size=batch_size)
        torch.manual_seed(args.seed)  # rank 0's initial weights reach every rank through DDP
        network = model.EmbeddingNet()
        result = fit_worker(network, recipes.series_loss(), digits, config)
        if dist.get_rank() == 0:
            network.load_state_dict(result["state"])
            checkpoint = checkpoints.make_checkpoint(
                network,
                epoch=result["best_epoch"],
                config=config.to_dict(),
                history=result["history"],
                data=digits,  # every shard's digits: what check_held_out compares with
            )
            path = checkpoints.save_checkpoint(args.out / "best.pt", checkpoint)
            best = result["history"][result["best_epoch"] - 1]
            print(
                f"rank 0: {len(result['history'])} epochs, best epoch {result['best_epoch']} "
                f"val_1nn {best['val_1nn']:.3f}, saved {path}"
            )
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()

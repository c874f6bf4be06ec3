"""What a child process runs in tests/test_faults.py: save checkpoints until the test kills it.

A module of its own so a forkserver can import it (and torch) once for every child.
"""

from __future__ import annotations

import os
import time
from multiprocessing.connection import Connection
from pathlib import Path

import torch

from helpers import checkpoints
from helpers.model import EmbeddingNet

STAGES = ("mid-write", "before-fsync", "after-fsync", "after-replace")


def checkpoint_of(epoch: int, *, embedding_dim: int = 16) -> dict:
    """A checkpoint whose weights depend only on `epoch` (the seed), so a test can recompute them."""
    torch.manual_seed(epoch)
    model = EmbeddingNet(embedding_dim=embedding_dim)
    return checkpoints.make_checkpoint(model, epoch=epoch, config={})


def save_until_killed(stage: str, path: Path, report: Connection) -> None:
    """Save epoch 1, then either save epochs 2, 3, ... in a loop ("loop") or pause epoch 2's save
    at `stage` (one of STAGES) and wait there for SIGKILL, telling the test where it stopped."""
    checkpoints.save_checkpoint(path, checkpoint_of(1))
    report.send("saved 1")
    if stage == "loop":
        epoch = 2
        while True:
            checkpoints.save_checkpoint(path, checkpoint_of(epoch))
            epoch += 1

    def pause(name: str) -> None:
        if name == stage:
            report.send(f"reached {name}")
            time.sleep(120)

    real_write, real_fsync, real_replace = os.write, os.fsync, os.replace

    def write(descriptor: int, data: memoryview) -> int:
        written = real_write(descriptor, data[: max(1, len(data) // 2)])  # half, then stop
        pause("mid-write")
        return written

    def fsync(descriptor: int) -> None:
        pause("before-fsync")
        real_fsync(descriptor)
        pause("after-fsync")

    def replace(source: str, target: str) -> None:
        real_replace(source, target)
        pause("after-replace")

    os.write, os.fsync, os.replace = write, fsync, replace
    checkpoints.save_checkpoint(path, checkpoint_of(2))

"""Shared fixtures: small MNIST files written in the exact formats the real sources use."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from helpers.data import PIXEL_COLUMNS


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format of the MNIST files (big-endian header)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` random 28x28 uint8 images with labels cycling through 0-9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = np.arange(count) % 10
    return images, labels


def write_kaggle_csv(path: Path, images: np.ndarray, labels: np.ndarray | None) -> Path:
    """Write digits as Kaggle's digit-recognizer CSV (train.csv with labels, test.csv without)."""
    header = (["label"] if labels is not None else []) + PIXEL_COLUMNS
    lines = [",".join(header)]
    for i, image in enumerate(images):
        cells = ([str(int(labels[i]))] if labels is not None else []) + [
            str(v) for v in image.ravel()
        ]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_mnist_idx(
    root: Path,
    *,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
) -> Path:
    """Write given (images, labels) as uncompressed IDX files in torchvision's layout:
    root/MNIST/raw/*-ubyte, the official training split then the official test split."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, (images, labels) in (("train", train), ("t10k", test)):
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(idx_bytes(images))
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    return raw


def write_mnist_raw(root: Path, *, train_count: int = 40, test_count: int = 20) -> Path:
    """Write uncompressed IDX files in torchvision's layout: root/MNIST/raw/*-ubyte."""
    return write_mnist_idx(root, train=fake_digits(train_count, 1), test=fake_digits(test_count, 2))


def write_mnist_mirror(folder: Path) -> list[tuple[str, str]]:
    """Write the four gzipped IDX files a torchvision MNIST mirror serves; return (name, md5)."""
    import hashlib

    folder.mkdir(parents=True, exist_ok=True)
    resources = []
    for prefix, count, seed in (("train", 40, 1), ("t10k", 20, 2)):
        images, labels = fake_digits(count, seed)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte.gz"
            payload = gzip.compress(idx_bytes(array), mtime=0)
            (folder / name).write_bytes(payload)
            resources.append((name, hashlib.md5(payload).hexdigest()))
    return resources


def stripe_digits(count: int) -> torch.Tensor:
    """`count` uint8 images of repeating 0..255 ramps: cheap, varied pixels for plotting tests."""
    return torch.arange(count * 784, dtype=torch.int64).reshape(count, 28, 28).remainder(256).byte()


@pytest.fixture(autouse=True)
def close_figures():
    """Close matplotlib figures after every test so they do not pile up in memory."""
    yield
    plt.close("all")


@pytest.fixture
def kaggle_train(tmp_path: Path) -> Path:
    images, labels = fake_digits(60)
    return write_kaggle_csv(tmp_path / "train.csv", images, labels)

"""MNIST digits from three real sources, all returned the same way: uint8 images and int64 labels.

Sources:
- ``"sample"`` (the offline default): 5,000 real MNIST digits shipped in ``data/`` (see
  ``data/README.md``), checked against a sha256 and split 4,000 / 1,000 with a seeded, stratified
  split.
- ``"mnist"``: the full 70,000 digits through ``torchvision.datasets.MNIST`` (train for training,
  test for validation), downloaded with torchvision's checksums and cached under ``data/MNIST``.
- ``"kaggle"``: the Kaggle digit-recognizer ``train.csv`` (``label,pixel0..pixel783``) that the
  source material used.

Taught in 02_pairs.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import struct
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from helpers.checkpoints import writer_is_gone

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SAMPLE_FILE = "mnist_sample.csv.gz"
SAMPLE_SHA256 = "f508f41b6f1a56534f39e159748b8049c0eea5b41e52ad57f09f0fecec4041e9"
PIXEL_COLUMNS = [f"pixel{i}" for i in range(784)]
SOURCES = ("sample", "mnist", "kaggle")


@dataclass(frozen=True)
class Digits:
    """Training and validation digits: images (N, 28, 28) uint8, labels (N,) int64."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    source: str
    description: str

    def __repr__(self) -> str:
        return (
            f"Digits(source={self.source!r}, train={tuple(self.train_images.shape)}, "
            f"val={tuple(self.val_images.shape)}, dtype={self.train_images.dtype})"
        )


def as_image_tensor(images: object, *, caller: str) -> torch.Tensor:
    """A tensor from a tensor, a NumPy array or nested lists; ValueError for anything else."""
    if isinstance(images, torch.Tensor):
        return images
    try:
        array = np.asarray(images)
        if array.dtype.kind not in "biuf":  # bool, int, unsigned, float; not str/object/complex
            raise TypeError(f"dtype {array.dtype}")
        return torch.from_numpy(np.ascontiguousarray(array))
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(
            f"{caller} expects images as a tensor or array of numbers, got "
            f"{type(images).__name__} ({error}); use a uint8 tensor shaped (N, 28, 28)."
        ) from None


def to_network_input(images: torch.Tensor) -> torch.Tensor:
    """Turn uint8 pixels 0..255 into float32 network input in [-1, 1], shape (N, 1, 28, 28).

    Taught in 02_pairs: 0 maps to -1, 255 to +1, and nothing wraps around (the source's
    ``ToPILImage()`` on float32 input does wrap; see the pitfall there). Anything else (another
    dtype, another shape, something that is not an array of numbers) raises ValueError.
    """
    images = as_image_tensor(images, caller="to_network_input")
    if images.dtype != torch.uint8:
        raise ValueError(
            f"to_network_input expects uint8 pixels 0..255, got dtype {images.dtype}; "
            "convert with .to(torch.uint8) only if the values really are 0..255."
        )
    shape = tuple(images.shape)
    if images.ndim == 2:
        images = images.unsqueeze(0)
    if images.ndim == 3:
        images = images.unsqueeze(1)  # (N, 1, 28, 28)
    if images.ndim != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(
            f"to_network_input expects images shaped (28, 28), (N, 28, 28) or (N, 1, 28, 28), "
            f"got {shape}."
        )
    return images.to(torch.float32) / 127.5 - 1.0


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_kaggle_csv(
    path: str | Path, *, require_labels: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a Kaggle digit-recognizer CSV into (images (N, 28, 28) uint8, labels (N,) int64 or None).

    ``train.csv`` has a ``label`` column then ``pixel0..pixel783``; ``test.csv`` has only the
    pixels (pass ``require_labels=False`` to read it; its labels come back as None).
    A missing file raises FileNotFoundError; anything else wrong with it (empty, truncated,
    not a CSV, ragged rows, wrong columns, a cell that is not a whole number in range) raises
    ValueError naming the file and, where there is one, the row and column. Nothing is written.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such file. Download train.csv from Kaggle's digit-recognizer competition "
            "and pass its path, or use the offline default source='sample'."
        )
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is empty (0 bytes). Download it again or pass another file.")
    try:
        with warnings.catch_warnings():
            # index_col=False: rows longer than the header are an error, not an index column
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, index_col=False)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} holds no CSV header or rows. Download it again.") from None
    except pd.errors.ParserWarning:
        raise ValueError(
            f"{path}: its rows have more cells than the header has names, so the columns would "
            "shift. Every row needs exactly one cell per header name; download it again."
        ) from None
    except Exception as error:  # gzip, zip, xz, tar, encodings, the tokenizer: many ways to fail
        reason = " ".join(str(error).split())[:300]
        raise ValueError(
            f"{path} could not be read as a CSV file ({type(error).__name__}: {reason}); it may "
            "be truncated or corrupted. Download it again."
        ) from None

    columns = [str(c) for c in frame.columns]
    has_label = "label" in columns
    if require_labels and not has_label:
        test_csv = columns[:1] == ["pixel0"]
        hint = (
            " It looks like Kaggle's test.csv, which has no labels: pass train.csv."
            if test_csv
            else ""
        )
        raise ValueError(
            f"{path} has no 'label' column, so its digits cannot be used for training.{hint}"
        )
    expected = (["label"] if has_label else []) + PIXEL_COLUMNS
    if columns != expected:
        pixel_count = sum(c.startswith("pixel") for c in columns)
        missing = [c for c in expected if c not in columns][:3]
        extra = [c for c in columns if c not in expected][:3]
        raise ValueError(
            f"{path} does not have the digit-recognizer columns: expected "
            f"{'label, ' if has_label else ''}pixel0..pixel783 (784 pixels of a 28x28 image), "
            f"found {pixel_count} pixel columns; missing {missing or 'none'}, "
            f"unexpected {extra or 'none'}."
        )
    if len(frame) == 0:
        raise ValueError(f"{path} has a header but no rows of digits. Download it again.")

    # Fast path: pandas parsed every column as numbers. Otherwise find the first bad cell.
    all_numeric = all(
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        for dtype in frame.dtypes
    )
    numeric = (
        frame
        if all_numeric  # True/False are not pixels: as text they fail to_numeric below
        else frame.apply(lambda column: pd.to_numeric(column.astype(str), errors="coerce"))
    )
    numbers = numeric.to_numpy(dtype=np.float64)
    bad = np.isnan(numbers)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        cell = frame.iat[row, column]
        empty = (
            cell is None or (isinstance(cell, float) and np.isnan(cell)) or str(cell).strip() == ""
        )
        what = "is empty or NaN" if empty else f"holds {str(cell)!r}, which is not a number"
        raise ValueError(
            f"{path}: row {row + 1} (after the header), column {columns[column]} {what}. "
            "Every cell must be a whole number; fix or drop that row."
        )
    offset = 1 if has_label else 0
    pixels = numbers[:, offset:]
    if (pixels != np.round(pixels)).any() or pixels.min() < 0 or pixels.max() > 255:
        row, column = (
            int(i)
            for i in np.argwhere((pixels != np.round(pixels)) | (pixels < 0) | (pixels > 255))[0]
        )
        raise ValueError(
            f"{path}: row {row + 1}, column {columns[column + offset]} is {pixels[row, column]:g}; "
            "pixels must be whole numbers from 0 to 255."
        )
    images = pixels.astype(np.uint8).reshape(-1, 28, 28)
    if not has_label:
        return images, None
    labels = numbers[:, 0]
    outside = (labels != np.round(labels)) | (labels < 0) | (labels > 9)
    if outside.any():
        row = int(np.argmax(outside))
        raise ValueError(
            f"{path}: row {row + 1} has label {labels[row]:g}; labels must be digits 0 to 9."
        )
    return images, labels.astype(np.int64)


def load_sample(
    path: str | Path | None = None, *, verify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Read the shipped real MNIST sample (5,000 digits, sorted by label) after checking its sha256."""
    path = Path(path) if path is not None else DATA_DIR / SAMPLE_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: the offline MNIST sample is missing. Restore it with `git checkout -- data/` "
            "or rebuild it with `python data/make_sample.py`."
        )
    if verify:
        actual = sha256_of(path)
        if actual != SAMPLE_SHA256:
            raise ValueError(
                f"{path} does not match its recorded sha256 (expected {SAMPLE_SHA256[:12]}..., got "
                f"{actual[:12]}...): the file was changed or damaged. Restore it with "
                "`git checkout -- data/` or rebuild it with `python data/make_sample.py`."
            )
    images, labels = read_kaggle_csv(path)
    return images, labels


def split_train_validation(
    images: np.ndarray, labels: np.ndarray, *, validation_size: int | float = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded split that keeps every digit's share equal in both parts (stratified).

    Taught in 02_pairs: the sample is sorted by label, so taking the last rows as validation
    would leave whole digits out of training.
    """
    n = len(labels)
    if isinstance(validation_size, bool) or not isinstance(validation_size, (int, float)):
        raise ValueError(f"validation_size must be a count or a fraction, got {validation_size!r}.")
    count = (
        int(round(validation_size * n)) if isinstance(validation_size, float) else validation_size
    )
    if not 10 <= count <= n - 10:
        raise ValueError(
            f"validation_size={validation_size!r} gives {count} of {n} digits for validation; "
            "keep at least 10 digits on each side (one per class)."
        )
    train_x, val_x, train_y, val_y = train_test_split(
        images, labels, test_size=count, stratify=labels, random_state=seed, shuffle=True
    )
    return train_x, train_y, val_x, val_y


def _damaged_mnist_files(raw: Path) -> list[tuple[Path, str]]:
    """Files in `raw` that must not be used, each with the reason.

    torchvision keeps each downloaded archive (``*.gz``) beside the file it unpacks. An archive
    is checked against torchvision's md5; the unpacked file against the size and CRC-32 that the
    verified archive records in its gzip trailer (no need to unpack it again). Files without an
    archive beside them (copied by hand) are only checked by torchvision's parser.
    """
    from torchvision.datasets import MNIST
    from torchvision.datasets.utils import check_integrity

    damaged = []
    for name, md5 in MNIST.resources:
        archive = raw / Path(name).name
        if not archive.is_file():
            continue
        if not check_integrity(str(archive), md5):
            damaged.append((archive, "does not match torchvision's md5 checksum"))
            continue
        unpacked = archive.with_suffix("")
        if not unpacked.is_file():
            continue
        with open(archive, "rb") as handle:
            handle.seek(-8, 2)
            crc, size = struct.unpack("<II", handle.read(8))  # gzip trailer: CRC-32, size mod 2**32
        actual_crc = 0
        with open(unpacked, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                actual_crc = zlib.crc32(chunk, actual_crc)
        if unpacked.stat().st_size % 2**32 != size or actual_crc != crc:
            damaged.append((unpacked, f"differs from its verified archive {archive.name}"))
    return damaged


def _read_torchvision_mnist(
    root: Path, *, train: bool, download: bool
) -> tuple[np.ndarray, np.ndarray]:
    from torchvision.datasets import MNIST

    raw = root / "MNIST" / "raw"
    try:
        dataset = MNIST(root=str(root), train=train, download=False)
    except RuntimeError as error:
        if "not found" not in str(error).lower():
            raise _idx_error(raw, error) from None
        if not download:
            raise FileNotFoundError(
                f"Full MNIST is not in {raw}. Pass download=True to fetch it (about 11 MB, "
                "checked against torchvision's checksums), or use the offline default source='sample'."
            ) from None
        _download_mnist(root)
        try:
            dataset = MNIST(root=str(root), train=train, download=False)
        except Exception as error:  # a just-downloaded file that still fails to parse
            raise _idx_error(raw, error) from None
    except Exception as error:
        raise _idx_error(raw, error) from None
    images, labels = dataset.data.numpy(), dataset.targets.numpy()
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise _idx_error(
            raw, ValueError(f"images {images.shape} do not match labels {labels.shape}")
        )
    if labels.min() < 0 or labels.max() > 9:
        raise _idx_error(raw, ValueError("labels outside 0-9"))
    return images.astype(np.uint8), labels.astype(np.int64)


def _check_mnist_files(root: Path, *, download: bool) -> None:
    """Fetch damaged MNIST files again (download=True) or name them so they can be deleted."""
    raw = root / "MNIST" / "raw"
    damaged = _damaged_mnist_files(raw)
    if damaged and download:
        _download_mnist(root)  # fetch every file again; the damaged ones are never read
        damaged = _damaged_mnist_files(raw)
    if damaged:
        listed = "; ".join(f"{path} {reason}" for path, reason in damaged)
        names = " ".join(str(path) for path, _ in damaged)
        raise ValueError(
            f"MNIST files in {raw} are truncated or corrupted, so they were not used: {listed}. "
            f"Delete them (rm {names}) and run again with download=True, which fetches them "
            "again and checks them, or use the offline default source='sample'."
        )


def _idx_error(raw: Path, error: Exception) -> ValueError:
    return ValueError(
        f"The MNIST IDX files in {raw} could not be read ({type(error).__name__}: {error}); one is "
        f"truncated or corrupted. Delete {raw} and download again with download=True."
    )


STAGING_PREFIX = ".mnist-download-"


def _mnist_cache_names() -> set[str]:
    """The file names torchvision's MNIST cache may hold: archives, unpacked files, old .pt files."""
    from torchvision.datasets import MNIST

    archives = {Path(name).name for name, _ in MNIST.resources}
    return archives | {Path(name).stem for name in archives} | {"training.pt", "test.pt"}


def _is_cache_entry(entry: Path, target: Path, known: set[str]) -> bool:
    """True for raw/ and processed/ in `target` and for the MNIST files inside them."""
    parts = entry.relative_to(target).parts
    if entry.is_symlink() or parts[0] not in ("raw", "processed"):
        return False
    if len(parts) == 1:
        return entry.is_dir()
    return len(parts) == 2 and entry.is_file() and entry.name in known


def _check_cache(target: Path) -> None:
    """Refuse to replace `target` unless it holds only torchvision's MNIST files (raw/, processed/).

    A learner may pass any `root`; this package deletes nothing there that it did not download.
    """
    known = _mnist_cache_names()
    foreign = [e for e in sorted(target.rglob("*")) if not _is_cache_entry(e, target, known)]
    if foreign or target.is_symlink() or not target.is_dir():
        shown = ", ".join(str(entry) for entry in foreign[:3]) or str(target)
        raise ValueError(
            f"{target} holds files that are not torchvision's MNIST cache ({shown}), so it was "
            "not replaced and nothing was deleted. Move them elsewhere, or pass another root=."
        )


def _remove_stale_staging(root: Path) -> None:
    """Remove staging folders that a killed download left in `root` (our own prefix only)."""
    for entry in root.glob(f"{STAGING_PREFIX}*"):
        match = re.fullmatch(rf"{re.escape(STAGING_PREFIX)}([1-9][0-9]{{0,9}})-\w+", entry.name)
        if match and entry.is_dir() and not entry.is_symlink() and writer_is_gone(int(match[1])):
            shutil.rmtree(entry)


def _download_mnist(root: Path) -> None:
    """Download into a temporary folder beside the cache and move it in only when complete."""
    from torchvision.datasets import MNIST

    target = root / "MNIST"
    if target.exists() or target.is_symlink():
        _check_cache(target)  # before downloading: nothing foreign is ever deleted
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(root)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=root))
    try:
        MNIST(root=str(staging), train=True, download=True)
        MNIST(root=str(staging), train=False, download=True)
        if target.exists():
            target.replace(staging / "previous")  # out of the way, deleted with the staging
        (staging / "MNIST").replace(target)
    except Exception as error:
        reason = " ".join(str(error).split())
        if "corrupted" in reason or "integrity" in reason:
            raise ValueError(
                f"A downloaded MNIST file failed torchvision's checksum ({reason}). Nothing was "
                f"written to {root / 'MNIST'}; try again later or use source='sample'."
            ) from None
        raise ConnectionError(
            f"Downloading full MNIST into {root / 'MNIST'} failed ({reason}). Nothing was written "
            "there; check the network or use the offline default source='sample'."
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # the folder mkdtemp made for this download


def load_digits(
    source: str = "sample",
    *,
    root: str | Path = DATA_DIR,
    path: str | Path | None = None,
    validation_size: int | float = 1000,
    seed: int = 0,
    download: bool = False,
) -> Digits:
    """Load MNIST digits from one of three real sources, split into training and validation.

    Taught in 02_pairs. ``validation_size`` applies to "sample" and "kaggle" (a count or a fraction);
    "mnist" keeps its official split (60,000 train, 10,000 test used for validation); its files
    are checked against torchvision's md5 before use, and damaged ones are fetched again with
    ``download=True`` or named (so they can be deleted) without it.
    """
    if source not in SOURCES:
        raise ValueError(f"source={source!r} is unknown; use one of {', '.join(SOURCES)}.")
    root = Path(root)
    if source == "mnist":
        _check_mnist_files(root, download=download)
        train_x, train_y = _read_torchvision_mnist(root, train=True, download=download)
        val_x, val_y = _read_torchvision_mnist(root, train=False, download=download)
        description = (
            "full MNIST (torchvision): 60,000 training, 10,000 test digits used for validation"
        )
    else:
        if source == "sample":
            images, labels = load_sample(path)
            description = "offline sample: 5,000 real MNIST digits shipped in data/"
        else:
            if path is None:
                raise ValueError(
                    "source='kaggle' needs path= pointing at the digit-recognizer train.csv "
                    "(download it from Kaggle; it needs a login)."
                )
            images, labels = read_kaggle_csv(path)
            description = f"Kaggle digit-recognizer CSV: {Path(path).name}"
        train_x, train_y, val_x, val_y = split_train_validation(
            images, labels, validation_size=validation_size, seed=seed
        )
        description += (
            f", split {len(train_y):,} train / {len(val_y):,} validation (stratified, seed {seed})"
        )
    return Digits(
        train_images=torch.from_numpy(np.ascontiguousarray(train_x)),
        train_labels=torch.from_numpy(np.ascontiguousarray(train_y)).long(),
        val_images=torch.from_numpy(np.ascontiguousarray(val_x)),
        val_labels=torch.from_numpy(np.ascontiguousarray(val_y)).long(),
        source=source,
        description=description,
    )


def write_gzip_deterministic(data: bytes, path: Path) -> None:
    """Write gzip bytes that depend only on ``data`` (no timestamp, no file name), atomically."""
    tmp = path.with_name(path.name + ".partial")
    try:
        with (
            open(tmp, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
        ):
            gz.write(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)  # only this function's own temporary, after a failure

"""MNIST digits from three real sources, split train / validation / test, as uint8 images.

- ``"sample"`` (the offline default): 5,000 real MNIST digits shipped with helpers (see
  ``data/README.md``), checked against a sha256, split 3,500 / 500 / 1,000.
- ``"mnist"``: the full 70,000 digits through ``torchvision.datasets.MNIST`` (cached and checked
  by `helpers.mnist_cache`): 55,000 / 5,000 from the official training set, the official 10,000
  test digits.
- ``"kaggle"``: the Kaggle digit-recognizer ``train.csv`` (``label,pixel0..pixel783``) that the
  source material used, split 70% / 10% / 20%.

Every split is stratified (each digit keeps its share in every part) and seeded. Validation is
for choosing epochs and settings; test is measured once, at the end. `Digits.provenance()` is what
a checkpoint records so that no evaluation runs on digits the network trained on.

Taught in 02_pairs (sources, the split, network input) and 05_embedding_space (provenance).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from helpers import mnist_cache
from helpers.files import require_file

SAMPLE_FILE, SAMPLE_SHA256 = mnist_cache.SAMPLE_FILE, mnist_cache.SAMPLE_SHA256
PIXEL_COLUMNS = [f"pixel{i}" for i in range(784)]
SOURCES = ("sample", "mnist", "kaggle")
# (validation_size, test_size) when not given: a count, or a fraction of all the source's digits.
SPLIT_DEFAULTS: dict[str, tuple[int | float, int | float | None]] = {
    "sample": (0.1, 0.2),  # 500 / 1,000 of 5,000
    "kaggle": (0.1, 0.2),
    "mnist": (5000, None),  # of the official 60,000 training digits; test is the official 10,000
}


@dataclass(frozen=True)
class Digits:
    """Training, validation and test digits: images (N, 28, 28) uint8, labels (N,) int64.

    Taught in 02_pairs. `loaded_by` is the `load_digits` call that gives these digits again.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    source: str
    description: str
    test_images: torch.Tensor = field(
        default_factory=lambda: torch.empty(0, 28, 28, dtype=torch.uint8)
    )
    test_labels: torch.Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.int64))
    loaded_by: str = ""

    def __repr__(self) -> str:
        return (
            f"Digits(source={self.source!r}, train={tuple(self.train_images.shape)}, "
            f"val={tuple(self.val_images.shape)}, test={tuple(self.test_images.shape)}, "
            f"dtype={self.train_images.dtype})"
        )

    def provenance(self) -> dict[str, Any]:
        """What a checkpoint records about the digits it trained on: plain values and tensors.

        Taught in 05_embedding_space. ``train_hashes`` holds one `content_hashes` value per
        training image, sorted, so any later set of digits (from any source: the sample is part
        of MNIST's training set, Kaggle's CSV is MNIST too) can be checked against it; the
        fingerprints are sha256 of the sorted hashes (order does not matter, copies do).
        """
        train_hashes = torch.sort(content_hashes(self.train_images)).values  # (N,) int64
        return {
            "source": self.source,
            "description": self.description,
            "loaded_by": self.loaded_by,
            "train_count": len(train_hashes),
            "train_fingerprint": fingerprint(train_hashes),
            "train_hashes": train_hashes,
            "val_fingerprint": fingerprint(content_hashes(self.val_images)),
            "test_fingerprint": fingerprint(content_hashes(self.test_images)),
        }


def default_source(device: torch.device) -> str:
    """Full MNIST on a CUDA GPU, else the sample: one rule for 04-08, so 05-08 match 04's data."""
    return "mnist" if device.type == "cuda" else "sample"


def load_digits(
    source: str = "sample",
    *,
    path: str | Path | None = None,
    root: str | Path | None = None,
    validation_size: int | float | None = None,
    test_size: int | float | None = None,
    seed: int = 0,
    download: bool = False,
) -> Digits:
    """Load MNIST digits from one of three real sources, split train / validation / test.

    Taught in 02_pairs. Sizes are counts or fractions of all the source's digits; left out, they
    are 10% and 20% for "sample" and "kaggle", and 5,000 validation digits for "mnist", whose test
    digits are the official 10,000. ``path`` is the Kaggle CSV (or another copy of the sample);
    ``root`` is where full MNIST is cached (`mnist_cache.default_root()` when left out), and
    ``download=True`` fetches it, or fetches again files that fail their checksums.
    """
    if source not in SOURCES:
        raise ValueError(f"source={source!r} is unknown; use one of {', '.join(SOURCES)}.")
    default_validation, default_test = SPLIT_DEFAULTS[source]
    validation_size = default_validation if validation_size is None else validation_size
    if source == "mnist":
        if test_size is not None:
            raise ValueError(
                "source='mnist' keeps the official 10,000 test digits; test_size applies to "
                "'sample' and 'kaggle' only. Leave it out."
            )
        folder = Path(root) if root is not None else mnist_cache.default_root()
        images, labels, test_x, test_y = mnist_cache.load_mnist(folder, download=download)
        train, val, _ = stratified_split(labels, validation_size=validation_size, seed=seed)
        what = "full MNIST (torchvision), validation from the official 60,000 training digits"
    else:
        test_size = default_test if test_size is None else test_size
        images, labels, what = _read_source(source, path)
        train, val, test = stratified_split(
            labels, validation_size=validation_size, test_size=test_size, seed=seed
        )
        test_x, test_y = images[test], labels[test]
    named = {"path": None if path is None else str(path), "validation_size": validation_size}
    named |= {"test_size": test_size, "seed": seed, "download": source == "mnist" or None}
    call = ", ".join([repr(source)] + [f"{k}={v!r}" for k, v in named.items() if v is not None])
    return Digits(
        train_images=_tensor(images[train]),
        train_labels=_tensor(labels[train]).long(),
        val_images=_tensor(images[val]),
        val_labels=_tensor(labels[val]).long(),
        source=source,
        description=f"{what}; {len(train):,} train / {len(val):,} validation / {len(test_y):,} "
        f"test digits (stratified, seed {seed})",
        test_images=_tensor(test_x),
        test_labels=_tensor(test_y).long(),
        loaded_by=f"data.load_digits({call})",
    )


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))


def _read_source(source: str, path: str | Path | None) -> tuple[np.ndarray, np.ndarray, str]:
    """All digits of the offline sample or a Kaggle CSV, before any split, and what they are."""
    if source == "sample":
        images, labels = load_sample(path)
        return images, labels, "offline sample: 5,000 real MNIST digits shipped with helpers"
    if path is None:
        raise ValueError(
            "source='kaggle' needs path= pointing at the digit-recognizer train.csv "
            "(download it from Kaggle; it needs a login)."
        )
    images, labels = read_kaggle_csv(path)
    return images, labels, f"Kaggle digit-recognizer CSV: {Path(path).name}"


# --- the split ------------------------------------------------------------------------------------


def _count(size: object, total: int, name: str) -> int:
    """A split size given as a count or a fraction of `total`, as a count."""
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not 0 <= size < total:
        raise ValueError(f"{name} must be a count below {total:,} or a fraction, got {size!r}.")
    if isinstance(size, float) and size >= 1:
        raise ValueError(f"{name}={size!r}: a fraction must be below 1; a count is a whole number.")
    return int(round(size * total)) if isinstance(size, float) else size


def _shares(per_class: np.ndarray, count: int) -> np.ndarray:
    """`count` split over the classes in proportion to their sizes (largest remainder first)."""
    exact = per_class * count / per_class.sum()
    shares = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - shares), kind="stable")
    shares[order[: count - int(shares.sum())]] += 1
    return shares


def stratified_split(
    labels: np.ndarray | torch.Tensor,
    *,
    validation_size: int | float,
    test_size: int | float = 0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row numbers (train, validation, test) of a seeded split that keeps every digit's share.

    Taught in 02_pairs: the sample is sorted by label, so taking the last rows as validation
    would leave whole digits out of training. Sizes are counts or fractions of all rows; each
    part is shuffled. Written with NumPy rather than scikit-learn's `train_test_split` so that a
    torch-only script (bench/gpu.py) can load digits, and so one call splits in three.
    """
    labels = np.asarray(labels)
    total = len(labels)
    n_val = _count(validation_size, total, "validation_size")
    n_test = _count(test_size, total, "test_size")
    classes, per_class = np.unique(labels, return_counts=True)
    smallest = max(len(classes), 1)
    if n_val < smallest or 0 < n_test < smallest or total - n_val - n_test < smallest:
        raise ValueError(
            f"validation_size={validation_size!r} and test_size={test_size!r} give {n_val} "
            f"validation and {n_test} test digits of {total}; keep at least {smallest} digits "
            "(one per class) in training, in validation and, unless it is 0, in test."
        )
    test_shares, val_shares = _shares(per_class, n_test), _shares(per_class, n_val)
    short = np.flatnonzero(test_shares + val_shares >= per_class)
    if len(short):
        raise ValueError(
            f"digit {classes[short[0]]} has only {per_class[short[0]]} examples: none would be "
            "left to train on. Use smaller validation and test sizes, or more data."
        )
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for digit, n_test_digit, n_val_digit in zip(classes, test_shares, val_shares, strict=True):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        test.append(rows[:n_test_digit])
        val.append(rows[n_test_digit : n_test_digit + n_val_digit])
        train.append(rows[n_test_digit + n_val_digit :])
    return tuple(
        rng.permutation(np.concatenate(part)).astype(np.int64) for part in (train, val, test)
    )


# --- network input and content hashes -------------------------------------------------------------


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


def content_hashes(images: torch.Tensor) -> torch.Tensor:
    """One int64 per image (N, 28, 28) uint8 from its pixels: equal images get equal values.

    Taught in 05_embedding_space. The first 8 bytes of each image's blake2b digest, read
    little-endian, so every machine computes the same numbers; two different digits share one
    with a chance of about 1 in 10**19.
    """
    images = as_image_tensor(images, caller="content_hashes")
    if images.dtype != torch.uint8 or images.ndim != 3:
        raise ValueError(
            f"content_hashes expects uint8 images (N, 28, 28), got {images.dtype} "
            f"{tuple(images.shape)}."
        )
    rows = images.detach().cpu().flatten(1).contiguous().numpy()  # (N, 784)
    digests = b"".join(hashlib.blake2b(row.tobytes(), digest_size=8).digest() for row in rows)
    return torch.from_numpy(np.frombuffer(digests, dtype="<i8").astype(np.int64))  # (N,)


def fingerprint(hashes: torch.Tensor) -> str:
    """sha256 (hex) of a set of `content_hashes`: the same digits in any order, the same text."""
    ordered = torch.sort(hashes.to(torch.int64).cpu()).values.numpy().astype("<i8")
    return hashlib.sha256(ordered.tobytes()).hexdigest()


# --- the offline sample ---------------------------------------------------------------------------


def load_sample(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The shipped real MNIST sample in file order (5,000 digits, sorted by label), sha256-checked.

    Taught in 02_pairs. Returns images (5000, 28, 28) uint8 and labels (5000,) int64. The bytes
    are checked against the recorded sha256 first, so NumPy can parse them (no pandas needed).
    """
    path = Path(path) if path is not None else mnist_cache.sample_path()
    payload = mnist_cache.read_sample_bytes(path)
    table = np.loadtxt(io.BytesIO(gzip.decompress(payload)), delimiter=",", skiprows=1)
    labels, pixels = table[:, 0].astype(np.int64), table[:, 1:].astype(np.uint8)
    return pixels.reshape(-1, 28, 28), labels


# --- Kaggle's CSV ---------------------------------------------------------------------------------


def read_kaggle_csv(
    path: str | Path, *, require_labels: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a Kaggle digit-recognizer CSV into (images (N, 28, 28) uint8, labels (N,) int64 or None).

    Taught in 02_pairs. ``train.csv`` has a ``label`` column then ``pixel0..pixel783``;
    ``test.csv`` has only the pixels (pass ``require_labels=False`` to read it; its labels come
    back as None). A missing file raises FileNotFoundError; anything else wrong with it (empty,
    truncated, not a CSV, ragged rows, wrong columns, a cell that is not a whole number in range)
    raises ValueError naming the file and, where there is one, the row and column. Nothing is
    written.
    """
    path = require_file(
        path,
        missing="no such file. Download train.csv from Kaggle's digit-recognizer competition "
        "(in Colab, then upload it in the Files pane) and pass its path, or use the offline "
        "default source='sample'.",
        empty=". Download it again or pass another file.",
    )
    frame = _read_frame(path)
    has_label = _check_columns(path, frame, require_labels=require_labels)
    numbers = _numbers(path, frame)
    offset = 1 if has_label else 0
    pixels = numbers[:, offset:]
    bad = (pixels != np.round(pixels)) | (pixels < 0) | (pixels > 255)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{path}: row {row + 1}, column {frame.columns[column + offset]} is "
            f"{pixels[row, column]:g}; pixels must be whole numbers from 0 to 255."
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


def _read_frame(path: Path) -> Any:
    """The CSV as a pandas DataFrame, or a ValueError saying why it cannot be read."""
    import pandas as pd

    try:
        with warnings.catch_warnings():
            # index_col=False: rows longer than the header are an error, not an index column
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(path, index_col=False)
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


def _check_columns(path: Path, frame: Any, *, require_labels: bool) -> bool:
    """Check the header is ``label`` (if any) then pixel0..pixel783; True when it has labels."""
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
    return has_label


def _numbers(path: Path, frame: Any) -> np.ndarray:
    """Every cell as a float64 (rows, columns), or a ValueError naming the first cell that is not."""
    import pandas as pd

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
            f"{path}: row {row + 1} (after the header), column {frame.columns[column]} {what}. "
            "Every cell must be a whole number; fix or drop that row."
        )
    return numbers

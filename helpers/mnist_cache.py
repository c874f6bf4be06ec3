"""MNIST on disk: where the shipped sample and torchvision's cache live, checksums, safety rules.

- The sample: `sample_path()` is ``data/`` in a checkout and the package data
  ``helpers.sample_data`` of an installed helpers (how Colab gets it); its bytes are checked
  against a recorded sha256 before use, and errors say how to get it back where you are.
- Full MNIST, where: `default_root()` is the repository's ``data/`` in a checkout, and
  ``./data`` in the working folder when helpers is installed as a package (in Colab,
  ``/content/data``); never inside site-packages. Pass ``root=`` to choose another folder.
- Full MNIST, checked: every archive against torchvision's md5, every unpacked file against the
  size and CRC-32 its verified archive records; a damaged file is never read. With
  ``download=True`` the files are fetched again, otherwise the message names them.
- Full MNIST, safe: a download goes to a staging folder beside the cache and is moved in only
  when complete; a cache folder holding anything but torchvision's MNIST files is never replaced
  or deleted; a staging folder is removed only when its name carries the id of a process that
  no longer runs.

Taught in 02_pairs (the three sources); the lesson's API is `helpers.data.load_digits`.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import re
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np

from helpers.files import writer_is_gone

SAMPLE_FILE = "mnist_sample.csv.gz"
SAMPLE_SHA256 = "f508f41b6f1a56534f39e159748b8049c0eea5b41e52ad57f09f0fecec4041e9"
STAGING_PREFIX = ".mnist-download-"
_CHECKOUT = Path(__file__).resolve().parent.parent  # the repository, when helpers runs from one


def checkout_data_dir() -> Path | None:
    """The repository's ``data/`` folder when helpers runs from a checkout, else None."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "data").is_dir():
        return _CHECKOUT / "data"
    return None


def default_root() -> Path:
    """Where full MNIST is cached unless ``root=`` says otherwise (see the module docstring)."""
    return checkout_data_dir() or Path.cwd() / "data"


def sample_path() -> Path:
    """Where the shipped sample is: ``data/`` in a checkout, else the installed package's data.

    An installed helpers (Colab's ``pip install "helpers @ git+..."``) carries the file as the
    package data ``helpers.sample_data``, read with importlib.resources.
    """
    checkout = checkout_data_dir()
    if checkout is not None:
        return checkout / SAMPLE_FILE
    try:
        resource = importlib.resources.files("helpers.sample_data") / SAMPLE_FILE
    except ModuleNotFoundError:  # an install without its package data: named in the error
        return Path(__file__).resolve().parent / "sample_data" / SAMPLE_FILE
    return resource if isinstance(resource, Path) else Path(str(resource))


def _restore_advice(path: Path) -> str:
    """How to get the shipped sample back, in words that work where this helpers runs."""
    checkout = checkout_data_dir()
    if checkout is not None and path == checkout / SAMPLE_FILE:
        return (
            f"Restore it from the repository with `git checkout -- data/{SAMPLE_FILE}`, or "
            "rebuild it with `python data/make_sample.py`."
        )
    if path == sample_path():
        from helpers.colab import pip_source

        return (
            "Reinstall helpers, which ships it: run "
            f'`%pip install --force-reinstall --no-deps "{pip_source()}"` in a notebook cell '
            "(in Colab, then Runtime > Restart session)."
        )
    return "Leave path= out to use the sample shipped with helpers (data.sample_path())."


def read_sample_bytes(path: Path) -> bytes:
    """The sample file's bytes after checking their sha256; errors say how to get it back here."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: the offline MNIST sample is missing. {_restore_advice(path)}"
        )
    payload = path.read_bytes()
    actual = hashlib.sha256(payload).hexdigest()
    if actual != SAMPLE_SHA256:
        raise ValueError(
            f"{path} does not match its recorded sha256 (expected {SAMPLE_SHA256[:12]}..., got "
            f"{actual[:12]}...): the file was changed or damaged. {_restore_advice(path)}"
        )
    return payload


def load_mnist(
    root: Path, *, download: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Official training and test digits: images (N, 28, 28) uint8 and labels (N,) int64 each.

    Damaged files are fetched again (``download=True``) or named, never read; a cache that is
    missing is downloaded only with ``download=True``.
    """
    _check_files(root, download=download)
    train_images, train_labels = _read_split(root, train=True, download=download)
    test_images, test_labels = _read_split(root, train=False, download=download)
    return train_images, train_labels, test_images, test_labels


def _damaged_files(raw: Path) -> list[tuple[Path, str]]:
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


def _check_files(root: Path, *, download: bool) -> None:
    """Fetch damaged MNIST files again (download=True) or name them so they can be deleted."""
    raw = root / "MNIST" / "raw"
    damaged = _damaged_files(raw)
    if damaged and download:
        _download(root)  # fetch every file again; the damaged ones are never read
        damaged = _damaged_files(raw)
    if damaged:
        listed = "; ".join(f"{path} {reason}" for path, reason in damaged)
        names = " ".join(str(path) for path, _ in damaged)
        raise ValueError(
            f"MNIST files in {raw} are truncated or corrupted, so they were not used: {listed}. "
            f"Delete them (rm {names} in a terminal; !rm {names} in a notebook cell) and run "
            "again with download=True, which fetches them again and checks them, or use the "
            "offline default source='sample'."
        )


def _read_split(root: Path, *, train: bool, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """One official split read by torchvision's parser, downloaded first if allowed and missing."""
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
                "checked against torchvision's checksums), or use the offline default "
                "source='sample'."
            ) from None
        _download(root)
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


def _idx_error(raw: Path, error: Exception) -> ValueError:
    return ValueError(
        f"The MNIST IDX files in {raw} could not be read ({type(error).__name__}: {error}); one is "
        f"truncated or corrupted. Delete the folder {raw} (rm -r in a terminal; !rm -r in a "
        "notebook cell) and load again with download=True."
    )


def _cache_names() -> set[str]:
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
    known = _cache_names()
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


def _make_root(root: Path) -> None:
    """Create the cache's parent folder, or say which folder to pass instead."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(
            error.errno,
            f"Full MNIST cannot be cached in {root} ({error.strerror or error}). Pass root= a "
            "folder you can write to, for example root='mnist-data' in the working folder.",
        ) from error


def _download(root: Path) -> None:
    """Download into a temporary folder beside the cache and move it in only when complete."""
    from torchvision.datasets import MNIST

    target = root / "MNIST"
    if target.exists() or target.is_symlink():
        _check_cache(target)  # before downloading: nothing foreign is ever deleted
    _make_root(root)
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
                f"written to {target}; try again later or use source='sample'."
            ) from None
        raise ConnectionError(
            f"Downloading full MNIST into {target} failed ({reason}). Nothing was written "
            "there; check the network (in Colab: is the runtime connected?) or use the "
            "offline default source='sample'."
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # the folder mkdtemp made for this download

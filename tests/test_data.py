"""The data module: three real sources, one result, and a clear message for every kind of bad input."""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision import transforms
from torchvision.datasets import MNIST

from helpers import data
from tests.conftest import (
    fake_digits,
    idx_bytes,
    write_kaggle_csv,
    write_mnist_mirror,
    write_mnist_raw,
)


def assert_digits_contract(digits: data.Digits) -> None:
    for images, labels in (
        (digits.train_images, digits.train_labels),
        (digits.val_images, digits.val_labels),
    ):
        assert images.dtype == torch.uint8 and images.shape[1:] == (28, 28)
        assert labels.dtype == torch.int64 and labels.shape == (images.shape[0],)
        assert int(labels.min()) >= 0 and int(labels.max()) <= 9


# --- the offline default -------------------------------------------------------------------------


def test_sample_is_real_mnist_split_stratified():
    digits = data.load_digits()
    assert_digits_contract(digits)
    assert len(digits.train_labels) == 4000 and len(digits.val_labels) == 1000
    # every digit keeps its share on both sides: 400 / 100 of each
    assert torch.bincount(digits.train_labels).tolist() == [400] * 10
    assert torch.bincount(digits.val_labels).tolist() == [100] * 10
    # real MNIST: mostly background, strokes saturate at 255
    assert (digits.train_images == 0).float().mean() > 0.7
    assert int(digits.train_images.max()) == 255


def test_sample_split_is_seeded():
    a, b, c = data.load_digits(seed=0), data.load_digits(seed=0), data.load_digits(seed=1)
    assert torch.equal(a.val_images, b.val_images)
    assert not torch.equal(a.val_images, c.val_images)


def test_sample_file_is_sorted_by_label_so_head_tail_split_is_wrong():
    images, labels = data.load_sample()
    assert (np.diff(labels) >= 0).all()  # sorted
    tail_as_validation = labels[:-1000]
    assert set(np.unique(tail_as_validation)) == set(range(8))  # no 8s or 9s left to train on


def test_sample_checksum_is_recorded_and_checked():
    assert data.sha256_of(data.DATA_DIR / data.SAMPLE_FILE) == data.SAMPLE_SHA256


def test_validation_size_as_fraction():
    digits = data.load_digits(validation_size=0.1)
    assert len(digits.val_labels) == 500 and len(digits.train_labels) == 4500


# --- network input -------------------------------------------------------------------------------


def test_to_network_input_maps_0_255_to_minus1_plus1():
    images = torch.tensor([[0, 1, 128, 255] * 196], dtype=torch.uint8).reshape(1, 28, 28)
    x = data.to_network_input(images)
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() == -1.0 and x.max() == 1.0
    # monotone: a brighter pixel stays brighter
    flat = x.flatten()[:4]
    assert (flat[1:] > flat[:-1]).all()


def test_source_transform_wraps_pixels_and_ours_does_not():
    """The source's ToPILImage on float32 multiplies by 255 and wraps: strokes flip brightness."""
    pixels = np.array([0, 1, 128, 255] * 196, dtype=np.float32).reshape(28, 28)
    seed_transform = transforms.Compose(
        [transforms.ToPILImage(), transforms.ToTensor(), transforms.Normalize(0.5, 0.5)]
    )
    theirs = seed_transform(pixels).flatten()[:4]
    ours = data.to_network_input(torch.from_numpy(pixels.astype(np.uint8))).flatten()[:4]
    # x becomes 256 - x for x >= 1: pixel 255 turns darkest, pixel 1 brightest
    assert theirs[3] == pytest.approx(-0.992, abs=1e-3)
    assert theirs[1] == pytest.approx(1.0, abs=1e-6)
    assert ours[3] == 1.0 and ours[1] == pytest.approx(-0.992, abs=1e-3)


def test_to_network_input_rejects_float_input():
    with pytest.raises(ValueError, match="expects uint8 pixels"):
        data.to_network_input(torch.zeros(2, 28, 28))


def test_to_network_input_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"got \(2, 27, 27\)"):
        data.to_network_input(torch.zeros(2, 27, 27, dtype=torch.uint8))


# --- Kaggle CSV ----------------------------------------------------------------------------------


def test_kaggle_train_csv_loads_and_splits(kaggle_train):
    digits = data.load_digits("kaggle", path=kaggle_train, validation_size=20)
    assert_digits_contract(digits)
    assert len(digits.train_labels) == 40 and len(digits.val_labels) == 20
    assert torch.bincount(digits.val_labels).tolist() == [2] * 10


def test_kaggle_pixels_round_trip(tmp_path):
    images, labels = fake_digits(12)
    path = write_kaggle_csv(tmp_path / "train.csv", images, labels)
    read_images, read_labels = data.read_kaggle_csv(path)
    assert np.array_equal(read_images, images) and np.array_equal(read_labels, labels)


def test_kaggle_test_csv_reads_without_labels(tmp_path):
    images, _ = fake_digits(5)
    path = write_kaggle_csv(tmp_path / "test.csv", images, None)
    read_images, read_labels = data.read_kaggle_csv(path, require_labels=False)
    assert read_labels is None and np.array_equal(read_images, images)


def test_kaggle_gzipped_csv_reads(tmp_path):
    images, labels = fake_digits(10)
    plain = write_kaggle_csv(tmp_path / "train.csv", images, labels)
    packed = tmp_path / "train.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert np.array_equal(data.read_kaggle_csv(packed)[0], images)


# --- bad input: each case names the file and says what to do --------------------------------------


def test_missing_file(tmp_path):
    missing = tmp_path / "train.csv"
    with pytest.raises(FileNotFoundError, match=r"train\.csv: no such file.*source='sample'"):
        data.load_digits("kaggle", path=missing)


def test_kaggle_needs_a_path():
    with pytest.raises(ValueError, match="needs path="):
        data.load_digits("kaggle")


def test_unknown_source():
    with pytest.raises(
        ValueError, match="source='emnist' is unknown; use one of sample, mnist, kaggle"
    ):
        data.load_digits("emnist")


def test_empty_file(tmp_path):
    empty = tmp_path / "train.csv"
    empty.touch()
    with pytest.raises(ValueError, match=r"train\.csv is empty \(0 bytes\)"):
        data.read_kaggle_csv(empty)


def test_header_only(tmp_path):
    path = write_kaggle_csv(tmp_path / "train.csv", np.zeros((0, 28, 28), np.uint8), np.zeros(0))
    with pytest.raises(ValueError, match="has a header but no rows"):
        data.read_kaggle_csv(path)


def test_test_csv_passed_for_training(tmp_path):
    path = write_kaggle_csv(tmp_path / "test.csv", fake_digits(3)[0], None)
    with pytest.raises(
        ValueError, match="no 'label' column.*test.csv, which has no labels: pass train.csv"
    ):
        data.load_digits("kaggle", path=path)


def test_wrong_pixel_count(tmp_path):
    path = tmp_path / "train.csv"
    header = ",".join(["label"] + [f"pixel{i}" for i in range(700)])
    path.write_text(header + "\n" + ",".join(["3"] + ["0"] * 700) + "\n")
    with pytest.raises(ValueError, match=r"found 700 pixel columns; missing \['pixel700'"):
        data.read_kaggle_csv(path)


def test_misnamed_column(tmp_path):
    images, labels = fake_digits(3)
    path = write_kaggle_csv(tmp_path / "train.csv", images, labels)
    text = path.read_text().replace("pixel5,", "px5,", 1)
    path.write_text(text)
    with pytest.raises(ValueError, match=r"missing \['pixel5'\], unexpected \['px5'\]"):
        data.read_kaggle_csv(path)


def csv_with_cell(tmp_path: Path, *, row: int, column: int, value: str) -> Path:
    """A 3-digit Kaggle train.csv whose cell (row after the header, column incl. label) is `value`."""
    images, labels = fake_digits(3)
    path = write_kaggle_csv(tmp_path / "train.csv", images, labels)
    lines = path.read_text().splitlines()
    cells = lines[row].split(",")
    cells[column] = value
    lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_non_numeric_cell(tmp_path):
    path = csv_with_cell(tmp_path, row=2, column=11, value="abc")
    with pytest.raises(ValueError, match=r"row 2 \(after the header\), column pixel10 holds 'abc'"):
        data.read_kaggle_csv(path)


def test_nan_cell(tmp_path):
    path = csv_with_cell(tmp_path, row=3, column=100, value="")
    with pytest.raises(ValueError, match="row 3 .*column pixel99 is empty"):
        data.read_kaggle_csv(path)


def test_pixel_above_255(tmp_path):
    path = csv_with_cell(tmp_path, row=1, column=1, value="300")
    with pytest.raises(
        ValueError, match="row 1, column pixel0 is 300; pixels must be whole numbers from 0 to 255"
    ):
        data.read_kaggle_csv(path)


def test_negative_pixel(tmp_path):
    path = csv_with_cell(tmp_path, row=2, column=1, value="-4")
    with pytest.raises(ValueError, match="row 2, column pixel0 is -4"):
        data.read_kaggle_csv(path)


def test_label_outside_0_9(tmp_path):
    images, labels = fake_digits(3)
    labels = labels.copy()
    labels[2] = 12
    path = write_kaggle_csv(tmp_path / "train.csv", images, labels)
    with pytest.raises(ValueError, match="row 3 has label 12; labels must be digits 0 to 9"):
        data.read_kaggle_csv(path)


def test_truncated_gzip_csv(tmp_path):
    images, labels = fake_digits(30)
    plain = write_kaggle_csv(tmp_path / "train.csv", images, labels)
    packed = gzip.compress(plain.read_bytes())
    truncated = tmp_path / "train.csv.gz"
    truncated.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(
        ValueError, match=r"train\.csv\.gz could not be read.*truncated or corrupted"
    ):
        data.read_kaggle_csv(truncated)


def test_sample_checksum_mismatch(tmp_path):
    copy = tmp_path / data.SAMPLE_FILE
    shutil.copy(data.DATA_DIR / data.SAMPLE_FILE, copy)
    with open(copy, "r+b") as handle:
        handle.seek(5000)
        byte = handle.read(1)
        handle.seek(5000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValueError, match="does not match its recorded sha256.*make_sample.py"):
        data.load_sample(copy)


def test_sample_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="offline MNIST sample is missing"):
        data.load_sample(tmp_path / "nope.csv.gz")


def test_validation_size_too_large():
    with pytest.raises(ValueError, match="keep at least 10 digits on each side"):
        data.load_digits(validation_size=4995)


# --- full MNIST through torchvision, on files written in its layout -------------------------------


def test_mnist_reads_torchvision_layout(tmp_path):
    write_mnist_raw(tmp_path)
    digits = data.load_digits("mnist", root=tmp_path)
    assert_digits_contract(digits)
    assert len(digits.train_labels) == 40 and len(digits.val_labels) == 20
    expected, _ = fake_digits(40, 1)
    assert np.array_equal(digits.train_images.numpy(), expected)


def test_mnist_missing_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="Full MNIST is not in .*Pass download=True"):
        data.load_digits("mnist", root=tmp_path)
    assert not (tmp_path / "MNIST").exists()


def test_mnist_truncated_idx(tmp_path):
    raw = write_mnist_raw(tmp_path)
    images = raw / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:1000])
    with pytest.raises(ValueError, match="could not be read.*truncated or corrupted. Delete"):
        data.load_digits("mnist", root=tmp_path)


def test_mnist_corrupted_magic(tmp_path):
    raw = write_mnist_raw(tmp_path)
    labels = raw / "t10k-labels-idx1-ubyte"
    labels.write_bytes(b"\xff\xff\xff\xff" + labels.read_bytes()[4:])
    with pytest.raises(ValueError, match="MNIST IDX files in .* could not be read"):
        data.load_digits("mnist", root=tmp_path)


def test_mnist_labels_images_count_mismatch(tmp_path):
    raw = write_mnist_raw(tmp_path)
    (raw / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(39) % 10))
    with pytest.raises(ValueError, match="do not match labels"):
        data.load_digits("mnist", root=tmp_path)


@contextlib.contextmanager
def _serve_mirror(monkeypatch, folder: Path, resources, *, cut_short: bool = False):
    """Serve a folder of gzipped IDX files over HTTP on localhost and point torchvision at it.

    torchvision's real download code runs (urllib, md5 check, gunzip); only the mirror is local.
    Yields the list of requested paths. With `cut_short`, every response announces the whole
    file but sends half of it and closes: a download interrupted mid-transfer.
    """
    folder.mkdir(parents=True, exist_ok=True)
    handler_class = CuttingHandler if cut_short else QuietHandler
    handler = functools.partial(handler_class, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requested = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setattr(MNIST, "mirrors", [f"http://127.0.0.1:{server.server_port}/"])
        monkeypatch.setattr(MNIST, "resources", resources)
        yield server.requested
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requested.append(self.path.lstrip("/"))
        super().do_GET()


class CuttingHandler(QuietHandler):
    def do_GET(self) -> None:
        self.server.requested.append(self.path.lstrip("/"))
        payload = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload[: len(payload) // 2])
        self.close_connection = True


def test_mnist_download_through_torchvision(tmp_path, monkeypatch):
    resources = write_mnist_mirror(tmp_path / "mirror")
    root = tmp_path / "data"
    with _serve_mirror(monkeypatch, tmp_path / "mirror", resources):
        digits = data.load_digits("mnist", root=root, download=True)
    assert len(digits.train_labels) == 40 and len(digits.val_labels) == 20
    assert sorted(p.name for p in root.iterdir()) == ["MNIST"]  # no staging folder left behind


def test_mnist_download_checksum_failure_leaves_nothing(tmp_path, monkeypatch):
    resources = write_mnist_mirror(tmp_path / "mirror")
    resources[2] = (resources[2][0], "0" * 32)  # torchvision's md5 check must reject it
    root = tmp_path / "data"
    with (
        _serve_mirror(monkeypatch, tmp_path / "mirror", resources),
        pytest.raises(ValueError, match="failed torchvision's checksum.*Nothing was written"),
    ):
        data.load_digits("mnist", root=root, download=True)
    assert list(root.iterdir()) == []


def test_mnist_download_unreachable_leaves_nothing(tmp_path, monkeypatch):
    with socket.socket() as probe:  # a localhost port with nobody listening: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(MNIST, "mirrors", [f"http://127.0.0.1:{port}/"])
    monkeypatch.setattr(MNIST, "resources", write_mnist_mirror(tmp_path / "elsewhere"))
    root = tmp_path / "data"
    with pytest.raises(ConnectionError, match="failed .*Nothing was written there"):
        data.load_digits("mnist", root=root, download=True)
    assert list(root.iterdir()) == []


# --- a damaged MNIST cache is never used: found by torchvision's md5, fetched again -------------


@pytest.fixture
def mnist_cache(tmp_path, monkeypatch):
    """Full MNIST (the fake one) downloaded through torchvision into tmp_path/data; the mirror
    stays up and `requested` lists what later calls fetch."""
    resources = write_mnist_mirror(tmp_path / "mirror")
    root = tmp_path / "data"
    with _serve_mirror(monkeypatch, tmp_path / "mirror", resources) as requested:
        data.load_digits("mnist", root=root, download=True)
        requested.clear()
        yield root, root / "MNIST" / "raw", requested


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_byte(path: Path) -> None:
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    path.write_bytes(bytes(payload))


DAMAGES = {
    "truncated unpacked file": ("train-images-idx3-ubyte", truncate),
    "corrupted unpacked file": ("t10k-labels-idx1-ubyte", flip_byte),
    "truncated archive": ("train-labels-idx1-ubyte.gz", truncate),
    "corrupted archive": ("t10k-images-idx3-ubyte.gz", flip_byte),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_mnist_file_is_never_used_and_is_named_offline(mnist_cache, damage):
    root, raw, requested = mnist_cache
    name, spoil = DAMAGES[damage]
    good = snapshot(root)
    assert (raw / name).is_file() and (raw / "train-images-idx3-ubyte.gz").is_file()
    spoil(raw / name)
    spoiled = snapshot(root)
    with pytest.raises(
        ValueError, match=rf"truncated or corrupted.*Delete them \(rm {raw / name}\)"
    ):
        data.load_digits("mnist", root=root)  # offline: says exactly which file to delete
    assert snapshot(root) == spoiled and requested == []  # nothing changed, nothing fetched
    digits = data.load_digits("mnist", root=root, download=True)  # online: fetched again
    assert sorted(set(requested)) == sorted(n for n, _ in MNIST.resources)  # all four again
    assert snapshot(root) == good
    assert np.array_equal(digits.train_images.numpy(), fake_digits(40, 1)[0])
    assert np.array_equal(digits.val_labels.numpy(), fake_digits(20, 2)[1])


def test_a_download_cut_short_by_the_network_leaves_the_cache_as_it_was(
    tmp_path, monkeypatch, mnist_cache
):
    root, raw, _ = mnist_cache
    truncate(raw / "train-images-idx3-ubyte")
    before = snapshot(root)
    monkeypatch.undo()
    resources = write_mnist_mirror(tmp_path / "mirror")
    with (
        _serve_mirror(monkeypatch, tmp_path / "mirror", resources, cut_short=True) as requested,
        pytest.raises((ValueError, ConnectionError), match="Nothing was written"),
    ):
        data.load_digits("mnist", root=root, download=True)
    assert requested  # the download was really tried, and cut short
    assert snapshot(root) == before  # the half-fetched files went with the staging folder
    assert sorted(p.name for p in root.iterdir()) == ["MNIST"]


def test_a_download_interrupted_before_unpacking_is_named(mnist_cache):
    """torchvision interrupted in a learner's own call: a partial archive and no unpacked file."""
    root, raw, _ = mnist_cache
    (raw / "t10k-labels-idx1-ubyte").unlink()
    truncate(raw / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz does not match torchvision"):
        data.load_digits("mnist", root=root)
    assert len(data.load_digits("mnist", root=root, download=True).val_labels) == 20


def test_a_cache_holding_other_files_is_not_deleted(mnist_cache):
    root, raw, requested = mnist_cache
    notes = raw / "my-notes.txt"
    notes.write_text("mine")
    truncate(raw / "train-images-idx3-ubyte")
    before = snapshot(root)
    with pytest.raises(ValueError, match="not torchvision's MNIST cache .*my-notes.txt.*nothing"):
        data.load_digits("mnist", root=root, download=True)
    assert snapshot(root) == before and requested == []  # checked before any download


def test_staging_folders_left_by_a_killed_download_are_removed(mnist_cache):
    root, raw, _ = mnist_cache
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = root / f"{data.STAGING_PREFIX}{dead.pid}-abc123"
    running = root / f"{data.STAGING_PREFIX}{os.getpid()}-def456"  # a download in progress
    unrelated = root / f"{data.STAGING_PREFIX}notes"  # not our pattern
    for folder in (stale, running, unrelated):
        (folder / "MNIST" / "raw").mkdir(parents=True)
    truncate(raw / "t10k-images-idx3-ubyte")
    data.load_digits("mnist", root=root, download=True)
    assert sorted(p.name for p in root.iterdir()) == sorted(["MNIST", running.name, unrelated.name])

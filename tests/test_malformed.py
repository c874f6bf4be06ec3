"""Malformed input, explored with hypothesis: only the documented errors come out, each with a
message, and nothing is written.

The Kaggle CSV loader gets mutated digit-recognizer files (ragged rows, wrong types, huge values,
NaN, missing or extra columns, non-UTF-8 bytes, truncation, binary junk, compressed junk); the
image entry points get arrays of every dtype and many shapes, NaN, inf and huge values, and
things that are not arrays at all. Derandomized, so every run tries the same examples.
"""

from __future__ import annotations

import functools
import gzip
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import data, mnist_cache
from helpers.evaluation import embed
from helpers.model import EmbeddingNet
from tests.conftest import fake_digits, write_kaggle_csv

SETTINGS = settings(
    derandomize=True,
    deadline=None,
    database=None,  # nothing written under .hypothesis/ either
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time: what 'nothing written' means."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
    }


@pytest.fixture(scope="module", autouse=True)
def data_folder_unchanged():
    """Nothing is written where the shipped sample lives, nor where full MNIST would be cached."""
    folders = {mnist_cache.sample_path().parent, mnist_cache.default_root()}
    before = {folder: listing(folder) for folder in folders}
    yield
    assert {folder: listing(folder) for folder in folders} == before


# --- the Kaggle CSV loader ---------------------------------------------------------------------

ODD_CELLS = st.sampled_from(
    [
        "",
        " ",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "1e400",
        "-1e400",
        "99999999999999999999999999",
        "-3",
        "256",
        "3.5",
        "0x10",
        "True",
        "False",
        "abc",
        '"7"',
        "7,8",
        "\x00",
        "é",
        "1_000",
        "[1]",
    ]
)


@functools.cache
def base_csv(rows: int, seed: int, with_labels: bool) -> str:
    """A valid digit-recognizer CSV as text (train.csv with labels, test.csv without)."""
    images, labels = fake_digits(rows, seed=seed)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.csv"
        return write_kaggle_csv(path, images, labels if with_labels else None).read_text()


@st.composite
def mutated_csv(draw) -> tuple[str, bytes]:
    """A small digit-recognizer CSV (file suffix, bytes) with one or more things wrong in it."""
    text = base_csv(draw(st.integers(1, 4)), draw(st.integers(0, 3)), draw(st.booleans()))
    lines = [line.split(",") for line in text.splitlines()]
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(
            st.sampled_from(
                ["cell", "label", "drop", "extra", "header", "every row longer", "empty row"]
            )
        )
        row = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        column = draw(st.integers(min_value=0, max_value=max(len(lines[row]), 1) - 1))
        if not lines[row] and kind != "empty row":
            continue  # an empty row has no cell to change
        if kind == "cell" and row > 0:
            lines[row][column] = draw(ODD_CELLS)
        elif kind == "label" and row > 0:
            lines[row][0] = draw(st.sampled_from(["-1", "10", "3.5", "1e9", "nan", "x", ""]))
        elif kind == "drop":  # a ragged row: cells missing
            del lines[row][column:]
        elif kind == "extra":  # a ragged row: one cell too many
            lines[row].append(draw(ODD_CELLS))
        elif kind == "header":
            lines[0][column] = draw(st.sampled_from(["label", "pixel0", "", "Label", "pixel784"]))
        elif kind == "every row longer":  # pandas would take the first column as an index
            for body in lines[1:]:
                body.append("0")
        elif kind == "empty row":
            lines.insert(row + 1, [])
    payload = ("\n".join(",".join(cells) for cells in lines) + "\n").encode()
    ending = draw(st.sampled_from(["plain", "truncated", "non-utf8", "gzip", "gzip truncated"]))
    if ending == "truncated":
        payload = payload[: draw(st.integers(min_value=0, max_value=len(payload)))]
    elif ending == "non-utf8":
        at = draw(st.integers(min_value=0, max_value=len(payload)))
        payload = (
            payload[:at]
            + draw(st.sampled_from([b"\xff\xfe", b"\xc3", b"\x80\x81"]))
            + (payload[at:])
        )
    elif ending.startswith("gzip"):
        payload = gzip.compress(payload, mtime=0)
        if ending == "gzip truncated":
            payload = payload[: draw(st.integers(min_value=0, max_value=len(payload) - 1))]
        return ".csv.gz", payload
    return ".csv", payload


JUNK = st.tuples(
    st.sampled_from([".csv", ".csv.gz", ".zip", ".csv.bz2", ".csv.xz", ".tar", ".txt"]),
    st.one_of(
        st.binary(max_size=600),
        st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.sampled_from([b"", b"\n\n\n", b"   ", b"label\n", b"\xef\xbb\xbflabel,pixel0\n1,2\n"]),
    ),
)


def check_kaggle(suffix: str, payload: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"train{suffix}"
        path.write_bytes(payload)
        before = listing(Path(folder))
        for load in (
            lambda: data.read_kaggle_csv(path),
            lambda: data.read_kaggle_csv(path, require_labels=False),
            lambda: data.load_digits("kaggle", path=path, validation_size=0.5),
        ):
            try:
                result = load()
            except (ValueError, FileNotFoundError) as error:
                assert str(error).strip(), f"{type(error).__name__} without a message"
                assert type(error).__name__ not in ("UnicodeDecodeError",) or str(path) in str(
                    error
                )
            else:  # the mutation kept the file valid: then the result keeps its promises
                images = (
                    result.train_images.numpy() if isinstance(result, data.Digits) else (result[0])
                )
                assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
            assert listing(Path(folder)) == before  # nothing written beside the input


@settings(SETTINGS, max_examples=60)
@given(mutated_csv())
def test_a_mutated_kaggle_csv_gives_a_value_error_or_good_digits(case):
    check_kaggle(*case)


@settings(SETTINGS, max_examples=40)
@given(JUNK)
def test_junk_bytes_under_any_csv_name_give_a_value_error(case):
    check_kaggle(*case)


def test_rows_longer_than_the_header_are_refused_not_shifted(tmp_path):
    images, labels = fake_digits(3)
    path = write_kaggle_csv(tmp_path / "train.csv", images, labels)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0]] + [line + ",0" for line in lines[1:]]) + "\n")
    with pytest.raises(ValueError, match="more cells than the header"):
        data.read_kaggle_csv(path)


def test_true_false_cells_are_not_pixels(tmp_path):
    images, labels = fake_digits(3)
    path = write_kaggle_csv(tmp_path / "train.csv", images, labels)
    lines = path.read_text().splitlines()
    for row, value in ((1, "True"), (2, "False"), (3, "True")):
        cells = lines[row].split(",")
        cells[5] = value
        lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="column pixel4 holds 'True', which is not a number"):
        data.read_kaggle_csv(path)


@pytest.mark.parametrize("suffix", [".zip", ".csv.xz", ".tar"])
def test_junk_in_a_compressed_name_is_a_value_error(tmp_path, suffix):
    path = tmp_path / f"train{suffix}"
    path.write_bytes(b"this is not an archive" * 10)
    with pytest.raises(ValueError, match=f"train{suffix} could not be read as a CSV file"):
        data.read_kaggle_csv(path)


# --- the image entry points --------------------------------------------------------------------

DTYPES = ["uint8", "int8", "int16", "int64", "float16", "float32", "float64", "bool", "complex64"]
SIZES = st.sampled_from([0, 1, 2, 3, 27, 28, 29])


@st.composite
def image_arrays(draw):
    """An array of any dtype and a small shape, filled with ordinary and extreme values."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(
        st.one_of(
            st.sampled_from([(28, 28), (1, 28, 28), (2, 28, 28), (2, 1, 28, 28), (0, 28, 28)]),
            st.lists(SIZES, min_size=0, max_size=5).map(tuple),
        )
    )
    if np.prod(shape) > 4 * 784:
        shape = (2, 28, 28)
    fill = draw(st.sampled_from(["zeros", "ramp", "nan", "inf", "huge", "negative"]))
    array = np.zeros(shape, dtype=np.float64)
    if array.size:
        array = array + (np.arange(array.size).reshape(shape) % 256)
        if fill == "nan":
            array.flat[0] = np.nan
        elif fill == "inf":
            array.flat[-1] = np.inf
        elif fill == "huge":
            array = array * 1e30
        elif fill == "negative":
            array = -array
    with np.errstate(invalid="ignore", over="ignore"):
        array = np.asarray(array).astype(dtype)
    as_tensor = draw(st.booleans()) and dtype.kind != "c"
    return torch.from_numpy(array) if as_tensor else array


NOT_ARRAYS = st.sampled_from(
    [None, "digits", 3, 2.5, {"image": 1}, [[1, 2], [3]], [[0] * 28] * 28, object(), [10**30]]
)


@pytest.fixture(scope="module")
def model() -> EmbeddingNet:
    torch.manual_seed(0)
    return EmbeddingNet(embedding_dim=4).eval()


def expect_value_error_or(check, call) -> None:
    try:
        result = call()
    except ValueError as error:
        assert str(error).strip()
    else:
        check(result)


@settings(SETTINGS, max_examples=150)
@given(st.one_of(image_arrays(), NOT_ARRAYS))
def test_to_network_input_takes_uint8_digits_or_gives_a_value_error(images):
    def check(x):
        assert x.dtype == torch.float32 and x.ndim == 4 and x.shape[1:] == (1, 28, 28)
        assert torch.isfinite(x).all() and (x.numel() == 0 or x.abs().max() <= 1.0)

    expect_value_error_or(check, lambda: data.to_network_input(images))


@settings(SETTINGS, max_examples=100)
@given(st.one_of(image_arrays(), NOT_ARRAYS), st.sampled_from([1, 2, 1000, 0, -1, 2.5, "8"]))
def test_embed_gives_finite_embeddings_or_a_value_error(model, images, batch_size):
    weights = {name: tensor.clone() for name, tensor in model.state_dict().items()}

    def check(z):
        assert z.ndim == 2 and z.shape[1] == 4 and len(z) >= 1 and torch.isfinite(z).all()

    expect_value_error_or(check, lambda: embed(model, images, batch_size=batch_size))
    assert not model.training  # the mode is restored, and nothing trained
    assert all(torch.equal(weights[name], value) for name, value in model.state_dict().items())

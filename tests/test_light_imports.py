"""Heavy libraries load only when a function needs them: a torch-only path never imports them."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pandas", "sklearn", "scipy", "umap", "matplotlib", "seaborn", "plotly", "lancedb")


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return [name for name in done.stdout.strip().split(",") if name]


def test_modalities_model_and_projection_import_nothing_heavy():
    loaded = _loaded_after("import helpers.modalities, helpers.model, helpers.projection")
    assert loaded == []


@pytest.mark.parametrize("module", ["helpers.vectordb", "helpers.binding"])
def test_the_database_and_binding_modules_load_neither_lancedb_nor_a_plotting_library(module):
    loaded = _loaded_after(f"import {module}")
    # helpers.evaluation (another module) may still load pandas and scikit-learn at import
    assert not set(loaded) & {"lancedb", "matplotlib", "seaborn", "plotly", "umap"}, loaded

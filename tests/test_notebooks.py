"""Every notebook has the series' shape (STYLE.md) and is committed executed, small and error-free.

nbval (run by `make test` over notebooks/) re-executes them and compares outputs; these checks
cover what nbval does not look at.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = [
    "01_modalities.ipynb",
    "02_pairs.ipynb",
    "03_network_and_loss.ipynb",
    "04_training.ipynb",
    "05_embedding_space.ipynb",
    "06_any_to_any_search.ipynb",
    "07_scaling_out.ipynb",
]
NOTEBOOKS = [ROOT / "notebooks" / name for name in EXPECTED]


def test_the_series_notebooks_exist():
    present = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert present == EXPECTED


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def markdown(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown").lower()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_executed_small_and_without_errors(path):
    assert path.stat().st_size < 3 * 1024 * 1024, f"{path.name} is over 3 MiB"
    counts = []
    for cell in read(path).cells:
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None, f"a code cell of {path.name} was never run"
        counts.append(cell.execution_count)
        assert all(output.output_type != "error" for output in cell.outputs)
    assert counts == list(range(1, len(counts) + 1)), "cells must be executed once, top to bottom"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_has_the_series_shape(path):
    notebook = read(path)
    text = markdown(notebook)
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    for part in ("learning goals", "runtime", "pitfall", "conclusion", "exercise", "references"):
        assert part in text, f"{path.name} has no section about {part!r}"
    assert "t4" in text, f"{path.name} does not say what to expect on a Colab T4"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_is_short_and_first(path):
    code = [c for c in read(path).cells if c.cell_type == "code"]
    setup = [line for line in code[0].source.splitlines() if line.strip()]
    assert (
        len(setup) <= 5 and "google.colab" in code[0].source and "runtime.setup" in code[0].source
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercise_solutions_are_executed_cells(path):
    solutions = [
        c
        for c in read(path).cells
        if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])
    ]
    assert solutions, f"{path.name} has no code cell tagged 'solution'"
    assert all(c.execution_count is not None for c in solutions)

"""Every notebook, opened alone in a simulated Colab, runs top to bottom without an error output.

Each notebook gets a machine of its own (tests/e2e/simulated_colab.py says what is simulated and
how): Python 3.12 with Colab's preinstalled stack and no `helpers`, `google.colab` loaded at kernel
start, a working folder holding only that notebook, and its own install line pointed at a clone of
this repository's committed HEAD. The test names the notebook and the cell of the first error,
checks that torch was kept and that `helpers` came from the install, and records each notebook's
runtime in build/colab-times.json. Run with `make e2e`, which builds the Python 3.12 environment
(.venv-3.12) and passes its interpreter in COLAB_PYTHON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e import simulated_colab as colab
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TIMES = ROOT / "build" / "colab-times.json"


@pytest.fixture(scope="session")
def colab_stack(tmp_path_factory: pytest.TempPathFactory) -> colab.ColabStack:
    """Colab's preinstalled stack, linked from the Python 3.12 environment named in COLAB_PYTHON."""
    python = os.environ.get("COLAB_PYTHON")
    if not python or not Path(python).is_file():
        pytest.fail(
            "the simulated Colab needs a Python 3.12 environment with the project's packages: "
            "run it with `make e2e`, which builds .venv-3.12 and sets COLAB_PYTHON "
            f"(COLAB_PYTHON={python!r}).",
            pytrace=False,
        )
    stack = colab.build_stack(Path(python), tmp_path_factory.mktemp("colab-stack"))
    assert stack.version.startswith("3.12."), f"Colab runs Python 3.12, not {stack.version}"
    assert not any(name == "helpers" for name in stack.distributions)
    return stack


@pytest.fixture(scope="session")
def colab_repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A clone of the committed HEAD on a branch of its own: (clone, file:// URL, branch)."""
    clone = tmp_path_factory.mktemp("github") / "contrastive-mnist"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    branch = "simulated-colab"  # a branch even when this checkout's HEAD is detached (CI)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", "-B", branch], check=True)
    return clone, clone.as_uri(), branch


@pytest.fixture(scope="session")
def colab_times() -> dict:
    """Each notebook's runtime, written to build/colab-times.json after every notebook."""
    return {
        "python": None,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "notebooks": {},
    }


def record(times: dict, run: colab.ColabRun, *, python: str, status: str) -> None:
    times["python"] = python
    times["notebooks"][run.notebook] = {
        "seconds": run.seconds,
        "setup_cell_seconds": run.setup_seconds,
        "status": status,
        "load_average_after": round(os.getloadavg()[0], 2),
    }
    times["total_seconds"] = round(sum(n["seconds"] for n in times["notebooks"].values()), 1)
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    partial = TIMES.with_name(TIMES.name + ".partial")
    partial.write_text(json.dumps(times, indent=2) + "\n")
    partial.replace(TIMES)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_alone_in_simulated_colab(
    notebook: Path,
    colab_stack: colab.ColabStack,
    colab_repository: tuple[Path, str, str],
    colab_times: dict,
    tmp_path: Path,
    artifacts: Path,
) -> None:
    clone, url, branch = colab_repository
    torch_init = colab_stack.links / "torch" / "__init__.py"
    torch_before = torch_init.resolve().stat().st_mtime_ns
    machine = colab.new_machine(colab_stack, tmp_path)
    try:
        run = colab.run_notebook(
            machine,
            clone / "notebooks" / notebook.name,  # the committed notebook, as GitHub serves it
            repository=ROOT,
            url=url,
            ref=branch,
            executed_dir=artifacts / "colab",
        )
        added = colab.installed_on_machine(machine)
        helpers_file = colab.where_helpers_comes_from(machine, repository=ROOT)
    finally:
        shutil.rmtree(machine.root, ignore_errors=True)  # what the install added: about 450 MB
    status = "passed" if run.error is None else f"failed at {run.error}"
    record(colab_times, run, python=colab_stack.version, status=status)
    print(
        f"\n{notebook.name}: {run.seconds:.0f} s in the simulated Colab "
        f"(setup cell {run.setup_seconds} s), {status}; executed copy: {run.executed}"
    )

    problems = []
    if run.error is not None:
        problems.append(f"{notebook.name} stopped at {run.error}")
    reinstalled = [name for name in added if name.lower().startswith(colab.KEPT)]
    if reinstalled:
        problems.append(f"the install line reinstalled {reinstalled} over Colab's own")
    if torch_init.resolve().stat().st_mtime_ns != torch_before:
        problems.append("Colab's preinstalled torch was modified")
    if not helpers_file.startswith(str(machine.site_packages)):
        problems.append(f"helpers did not come from the notebook's install: {helpers_file}")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)

"""The Colab setup cell, run in a simulated Colab: a stand-in `google.colab` module, an interpreter
whose preinstalled stack (torch included) is visible but where `helpers` is not installed, and the
repository URL pointed at a local clone. Helpers must become importable and torch stay untouched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from helpers import colab

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
INSTALL_LINE = f'%pip install -q "{colab.pip_source()}"'


def setup_cell(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and "google.colab" in cell.source:
            return cell.source
    raise AssertionError(f"{path.name} has no setup cell that checks for google.colab")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_installs_from_the_one_configured_source(path):
    source = setup_cell(path)
    assert INSTALL_LINE in source
    assert len([line for line in source.splitlines() if line.strip()]) <= 5
    assert "torch" not in source.split("%pip", 1)[1].splitlines()[0].replace(colab.REPO_URL, "")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_its_colab_badge(path):
    first = nbformat.read(path, as_version=4).cells[0]
    assert colab.colab_url(path.name) in first.source


def test_point_at_a_fork_rewrites_install_lines_and_badges(tmp_path):
    (tmp_path / "notebooks").mkdir()
    for path in NOTEBOOKS[:1]:
        shutil.copy(path, tmp_path / "notebooks" / path.name)
    (tmp_path / "README.md").write_text(f"[badge]({colab.colab_url('01_modalities.ipynb')})\n")
    changed = colab.point_at("https://github.com/someone/fork", "dev", root=tmp_path)
    assert len(changed) == len(NOTEBOOKS[:1]) + 1
    readme = (tmp_path / "README.md").read_text()
    assert "github/someone/fork/blob/dev/notebooks/01_modalities.ipynb" in readme
    if NOTEBOOKS:
        text = (tmp_path / "notebooks" / NOTEBOOKS[0].name).read_text()
        assert "helpers @ git+https://github.com/someone/fork@dev" in text


RUNNER = textwrap.dedent(
    """
    import sys, time
    import google.colab  # the stand-in: Colab has this module loaded from the start
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    start = time.perf_counter()
    result = shell.run_cell(open(sys.argv[1]).read())
    print("SETUP_SECONDS", round(time.perf_counter() - start, 1))
    result.raise_error()
    import helpers, torch
    print("HELPERS_AT", helpers.__file__)
    print("TORCH", torch.__version__, torch.__file__)
    """
)


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks yet")
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to clone the repository")
def test_setup_cell_in_simulated_colab(tmp_path):
    # A local clone stands in for GitHub; its HEAD is what the notebooks' ref would fetch.
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    ref = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "--abbrev-ref", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    source = setup_cell(NOTEBOOKS[0]).replace(
        colab.pip_source(), colab.pip_source(clone.as_uri(), ref)
    )
    (tmp_path / "cell.py").write_text(source)
    (tmp_path / "run.py").write_text(RUNNER)

    # "Colab": a fresh interpreter with the preinstalled stack on its path but no `helpers`.
    colab_env = tmp_path / "colab-python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(colab_env)], check=True)
    python = colab_env / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    preinstalled = sysconfig.get_paths()["purelib"]  # torch, torchvision, numpy, ... (no .pth run)
    stand_in = tmp_path / "stand-in"
    (stand_in / "google" / "colab").mkdir(parents=True)
    (stand_in / "google" / "colab" / "__init__.py").write_text("IN_COLAB = True\n")
    (site / "colab_stack.pth").write_text(f"{stand_in}\n{preinstalled}\n")

    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    check = [python, "-c", "import importlib.util as u; print(u.find_spec('helpers') is None)"]
    assert (
        subprocess.run(check, cwd=tmp_path, env=env, capture_output=True, text=True).stdout.strip()
        == "True"
    )

    import torch

    torch_init = Path(torch.__file__)
    before = (torch.__version__, torch_init.stat().st_mtime_ns)
    started = time.perf_counter()
    run = subprocess.run(
        [python, "-m", "pip", "--version"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, "the simulated Colab needs pip from the preinstalled stack"
    run = subprocess.run(
        [python, "run.py", "cell.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    assert "Using CPU" in out  # the rest of the setup cell ran on the freshly installed helpers
    helpers_at = re.search(r"HELPERS_AT (\S+)", out).group(1)
    assert helpers_at.startswith(str(site)), (
        f"helpers imported from {helpers_at}, not the Colab install"
    )
    assert (
        f"TORCH {before[0]} {torch_init}" in out
    )  # the preinstalled torch, same version and place
    assert (torch.__version__, torch_init.stat().st_mtime_ns) == before
    assert not list(site.glob("torch*")), "pip installed a second torch"
    assert elapsed < 60, f"the Colab setup took {elapsed:.0f} s"
    print(json.dumps({"colab_setup_s": round(elapsed, 1)}))

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
import zipfile
from pathlib import Path

import nbformat
import pytest

from helpers import colab, data, files

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
INSTALL_LINE = f'%pip install -q "{colab.pip_source()}"'


def scratch_python(folder: Path) -> tuple[Path, Path]:
    """A fresh interpreter (and its site-packages) that sees this environment's packages (torch,
    numpy, pip, setuptools...) but not helpers: a venv whose .pth names our site-packages, where
    no .pth file runs (so no editable helpers either)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    preinstalled = sysconfig.get_paths()["purelib"]  # torch, torchvision, numpy, ... (no .pth run)
    (site / "colab_stack.pth").write_text(f"{preinstalled}\n")
    return python, site


def scratch_env() -> dict[str, str]:
    """This process's environment without what would put the worktree's helpers on the path."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


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
    from helpers import data  # the first data cell of a notebook: the sample came with the package
    print("DIGITS", data.load_digits())
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
    python, site = scratch_python(tmp_path / "colab-python")
    stand_in = tmp_path / "stand-in"
    (stand_in / "google" / "colab").mkdir(parents=True)
    (stand_in / "google" / "colab" / "__init__.py").write_text("IN_COLAB = True\n")
    stack = site / "colab_stack.pth"
    stack.write_text(f"{stand_in}\n{stack.read_text()}")  # the stand-in first, as before

    env = scratch_env()
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
    assert "DIGITS Digits(source='sample', train=(3500, 28, 28)" in out
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


# --- the package as Colab installs it: the offline sample travels inside it -----------------------

PROBE = textwrap.dedent(
    """
    import importlib.resources, json, pathlib
    import helpers
    from helpers import data, mnist_cache
    digits = data.load_digits()
    resource = importlib.resources.files("helpers.sample_data") / data.SAMPLE_FILE
    print(json.dumps({
        "helpers": helpers.__file__,
        "sample": str(mnist_cache.sample_path()),
        "resource": str(resource),
        "checkout": str(mnist_cache.checkout_data_dir()),
        "mnist_root": str(mnist_cache.default_root()),
        "sizes": [len(digits.train_labels), len(digits.val_labels), len(digits.test_labels)],
    }))
    """
)


def copy_of_repository(destination: Path) -> Path:
    """What a clone of this working tree holds: tracked files and new ones git does not ignore."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


def probe(python: Path, folder: Path) -> dict:
    folder.mkdir()
    run = subprocess.run(
        [python, "-c", PROBE], cwd=folder, env=scratch_env(), capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert list(folder.iterdir()) == []  # loading the sample writes nothing
    return json.loads(run.stdout.splitlines()[-1])


def pip(python: Path, *arguments: object) -> None:
    command = [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", *arguments]
    run = subprocess.run(command, env=scratch_env(), capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the repository's files")
def test_an_installed_wheel_loads_the_sample_with_no_repository_around(tmp_path):
    """Colab runs pip install "helpers @ git+URL@REF": a wheel, not editable, no checkout."""
    source = copy_of_repository(tmp_path / "source")
    wheels = tmp_path / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    run = subprocess.run([*build, "-w", str(wheels), str(source)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    (wheel,) = wheels.glob("helpers-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"helpers/sample_data/mnist_sample.csv.gz", "helpers/sample_data/README.md"} <= names
    python, site = scratch_python(tmp_path / "venv")
    pip(python, wheel)
    shutil.rmtree(source)  # nothing of the repository is left

    found = probe(python, tmp_path / "content")
    installed = site / "helpers" / "sample_data" / data.SAMPLE_FILE
    assert found["helpers"] == str(site / "helpers" / "__init__.py")
    assert found["sample"] == found["resource"] == str(installed)
    assert found["checkout"] == "None" and found["sizes"] == [3500, 500, 1000]
    assert found["mnist_root"] == str(tmp_path / "content" / "data")  # Colab: /content/data
    assert files.sha256_of(installed) == data.SAMPLE_SHA256
    assert not (site / "data").exists()  # nothing lands beside the package in site-packages

    installed.unlink()  # a damaged install: the advice must work where there is no checkout
    run = subprocess.run(
        [python, "-c", "from helpers import data; data.load_digits()"],
        cwd=tmp_path / "content",
        env=scratch_env(),
        capture_output=True,
        text=True,
    )
    assert "FileNotFoundError" in run.stderr and "git checkout" not in run.stderr
    assert f'%pip install --force-reinstall --no-deps "{colab.pip_source()}"' in run.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the repository's files")
def test_an_editable_install_reads_the_sample_from_its_checkout(tmp_path):
    """pip install -e . (what make install does): the checkout's data/ is the sample, both
    through the checkout and through the package data's mapping onto data/."""
    source = copy_of_repository(tmp_path / "source")
    python, _ = scratch_python(tmp_path / "venv")
    pip(python, "--no-build-isolation", "-e", source)
    found = probe(python, tmp_path / "work")
    sample = source / "data" / data.SAMPLE_FILE
    assert found["helpers"] == str(source / "helpers" / "__init__.py")
    assert found["sample"] == found["resource"] == str(sample)
    assert found["mnist_root"] == found["checkout"] == str(source / "data")
    assert found["sizes"] == [3500, 500, 1000]


# --- pointing the series at a fork ---------------------------------------------------------------


def test_point_at_also_rewrites_repo_url_and_ref_and_keeps_the_code(tmp_path):
    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOKS[0], tmp_path / "notebooks" / NOTEBOOKS[0].name)
    (tmp_path / "helpers").mkdir()
    module = tmp_path / "helpers" / "colab.py"
    shutil.copy(ROOT / "helpers" / "colab.py", module)
    changed = colab.point_at("https://github.com/someone/fork.git/", "feature-colab", root=tmp_path)
    assert module in changed
    text = module.read_text()
    assert 'REPO_URL = "https://github.com/someone/fork"' in text
    assert 'REPO_REF = "feature-colab"' in text
    original = (ROOT / "helpers" / "colab.py").read_text()
    assert text.count("helpers @ git+{repo_url}@{ref}") == original.count(
        "helpers @ git+{repo_url}@{ref}"
    )  # the code that builds the line is untouched
    notebook = (tmp_path / "notebooks" / NOTEBOOKS[0].name).read_text()
    assert "helpers @ git+https://github.com/someone/fork@feature-colab" in notebook
    assert "colab.research.google.com/github/someone/fork/blob/feature-colab/" in notebook
    assert colab.point_at("https://github.com/someone/fork", "feature-colab", root=tmp_path) == []


@pytest.mark.parametrize(
    ("url", "ref", "message"),
    [
        ("https://gitlab.com/someone/fork", "main", "not a GitHub repository URL"),
        ("github.com/someone/fork", "main", "not a GitHub repository URL"),
        ("https://github.com/someone", "main", "not a GitHub repository URL"),
        ("https://github.com/someone/fork", "my branch", "not a git branch"),
        ("https://github.com/someone/fork", "-x", "not a git branch"),
        ("https://github.com/someone/fork", "a..b", "not a git branch"),
        ("https://github.com/someone/fork", "feature/colab", "a '/' would read as part"),
        ("https://github.com/someone/fork", 'a"b', "not a git branch"),
    ],
)
def test_point_at_refuses_what_colab_or_git_could_not_use(tmp_path, url, ref, message):
    (tmp_path / "notebooks").mkdir()
    with pytest.raises(ValueError, match=message):
        colab.point_at(url, ref, root=tmp_path)


def test_point_at_outside_a_clone_says_where_to_run_it(tmp_path):
    with pytest.raises(ValueError, match="from the root of a clone of your fork"):
        colab.point_at("https://github.com/someone/fork", "main", root=tmp_path)


def test_the_command_says_to_commit_and_push(tmp_path):
    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOKS[0], tmp_path / "notebooks" / NOTEBOOKS[0].name)
    text = colab.main(["https://github.com/someone/fork", "dev"], root=tmp_path)
    assert f"updated {tmp_path / 'notebooks' / NOTEBOOKS[0].name}" in text
    assert "push the branch 'dev' to https://github.com/someone/fork" in text
    assert "must be public" in text
    with pytest.raises(ValueError, match="usage: python -m helpers.colab"):
        colab.main(["https://github.com/someone/fork"])

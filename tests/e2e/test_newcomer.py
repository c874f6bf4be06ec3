"""The README's quick start, followed literally on a clean clone.

The test clones the repository's committed HEAD into a temporary folder, reads the commands of the
first code block under "## Two commands" in README.md, runs them there in order, and checks what
they promise: an executed copy of every notebook in build/executed/ with no error output, and a
test run that passes. A README that drifts from what works fails here. It builds a fresh .venv in
the clone and runs the series twice: 38 minutes on a busy 2-core machine (`make run` 25, `make test`
13). Run with `make e2e`; `make test`
deselects it, so the clone's own `make test` does not start it again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

SECTION = "## Two commands"
COMMAND_TIMEOUT_S = 2 * 60 * 60  # per command; each took under 25 minutes on a busy machine
# pytest's last line, for example "====== 212 passed, 3 warnings in 812.10s (0:13:32) ======"
PYTEST_SUMMARY = re.compile(r"^=+ (?P<summary>.+ in [0-9.]+s.*?) =+$", re.MULTILINE)


def quick_start_commands(readme: str) -> list[str]:
    """The commands of the first fenced code block under the README's quick-start heading."""
    heading = readme.find(f"\n{SECTION}\n")
    if heading < 0:
        raise ValueError(
            f"README.md has no {SECTION!r} section: the newcomer has nothing to follow"
        )
    section = readme[heading + len(SECTION) + 2 :].split("\n## ", 1)[0]
    block = re.search(r"^```[a-z]*\n(?P<body>.*?)^```", section, re.MULTILINE | re.DOTALL)
    if block is None:
        raise ValueError(f"the {SECTION!r} section of README.md has no fenced code block")
    lines = (line.split("#", 1)[0].strip() for line in block.group("body").splitlines())
    return [line for line in lines if line]


def test_quick_start_commands_are_read_from_the_readme() -> None:
    commands = quick_start_commands((ROOT / "README.md").read_text())
    assert commands == ["make run", "make test"]


def newcomer_environment() -> dict[str, str]:
    """The caller's environment without what `make e2e` or a virtual environment added to it."""
    dropped = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "VIRTUAL_ENV", "PYTHONPATH"}
    dropped |= {"NUMBA_CACHE_DIR", "PYTHONHASHSEED"}  # the clone's Makefile sets its own
    environment = {key: value for key, value in os.environ.items() if key not in dropped}
    paths = environment.get("PATH", "").split(os.pathsep)
    environment["PATH"] = os.pathsep.join(p for p in paths if not p.startswith(str(ROOT)))
    return environment


def error_outputs(notebook_path: Path) -> list[str]:
    """`ename: evalue` of every error output in a notebook file."""
    notebook = nbformat.read(notebook_path, as_version=4)
    return [
        f"{output.get('ename')}: {output.get('evalue')}"
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


def test_readme_quick_start_on_a_clean_clone(tmp_path: Path, artifacts: Path) -> None:
    clone = tmp_path / "contrastive-mnist"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    head = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    commands = quick_start_commands((clone / "README.md").read_text())
    print(f"\nclone of {head} in {clone}; the README's commands: {commands}")
    assert commands, "the quick start lists no command"
    environment = newcomer_environment()
    logs = []
    try:
        for number, command in enumerate(commands, start=1):
            log = artifacts / f"newcomer_{number}_{re.sub(r'[^a-z0-9]+', '_', command)}.log"
            logs.append(log)
            started = time.monotonic()
            with log.open("w") as log_file:
                finished = subprocess.run(
                    command,
                    shell=True,  # the README's line, exactly as a reader would type it
                    executable="/bin/bash",
                    cwd=clone,
                    env=environment,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    timeout=COMMAND_TIMEOUT_S,
                )
            seconds = time.monotonic() - started
            print(f"`{command}` exited {finished.returncode} after {seconds:.0f} s; log: {log}")
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            assert finished.returncode == 0, f"`{command}` failed; the end of {log}:\n{tail}"

        # `make run`'s promise: an executed copy of every notebook, without error outputs.
        notebooks = sorted(path.name for path in (clone / "notebooks").glob("[0-9]*.ipynb"))
        executed = clone / "build" / "executed"
        assert notebooks, "the clone has no notebooks"
        missing = [name for name in notebooks if not (executed / name).is_file()]
        assert not missing, f"no executed copy in build/executed/ of {missing}"
        errors = {name: error_outputs(executed / name) for name in notebooks}
        assert not any(errors.values()), f"error outputs in executed notebooks: {errors}"
        print(f"executed copies of {len(notebooks)} notebooks, no error outputs")

        # The test command's promise: pytest ran and nothing failed.
        summaries = PYTEST_SUMMARY.findall(logs[-1].read_text(errors="replace"))
        assert summaries, f"no pytest summary line in {logs[-1]}"
        summary = summaries[-1]
        print(f"pytest in the clone: {summary}")
        assert re.search(r"\b[1-9][0-9]* passed\b", summary), summary
        assert not re.search(r"\b(failed|errors?)\b", summary), summary
    finally:
        shutil.rmtree(clone, ignore_errors=True)  # its .venv alone is about 7 GB

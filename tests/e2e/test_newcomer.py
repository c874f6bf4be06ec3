"""The README's quick start, followed literally on a clean clone, checked for what it promises.

A newcomer clones the repository and types the commands of the first code block under
"## Two commands" in README.md. Those promise an executed copy of every notebook in
build/executed/ with no error output, and a test run that passes. A README that drifts from what
works fails here.

CI is itself a clean clone, and `.ci/run` starts with exactly those commands
(`python3 tests/e2e/quick_start.py run`), which writes build/quick-start/record.json. When that
record belongs to this commit and was made on a clean checkout with nothing built yet, this test
checks its promises from the record and the files it left, instead of cloning and building a
second environment. Anywhere else (a developer's working tree) it clones the committed HEAD into a
temporary folder and runs the commands there, which builds a fresh .venv and runs the series
twice. Run with `make e2e`; `make test` deselects it, so the clone's own `make test` does not start
it again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.quick_start import RECORD, log_name, quick_start_commands

pytestmark = pytest.mark.e2e

COMMAND_TIMEOUT_S = 2 * 60 * 60  # per command, in the clone
# pytest's last line, for example "====== 212 passed, 3 warnings in 812.10s (0:13:32) ======"
PYTEST_SUMMARY = re.compile(r"^=+ (?P<summary>.+ in [0-9.]+s.*?) =+$", re.MULTILINE)


def test_quick_start_commands_are_read_from_the_readme() -> None:
    commands = quick_start_commands((ROOT / "README.md").read_text())
    assert commands == ["make run", "make test"]


def newcomer_environment() -> dict[str, str]:
    """The caller's environment without what `make e2e` or a virtual environment added to it."""
    dropped = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "VIRTUAL_ENV", "PYTHONPATH"}
    dropped |= {"NUMBA_CACHE_DIR", "PYTHONHASHSEED", "COLAB_PYTHON"}  # the Makefile sets its own
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


def check_promises(checkout: Path, logs: list[Path]) -> None:
    """`make run` left an error-free executed copy of every notebook; `make test`'s pytest passed."""
    notebooks = sorted(path.name for path in (checkout / "notebooks").glob("[0-9]*.ipynb"))
    executed = checkout / "build" / "executed"
    assert notebooks, "the checkout has no notebooks"
    missing = [name for name in notebooks if not (executed / name).is_file()]
    assert not missing, f"no executed copy in build/executed/ of {missing}"
    errors = {name: error_outputs(executed / name) for name in notebooks}
    assert not any(errors.values()), f"error outputs in executed notebooks: {errors}"
    print(f"executed copies of {len(notebooks)} notebooks, no error outputs")

    summaries = PYTEST_SUMMARY.findall(logs[-1].read_text(errors="replace"))
    assert summaries, f"no pytest summary line in {logs[-1]}"
    summary = summaries[-1]
    print(f"pytest of the quick start: {summary}")
    assert re.search(r"\b[1-9][0-9]* passed\b", summary), summary
    assert not re.search(r"\b(failed|errors?)\b", summary), summary


def quick_start_record() -> dict | None:
    """The record `.ci/run` left for this very commit on a fresh checkout, or None."""
    if not RECORD.is_file():
        return None
    record = json.loads(RECORD.read_text())
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    fresh = record.get("clean_checkout") and record.get("nothing_built_yet")
    return record if record.get("commit") == head and fresh else None


def test_readme_quick_start_on_a_clean_clone(tmp_path: Path, artifacts: Path) -> None:
    record = quick_start_record()
    if record is not None:
        commands = [step["command"] for step in record["commands"]]
        print(f"\nthe quick start ran on this clean checkout (CI): {record['commands']}")
        assert commands == quick_start_commands((ROOT / "README.md").read_text())
        assert all(step["exit_status"] == 0 for step in record["commands"]), record
        check_promises(ROOT, [RECORD.parent / step["log"] for step in record["commands"]])
        return

    clone = tmp_path / "contrastive-mnist"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    head = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    commands = quick_start_commands((clone / "README.md").read_text())
    print(f"\nno quick-start record of this commit: clone of {head} in {clone}; {commands}")
    assert commands, "the quick start lists no command"
    environment = newcomer_environment()
    logs = []
    try:
        for number, command in enumerate(commands, start=1):
            log = artifacts / f"newcomer_{log_name(number, command)}"
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
        check_promises(clone, logs)
    finally:
        shutil.rmtree(clone, ignore_errors=True)  # its .venv alone is about 7 GB

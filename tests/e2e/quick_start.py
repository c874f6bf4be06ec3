"""The README's quick start: read its commands, and run them as a newcomer would (`.ci/run` does).

CI works in a clean clone of the repository, which is exactly where a newcomer starts, so CI's
first step is the quick start itself:

    python3 tests/e2e/quick_start.py run

runs each command of the first code block under "## Two commands" in README.md with bash, in
order, shows its output and keeps a copy in build/quick-start/, and writes
build/quick-start/record.json (the commit, whether the checkout was clean and had no environment
yet, each command's exit status and seconds). `tests/e2e/test_newcomer.py` then checks what the
commands promise from that record instead of cloning and building everything a second time.

Only the standard library is used: this runs before any environment exists.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Two commands"
RECORD_DIR = ROOT / "build" / "quick-start"
RECORD = RECORD_DIR / "record.json"
# What a clean clone lacks until the quick start builds it.
BUILT_BY_THE_QUICK_START = (".venv", "build/executed")


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


def log_name(number: int, command: str) -> str:
    """The file name of one command's log, e.g. `2_make_test.log`."""
    return f"{number}_{re.sub(r'[^a-z0-9]+', '_', command.lower()).strip('_')}.log"


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def run_quick_start() -> int:
    """Run the README's commands in this checkout, tee their output and write the record."""
    commands = quick_start_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    if not commands:
        print("README.md's quick start lists no command", file=sys.stderr)
        return 1
    record = {
        "commit": git("rev-parse", "HEAD"),
        "clean_checkout": git("status", "--porcelain", "--untracked-files=no") == "",
        "nothing_built_yet": not any((ROOT / path).exists() for path in BUILT_BY_THE_QUICK_START),
        "commands": [],
    }
    RECORD_DIR.mkdir(parents=True, exist_ok=True)
    RECORD.unlink(missing_ok=True)
    status = 0
    for number, command in enumerate(commands, start=1):
        print(f"== quick start, step {number} of {len(commands)}: {command}", flush=True)
        log = RECORD_DIR / log_name(number, command)
        started = time.monotonic()
        with log.open("w", encoding="utf-8") as copy:
            process = subprocess.Popen(
                ["bash", "-c", command],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
            assert process.stdout is not None
            for line in process.stdout:
                sys.stdout.write(line)
                copy.write(line)
            status = process.wait()
        seconds = round(time.monotonic() - started, 1)
        record["commands"].append(
            {"command": command, "exit_status": status, "seconds": seconds, "log": log.name}
        )
        print(f"== `{command}` exited {status} after {seconds:.0f} s", flush=True)
        if status != 0:
            break
    partial = RECORD.with_name(RECORD.name + ".partial")
    partial.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, RECORD)
    return status


if __name__ == "__main__":
    if sys.argv[1:] == ["run"]:
        sys.exit(run_quick_start())
    if sys.argv[1:] == ["print"]:
        print("\n".join(quick_start_commands((ROOT / "README.md").read_text(encoding="utf-8"))))
        sys.exit(0)
    sys.exit("usage: python3 tests/e2e/quick_start.py run|print")

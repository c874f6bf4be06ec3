"""Project files agree with each other: environment.yml and pyproject.toml, notebooks and Colab,
the README's quick start and what CI runs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from tests.e2e.quick_start import quick_start_commands

ROOT = Path(__file__).resolve().parent.parent


def package_name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[@]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {package_name(r) for r in project["dependencies"]}
    declared |= {package_name(r) for r in project["optional-dependencies"]["dev"]}

    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = set()
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            listed |= {package_name(r) for r in entry["pip"] if not r.startswith("-e")}
        elif package_name(entry) not in {"python", "pip"}:
            listed.add(package_name(entry))
    assert listed == declared, (
        f"only in environment.yml: {listed - declared}; only in pyproject: {declared - listed}"
    )


def test_torch_pins_agree():
    constraints = (ROOT / "constraints.txt").read_text()
    environment = (ROOT / "environment.yml").read_text()
    for pin in ("torch==2.14.1", "torchvision==0.29.1"):
        assert pin in constraints and pin in environment


def test_both_pythons_are_allowed_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    assert "python>=3.11,<3.13" in (ROOT / "environment.yml").read_text()


def test_readme_quick_start_is_make_run_then_make_test():
    assert quick_start_commands((ROOT / "README.md").read_text()) == ["make run", "make test"]


def test_ci_runs_the_quick_start_both_pythons_and_e2e():
    steps = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    quick_start = steps.index("python3 tests/e2e/quick_start.py run")  # make run, make test
    second_python = steps.index('make test PYTHON="$(make --no-print-directory python312)"')
    assert quick_start < second_python < steps.index("make e2e")


def test_makefile_comments_carry_no_machine_timings():
    comments = [
        line
        for line in (ROOT / "Makefile").read_text().splitlines()
        if line.lstrip().startswith("#")
    ]
    timed = [line for line in comments if re.search(r"\d\s*(s|min|minutes?|seconds?)\b", line)]
    assert not timed, f"timings belong in the README, measured, not in the Makefile: {timed}"


def test_every_helpers_subpackage_ships_in_the_wheel():
    """Colab installs helpers with pip: a subpackage missing from `packages` would not be there."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "helpers").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"

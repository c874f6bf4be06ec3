"""Project files agree with each other: environment.yml and pyproject.toml, notebooks and Colab."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

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


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()

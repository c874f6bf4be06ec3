"""A simulated Google Colab: each notebook on a machine of its own, as a reader opens it from its badge.

What it copies from Colab:
- Python 3.12 with a preinstalled stack (`COLAB_PREINSTALLED` and what those need) that the
  notebook's install line must keep, and no `helpers`;
- `google.colab` imported when the kernel starts (an IPython startup file in the kernel's profile),
  from a stand-in module whose `output.enable_custom_widget_manager()` does nothing;
- a working folder (Colab's /content) that holds only the notebook, and a new machine, kernel and
  working folder for every notebook, since Colab gives each notebook its own;
- the notebook's own install line, run by its own setup cell, pointed at a local clone of the
  repository (a file:// URL and a branch) instead of GitHub.

What it cannot copy: Colab's exact package versions and GPU, and its front end (no widget is drawn).

The stack is not installed a second time: a machine's interpreter is a fresh virtual environment
whose one `.pth` file puts a folder of links on its path, one link per top-level file of each
preinstalled distribution in the project's Python 3.12 environment (`make e2e` builds
`.venv-3.12`, the same one `make test PYTHON=python3.12` uses). Python does not run `.pth` files
found there, so the project's editable install of `helpers` stays invisible, and whatever the
install line adds (helpers, lancedb, ...) lands in the machine's own site-packages.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat

# What Colab preinstalls, of what the series uses: the stack named in issue 12, a Jupyter kernel,
# and tqdm, pyarrow and nbformat, which Colab also ships (plotly's notebook renderers, Colab's
# among them, refuse to draw without nbformat). umap-learn and lancedb are left to the install
# line, so the simulation proves that it brings them.
COLAB_PREINSTALLED = (
    "torch",
    "torchvision",
    "numpy",
    "pandas",
    "matplotlib",
    "seaborn",
    "scikit-learn",
    "plotly",
    "ipywidgets",
    "ipykernel",
    "tqdm",
    "pyarrow",
    "nbformat",
    "pip",
)
KEPT = ("torch", "torchvision", "triton", "nvidia")  # what the install line must never reinstall
INSTALL_LINE = re.compile(r'"helpers @ git\+(?P<url>[^@"]+)@(?P<ref>[^"]+)"')

# Runs inside the Python 3.12 environment: the preinstalled distributions and their dependencies,
# extras followed (torch needs cuda-toolkit[cublas,...]), markers evaluated there; then the
# top-level names of their files in site-packages.
_STACK_SCRIPT = r"""
import importlib.metadata as metadata, json, re, sys
from packaging.requirements import Requirement

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

installed = {norm(d.metadata["Name"]): d for d in metadata.distributions()}
wanted, seen = [(norm(name), "") for name in sys.argv[1:]], set()
while wanted:
    name, extra = wanted.pop()
    if (name, extra) in seen:
        continue
    if name not in installed:
        sys.exit(f"{name} is not installed in {sys.prefix}")
    seen.add((name, extra))
    for line in installed[name].requires or []:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
            target = norm(requirement.name)
            wanted += [(target, "")] + [(target, norm(e)) for e in requirement.extras]
seen = {name for name, _ in seen}
entries = {}
for name in seen:
    dist = installed[name]
    site = str(dist.locate_file(""))
    for file in dist.files or []:
        top = file.parts[0]
        if top in ("..", "__pycache__") or top.endswith(".pth") or top.startswith("__editable__"):
            continue
        entries.setdefault(top, site)
print(json.dumps({"distributions": sorted(seen), "entries": entries,
                  "base_python": sys._base_executable, "version": sys.version.split()[0]}))
"""

_STAND_IN = {
    "google/colab/__init__.py": (
        '"""Stand-in for Colab\'s google.colab (simulated Colab, tests/e2e)."""\n\n'
        "from . import output  # noqa: F401\n"
    ),
    "google/colab/output.py": (
        '"""Stand-in for google.colab.output: no widget manager to switch in a simulation."""\n\n\n'
        "def enable_custom_widget_manager():\n"
        "    return None\n\n\n"
        "def disable_custom_widget_manager():\n"
        "    return None\n"
    ),
}
_STARTUP = "import google.colab  # Colab loads this module before the first cell runs\n"


@dataclass(frozen=True)
class ColabStack:
    """The preinstalled stack every simulated machine shares (links, nothing copied)."""

    base_python: Path  # python3.12 itself, from which each machine's environment is made
    version: str
    links: Path  # one link per top-level file of the preinstalled distributions
    stand_in: Path  # holds google/colab
    distributions: tuple[str, ...]


@dataclass(frozen=True)
class Machine:
    """One notebook's machine: an interpreter, its site-packages, /content and a kernel profile."""

    root: Path
    python: Path
    site_packages: Path
    content: Path
    ipython_dir: Path
    kernels: Path


@dataclass(frozen=True)
class ColabRun:
    """How one notebook went: seconds in all and in the setup cell, and its first error if any."""

    notebook: str
    seconds: float
    setup_seconds: float | None
    error: str | None
    executed: Path


def build_stack(env_python: Path, folder: Path) -> ColabStack:
    """Link the preinstalled distributions of a Python 3.12 environment into `folder`."""
    found = subprocess.run(
        [str(env_python), "-c", _STACK_SCRIPT, *COLAB_PREINSTALLED],
        check=False,
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        raise RuntimeError(f"{env_python} cannot provide Colab's stack: {found.stderr.strip()}")
    stack = json.loads(found.stdout)
    links = folder / "preinstalled"
    links.mkdir(parents=True)
    for name, site in stack["entries"].items():
        (links / name).symlink_to(Path(site) / name)
    stand_in = folder / "stand-in"
    for relative, text in _STAND_IN.items():
        (stand_in / relative).parent.mkdir(parents=True, exist_ok=True)
        (stand_in / relative).write_text(text)
    return ColabStack(
        base_python=Path(stack["base_python"]),
        version=stack["version"],
        links=links,
        stand_in=stand_in,
        distributions=tuple(stack["distributions"]),
    )


def new_machine(stack: ColabStack, folder: Path) -> Machine:
    """A fresh interpreter that sees the preinstalled stack, and an empty /content."""
    root = folder / "machine"
    subprocess.run([str(stack.base_python), "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    site_packages = Path(site)
    (site_packages / "colab_preinstalled.pth").write_text(f"{stack.stand_in}\n{stack.links}\n")
    ipython_dir = folder / "ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-google-colab.py").write_text(_STARTUP)
    kernels = folder / "kernels"
    (kernels / "colab").mkdir(parents=True)
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Simulated Colab (Python {stack.version})",
        "language": "python",
        "metadata": {"supported_encryption": ["curve"]},
    }
    (kernels / "colab" / "kernel.json").write_text(json.dumps(spec, indent=1))
    content = folder / "content"
    content.mkdir()
    return Machine(root, python, site_packages, content, ipython_dir, kernels)


def machine_environment(machine: Machine, *, repository: Path) -> dict[str, str]:
    """This process's environment without what the project or `make` added, plus the machine's."""
    dropped = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHASHSEED", "NUMBA_CACHE_DIR", "COLAB_PYTHON"}
    dropped |= {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PYTHONSTARTUP"}
    dropped |= {"JUPYTER_PATH", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"}
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in dropped and not key.startswith(("PYTEST_", "E2E_"))
    }
    paths = [p for p in environment.get("PATH", "").split(os.pathsep) if p]
    ours = (str(repository), sys.prefix) if sys.prefix != sys.base_prefix else (str(repository),)
    paths = [p for p in paths if not p.startswith(ours)]  # the project's .venv/bin among them
    environment["PATH"] = os.pathsep.join([str(machine.python.parent), *paths])
    environment["IPYTHONDIR"] = str(machine.ipython_dir)
    environment["JUPYTER_CONFIG_DIR"] = str(machine.root / "jupyter-config")
    environment["PIP_NO_INPUT"] = "1"
    return environment


def point_install_line(notebook: nbformat.NotebookNode, url: str, ref: str) -> None:
    """Point the notebook's `helpers @ git+...` install line at `url`@`ref`; fail if it has none."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and INSTALL_LINE.search(cell.source):
            cell.source = INSTALL_LINE.sub(f'"helpers @ git+{url}@{ref}"', cell.source)
            return
    raise ValueError("the notebook has no `helpers @ git+...` install line for Colab")


def _cell_seconds(cell: nbformat.NotebookNode) -> float | None:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = datetime.fromisoformat
    return round(
        (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds(), 1
    )


def first_error(notebook: nbformat.NotebookNode) -> str | None:
    """'cell N (`first line`): Ename: value' for the first error output in the notebook, or None."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first_line = cell.source.strip().splitlines()[0][:70] if cell.source.strip() else ""
                return (
                    f"cell {index} (`{first_line}`): {output.get('ename')}: {output.get('evalue')}"
                )
    return None


def run_notebook(
    machine: Machine,
    notebook_path: Path,
    *,
    repository: Path,
    url: str,
    ref: str,
    executed_dir: Path,
    cell_timeout_s: int = 1800,
) -> ColabRun:
    """Copy the notebook alone into /content, point its install line at `url`@`ref`, run it all."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(notebook_path, as_version=4)
    point_install_line(notebook, url, ref)
    target = machine.content / notebook_path.name
    nbformat.write(notebook, target)
    specs = KernelSpecManager(kernel_dirs=[str(machine.kernels)])
    manager = KernelManager(
        kernel_name="colab", kernel_spec_manager=specs, transport_encryption="auto"
    )
    client = NotebookClient(
        notebook,
        km=manager,
        timeout=cell_timeout_s,
        allow_errors=False,  # Colab's "Run all" stops at the first error too
        record_timing=True,
        resources={"metadata": {"path": str(machine.content)}},
    )
    started = time.monotonic()
    try:
        client.execute(env=machine_environment(machine, repository=repository))
    except CellExecutionError:
        pass  # the error output is in the notebook, where first_error finds its cell
    finally:
        if manager.has_kernel:  # nbclient leaves a kernel manager it was handed running
            manager.shutdown_kernel(now=False)
    seconds = round(time.monotonic() - started, 1)
    executed_dir.mkdir(parents=True, exist_ok=True)
    executed = executed_dir / notebook_path.name
    nbformat.write(notebook, executed)
    setup = next(
        (
            cell
            for cell in notebook.cells
            if cell.cell_type == "code" and INSTALL_LINE.search(cell.source)
        ),
        None,
    )
    return ColabRun(
        notebook=notebook_path.name,
        seconds=seconds,
        setup_seconds=_cell_seconds(setup) if setup is not None else None,
        error=first_error(notebook),
        executed=executed,
    )


def installed_on_machine(machine: Machine) -> list[str]:
    """Top-level names the notebook's install line added to the machine's own site-packages."""
    return sorted(path.name for path in machine.site_packages.iterdir())


def where_helpers_comes_from(machine: Machine, *, repository: Path) -> str:
    """The file `import helpers` loads on the machine, from /content, after the notebook ran."""
    found = subprocess.run(
        [str(machine.python), "-c", "import helpers; print(helpers.__file__)"],
        cwd=machine.content,
        env=machine_environment(machine, repository=repository),
        capture_output=True,
        text=True,
    )
    return (
        found.stdout.strip() if found.returncode == 0 else f"not importable: {found.stderr[-300:]}"
    )

"""Fixtures for the end-to-end checks: a JupyterLab server and headless Chromium.

These tests run with `make e2e` only (`pytest -m e2e`); pyproject.toml deselects the `e2e` marker
everywhere else, so `make test` never starts a browser, a clone of the repository or a simulated
Colab. A new end-to-end check is a `test_*.py` file here whose tests carry `pytestmark =
pytest.mark.e2e`; it can use the fixtures below and writes what it saves under build/e2e/.
Chromium comes from Debian (`apt-get install -y chromium chromium-driver`, done by `.ci/run`);
Selenium is pointed at it explicitly so that Selenium Manager never tries to download a browser.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "e2e"
CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("E2E_CHROMEDRIVER", "/usr/bin/chromedriver"))


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots and logs go: build/e2e/ (ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium_paths() -> tuple[Path, Path]:
    """Debian's chromium and chromedriver; fail (not skip) with what to install when missing."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(
            f"the end-to-end tests need Chromium and its driver, missing: {', '.join(missing)}. "
            "Install them with `apt-get install -y chromium chromium-driver` (.ci/run does this), "
            "or point E2E_CHROMIUM and E2E_CHROMEDRIVER at another build.",
            pytrace=False,
        )
    return CHROMIUM, CHROMEDRIVER


@dataclass(frozen=True)
class LabServer:
    """A running JupyterLab: its base URL, token and the folder it serves."""

    url: str
    token: str
    root_dir: Path
    log: Path

    def lab_url(self, path: str) -> str:
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}"


def _write_lab_settings(home: Path) -> dict[str, str]:
    """A throw-away Jupyter config, runtime and settings folder, so no user file is read or written.

    Every cell is attached to the page (`windowingMode: none`), so the checks and the full-height
    screenshot see all outputs, and the "fetch Jupyter news?" prompt is switched off.
    """
    config_dir, runtime_dir, settings_dir = home / "config", home / "runtime", home / "settings"
    workspaces_dir = home / "workspaces"
    for folder in (config_dir / "labconfig", runtime_dir, workspaces_dir):
        folder.mkdir(parents=True, exist_ok=True)
    (config_dir / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    notebook_settings = settings_dir / "@jupyterlab" / "notebook-extension"
    notebook_settings.mkdir(parents=True, exist_ok=True)
    (notebook_settings / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"})
    )
    return {
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_RUNTIME_DIR": str(runtime_dir),
        "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
        "JUPYTERLAB_WORKSPACES_DIR": str(workspaces_dir),
    }


@pytest.fixture
def lab_server(tmp_path: Path, artifacts: Path) -> Iterator[LabServer]:
    """JupyterLab from this environment on a free localhost port with a random token.

    It serves `tmp_path / "lab"` (the test copies notebooks there). The server runs in its own
    process group, which is killed afterwards whatever happened, kernels included.
    """
    root_dir = tmp_path / "lab"
    root_dir.mkdir()
    port, token = free_port(), secrets.token_hex(16)
    environment = {**os.environ, **_write_lab_settings(tmp_path / "jupyter")}
    environment.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
    environment.setdefault("PYTHONHASHSEED", "0")
    jupyter = Path(sys.executable).with_name("jupyter")
    log = artifacts / "jupyterlab.log"
    command = [
        str(jupyter),
        "lab",
        "--no-browser",
        "--allow-root",  # CI machines run as root
        "--LabApp.extension_manager=readonly",  # no look-ups of extensions on PyPI
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.expose_app_in_browser=True",  # lets the test read the notebook model
    ]
    with log.open("w") as log_file:
        process = subprocess.Popen(
            command,
            cwd=root_dir,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kernels die with it
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {process.returncode}; see {log}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer on {url} within 180 s; see {log}")
                time.sleep(1)
        yield LabServer(url=url, token=token, root_dir=root_dir, log=log)
    finally:
        _stop_process_group(process)


def _stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group, then SIGKILL whatever is left after 20 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # kernels that ignored SIGTERM
    process.wait(timeout=20)


@pytest.fixture
def browser(chromium_paths: tuple[Path, Path], tmp_path: Path, artifacts: Path) -> Iterator:
    """Headless Chromium driven by Selenium, with software WebGL for plotly's 3-D plots."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = chromium_paths
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        "--use-angle=swiftshader",  # WebGL without a GPU, for plotly's scatter3d
        "--enable-unsafe-swiftshader",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(
        executable_path=str(chromedriver), log_output=str(artifacts / "chromedriver.log")
    )
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()

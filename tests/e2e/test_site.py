"""The series' static site (docs/, `make site`) read in headless Chromium with no internet.

The site in build/site/ is rebuilt first (docs/build.py, as `make site` does) when it is missing
or older than its sources. A local HTTP server serves it; Chromium resolves no host but localhost,
so anything fetched from the web would fail, and every request it makes is recorded. Every page
reachable from the landing page is opened: no console error, no request off this machine, no
missing file, every internal link and anchor resolves, each plotly figure draws its points, the
exercise solutions and "going further" boxes stay closed, and the Colab and download links are
right. Search must find "InfoNCE" (notebook 04). A second site, built from one made-up notebook,
checks the conventions the committed notebooks do not all use yet. Screenshots: build/e2e/site/.
Run with `make e2e`.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import numpy as np
import pytest

from helpers.colab import colab_url
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

SITE = ROOT / "build" / "site"
SITE_SOURCES = ROOT / "build" / "site-src"  # docs/build.py stages the notebooks it built here
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

# What one page shows: its links, anchors, images, collapsed boxes, launch bar and plotly figures.
PAGE_JS = r"""
// A closed <details> keeps its content laid out but hidden (content-visibility), so ask Chromium.
const visible = (el) => !!el && el.checkVisibility() && el.getClientRects().length > 0;
const bar = document.querySelector('.nb-launch-bar');
return {
  title: document.title,
  links: Array.from(document.querySelectorAll('a[href]')).map((a) => a.href),
  ids: Array.from(document.querySelectorAll('[id]')).map((el) => el.id),
  broken_images: Array.from(document.images).filter(
    (img) => !(img.complete && img.naturalWidth > 0)).map((img) => img.src),
  details: Array.from(document.querySelectorAll('.bd-article details')).map((d) => ({
    open: d.open,
    solution: d.matches('div.cell details.hide.above-input'),
    summary: (d.querySelector('summary') || {innerText: ''}).innerText.trim(),
    code_visible: visible(d.querySelector('pre')),
    body_visible: Array.from(d.children).some((c) => c.tagName !== 'SUMMARY' && visible(c)),
  })),
  colab: bar && bar.querySelector('a.nb-launch-colab') ? bar.querySelector('a.nb-launch-colab').href : null,
  download: bar && bar.querySelector('a.nb-download') ? bar.querySelector('a.nb-download').href : null,
  math: document.querySelectorAll('math').length,
  progress: Array.from(document.querySelectorAll('.nb-widget progress')).map(
    (p) => [p.value, p.max, p.parentElement.innerText.replace(/\s+/g, ' ').trim()]),
  plots: Array.from(document.querySelectorAll('.js-plotly-plot')).map((el) => {
    const full = el._fullData || [];
    const box = el.getBoundingClientRect();
    return {
      id: el.id,
      types: Array.from(new Set(full.map((t) => t.type))),
      colors: full.map((t) => (t.marker && typeof t.marker.color === 'string') ? t.marker.color : null),
      points: full.reduce((sum, t) => sum + (t._length || 0), 0),
      svg_points: el.querySelectorAll('.scatterlayer .point').length,
      webgl_canvases: el.querySelectorAll('.gl-container canvas').length,
      width: box.width,
      height: box.height,
      text: el.innerText.slice(0, 200),
    };
  }),
};
"""


@pytest.fixture(scope="module")
def built_site() -> Path:
    """build/site, rebuilt with docs/build.py when missing or older than any of its sources."""
    sources = [
        *NOTEBOOKS,
        ROOT / "README.md",
        *(p for p in (ROOT / "docs").rglob("*") if p.is_file()),
    ]
    index = SITE / "index.html"
    built = {p.name for p in (SITE_SOURCES / "notebooks").glob("*.ipynb")}
    stale = not index.is_file() or index.stat().st_mtime < max(p.stat().st_mtime for p in sources)
    if stale or built != {p.name for p in NOTEBOOKS}:
        build_site(["--notebooks", str(ROOT / "notebooks")])
    return SITE


def build_site(arguments: list[str]) -> None:
    """Run docs/build.py (what `make site` runs) with this interpreter; fail with its output."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "build.py"), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    print(f"\ndocs/build.py {' '.join(arguments)}: {time.monotonic() - started:.0f} s")
    assert result.returncode == 0, f"the site did not build:\n{result.stdout}\n{result.stderr}"


class RecordingHandler(SimpleHTTPRequestHandler):
    """Serves a folder quietly and records each request's path and status on the server."""

    def log_request(self, code="-", size="-") -> None:
        self.server.requests.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[ThreadingHTTPServer]:
    """A static HTTP server for `folder` on a free localhost port, in a thread of this process."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(RecordingHandler, directory=str(folder))
    )
    server.requests = []
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def offline_browser(chromium_paths: tuple[Path, Path], tmp_path: Path, artifacts: Path):
    """Headless Chromium as in conftest's `browser`, but offline by construction: no host resolves
    except localhost, background networking is off, and every request goes to a log we read."""
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
        "--disable-background-networking",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(
        executable_path=str(chromedriver), log_output=str(artifacts / "chromedriver-site.log")
    )
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver) -> list[str]:
    """Every URL the browser asked for since the last call (from the performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def off_machine(urls: list[str]) -> list[str]:
    """The URLs among `urls` that point anywhere but this machine (data: and blob: are local)."""
    return [
        u
        for u in urls
        if urllib.parse.urlsplit(u).scheme in ("http", "https", "ws", "wss")
        and urllib.parse.urlsplit(u).hostname not in LOCAL_HOSTS
    ]


def open_page(driver, url: str) -> dict:
    """Load a page, wait for it and its plotly figures to draw; return what it shows."""
    driver.get(url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = driver.execute_script(
            "return document.readyState === 'complete' && Array.from("
            "document.querySelectorAll('.plotly-graph-div')).every((el) => el._fullData);"
        )
        if ready:
            break
        time.sleep(0.5)
    time.sleep(1)  # WebGL scenes draw a frame after plotly returns
    return driver.execute_script(PAGE_JS)


def trace_colours_drawn(driver, plot_id: str, colours: list[str | None]) -> dict[str, int]:
    """Pixels of each trace's marker colour in a screenshot of the figure, legend left out
    (a WebGL scene has no element per point to count)."""
    from PIL import Image, ImageDraw
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.ID, plot_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    time.sleep(1.5)
    legend = driver.execute_script(
        "const box = arguments[0].getBoundingClientRect();"
        "const legend = arguments[0].querySelector('.legend');"
        "if (!legend) { return null; }"
        "const r = legend.getBoundingClientRect(), scale = window.devicePixelRatio;"
        "return [r.left - box.left, r.top - box.top, r.right - box.left, r.bottom - box.top]"
        ".map((v) => v * scale);",
        element,
    )
    image = Image.open(io.BytesIO(element.screenshot_as_png)).convert("RGB")
    if legend:
        ImageDraw.Draw(image).rectangle(legend, fill=(255, 255, 255))  # its colour swatches
    pixels = np.asarray(image, dtype=np.int16)  # (height, width, 3)
    counts = {}
    for colour in {c for c in colours if c and c.startswith("#") and len(c) == 7}:
        target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
        counts[colour] = int(np.all(np.abs(pixels - target) <= 40, axis=-1).sum())
    return counts


def check_plots(driver, page: dict, shots: Path, name: str) -> list[dict]:
    """Every plotly figure on the page holds points and draws them (SVG points or WebGL pixels)."""
    for number, plot in enumerate(page["plots"], start=1):
        assert plot["points"] > 0 and plot["width"] > 300 and plot["height"] > 300, (name, plot)
        assert "WebGL is not supported" not in plot["text"], (name, plot)
        if any(t.endswith("3d") or t.endswith("gl") for t in plot["types"]):
            assert plot["webgl_canvases"] >= 1, (name, plot)
            plot["drawn"] = trace_colours_drawn(driver, plot["id"], plot["colors"])
            shown = [c for c, n in plot["drawn"].items() if n >= 20]  # a few markers' worth
            assert len(shown) >= max(1, len(plot["drawn"]) // 2), (name, plot)
        else:
            assert plot["svg_points"] == plot["points"], (name, plot)
        driver.save_screenshot(str(shots / f"{name}_plot{number}.png"))
    return page["plots"]


def test_every_page_reads_offline(built_site: Path, offline_browser, artifacts: Path) -> None:
    shots = artifacts / "site"
    shots.mkdir(exist_ok=True)
    with serve(built_site) as server:
        queue, seen, pages = [f"{server.url}/index.html"], set(), {}
        started = time.monotonic()
        while queue:
            url = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            page = pages[url] = open_page(offline_browser, url)
            name = (
                urllib.parse.urlsplit(url).path.strip("/").replace("/", "_").removesuffix(".html")
            )
            offline_browser.save_screenshot(str(shots / f"{name}.png"))
            page["console"] = [
                e["message"] for e in offline_browser.get_log("browser") if e["level"] == "SEVERE"
            ]
            page["requests"] = requested_urls(offline_browser)
            page["plots"] = check_plots(offline_browser, page, shots, name)
            for link in page["links"]:
                target = urllib.parse.urldefrag(link).url
                if target.startswith(server.url) and target.endswith(".html"):
                    queue.append(target)
        print(f"{len(pages)} pages opened in {time.monotonic() - started:.0f} s")
        (shots / "pages.json").write_text(json.dumps(pages, indent=1))

        # Every internal link reaches a file, and every #anchor an element of its page.
        broken = []
        for url, page in pages.items():
            for link in page["links"]:
                target, fragment = urllib.parse.urldefrag(link)
                if not target.startswith(server.url):
                    continue
                if target in pages:
                    if fragment and urllib.parse.unquote(fragment) not in pages[target]["ids"]:
                        broken.append((url, link))
                else:
                    path = built_site / urllib.parse.unquote(urllib.parse.urlsplit(target).path[1:])
                    if not path.is_file():
                        broken.append((url, link))
        missing = [(path, code) for path, code in server.requests if code >= 400]

    assert not broken, f"internal links that lead nowhere: {broken}"
    assert not missing, f"requests the server could not answer: {missing}"
    for url, page in pages.items():
        assert not page["console"], f"console errors on {url}: {page['console']}"
        assert not off_machine(page["requests"]), f"{url} fetched from the web: {page['requests']}"
        assert not page["broken_images"], f"images not shown on {url}: {page['broken_images']}"
        for box in page["details"]:
            assert not box["open"] and not box["body_visible"], f"a box is open on {url}: {box}"

    # One page per notebook, each with its launch bar, its solutions collapsed, its figures drawn.
    for notebook in NOTEBOOKS:
        url = f"{server.url}/notebooks/{notebook.stem}.html"
        assert url in pages, f"no page for {notebook.name} reachable from the landing page"
        page = pages[url]
        assert page["colab"] == colab_url(notebook.name), page["colab"]
        assert page["download"] == f"{server.url}/notebooks/{notebook.name}", page["download"]
        assert (built_site / "notebooks" / notebook.name).read_bytes() == (
            SITE_SOURCES / "notebooks" / notebook.name
        ).read_bytes(), f"the downloadable {notebook.name} is not the notebook the page shows"
        cells = nbformat.read(notebook, as_version=4).cells
        hidden = [c for c in cells if {"solution", "hide-input"} & set(c.metadata.get("tags", []))]
        solutions = [box for box in page["details"] if box["solution"]]
        assert len(solutions) == len(hidden), (notebook.name, solutions)
        assert all(not box["code_visible"] for box in solutions), (notebook.name, solutions)
        plotly_outputs = sum(
            1
            for c in cells
            for o in c.get("outputs", [])
            if "application/vnd.plotly.v1+json" in o.get("data", {})
        )
        assert len(page["plots"]) == plotly_outputs, (notebook.name, page["plots"])
    print(f"plotly figures: {[(u, p['plots']) for u, p in pages.items() if p['plots']]}")


def search_results(driver, *, timeout_s: float = 60) -> list[str]:
    """The result links of Sphinx's search page once it says it has finished."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        results = driver.execute_script(
            "const status = document.querySelector('#search-results .search-summary, "
            "#search-results p');"
            "if (!status || !/found|did not match/i.test(status.textContent)) { return null; }"
            "return Array.from(document.querySelectorAll('#search-results ul.search li a'))"
            ".map((a) => a.href);"
        )
        if results is not None:
            return results
        time.sleep(0.5)
    pytest.fail(f"the search page did not finish within {timeout_s:.0f} s")


def test_search_finds_infonce(built_site: Path, offline_browser, artifacts: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with serve(built_site) as server:
        open_page(offline_browser, f"{server.url}/index.html")
        # The search box as a reader uses it: the header's search button, type, Enter.
        buttons = offline_browser.find_elements(By.CSS_SELECTOR, "button.search-button__button")
        next(button for button in buttons if button.is_displayed()).click()
        box = offline_browser.find_element(By.CSS_SELECTOR, '#pst-search-dialog input[name="q"]')
        box.send_keys("InfoNCE", Keys.ENTER)
        served = search_results(offline_browser)
        offline_browser.save_screenshot(str(artifacts / "site" / "search_infonce.png"))
    # The same search on the site opened from disk, as build/site/index.html (no server).
    offline_browser.get((built_site / "search.html").as_uri() + "?q=InfoNCE")
    from_disk = search_results(offline_browser)
    console = [e["message"] for e in offline_browser.get_log("browser") if e["level"] == "SEVERE"]
    requests = requested_urls(offline_browser)
    print(f"search for InfoNCE, served: {served}; from disk: {from_disk}")
    for results in (served, from_disk):
        assert any(link.endswith("/notebooks/04_training.html") for link in results), results
    assert not console, f"console errors while searching: {console}"
    assert not off_machine(requests), requests


def made_up_notebook() -> nbformat.NotebookNode:
    """A notebook in the series' conventions, with the outputs that need the site's care."""
    import plotly.graph_objects as go

    figure = json.loads(go.Figure(go.Scatter(x=[0, 1, 2], y=[2, 0, 1], mode="markers")).to_json())
    cdn_html = '<script src="https://cdn.plot.ly/plotly-3.0.0.min.js"></script><div>plot</div>'
    solution = nbformat.v4.new_code_cell(
        "# @title Solution to exercise 1\nanswer = 42\nprint('right')",
        metadata={
            "tags": ["solution", "hide-input"],
            "jupyter": {"source_hidden": True},
            "cellView": "form",
        },
        outputs=[nbformat.v4.new_output("stream", name="stdout", text="right\n")],
    )
    bar = nbformat.v4.new_output(
        "display_data",
        data={
            "application/vnd.jupyter.widget-view+json": {
                "model_id": "box",
                "version_major": 2,
                "version_minor": 0,
            },
            "text/plain": "epoch 1:   0%|          | 0/3 [00:00<?, ?it/s]",
        },
    )
    widget = {"model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0"}
    state = {
        "box": {
            **widget,
            "model_name": "HBoxModel",
            "state": {"children": ["IPY_MODEL_left", "IPY_MODEL_bar", "IPY_MODEL_right"]},
        },
        "left": {**widget, "model_name": "HTMLModel", "state": {"value": "epoch 1: 100%"}},
        "bar": {**widget, "model_name": "FloatProgressModel", "state": {"value": 3.0, "max": 3.0}},
        "right": {**widget, "model_name": "HTMLModel", "state": {"value": " 3/3 [00:01&lt;00:00]"}},
    }
    notebook = nbformat.v4.new_notebook(
        metadata={
            "widgets": {
                "application/vnd.jupyter.widget-state+json": {
                    "state": state,
                    "version_major": 2,
                    "version_minor": 0,
                }
            }
        }
    )
    badge = (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        "(https://colab.research.google.com/github/x/y/blob/main/notebooks/07_made_up.ipynb)"
    )
    notebook.cells = [
        nbformat.v4.new_markdown_cell(
            f"# 07 · A made-up notebook\n\n{badge}\n\nA loss $s_{{ij}}$."
        ),
        nbformat.v4.new_markdown_cell("## 1 · Detours"),
        nbformat.v4.new_markdown_cell(
            "<details><summary>Going further: a detour</summary>\n\nHidden **text**.\n\n</details>"
        ),
        solution,
        nbformat.v4.new_code_cell(
            "figure.show()",
            outputs=[
                nbformat.v4.new_output(
                    "display_data", data={"text/html": cdn_html.replace("<div>plot</div>", "")}
                ),
                nbformat.v4.new_output(
                    "display_data",
                    data={"application/vnd.plotly.v1+json": figure, "text/html": cdn_html},
                ),
            ],
        ),
        nbformat.v4.new_code_cell("fit()", outputs=[bar]),
    ]
    return notebook


def test_a_new_notebook_in_the_conventions(tmp_path: Path, offline_browser, artifacts: Path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nbformat.write(made_up_notebook(), folder / "07_made_up.ipynb")
    site = tmp_path / "site"
    build_site(["--notebooks", str(folder), "--out", str(site), "--source", str(tmp_path / "src")])
    with serve(site) as server:
        landing = open_page(offline_browser, f"{server.url}/index.html")
        page = open_page(offline_browser, f"{server.url}/notebooks/07_made_up.html")
        offline_browser.save_screenshot(str(artifacts / "site" / "made_up_notebook.png"))
        page["plots"] = check_plots(offline_browser, page, artifacts / "site", "made_up")
        console = [
            e["message"] for e in offline_browser.get_log("browser") if e["level"] == "SEVERE"
        ]
        requests = requested_urls(offline_browser)
        missing = [(path, code) for path, code in server.requests if code >= 400]
    print(f"made-up notebook's page: {json.dumps({k: page[k] for k in ('details', 'progress')})}")
    assert f"{server.url}/notebooks/07_made_up.html" in landing["links"]  # found by its name alone
    assert not console and not missing and not off_machine(requests), (console, missing, requests)
    detour, solution = page["details"]  # the markdown box, then the solution's code
    assert (
        not detour["open"] and not detour["body_visible"] and "Going further" in detour["summary"]
    )
    assert solution["solution"] and not solution["open"] and not solution["code_visible"]
    assert "Solution to exercise 1" in solution["summary"], solution
    assert len(page["plots"]) == 1 and page["plots"][0]["svg_points"] == 3, page["plots"]
    assert page["progress"] == [[3, 3, "epoch 1: 100% 3/3 [00:01<00:00]"]], page["progress"]
    assert page["math"] == 1 and not page["broken_images"], page
    assert page["colab"] == colab_url("07_made_up.ipynb")

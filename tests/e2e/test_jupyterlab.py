"""Notebook 05 run in JupyterLab in a real browser, checked the way a reader sees it.

The notebook is copied into a temporary folder that JupyterLab serves, so the committed notebook is
never saved over. Notebook 04's checkpoints are copied next to it when they exist (the usual case
after `make run` or `make test`); without them, or with `E2E_STANDIN=1`, notebook 05 trains the
series' recipe itself and prints one progress line per epoch. Run with `make e2e`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, LabServer

pytestmark = pytest.mark.e2e

NOTEBOOK = "05_embedding_space.ipynb"
RUN_TIMEOUT_S = 45 * 60  # Run All took 2.5 minutes on a busy 2-core machine, 6 with the stand-in
PAGE_HEIGHT = 5000  # the whole notebook is about 18,000 pixels tall: a few tall screenshots

# The notebook's state as JupyterLab holds it: kernel status, and per code cell its execution
# count, error outputs, output types, and what its output area shows (images, plotly plots).
NOTEBOOK_STATE_JS = """
const path = arguments[0];
const app = window.jupyterapp;
if (!app) { return null; }
const panel = Array.from(app.shell.widgets('main')).find(
  (widget) => widget.context && widget.context.path === path
);
if (!panel || !panel.content || !panel.content.model) { return null; }
const session = panel.sessionContext.session;
const kernel = session ? session.kernel : null;
const cells = [];
panel.content.widgets.forEach((cell, index) => {
  const model = cell.model;
  if (model.type !== 'code') { return; }
  const outputs = model.outputs.toJSON();
  const node = cell.node;
  cells.push({
    index: index,
    source: model.sharedModel.getSource().slice(0, 80),
    outputs: outputs.map((o) => o.output_type + ' ' + Object.keys(o.data || {}).join(',')),
    umap_maps: model.sharedModel.getSource().includes('plots.scatter_maps('),
    count: model.executionCount,
    // A solution cell's input is hidden, so it has no input prompt: read the output prompt too.
    running: Array.from(node.querySelectorAll('.jp-InputPrompt, .jp-OutputPrompt')).some(
      (prompt) => prompt.textContent.includes('*')
    ),
    errors: outputs.filter((o) => o.output_type === 'error').map((o) => o.ename + ': ' + o.evalue),
    pngs: outputs.filter((o) => o.data && o.data['image/png']).length,
    plotly_outputs: outputs.filter((o) => o.data && o.data['application/vnd.plotly.v1+json']).length,
    images_shown: Array.from(node.querySelectorAll('.jp-OutputArea-output img')).filter(
      (img) => img.complete && img.naturalWidth > 0
    ).length,
    stderr: Array.from(
      node.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    ).map((el) => el.textContent.slice(0, 2000)),
  });
});
return {kernel: kernel ? kernel.status : 'no kernel', cells: cells};
"""

# Every plotly plot on the page (jupyterlab-plotly makes the output area itself the plot): its
# traces, points, animation frames and WebGL canvases.
PLOTLY_JS = """
const selector = '.jp-OutputArea-output.js-plotly-plot, .jp-OutputArea-output .js-plotly-plot';
return Array.from(document.querySelectorAll(selector)).map((el) => {
  const data = el.data || [];
  const shown = el._fullData || [];  // plotly's own copy, with the point count of each trace
  const box = el.getBoundingClientRect();
  const frames = el._transitionData && el._transitionData._frames;
  return {
    traces: data.length,
    types: Array.from(new Set(data.map((trace) => trace.type))),
    points: shown.reduce((sum, trace) => sum + (trace._length || 0), 0),
    frames: frames ? frames.length : 0,
    webgl_canvases: el.querySelectorAll('.gl-container canvas').length,
    scenes: el.querySelectorAll('.gl-container').length,
    width: box.width,
    height: box.height,
    text: el.innerText.slice(0, 300),
  };
});
"""

# tqdm's notebook bars are ipywidgets: a progress bar plus an HTML label ("100% 3/3 ...").
PROGRESS_JS = """
const bars = '.jp-OutputArea-output .widget-hprogress, .jp-OutputArea-output .widget-progress';
return Array.from(document.querySelectorAll(bars)).map((el) => {
  const bar = el.querySelector('.progress-bar');
  const row = el.closest('.widget-hbox') || el.parentElement;
  return {width: bar ? bar.style.width : null, label: row ? row.innerText : ''};
});
"""


def prepare_notebook_folder(root_dir: Path) -> str:
    """Copy notebook 05 (and notebook 04's run, unless E2E_STANDIN=1) into the served folder."""
    shutil.copy2(ROOT / "notebooks" / NOTEBOOK, root_dir / NOTEBOOK)
    run_04 = ROOT / "notebooks" / "checkpoints" / "04_training"
    if os.environ.get("E2E_STANDIN") != "1" and (run_04 / "best.pt").is_file():
        shutil.copytree(run_04, root_dir / "checkpoints" / "04_training")
        return f"notebook 04's run, copied from {run_04}"
    return "no run from notebook 04: the notebook trains the series' recipe itself"


def wait_for(condition, *, timeout_s: float, what: str, poll_s: float = 1.0):
    """Poll `condition()` until it returns something truthy; fail saying `what` did not happen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def click_menu(driver, menu: str, item: str) -> None:
    """Open a menu of JupyterLab's menu bar by its label and click one of its items."""
    from selenium.webdriver.common.by import By

    bar_item = wait_for(
        lambda: next(
            (
                element
                for element in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item")
                if element.text.strip() == menu
            ),
            None,
        ),
        timeout_s=60,
        what=f"the {menu!r} menu",
    )
    bar_item.click()
    menu_item = wait_for(
        lambda: next(
            (
                element
                for element in driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-item")
                if element.find_element(By.CSS_SELECTOR, ".lm-Menu-itemLabel").text.strip() == item
            ),
            None,
        ),
        timeout_s=30,
        what=f"{menu} > {item}",
    )
    menu_item.click()


SCROLLER_JS = "return document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');"


def save_screenshots(driver, artifacts: Path) -> list[Path]:
    """One screenshot with the 3-D figure in view, then the whole notebook in tall pages."""
    in_view = artifacts / "notebook05.png"
    driver.execute_script(
        "const plot = document.querySelector('.jp-OutputArea-output.js-plotly-plot');"
        "if (plot) { plot.scrollIntoView({block: 'center'}); }"
    )
    time.sleep(2)
    driver.save_screenshot(str(in_view))
    for old in artifacts.glob("notebook05_full_*.png"):
        old.unlink()
    driver.set_window_size(1400, PAGE_HEIGHT)
    time.sleep(5)  # plotly resizes its plots to the new window
    scroller = driver.execute_script(SCROLLER_JS)
    height, visible = driver.execute_script(
        "return [arguments[0].scrollHeight, arguments[0].clientHeight];", scroller
    )
    pages = []
    for number, top in enumerate(range(0, height, visible), start=1):
        driver.execute_script("arguments[0].scrollTop = arguments[1];", scroller, top)
        time.sleep(1)
        pages.append(artifacts / f"notebook05_full_{number:02d}.png")
        driver.save_screenshot(str(pages[-1]))
    return [in_view, *pages]


def test_notebook_05_runs_in_jupyterlab(lab_server: LabServer, browser, artifacts: Path) -> None:
    source = prepare_notebook_folder(lab_server.root_dir)
    print(f"\nJupyterLab at {lab_server.url} serving {lab_server.root_dir}; {source}")
    started = time.monotonic()
    browser.get(lab_server.lab_url(NOTEBOOK))

    def state():
        return browser.execute_script(NOTEBOOK_STATE_JS, NOTEBOOK)

    wait_for(
        lambda: (s := state()) and s["kernel"] == "idle",
        timeout_s=300,
        what="JupyterLab to open the notebook and its kernel to become idle",
    )
    print(f"notebook open, kernel idle after {time.monotonic() - started:.0f} s")
    click_menu(browser, "Run", "Run All Cells")
    run_started = time.monotonic()

    def finished():
        current = state()
        if current is None or current["kernel"] != "idle":
            return None
        cells = current["cells"]
        stopped_by_error = any(cell["errors"] for cell in cells)
        all_ran = all(cell["count"] is not None and not cell["running"] for cell in cells)
        return current if (all_ran or stopped_by_error) else None

    # The kernel is idle between queued cells only for an instant; two idle polls in a row with
    # every cell counted means the run is over.
    final = wait_for(finished, timeout_s=RUN_TIMEOUT_S, what="Run All Cells to finish", poll_s=5)
    time.sleep(5)
    final = finished() or final
    run_seconds = time.monotonic() - run_started
    print(f"Run All Cells finished in {run_seconds:.0f} s")

    plots = browser.execute_script(PLOTLY_JS)
    bars = browser.execute_script(PROGRESS_JS)
    report = artifacts / "notebook05_state.json"
    report.write_text(json.dumps({"cells": final["cells"], "plots": plots, "bars": bars}, indent=1))
    print(f"what the page showed, cell by cell: {report}")
    screenshots = save_screenshots(browser, artifacts)
    for path in screenshots:
        print(f"screenshot: {path}")
    console = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    (artifacts / "browser_console.txt").write_text(
        "\n".join(f"{entry['level']} {entry['message']}" for entry in console) + "\n"
    )

    cells = final["cells"]
    errors = {cell["index"]: cell["errors"] for cell in cells if cell["errors"]}
    assert not errors, f"error outputs in cells {errors}"
    not_run = [cell["index"] for cell in cells if cell["count"] is None]
    assert not not_run, f"cells without an execution count: {not_run}"
    tracebacks = [
        (cell["index"], text)
        for cell in cells
        for text in cell["stderr"]
        if re.search(r"Traceback|Error\b", text)
    ]
    assert not tracebacks, f"errors written to stderr: {tracebacks}"

    # Every PNG the kernel sent is shown, the UMAP maps among them. (jupyterlab-plotly adds a PNG
    # snapshot of each live plot to the notebook's outputs; those cells show the live plot instead.)
    for cell in cells:
        if cell["plotly_outputs"]:
            continue
        assert cell["images_shown"] >= cell["pngs"], f"cell {cell['index']}: images not shown"
    umap_cells = [cell for cell in cells if cell["umap_maps"]]
    assert umap_cells and all(cell["images_shown"] >= 1 for cell in umap_cells)
    images = sum(cell["images_shown"] for cell in cells)
    print(f"{images} images shown; plotly plots: {plots}; progress bars: {bars}")

    # The 3-D figure and the animation are live plotly plots holding their points.
    plotly_outputs = sum(cell["plotly_outputs"] for cell in cells)
    assert plotly_outputs >= 2 and len(plots) == plotly_outputs, (plotly_outputs, plots)
    for plot in plots:
        assert plot["types"] == ["scatter3d"] and plot["traces"] == 10, plot  # one per digit
        assert plot["webgl_canvases"] >= 1 and plot["width"] > 300 and plot["height"] > 300, plot
        assert "WebGL is not supported" not in plot["text"], plot
    # Both draw the 500 validation digits of the sample: the 3-D view, and the animation's frames.
    assert any(plot["frames"] == 0 and plot["points"] == 500 for plot in plots), plots
    assert any(plot["frames"] >= 3 and plot["points"] == 500 for plot in plots), plots

    # Progress is printed text now (one line per epoch); any widget bar left must have finished.
    for bar in bars:
        assert bar["width"] == "100%", f"a progress bar did not finish: {bar}"

"""Notebook 08's playground used in JupyterLab in headless Chromium, the way a reader uses it.

The notebook runs top to bottom in a temporary folder; then the test draws a vertical stroke and a
7 on the canvas with pointer actions (pointerdown, pointermoves, pointerup, as a mouse makes them),
types a word and presses a key, and checks that each answer appears in the widget, that the drawn
1 finds mostly ones, and that the 3-D view marks the query. Screenshots go to build/e2e/. Notebook
04's checkpoint is copied next to the notebook when it exists; without it the notebook trains the
series' recipe itself, as in Colab. Run with `make e2e`.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, LabServer
from tests.e2e.test_jupyterlab import click_menu, wait_for

pytestmark = pytest.mark.e2e

NOTEBOOK = "08_playground.ipynb"
RUN_TIMEOUT_S = 30 * 60  # with the image network to train on a busy 2-core machine
ANSWER_TIMEOUT_S = 60  # one answer takes well under a second; the rest is a busy machine's slack

# Kernel status and, per code cell, execution count, whether it runs, and its errors. (Notebook
# 05's version reads each cell's input prompt, which hidden solution cells do not have.)
NOTEBOOK_STATE_JS = """
const app = window.jupyterapp;
const panel = app && Array.from(app.shell.widgets('main')).find(
  (widget) => widget.context && widget.context.path === arguments[0]
);
if (!panel || !panel.content || !panel.content.model) { return null; }
const kernel = panel.sessionContext.session ? panel.sessionContext.session.kernel : null;
const cells = [];
panel.content.widgets.forEach((cell, index) => {
  if (cell.model.type !== 'code') { return; }
  const prompt = cell.node.querySelector('.jp-InputPrompt, .jp-OutputPrompt');
  const outputs = cell.model.outputs.toJSON();
  cells.push({
    index: index,
    count: cell.model.executionCount,
    running: !!prompt && prompt.textContent.includes('*'),
    errors: outputs.filter((o) => o.output_type === 'error').map((o) => o.ename + ': ' + o.evalue),
  });
});
return {kernel: kernel ? kernel.status : 'no kernel', cells: cells};
"""

# The widget as the reader sees it: the status line's data, the query preview, the results.
WIDGET_JS = """
const root = document.querySelector('.pg-root');
if (!root) { return null; }
const status = root.querySelector('[data-role=status]');
const column = (modality) => Array.from(
  root.querySelectorAll(`[data-role=results-${modality}] .pg-item`)
).map((item) => ({label: Number(item.dataset.label), text: item.innerText,
  shown: !!item.querySelector('img[src^="data:image/png"], code, audio[src^="data:audio/wav"]')}));
const plot = document.querySelector('.js-plotly-plot');
const traces = plot && plot.data ? plot.data : [];
return {
  seq: Number(status.dataset.seq || 0), status: status.dataset.status, kind: status.dataset.kind,
  line: status.innerText,
  preview_image: !!root.querySelector('[data-role=query] img'),
  preview_audio: !!root.querySelector('[data-role=query] audio'),
  image: column('image'), text: column('text'), audio: column('audio'),
  plot_traces: traces.map((trace) => ({name: trace.name, points: (trace.x || []).length})),
  webgl: plot ? plot.querySelectorAll('canvas').length : 0,
};
"""


def prepare_folder(root_dir: Path) -> str:
    """Copy notebook 08, and notebook 04's checkpoint when there is one, into the served folder."""
    shutil.copy2(ROOT / "notebooks" / NOTEBOOK, root_dir / NOTEBOOK)
    source = ROOT / "notebooks" / "checkpoints" / "04_training" / "best.pt"
    if source.is_file():
        target = root_dir / "checkpoints" / "04_training"
        target.mkdir(parents=True)
        shutil.copy2(source, target / "best.pt")
        return f"checkpoint copied from {source}"
    return "no checkpoint: the notebook trains the series' recipe itself"


def run_all(browser, lab_server: LabServer) -> list[dict]:
    """Open the notebook, Run All Cells, wait until every cell ran; returns the cells' state."""
    browser.get(lab_server.lab_url(NOTEBOOK))

    def state():
        return browser.execute_script(NOTEBOOK_STATE_JS, NOTEBOOK)

    wait_for(
        lambda: (s := state()) and s["kernel"] == "idle", timeout_s=300, what="the kernel to start"
    )
    click_menu(browser, "Run", "Run All Cells")

    def finished():
        current = state()
        if current is None or current["kernel"] != "idle":
            return None
        cells = current["cells"]
        done = all(cell["count"] is not None and not cell["running"] for cell in cells)
        return cells if done or any(cell["errors"] for cell in cells) else None

    wait_for(finished, timeout_s=RUN_TIMEOUT_S, what="Run All Cells to finish", poll_s=5)
    time.sleep(3)  # idle between two queued cells lasts an instant; check again
    return wait_for(finished, timeout_s=RUN_TIMEOUT_S, what="Run All Cells to finish", poll_s=5)


def widget_state(browser) -> dict | None:
    return browser.execute_script(WIDGET_JS)


def wait_for_answer(browser, *, after: int, kind: str) -> dict:
    """The widget's first answer newer than `after` to a query of this kind, once it is shown."""

    def answered():
        state = widget_state(browser)
        fresh = state and state["seq"] > after and state["kind"] == kind
        return state if fresh and state["status"] else None

    return wait_for(answered, timeout_s=ANSWER_TIMEOUT_S, what=f"an answer to the {kind} query")


def draw(browser, canvas, points: list[tuple[int, int]]) -> None:
    """One stroke through `points` (offsets from the canvas centre), with real pointer actions."""
    from selenium.webdriver.common.action_chains import ActionChains

    actions = ActionChains(browser, duration=20)
    actions.move_to_element_with_offset(canvas, *points[0]).click_and_hold()
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        for step in range(1, 9):  # eight moves per segment, as a hand's pointermoves come
            actions.move_to_element_with_offset(
                canvas, round(x0 + (x1 - x0) * step / 8), round(y0 + (y1 - y0) * step / 8)
            )
    actions.release().perform()


def shot(browser, artifacts: Path, name: str) -> Path:
    path = artifacts / f"playground_{name}.png"
    browser.save_screenshot(str(path))
    return path


def test_playground_answers_drawings_words_and_keys(
    lab_server: LabServer, browser, artifacts: Path
) -> None:
    from selenium.webdriver.common.by import By

    source = prepare_folder(lab_server.root_dir)
    print(f"\nJupyterLab at {lab_server.url}; {source}")
    started = time.monotonic()
    cells = run_all(browser, lab_server)
    print(f"notebook ran in {time.monotonic() - started:.0f} s")
    errors = {cell["index"]: cell["errors"] for cell in cells if cell["errors"]}
    assert not errors, f"error outputs in cells {errors}"

    # The notebook leaves the widget showing its drawn 7.
    first = wait_for(
        lambda: (s := widget_state(browser)) and s["status"] == "ok" and s,
        timeout_s=ANSWER_TIMEOUT_S,
        what="the playground widget and its first answer",
    )
    canvas = browser.find_element(By.CSS_SELECTOR, ".pg-root [data-role=canvas]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", canvas)
    time.sleep(1)
    answers = {"notebook's 7": first}

    browser.find_element(By.CSS_SELECTOR, "[data-role=clear]").click()
    draw(browser, canvas, [(0, -110), (0, 110)])
    answers["drawn 1"] = wait_for_answer(browser, after=first["seq"], kind="drawing")
    shots = [shot(browser, artifacts, "drawn_1")]

    browser.find_element(By.CSS_SELECTOR, "[data-role=clear]").click()
    draw(browser, canvas, [(-85, -95), (80, -100), (45, -20), (-5, 105)])
    answers["drawn 7"] = wait_for_answer(browser, after=answers["drawn 1"]["seq"], kind="drawing")
    shots.append(shot(browser, artifacts, "drawn_7"))

    browser.find_element(By.CSS_SELECTOR, "[data-role=text]").send_keys("sieben")
    answers["typed"] = wait_for_answer(browser, after=answers["drawn 7"]["seq"], kind="text")
    shots.append(shot(browser, artifacts, "typed_word"))

    browser.find_element(By.CSS_SELECTOR, "[data-role=key-3]").click()
    answers["key 3"] = wait_for_answer(browser, after=answers["typed"]["seq"], kind="key")
    plot = browser.find_element(By.CSS_SELECTOR, ".js-plotly-plot")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", plot)
    time.sleep(2)
    shots.append(shot(browser, artifacts, "key_3_and_3d_view"))

    report = artifacts / "playground_state.json"
    report.write_text(json.dumps(answers, indent=1))
    console = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    (artifacts / "playground_console.txt").write_text(
        "\n".join(entry["message"] for entry in console) + "\n"
    )
    for name, state in answers.items():
        labels = {m: [row["label"] for row in state[m]] for m in ("image", "text", "audio")}
        print(f"{name}: {state['line']!r} {labels}")
    print(f"answers: {report}; screenshots: {[str(path) for path in shots]}")

    for name, state in answers.items():
        assert state["status"] == "ok", (name, state["line"])
        for modality in ("image", "text", "audio"):
            rows = state[modality]
            assert len(rows) == 5 and all(row["shown"] for row in rows), (name, modality, rows)
    assert answers["drawn 1"]["preview_image"] and answers["key 3"]["preview_audio"]
    ones = [row["label"] for row in answers["drawn 1"]["image"]].count(1)
    assert ones >= 3, f"a drawn 1 found {ones} ones among 5 images: {answers['drawn 1']['image']}"
    traces = {trace["name"]: trace["points"] for trace in answers["key 3"]["plot_traces"]}
    assert traces.get("query") == 1 and traces.get("neighbours") == 15, traces
    assert answers["key 3"]["webgl"] >= 1, "the 3-D view drew no WebGL canvas"

"""nbval settings for the series' notebooks.

Outputs that are not the same from run to run are left out of the comparison: stderr (progress
bars and warnings), widget views, HTML and JavaScript (plotly figures carry random element ids),
and plotly's JSON. Text outputs, which carry the numbers the notebooks teach, are compared.
"""


def pytest_collectstart(collector):
    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb" and hasattr(collector, "skip_compare"):
        collector.skip_compare += (
            "stderr",
            "text/html",
            "application/javascript",
            "application/vnd.jupyter.widget-view+json",
            "application/vnd.plotly.v1+json",
        )


# nbval waits only 5 s for a cell's outputs after the kernel's reply; on a loaded machine the
# kernel's output channel can lag longer than that and a healthy cell fails ("Timeout of 5 seconds
# exceeded waiting for output", seen on 04 with five processes on two cores). The cell's own
# time limit (--nbval-cell-timeout) is unchanged.
OUTPUT_TIMEOUT_S = 120


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = max(item.output_timeout, OUTPUT_TIMEOUT_S)


# ---- Series runtime: each notebook's wall time under nbval (issue 6), compared outputs untouched --

NOTEBOOK_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """Add each phase of each notebook cell (kernel start-up included) to its notebook's total."""
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        NOTEBOOK_SECONDS[path] = NOTEBOOK_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the notebooks' wall times and write them to build/nbval-times.json."""
    if not NOTEBOOK_SECONDS:
        return
    import json
    import os

    total = sum(NOTEBOOK_SECONDS.values())
    terminalreporter.write_sep("-", "notebook wall time under nbval")
    for path, seconds in sorted(NOTEBOOK_SECONDS.items()):
        terminalreporter.write_line(f"{seconds:8.1f} s  {path}")
    terminalreporter.write_line(f"{total:8.1f} s  all {len(NOTEBOOK_SECONDS)} notebooks")
    target = config.rootpath / "build" / "nbval-times.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    record = {
        "seconds": {path: round(seconds, 2) for path, seconds in sorted(NOTEBOOK_SECONDS.items())},
        "total_s": round(total, 2),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "exit_status": int(exitstatus),
    }
    partial.write_text(json.dumps(record, indent=2) + "\n")
    partial.replace(target)
    terminalreporter.write_line(f"written to {target}")

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

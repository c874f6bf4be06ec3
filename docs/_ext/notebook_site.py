"""Notebooks as they should read on the site: offline figures, finished progress bars, buttons.

myst-nb renders each committed notebook; this extension adjusts what it reads, in memory only
(the committed files and the downloadable copies stay byte for byte as they are):

- plotly figures: the HTML the notebook saved loads plotly.js from a CDN, which fails offline;
  it is rebuilt from the figure's own JSON with `plotly.io.to_html`, and the installed plotly
  package's plotly.min.js is served from the site on the pages that have a figure;
- ipywidgets (tqdm's progress bars): myst-nb would fetch the widget runtime from a CDN; each bar
  is drawn instead, as static HTML, from the final state the notebook saved;
- any other HTML output that loads a script from the web is dropped in favour of its plain-text
  or image alternative;
- exercise solutions (tag "solution") get myst-nb's "hide-input" tag, so their code is collapsed
  under its "# @title" line; markdown `<details>` boxes are left as they are (closed);
- the Colab badge image (fetched from the web) is replaced by a bar under each notebook's title
  with "Open in Colab" (helpers.colab.colab_url, so a fork's site points at the fork) and a
  download link for the .ipynb.
"""

from __future__ import annotations

import re
import shutil
from html import escape
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

from helpers.colab import colab_url

logger = logging.getLogger(__name__)

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
NOTEBOOK_FOLDER = "notebooks"  # where docs/build.py stages the notebooks, and the pages land
# A <script src="http..."> or an ES-module import from the web: neither loads offline.
WEB_SCRIPT = re.compile(r"""<script[^>]*\ssrc=["']https?://|import\s*["']https?://""")
COLAB_BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)\n*")
TITLE_COMMENT = re.compile(r"^#\s*@title\s+(.+)$")


def read_notebook(text: str) -> nbformat.NotebookNode:
    """Read a notebook for the site (the myst-nb reader for .ipynb, see conf.py)."""
    notebook = nbformat.reads(text, as_version=4)
    widget_state = notebook.metadata.pop("widgets", {}).get(WIDGET_STATE_MIME, {})
    models = widget_state.get("state", {})
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = COLAB_BADGE.sub("", cell.source)
        elif cell.cell_type == "code":
            collapse_solution(cell)
            cell.outputs = [out for out in (site_output(o, models) for o in cell.outputs) if out]
    return notebook


def collapse_solution(cell: nbformat.NotebookNode) -> None:
    """Hide a solution's code under a summary line named after its "# @title" comment."""
    tags = cell.metadata.get("tags", [])
    if "solution" not in tags and "hide-input" not in tags:
        return
    if "hide-input" not in tags:
        cell.metadata["tags"] = [*tags, "hide-input"]
    first_line = cell.source.splitlines()[0] if cell.source else ""
    title = TITLE_COMMENT.match(first_line)
    cell.metadata.setdefault("mystnb", {})["code_prompt_show"] = (
        f"{title.group(1).strip()} (click to show)" if title else "Show the solution"
    )
    cell.metadata["mystnb"]["code_prompt_hide"] = "Hide the code"


def site_output(output: nbformat.NotebookNode, models: dict) -> nbformat.NotebookNode | None:
    """One output as the site shows it, or None when nothing of it can be shown offline."""
    data = output.get("data")
    if data is None:
        return output  # streams and errors
    if PLOTLY_MIME in data:
        data["text/html"] = plotly_html(data.pop(PLOTLY_MIME))
    elif WIDGET_VIEW_MIME in data:
        static = widget_html(data[WIDGET_VIEW_MIME].get("model_id", ""), models)
        if static:
            data["text/html"] = static
        data.pop(WIDGET_VIEW_MIME)
    elif "text/html" in data and WEB_SCRIPT.search(data["text/html"]):
        data.pop("text/html")
    return output if data else None


def plotly_html(figure: dict) -> str:
    """The figure as HTML that draws with the site's own copy of plotly.js (no CDN)."""
    import plotly.io as pio

    return pio.to_html(
        figure,
        include_plotlyjs=False,  # loaded once per page, see add_plotly_js
        full_html=False,
        auto_play=False,  # an animation waits for its play button, as in JupyterLab
        validate=False,  # written by plotly itself when the notebook ran
    )


def widget_html(model_id: str, models: dict) -> str | None:
    """A widget (a tqdm bar: label, progress, label) drawn from its saved final state."""
    model = models.get(model_id)
    if model is None:
        return None
    state = model.get("state", {})
    name = model.get("model_name", "")
    if name in ("HBoxModel", "VBoxModel"):
        children = [
            widget_html(child.removeprefix("IPY_MODEL_"), models)
            for child in state.get("children", [])
        ]
        return f'<div class="nb-widget">{"".join(part for part in children if part)}</div>'
    if name in ("FloatProgressModel", "IntProgressModel"):
        return (
            f'<progress max="{state.get("max", 100)}" value="{state.get("value", 0)}"></progress>'
        )
    if name == "HTMLModel":  # HTML written by the library that made the widget
        return f'<span class="nb-widget-text">{state.get("value", "")}</span>'
    if name == "LabelModel":
        return f'<span class="nb-widget-text">{escape(str(state.get("value", "")))}</span>'
    return None


def add_launch_bar(app: Sphinx, doctree: nodes.document) -> None:
    """Put "Open in Colab" and "Download .ipynb" under the title of every notebook page."""
    docname = app.env.docname
    if (
        not docname.startswith(f"{NOTEBOOK_FOLDER}/")
        or app.env.doc2path(docname).suffix != ".ipynb"
    ):
        return
    file_name = Path(docname).name + ".ipynb"
    html = (
        '<div class="nb-launch-bar">'
        f'<a class="nb-launch-colab" href="{escape(colab_url(file_name))}" target="_blank" '
        'rel="noopener">Open in Colab</a>'
        f'<a class="nb-download" href="{escape(file_name)}" download>Download {escape(file_name)}</a>'
        "</div>"
    )
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None or not isinstance(section[0], nodes.title):
        logger.warning("no title heading, the launch bar goes first", location=docname)
        doctree.insert(0, nodes.raw("", html, format="html"))
        return
    section.insert(1, nodes.raw("", html, format="html"))


def add_plotly_js(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Load plotly.js (from the site, see copy_assets) on the pages that hold a plotly figure."""
    if doctree is not None and "Plotly.newPlot" in context.get("body", ""):
        app.add_js_file("plotly.min.js")


def copy_assets(app: Sphinx, exception: Exception | None) -> None:
    """Copy plotly.min.js from the installed plotly and the notebooks as they are committed."""
    if exception is not None or app.builder.format != "html":
        return
    import plotly

    static = Path(app.outdir) / "_static"
    shutil.copyfile(
        Path(plotly.__file__).parent / "package_data" / "plotly.min.js", static / "plotly.min.js"
    )
    source = Path(app.srcdir) / NOTEBOOK_FOLDER
    target = Path(app.outdir) / NOTEBOOK_FOLDER
    for notebook in sorted(source.glob("*.ipynb")):
        shutil.copyfile(notebook, target / notebook.name)


def setup(app: Sphinx) -> dict:
    app.connect("doctree-read", add_launch_bar)
    app.connect("html-page-context", add_plotly_js)
    app.connect("build-finished", copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

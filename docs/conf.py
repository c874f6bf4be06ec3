"""Sphinx configuration of the series' site (see docs/README.md). Used by docs/build.py as
`sphinx-build -c docs build/site-src build/site`; the source folder is staged by docs/build.py."""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS.parent), str(DOCS / "_ext")]  # helpers.colab, and the two extensions

from helpers.colab import REPO_REF, REPO_URL  # noqa: E402

project = "Contrastive learning on MNIST"
author = "the series' authors"
copyright = "the series' authors, MIT licence"  # noqa: A001 (Sphinx's name for it)
language = "en"

extensions = ["myst_nb", "notebook_site", "mathml_math"]
exclude_patterns = ["_build"]

# The committed notebooks are shown as they are: never executed while building the site.
nb_execution_mode = "off"
nb_custom_formats = {".ipynb": "notebook_site.read_notebook"}  # offline figures and widgets
nb_ipywidgets_js = {}  # no widget runtime from a CDN; notebook_site draws the bars statically
nb_merge_streams = True  # one block of printed text per cell, as in JupyterLab
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 2
html_math_renderer = "mathml"  # docs/_ext/mathml_math.py: MathML at build time, no MathJax

html_theme = "sphinx_book_theme"
html_title = "Contrastive learning on MNIST"
html_static_path = ["_static"]
html_css_files = ["site.css"]
html_favicon = "_static/favicon.svg"
html_copy_source = False  # the .ipynb is offered as it is committed, next to its page
html_show_sourcelink = False
# Search results without text snippets: a snippet is fetched from its page, which a browser refuses
# for a site opened from disk (file://); titles alone keep search working there too.
html_show_search_summary = False
html_last_updated_fmt = None
# Light or dark after the reader's system; without it the theme logs a console error on a first visit.
html_context = {"default_mode": "auto"}
html_theme_options = {
    "repository_url": REPO_URL,
    "repository_branch": REPO_REF,
    "use_repository_button": True,
    "use_download_button": False,  # each notebook page has its own download link
    "home_page_in_toc": True,
    "show_toc_level": 2,
}

"""A Sphinx math renderer that writes MathML at build time, so pages need no MathJax and no CDN.

Sphinx's own renderers either load MathJax from a CDN in the reader's browser (sphinx.ext.mathjax)
or need LaTeX on the build machine (sphinx.ext.imgmath). Docutils, which Sphinx already depends
on, ships a LaTeX-to-MathML converter, and every current browser draws MathML natively; this
module only registers that converter with Sphinx (`html_math_renderer = "mathml"` in conf.py).
A formula the converter cannot read is shown as its LaTeX source, with a build warning naming it.
"""

from __future__ import annotations

from html import escape

from docutils import nodes
from docutils.utils.math import latex2mathml
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)


def to_mathml(latex: str, *, block: bool, node: nodes.Node) -> str:
    """MathML for one formula, or its escaped LaTeX source (and a warning) if it cannot convert."""
    try:
        return latex2mathml.tex2mathml(latex, as_block=block)
    except Exception as error:  # the converter raises SyntaxError, KeyError, ... on unknown TeX
        logger.warning(
            "formula shown as LaTeX, MathML conversion failed (%s): %s", error, latex, location=node
        )
        return f'<code class="math-source">{escape(latex)}</code>'


def visit_inline(translator, node: nodes.math) -> None:
    translator.body.append(translator.starttag(node, "span", "", CLASS="math"))
    translator.body.append(to_mathml(node.astext(), block=False, node=node) + "</span>")
    raise nodes.SkipNode


def visit_block(translator, node: nodes.math_block) -> None:
    translator.body.append(translator.starttag(node, "div", CLASS="math"))
    # Several equations in one block are separated by blank lines (as in sphinx.ext.mathjax).
    for part in (part for part in node.astext().split("\n\n") if part.strip()):
        translator.body.append(to_mathml(part, block=True, node=node))
    translator.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict:
    app.add_html_math_renderer("mathml", (visit_inline, None), (visit_block, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}

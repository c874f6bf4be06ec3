"""Build the series' static site: `python docs/build.py` (what `make site` runs), see docs/README.md.

It stages a Sphinx source folder (build/site-src/: a landing page made from the README's table of
notebooks, and a copy of every notebooks/NN_*.ipynb, found by name so new notebooks join by
themselves), then runs Sphinx with docs/conf.py into build/site/. Nothing is executed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.colab import REPO_REF, REPO_URL, colab_url  # noqa: E402

NOTEBOOK_NAME = "[0-9][0-9]_*.ipynb"
STAGED_MARK = ".staged-by-docs-build"  # marks a staging folder that a rebuild may replace
# A row of the README's table: | 01 | [modalities](notebooks/01_modalities.ipynb) | what | badge |
TABLE_ROW = re.compile(
    r"^\|\s*\d+\s*\|\s*\[(?P<name>[^\]]+)\]\(notebooks/(?P<file>[^)]+)\)\s*\|"
    r"(?P<what>.*)\|[^|]*\|\s*$"
)
SUMMARY_LINK = "docs/SUMMARY.md"  # the README links it; the site shows it as a page of its own
MARKDOWN_LINK = re.compile(r"\]\((?!https?://|#)(?P<path>[^)]+)\)")


def notebook_title(path: Path) -> str:
    """The text of a notebook's first `# ` heading, without its number ("Pairs: how ...")."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return re.sub(r"^\d+\s*[·.:]?\s*", "", line[2:]).strip()
    return path.stem[3:].replace("_", " ")


def landing_page(readme: str, notebooks: list[Path]) -> str:
    """index.md: the README's title and opening paragraphs, and its table of the notebooks."""
    lines = readme.splitlines()
    title = next((line for line in lines if line.startswith("# ")), "# The notebook series")
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    intro = "\n".join(
        line
        for line in lines[start:end]
        if not TABLE_ROW.match(line) and not line.startswith("| #") and not line.startswith("| ---")
    ).strip()
    # Links into the repository (other than notebooks) lead to GitHub, not to the site.
    intro = MARKDOWN_LINK.sub(
        lambda m: (
            "](summary.md)"
            if m["path"] == SUMMARY_LINK
            else f"]({REPO_URL}/blob/{REPO_REF}/{m['path']})"
        ),
        intro,
    )
    described = {
        m["file"]: (m["name"], m["what"].strip()) for m in map(TABLE_ROW.match, lines) if m
    }
    rows = ["| # | notebook | what you do | run it |", "| --- | --- | --- | --- |"]
    for path in notebooks:
        name, what = described.get(path.name, (notebook_title(path), ""))
        rows.append(
            f"| {path.name[:2]} | [{name}](notebooks/{path.name}) | {what} | "
            f"[Open in Colab]({colab_url(path.name)}) |"
        )
    return "\n\n".join(
        [
            title,
            intro,
            "## The notebooks",
            "\n".join(rows),
            "Each page shows a notebook as it was committed, outputs included, with a button that opens "
            "it in Google Colab and a link that downloads it. To run the series on your own machine, "
            f"follow the [README]({REPO_URL}/blob/{REPO_REF}/README.md).",
            "```{toctree}\n:hidden:\n:glob:\n:caption: Notebooks\n\nnotebooks/*\nsummary\n```\n",
        ]
    )


def stage(notebook_dir: Path, readme: Path, source: Path) -> list[Path]:
    """Write the Sphinx source folder: index.md and a copy of every NN_*.ipynb; return those."""
    notebooks = sorted(notebook_dir.glob(NOTEBOOK_NAME))
    if not notebooks:
        raise FileNotFoundError(
            f"no notebooks named like {NOTEBOOK_NAME} in {notebook_dir}: pass the folder that holds "
            "them with --notebooks (build/executed after `make run`)."
        )
    if source.exists():
        if not (source / STAGED_MARK).is_file() and any(source.iterdir()):
            raise ValueError(
                f"{source} is not empty and was not staged by docs/build.py; it would be replaced. "
                "Pass an empty or new folder with --source (the default is build/site-src)."
            )
        shutil.rmtree(source)  # a folder staged by an earlier build: nothing else lives there
    (source / "notebooks").mkdir(parents=True)
    (source / STAGED_MARK).write_text("staged by docs/build.py; rewritten on every build\n")
    for path in notebooks:
        shutil.copyfile(path, source / "notebooks" / path.name)
    # The series on one page, beside the notebooks; its links to ../notebooks/ become site links.
    summary = ROOT / SUMMARY_LINK
    text = summary.read_text(encoding="utf-8").replace("](../notebooks/", "](notebooks/")
    (source / "summary.md").write_text(text, encoding="utf-8")
    page = landing_page(readme.read_text(encoding="utf-8"), notebooks)
    (source / "index.md").write_text(page, encoding="utf-8")
    return notebooks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--notebooks",
        type=Path,
        default=ROOT / "notebooks",
        help="folder of executed NN_*.ipynb (default: the committed notebooks/)",
    )
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument(
        "--source",
        type=Path,
        default=ROOT / "build" / "site-src",
        help="staging folder for Sphinx's sources (rewritten on every build)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    from sphinx.cmd.build import build_main

    notebooks = stage(args.notebooks, args.readme, args.source)
    doctrees = args.source.parent / (args.source.name + "-doctrees")
    # -E: read every notebook afresh; -c: docs/conf.py configures the staged sources.
    options = ["-b", "html", "-E", "-q", "-c", str(ROOT / "docs"), "-d", str(doctrees)]
    status = build_main([*options, str(args.source), str(args.out)])
    if status == 0:
        print(
            f"site of {len(notebooks)} notebooks built in {time.monotonic() - started:.0f} s: "
            f"open {args.out / 'index.html'} in a browser (docs/README.md)"
        )
    return status


if __name__ == "__main__":
    sys.exit(main())

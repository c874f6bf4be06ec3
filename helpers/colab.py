"""Where Colab installs the `helpers` package from: the repository URL and git ref, in one place.

Every notebook's setup cell carries the install line built here (a test checks they agree), and
the installed package brings the offline MNIST sample with it. To run the series from a fork,
run from the root of a clone of the fork:

    python -m helpers.colab https://github.com/YOU/YOUR-FORK your-branch

which rewrites the setup cell of every notebook, the Colab badges in the README and REPO_URL /
REPO_REF below; then commit and push that branch (Colab installs from GitHub, so the repository
must be public and the branch pushed).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO_URL = "https://github.com/hands-on-multimodality/contrastive-mnist"
REPO_REF = "main"
ROOT = Path(__file__).resolve().parent.parent

_INSTALL = re.compile(r'"helpers @ git\+(?P<url>[^@"]+)@(?P<ref>[^"]+)"')
_BADGE = re.compile(
    r"https://colab\.research\.google\.com/github/(?P<path>[^/]+/[^/]+)/blob/(?P<ref>[^/]+)/"
)
_GITHUB = re.compile(r"https://github\.com/(?P<path>[\w.-]+/[\w.-]+?)(?:\.git)?/?")
_REF = re.compile(r"[\w.-]+")  # a branch, tag or commit; no "/": a badge address could not tell
_SETTINGS = re.compile(r'^(?P<name>REPO_URL|REPO_REF) = "[^"]*"$', re.MULTILINE)


def github_path(repo_url: str) -> str:
    """``OWNER/REPO`` of a GitHub URL (``.git`` and a trailing slash allowed); ValueError otherwise."""
    match = _GITHUB.fullmatch(repo_url)
    if match is None:
        raise ValueError(
            f"{repo_url!r} is not a GitHub repository URL like https://github.com/you/your-fork; "
            "Colab opens notebooks from GitHub only."
        )
    return match["path"]


def _check_ref(ref: str) -> str:
    if not _REF.fullmatch(ref) or ref.startswith("-") or ".." in ref or ref.endswith(".lock"):
        raise ValueError(
            f"{ref!r} is not a git branch, tag or commit name that a Colab badge can carry: use "
            "letters, digits, '.', '_' and '-' only (a '/' would read as part of the path)."
        )
    return ref


def pip_source(repo_url: str = REPO_URL, ref: str = REPO_REF) -> str:
    """The pip requirement that installs helpers (with its offline sample) from `ref`."""
    return f"helpers @ git+{repo_url}@{ref}"


def colab_url(notebook: str, repo_url: str = REPO_URL, ref: str = REPO_REF) -> str:
    """The address that opens `notebooks/<notebook>` from the repository in Colab."""
    path = github_path(repo_url)
    return f"https://colab.research.google.com/github/{path}/blob/{ref}/notebooks/{notebook}"


def point_at(repo_url: str, ref: str, *, root: Path = ROOT) -> list[Path]:
    """Point the install lines, Colab badges and this module's REPO_URL / REPO_REF at a fork.

    Rewrites ``notebooks/*.ipynb``, ``README.md`` and ``helpers/colab.py`` under `root` (a
    clone of the fork) and returns the files it changed.
    """
    path = github_path(repo_url)
    repo_url = f"https://github.com/{path}"
    _check_ref(ref)
    notebooks = sorted((root / "notebooks").glob("*.ipynb"))
    if not notebooks:
        raise ValueError(
            f"{root} has no notebooks/ folder: run python -m helpers.colab from the root of a "
            "clone of your fork, not from an installed helpers."
        )
    settings = {"REPO_URL": repo_url, "REPO_REF": ref}
    changed = []
    for file in [*notebooks, root / "README.md", root / "helpers" / "colab.py"]:
        if not file.is_file():
            continue
        text = file.read_text(encoding="utf-8")
        if file.name == "colab.py":  # only its two settings: its code holds the patterns too
            new = _SETTINGS.sub(lambda m: f'{m["name"]} = "{settings[m["name"]]}"', text)
        else:
            new = _INSTALL.sub(f'"{pip_source(repo_url, ref)}"'.replace("\\", "\\\\"), text)
            new = _BADGE.sub(f"https://colab.research.google.com/github/{path}/blob/{ref}/", new)
        if new != text:
            file.write_text(new, encoding="utf-8")
            changed.append(file)
    return changed


def main(arguments: list[str], *, root: Path = ROOT) -> str:
    """What ``python -m helpers.colab URL BRANCH`` does; returns the text it prints."""
    if len(arguments) != 2:
        raise ValueError("usage: python -m helpers.colab https://github.com/YOU/YOUR-FORK BRANCH")
    repo_url, ref = arguments
    changed = point_at(repo_url, ref, root=root)
    lines = [f"updated {file}" for file in changed] or ["nothing to change: already pointed there"]
    lines.append(
        f"Next: commit these files and push the branch {ref!r} to {repo_url}. Colab installs "
        "helpers (and the offline sample) from there, so the repository must be public and the "
        "branch pushed before a badge works; the README's badges now open your fork."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        print(main(sys.argv[1:]))
    except ValueError as error:
        sys.exit(f"error: {error}")

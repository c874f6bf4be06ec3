"""Where Colab installs the `helpers` package from: the repository URL and git ref, in one place.

Every notebook's setup cell carries the install line built here (a test checks they agree).
To point the series at a fork, run from the repository root:

    python -m helpers.colab https://github.com/YOU/YOUR-FORK your-branch

which rewrites the setup cell of every notebook and the Colab badges in the README.
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


def pip_source(repo_url: str = REPO_URL, ref: str = REPO_REF) -> str:
    """The pip requirement that installs helpers from the repository at `ref`."""
    return f"helpers @ git+{repo_url}@{ref}"


def colab_url(notebook: str, repo_url: str = REPO_URL, ref: str = REPO_REF) -> str:
    """The address that opens `notebooks/<notebook>` from the repository in Colab."""
    if not repo_url.startswith("https://github.com/"):
        raise ValueError(
            f"Colab opens notebooks from GitHub only; {repo_url!r} is not a GitHub URL."
        )
    path = repo_url.removeprefix("https://github.com/").rstrip("/")
    return f"https://colab.research.google.com/github/{path}/blob/{ref}/notebooks/{notebook}"


def point_at(repo_url: str, ref: str, *, root: Path = ROOT) -> list[Path]:
    """Rewrite the install line and Colab badges in the notebooks and README; return changed files."""
    if not repo_url.startswith("https://github.com/"):
        raise ValueError(f"{repo_url!r} is not a GitHub URL like https://github.com/you/your-fork.")
    path = repo_url.removeprefix("https://github.com/").rstrip("/")
    changed = []
    files = sorted((root / "notebooks").glob("*.ipynb")) + [root / "README.md"]
    for file in files:
        text = file.read_text(encoding="utf-8")
        new = _INSTALL.sub(f'"{pip_source(repo_url, ref)}"'.replace("\\", "\\\\"), text)
        new = _BADGE.sub(f"https://colab.research.google.com/github/{path}/blob/{ref}/", new)
        if new != text:
            file.write_text(new, encoding="utf-8")
            changed.append(file)
    return changed


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m helpers.colab https://github.com/YOU/YOUR-FORK BRANCH")
    for changed_file in point_at(sys.argv[1], sys.argv[2]):
        print(f"updated {changed_file}")
    print("Also set REPO_URL and REPO_REF in helpers/colab.py so the tests agree.")

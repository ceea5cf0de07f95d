"""Where this project lives: the one place that names the repository.

Notebooks install from it and the README's Colab badges point into it; a test checks
that both agree with the values below, so moving the repository is a one-line change
followed by ``python -m colab_utils.repository --rewrite``.
"""

from __future__ import annotations

import sys
from pathlib import Path

SLUG = "football-colab/football-colab"
BRANCH = "main"
GIT_URL = f"https://github.com/{SLUG}"
PIP_SOURCE = f"git+{GIT_URL}@{BRANCH}"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


def colab_url(notebook_path: str) -> str:
    """The Open-in-Colab address of a notebook given by its path in the repository."""
    return f"https://colab.research.google.com/github/{SLUG}/blob/{BRANCH}/{notebook_path}"


def rewrite(root: Path, old_slug: str) -> list[Path]:
    """Replace ``old_slug`` by :data:`SLUG` in the README and the notebooks."""
    changed = []
    for path in [root / "README.md", *sorted((root / "notebooks").glob("*.ipynb"))]:
        text = path.read_text()
        if old_slug in text:
            path.write_text(text.replace(old_slug, SLUG))
            changed.append(path)
    return changed


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "--rewrite":
        sys.exit("usage: python -m colab_utils.repository --rewrite OLD_OWNER/OLD_NAME")
    for p in rewrite(Path.cwd(), sys.argv[2]):
        print(f"updated {p}")

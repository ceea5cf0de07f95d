"""A digest of some of this package's source files: a cache built by that code is stale when it changes."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import colab_utils


def source_digest(names: Sequence[str]) -> str:
    """SHA-256 of the ``.py`` files under each of ``names`` (folders or files, relative to the package)."""
    root = Path(colab_utils.__file__).parent
    digest = hashlib.sha256()
    for name in names:
        path = root / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.relative_to(root).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()

"""What verifying an extracted split shares across datasets: images that really decode, and the
manifest beside the split that records what verification kept.

The manifest ``<split>.verified.json`` lets a later session use the split without decoding
every image again; it is written atomically, so a killed runtime leaves the old one or the new.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import cv2

from colab_utils.errors import DataNotPrepared
from colab_utils.files import write_atomically


class Verified(Protocol):
    """What a task's verification of a split returns: at least the line the data step prints."""

    summary: str


def image_is_readable(path: Path) -> bool:
    """True when OpenCV decodes the image and, for JPEG/PNG, the file is not cut short.

    OpenCV decodes a truncated JPEG without error (the missing part comes out grey), so the
    end-of-image marker is checked as well.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            handle.seek(max(path.stat().st_size - 32, 0))
            tail = handle.read().rstrip(b"\x00\r\n ")
    except OSError:
        return False
    suffix = path.suffix.lower()
    if suffix in (".jpg", ".jpeg") and not tail.endswith(b"\xff\xd9"):
        return False
    if suffix == ".png" and not tail.endswith(b"IEND\xaeB`\x82"):
        return False
    return cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_8) is not None


def manifest_path(split_dir: Path) -> Path:
    return split_dir.parent / f"{split_dir.name}.verified.json"


def write_manifest(split_dir: Path, content: dict[str, Any]) -> None:
    """Keep what verification found (JSON-able ``content``) beside the split."""
    write_atomically(manifest_path(Path(split_dir)), json.dumps(content))


def read_manifest(split_dir: Path) -> dict[str, Any]:
    """What verification kept; FileNotFoundError saying to run the data step when there is none."""
    path = manifest_path(Path(split_dir))
    if not path.exists():
        raise DataNotPrepared(
            f"{split_dir} has not been prepared: run the data step (colab_utils.prepare_data(cfg)) first."
        )
    return json.loads(path.read_text())

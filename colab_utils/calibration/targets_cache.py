"""Each frame's keypoint targets, derived once per split instead of in every epoch's loader.

A frame's targets (its 57 keypoints, their flags and its ground homography; see
:func:`~colab_utils.geometry.targets.keypoints_from_annotation`) depend on its annotation and
image size alone, never on augmentation. Deriving them fits lines and ellipses, refines a
homography on the pitch markings and settles which end the camera films from: ~20 ms of a core,
two thirds of what the training loader spent on a frame (``bench homography``: 62 images/s from
two workers on two cores). They are derived once, in a process per core, the first time a
split's frames are opened in a runtime, and kept beside the split in ``.targets-<key>.npz``.
The key digests every pair's names, the annotation's size and modification time, the
visibility margin and the source of the code that derives them: a changed annotation, margin or
derivation gives a new key, and the stale file is removed. A frame whose decoded size differs
from its header's (an EXIF rotation) is derived in the loader, as before.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from colab_utils.geometry.targets import KeypointTargets, canonical_side, keypoints_from_annotation
from colab_utils.source_digest import source_digest

DERIVATION_SOURCES = ("geometry", "calibration/targets_cache.py")
PREFIX = ".targets-"
CHUNK = 64  # frames a worker process takes at a time


def frame_targets(annotation: dict, width: int, height: int, margin_px: float) -> KeypointTargets:
    """The training targets of one frame: relabelled to one side, then derived with its convention."""
    return keypoints_from_annotation(
        canonical_side(annotation, width, height), width, height, margin_px, side_convention=True
    )


def _derive(job: tuple[str, str, float]) -> tuple[tuple[int, int], KeypointTargets]:
    image, annotation, margin_px = job
    with Image.open(image) as header:
        width, height = header.size
    return (width, height), frame_targets(json.loads(Path(annotation).read_text()), width, height, margin_px)


@dataclass(frozen=True)
class SplitTargets:
    """Targets of every frame of a split, by pair index, with the image size they were derived at."""

    sizes: np.ndarray  # (N, 2) width, height
    xy: np.ndarray  # (N, 57, 2)
    visible: np.ndarray  # (N, 57)
    mask: np.ndarray  # (N, 57)
    source: np.ndarray  # (N, 57)
    homography: np.ndarray  # (N, 3, 3), NaN where the annotation gives none

    def get(self, index: int, width: int, height: int) -> KeypointTargets | None:
        """The frame's targets, or None when they were derived at another size than the decoded image's."""
        if tuple(self.sizes[index]) != (width, height):
            return None
        homography = self.homography[index]
        return KeypointTargets(
            xy=self.xy[index],
            visible=self.visible[index],
            mask=self.mask[index],
            source=self.source[index],
            homography=None if np.isnan(homography).any() else homography,
        )


def cache_key(pairs: Sequence[tuple[Path, Path]], margin_px: float) -> str:
    """Digest of everything the split's targets depend on."""
    digest = hashlib.sha256(source_digest(DERIVATION_SOURCES).encode())
    digest.update(repr(float(margin_px)).encode())
    for image, annotation in pairs:
        stat = Path(annotation).stat()
        digest.update(
            f"{Path(image).name}|{Path(annotation).name}|{stat.st_size}|{stat.st_mtime_ns}".encode()
        )
    return digest.hexdigest()[:16]


def derive_all(pairs: Sequence[tuple[Path, Path]], margin_px: float) -> SplitTargets:
    """Every pair's targets, one process per core."""
    jobs = [(str(image), str(annotation), float(margin_px)) for image, annotation in pairs]
    workers = min(os.cpu_count() or 1, max(1, len(jobs) // CHUNK))
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            derived = pool.map(_derive, jobs, chunksize=CHUNK)
    else:
        derived = [_derive(job) for job in jobs]
    sizes = np.array([size for size, _ in derived], dtype=np.int64).reshape(-1, 2)
    targets = [found for _, found in derived]
    no_homography = np.full((3, 3), np.nan)
    homographies = [no_homography if t.homography is None else t.homography for t in targets]
    return SplitTargets(
        sizes=sizes,
        xy=np.array([t.xy for t in targets]).reshape(-1, 57, 2),
        visible=np.array([t.visible for t in targets]).reshape(-1, 57),
        mask=np.array([t.mask for t in targets]).reshape(-1, 57),
        source=np.array([t.source for t in targets]).reshape(-1, 57),
        homography=np.array(homographies).reshape(-1, 3, 3),
    )


def split_targets(pairs: Sequence[tuple[Path, Path]], margin_px: float, folder: Path) -> SplitTargets:
    """The split's targets from ``folder``'s cache file, derived and written there first when it has none
    for these pairs (older ones are removed)."""
    key = cache_key(pairs, margin_px)
    path = Path(folder) / f"{PREFIX}{key}.npz"
    if path.exists():
        try:
            with np.load(path) as stored:
                found = SplitTargets(**{name: stored[name] for name in SplitTargets.__dataclass_fields__})
            if len(found.sizes) == len(pairs):
                return found
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # damaged (one a runtime killed while writing cannot be: it is renamed into place whole)
    derived = derive_all(pairs, margin_px)
    for stale in Path(folder).glob(f"{PREFIX}*.npz"):
        stale.unlink()
    tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}.npz")
    np.savez(tmp, **{name: getattr(derived, name) for name in SplitTargets.__dataclass_fields__})
    os.replace(tmp, path)
    return derived

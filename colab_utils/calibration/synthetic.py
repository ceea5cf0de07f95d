"""A synthetic SoccerNet calibration-2023 download: the real archive layout, from known cameras.

``root/calibration-2023/<split>.zip`` holds ``<split>/00000.jpg`` + ``<split>/00000.json``
(the annotation dictionary, points normalised by size - 1) ... and ``<split>/per_match_info.json``,
exactly where SoccerNet's downloader leaves them; the "challenge" split has images only.
The true cameras, which real archives do not carry, go beside each zip as
``<split>_cameras.json`` so tests and metrics can compare against the truth. Each frame
is drawn from its own seed (seed, split, index), so the same call writes identical bytes.

``per_match_info.json`` follows what SoccerNet's sn-calibration scripts read from it: a
dictionary keyed by match whose values are keyed by the image file names of that match.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np

from colab_utils.geometry.camera import Camera
from colab_utils.synthetic.annotate import annotate
from colab_utils.synthetic.cameras import random_camera
from colab_utils.synthetic.render import render_frame

TASK = "calibration-2023"
UNLABELLED_SPLITS = frozenset({"challenge"})
DEFAULT_SPLITS: Mapping[str, int] = MappingProxyType({"train": 48, "valid": 16})
FRAMES_PER_MATCH = 8
JPEG_QUALITY = 90
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so that the same frames give the same bytes


@dataclass(frozen=True)
class GeneratedCalibration:
    """What :func:`generate_calibration_dataset` wrote, and the truth behind it."""

    root: Path
    zips: dict[str, Path]
    camera_files: dict[str, Path]
    counts: dict[str, int]
    cameras: dict[str, dict[str, Camera]]
    kinds: dict[str, dict[str, str]]


def frame_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream of one frame: independent of how many frames the splits hold."""
    return np.random.default_rng([seed, zlib.crc32(split.encode()), index])


def match_name(split: str, index: int) -> str:
    """A SoccerNet-like match path for frame ``index``: consecutive frames share a match."""
    return f"synthetic_league/2023-2024/{split} match {index // FRAMES_PER_MATCH:03d}"


def _add(archive: zipfile.ZipFile, name: str, data: bytes, compress: int) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def _write_split(
    path: Path, split: str, count: int, seed: int, width: int, height: int, mix: dict[str, float] | None
) -> tuple[dict[str, Camera], dict[str, str]]:
    cameras, kinds, per_match = {}, {}, {}
    partial = path.with_name(path.name + ".part")
    with zipfile.ZipFile(partial, "w") as archive:
        for index in range(count):
            stem = f"{index:05d}"
            rng = frame_rng(seed, split, index)
            camera, kind = random_camera(rng, mix=mix, width=width, height=height)
            annotation = annotate(camera, rng, width, height)
            image = render_frame(camera, rng, width, height)
            ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise RuntimeError(f"JPEG encoding failed for {split}/{stem}")
            _add(archive, f"{split}/{stem}.jpg", jpeg.tobytes(), zipfile.ZIP_STORED)
            if split not in UNLABELLED_SPLITS:
                _add(archive, f"{split}/{stem}.json", json.dumps(annotation).encode(), zipfile.ZIP_DEFLATED)
            cameras[stem], kinds[stem] = camera, kind
            per_match.setdefault(match_name(split, index), {})[f"{stem}.jpg"] = {}
        info = json.dumps(per_match, indent=4).encode()
        _add(archive, f"{split}/per_match_info.json", info, zipfile.ZIP_DEFLATED)
    os.replace(partial, path)
    return cameras, kinds


def _write_json(path: Path, data: object) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(data, indent=1))
    os.replace(partial, path)


def generate_calibration_dataset(
    root: Path,
    splits: Mapping[str, int] = DEFAULT_SPLITS,
    seed: int = 0,
    width: int = 960,
    height: int = 540,
    camera_mix: Mapping[str, float] | None = None,
) -> GeneratedCalibration:
    """Write ``root/calibration-2023/<split>.zip`` (and ``<split>_cameras.json``) for each split."""
    task_dir = Path(root) / TASK
    task_dir.mkdir(parents=True, exist_ok=True)
    mix = dict(camera_mix) if camera_mix is not None else None
    zips, camera_files, counts, cameras, kinds = {}, {}, {}, {}, {}
    for split, count in splits.items():
        if not re.fullmatch(r"[A-Za-z0-9_-]+", split) or count < 0:
            raise ValueError(f"bad split {split!r}: {count} frames")
        zips[split] = task_dir / f"{split}.zip"
        cameras[split], kinds[split] = _write_split(zips[split], split, count, seed, width, height, mix)
        camera_files[split] = task_dir / f"{split}_cameras.json"
        truth = {stem: {**cam.to_json(), "kind": kinds[split][stem]} for stem, cam in cameras[split].items()}
        _write_json(camera_files[split], truth)
        counts[split] = count
    return GeneratedCalibration(task_dir, zips, camera_files, counts, cameras, kinds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic SoccerNet calibration-2023 download.")
    parser.add_argument("out_dir", type=Path, help="folder that receives calibration-2023/")
    for split, default in (("train", 48), ("valid", 16), ("test", 0), ("challenge", 0)):
        parser.add_argument(f"--{split}", type=int, default=default, help=f"frames in {split}.zip")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=960)
    parser.add_argument("--height", type=int, default=540)
    args = parser.parse_args(argv)
    sizes = {s: getattr(args, s) for s in ("train", "valid", "test", "challenge") if getattr(args, s) > 0}
    result = generate_calibration_dataset(args.out_dir, sizes, args.seed, args.width, args.height)
    for split, path in result.zips.items():
        print(f"{path}: {result.counts[split]} frames, cameras in {result.camera_files[split].name}")


if __name__ == "__main__":
    main()

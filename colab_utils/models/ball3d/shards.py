"""Clips rendered once at the data step into verified shards on the runtime's disk.

Rendering costs a core ~90 ms a clip, so two cores feed a T4 a twentieth of what it trains;
read back from a shard a clip costs ~2 ms. A split's shards live in
``<data_dir>/ball3d/<split>-<key>/``, where the key is a digest of everything the clips depend
on (the generator's settings, the content seed, the split's size and the source of the
renderer): a changed config or renderer gives a new key, so stale shards are never read, and
the data step removes them. Each shard holds ``SHARD_CLIPS`` clips in two files:

* ``NNNNN.jpeg``: each clip's crops as one JPEG (frames stacked vertically), back to back;
  lossy, as the broadcast video real crops come from is;
* ``NNNNN.npy``: one record per clip (memory-mapped): where its JPEG is, and every other array
  of the sample (:func:`~colab_utils.models.ball3d.samples.clip_arrays`).

``manifest.json``, written last and atomically, lists each file's SHA-256; the data step checks
them all and renders again what is missing or damaged.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from colab_utils.errors import DataNotPrepared
from colab_utils.files import write_atomically
from colab_utils.models.ball3d.samples import BallClips, clip_arrays
from colab_utils.models.ball3d.synthetic.clips import ClipSpec
from colab_utils.source_digest import source_digest

SHARD_CLIPS = 500
JPEG_QUALITY = 90
MANIFEST = "manifest.json"
RENDERER_SOURCES = ("models/ball3d/synthetic", "models/ball3d/samples.py", "synthetic", "geometry")


def shard_key(spec: ClipSpec, content_seed: int, split: str, size: int) -> str:
    """Digest of everything a split's clips depend on."""
    what = {
        "spec": asdict(spec),
        "content_seed": content_seed,
        "split": split,
        "size": size,
        "quality": JPEG_QUALITY,
        "source": source_digest(RENDERER_SOURCES),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def shard_folder(data_dir: Path, clips: BallClips) -> Path:
    key = shard_key(clips.spec, clips.content_seed, clips.split, len(clips))
    return Path(data_dir) / "ball3d" / f"{clips.split}-{key}"


def record_dtype(spec: ClipSpec, clips: BallClips) -> np.dtype:
    """The numpy record of one clip: its JPEG's place in the shard, then its arrays."""
    arrays = clip_arrays(clips.clip(0), spec)
    fields = [("jpeg_start", np.int64), ("jpeg_end", np.int64)]
    return np.dtype(fields + [(name, value.dtype, value.shape) for name, value in arrays.items()])


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _shard_files(folder: Path, shard: int) -> tuple[Path, Path]:
    return folder / f"{shard:05d}.jpeg", folder / f"{shard:05d}.npy"


def _render_shard(clips: BallClips, folder: Path, shard: int, dtype: np.dtype) -> dict[str, str]:
    """Render one shard's clips and write its two files (each to a temporary name, then renamed)."""
    first, stop = shard * SHARD_CLIPS, min((shard + 1) * SHARD_CLIPS, len(clips))
    records = np.zeros(stop - first, dtype)
    jpeg_path, npy_path = _shard_files(folder, shard)
    tmp_jpeg, tmp_npy = jpeg_path.with_suffix(".jpeg.tmp"), npy_path.with_suffix(".tmp.npy")
    with open(tmp_jpeg, "wb") as out:
        for row, index in enumerate(range(first, stop)):
            clip = clips.clip(index)
            image = clip.crops.reshape(-1, clips.spec.crop_size, 3)
            ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise RuntimeError(f"OpenCV could not encode clip {index} of {clips.split} as JPEG")
            records[row]["jpeg_start"] = out.tell()
            out.write(encoded.tobytes())
            records[row]["jpeg_end"] = out.tell()
            for name, value in clip_arrays(clip, clips.spec).items():
                records[row][name] = value
    np.save(tmp_npy, records)
    os.replace(tmp_jpeg, jpeg_path)
    os.replace(tmp_npy, npy_path)
    return {"jpeg": _file_sha256(jpeg_path), "npy": _file_sha256(npy_path)}


def _render_task(args: tuple) -> tuple[int, dict[str, str]]:
    clips, folder, shard, dtype = args
    return shard, _render_shard(clips, folder, shard, dtype)


def damaged_shards(folder: Path) -> list[int]:
    """Shards whose files are missing or differ from the manifest's checksums (all, without a manifest)."""
    manifest = json.loads((folder / MANIFEST).read_text())
    bad = []
    for shard, sums in enumerate(manifest["shards"]):
        files = _shard_files(folder, shard)
        if not all(path.exists() for path in files) or [_file_sha256(p) for p in files] != [
            sums["jpeg"],
            sums["npy"],
        ]:
            bad.append(shard)
    return bad


def build_shards(data_dir: Path, clips: BallClips, workers: int, report=print) -> Path:
    """Render (in ``workers`` processes) the shards of ``clips`` that are missing or damaged; returns
    the folder. Shards of the same split under another key (stale) are removed first."""
    folder = shard_folder(data_dir, clips)
    for stale in folder.parent.glob(f"{clips.split}-*"):
        if stale != folder and stale.is_dir():
            shutil.rmtree(stale)
    folder.mkdir(parents=True, exist_ok=True)
    count = -(-len(clips) // SHARD_CLIPS)
    sums: list[dict[str, str] | None] = [None] * count
    if (folder / MANIFEST).exists():
        known = json.loads((folder / MANIFEST).read_text())["shards"]
        bad = set(damaged_shards(folder))
        sums = [None if shard in bad else known[shard] for shard in range(count)]
    todo = [shard for shard in range(count) if sums[shard] is None]
    if todo:
        report(
            f"ball3d: rendering {min(len(todo) * SHARD_CLIPS, len(clips)):,} {clips.split} clips once "
            f"into {folder} ({len(todo)} shard(s), {workers} process(es)); later epochs read them."
        )
    dtype = record_dtype(clips.spec, clips)
    jobs = [(clips, folder, shard, dtype) for shard in todo]
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for done, (shard, found) in enumerate(pool.imap_unordered(_render_task, jobs), 1):
                sums[shard] = found
                if done % max(1, len(jobs) // 10) == 0:
                    report(f"  {done}/{len(jobs)} shards")
    else:
        for job in jobs:
            shard, sums[shard] = _render_task(job)
    manifest = {"clips": len(clips), "shard_clips": SHARD_CLIPS, "jpeg_quality": JPEG_QUALITY, "shards": sums}
    write_atomically(folder / MANIFEST, json.dumps(manifest))
    return folder


class ClipShards:
    """Reads clip ``i`` of a rendered split: its crops (decoded) and its arrays (memory-mapped).

    The files are opened on first use, in each loader worker.
    """

    def __init__(self, folder: Path, clips: int) -> None:
        self.folder = Path(folder)
        if not (self.folder / MANIFEST).exists():
            raise DataNotPrepared(
                f"{self.folder} has not been rendered: run the data step "
                "(colab_utils.prepare_data(cfg)) first."
            )
        manifest = json.loads((self.folder / MANIFEST).read_text())
        if manifest["clips"] != clips:
            raise DataNotPrepared(
                f"{self.folder} holds {manifest['clips']} clips, not {clips}: run the data step again."
            )
        self.shard_clips = int(manifest["shard_clips"])
        self._opened: dict[int, tuple[np.memmap, np.ndarray]] = {}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_opened": {}}  # memory maps are opened again in each worker

    def _shard(self, shard: int) -> tuple[np.memmap, np.ndarray]:
        if shard not in self._opened:
            jpeg_path, npy_path = _shard_files(self.folder, shard)
            self._opened[shard] = (np.memmap(jpeg_path, np.uint8, mode="r"), np.load(npy_path, mmap_mode="r"))
        return self._opened[shard]

    def read(self, index: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Crops (T, S, S, 3) uint8 and the arrays of :func:`clip_arrays` of clip ``index``."""
        jpegs, records = self._shard(index // self.shard_clips)
        record = records[index % self.shard_clips]
        image = cv2.imdecode(np.asarray(jpegs[record["jpeg_start"] : record["jpeg_end"]]), cv2.IMREAD_COLOR)
        if image is None:
            raise DataNotPrepared(f"clip {index} in {self.folder} does not decode: run the data step again.")
        frames = record["geometry"].shape[0]
        crops = image.reshape(frames, -1, image.shape[1], 3)
        names = [name for name in records.dtype.names if not name.startswith("jpeg_")]
        return crops, {name: record[name] for name in names}

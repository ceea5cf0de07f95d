"""Videos in and out: a clip of any length streamed through a frame-level model into an annotated mp4.

A video is never held in memory: frames are decoded one at a time (OpenCV), a batch of the
predictor's ``batch_size`` goes through the network, each frame is drawn with what was found
(the overlay of the model's saved pictures: the projected pitch, the boxes) and written to the
mp4 at once, and frame and result are dropped. What a result says goes to disk as it comes:
a JSON line per frame (``frames.jsonl``: keypoints, camera, homography, boxes) and the model's
per-sequence text files (detr's MOT ``det/det.txt``). Memory therefore does not grow with the
video's length (README, Measured: peak RSS for 30 and 300 frames).

The mp4 is H.264 when an ffmpeg executable is found (Colab has one; elsewhere ``apt-get install
ffmpeg`` or ``pip install imageio-ffmpeg``): every browser plays it, Colab's notebook included.
Without one, OpenCV writes MPEG-4 Part 2 ('mp4v'), which VLC and desktop players play but
Chrome and Firefox do not; the summary then says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np
from tqdm.auto import tqdm

from colab_utils.errors import InputError
from colab_utils.inference.base import Predictor, Result
from colab_utils.inference.inputs import VIDEO_SUFFIXES, Frame, VideoFrames, safe_name

H264 = "H.264"
MP4V = "MPEG-4 Part 2 (mp4v)"
EMBED_LIMIT = 64 * 2**20  # show() embeds an mp4 up to this size in the notebook
SHOWN_LINES = 20  # per-frame summary lines kept for the summary


def single_video(inputs: Any) -> Path | None:
    """The video file ``inputs`` names (a path, or a list of one path), or None for anything else."""
    if isinstance(inputs, list | tuple) and len(inputs) == 1:
        inputs = inputs[0]
    if isinstance(inputs, str | Path):
        path = Path(inputs).expanduser()
        if path.suffix.lower() in VIDEO_SUFFIXES and path.is_file():
            return path
    return None


def find_ffmpeg() -> str | None:
    """An ffmpeg executable: on the PATH (Colab's), else imageio-ffmpeg's when it is installed."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


class VideoWriter:
    """Writes RGB frames of one size into an mp4: H.264 through ffmpeg when there is one, else
    OpenCV's mp4v (module docstring). Frames of odd width or height are padded by a pixel (H.264)."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int], ffmpeg: str | None) -> None:
        self.path = path
        width, height = size
        self.process: subprocess.Popen | None = None
        if ffmpeg:
            self.codec = H264
            command = [ffmpeg, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
            command += ["-s", f"{width}x{height}", "-r", f"{fps:.6g}", "-i", "-"]
            command += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast"]
            command += ["-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)]
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        else:
            self.codec = MP4V
            self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
            if not self.writer.isOpened():
                raise InputError(f"OpenCV cannot write an mp4 at {path}: give video_out a writable path.")

    def write(self, rgb: np.ndarray) -> None:
        """Append a frame (RGB uint8 at the writer's size)."""
        if self.process is None:
            self.writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            return
        try:
            self.process.stdin.write(np.ascontiguousarray(rgb, np.uint8).tobytes())
        except BrokenPipeError:  # ffmpeg stopped: close() says why
            self.close()

    def close(self) -> None:
        if self.process is None:
            self.writer.release()
            return
        if self.process.stdin.closed:  # closed already, when ffmpeg stopped during a write
            return
        self.process.stdin.close()
        said = self.process.stderr.read().decode(errors="replace").strip()
        if self.process.wait():
            raise InputError(f"ffmpeg could not write {self.path}: {said[-500:]}")


@dataclass
class VideoPrediction:
    """A video's prediction: the annotated mp4, a JSON line per frame, the model's text files, counts.

    :meth:`show` plays the mp4 in the notebook; :meth:`save` copies everything into a folder.
    """

    model: str
    task: str
    meta: dict[str, Any]
    source: Path
    video: Path
    records: Path
    texts: list[Path]
    frames: int
    decoded: int
    found: int
    every: int
    codec: str
    found_label: str = "with a result"
    lines: list[str] = field(default_factory=list)

    def summary(self) -> str:
        metrics = self.meta.get("metrics", {})
        trained = ", ".join(f"{key} {value:.3g}" for key, value in metrics.items() if key.startswith("val_"))
        step = f"1 in {self.every} of " if self.every > 1 else ""
        lines = [
            f"{self.model} (epoch {self.meta.get('epoch')}; {trained or 'no validation metrics'})",
            f"{self.source.name}: predicted {self.frames} frames ({step}{self.decoded} decoded).",
            f"{self.found} of {self.frames} {self.found_label}.",
            *self.lines,
        ]
        if self.frames > len(self.lines):
            more = self.frames - len(self.lines)
            lines.append(f"... and {more} more (see {self.records.name} after save())")
        lines.append(f"Annotated video ({self.codec}): {self.video}")
        if self.codec == MP4V:
            lines.append(
                "Browsers (Chrome, Firefox) do not play mp4v: VLC or a desktop player does, or install "
                "ffmpeg (apt-get install ffmpeg, or pip install imageio-ffmpeg) and predict again for H.264."
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def show(self, width: int = 800) -> None:
        """Play the annotated mp4 in the notebook (embedded, so Colab's browser can play it)."""
        try:
            from IPython.display import Video, display
        except ImportError:  # a plain Python shell
            print(f"Open {self.video} in a video player.")
            return
        size = self.video.stat().st_size
        if size > EMBED_LIMIT:
            print(f"{self.video} is {size / 2**20:.0f} MB, too large to embed: save() it and open the copy.")
            return
        display(Video(str(self.video), embed=True, width=width, html_attributes="controls loop"))

    def save(self, folder: str | Path) -> list[Path]:
        """The mp4, ``frames.jsonl``, the text files and ``results.json`` (what was run, on what) in
        ``folder``; their paths."""
        folder = Path(folder)
        paths = [_copy(self.video, folder / self.video.name), _copy(self.records, folder / self.records.name)]
        paths += [_copy(text, folder / text.relative_to(self.records.parent)) for text in self.texts]
        everything = {
            "model": self.model,
            "task": self.task,
            "trained": {key: self.meta.get(key) for key in ("epoch", "metrics", "exported_at")},
            "inputs": f"{self.source}: {self.frames} frames, 1 in {self.every} of {self.decoded} decoded",
            "video": self.video.name,
            "codec": self.codec,
            "frames": self.records.name,
            f"frames {self.found_label}": self.found,
        }
        paths.append(folder / "results.json")
        paths[-1].write_text(json.dumps(everything, indent=1, default=float))
        print(f"Saved {len(paths)} files to {folder}")
        return paths


def predict_video(
    predictor: Predictor,
    path: str | Path,
    *,
    every: int = 1,
    max_frames: int | None = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> VideoPrediction:
    """Stream the video at ``path`` through ``predictor`` (one whose ``streams_video`` is set) and draw
    every ``every``-th frame into the mp4 ``out`` (default: ``<video name>_<model>.mp4`` in a new
    temporary folder), stopping after ``max_frames`` frames (None: the whole video).

    The annotated video keeps the clip's duration (its rate is the clip's divided by ``every``).
    """
    path = Path(path).expanduser()
    if every < 1 or (max_frames is not None and max_frames < 1):
        raise ValueError(f"every and max_frames must be >= 1, not {every} and {max_frames}")
    frames = VideoFrames(path, every)
    if not frames.opened:
        raise InputError(
            f"OpenCV cannot open the video {path}: it is damaged, or in a format OpenCV's FFmpeg does not "
            "read. Convert it to an H.264 mp4 (ffmpeg -i <video> -c:v libx264 clip.mp4) or give its frames."
        )
    model = predictor.payload["model"]
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="predict_video_")) / f"{safe_name(path.stem)}_{model}.mp4"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    records_path = out.parent / "frames.jsonl"
    expected = -(-frames.length // every) or None  # None: the file does not say how long it is
    total = min(filter(None, (expected, max_frames)), default=None)
    counts = {"frames": 0, "found": 0}
    lines: list[str] = []
    texts: dict[str, IO[str]] = {}
    writer: VideoWriter | None = None
    predictor.start_sequence()
    bar = tqdm(total=total, desc=path.name, unit="frame", disable=not progress)
    stream = iter(frames)
    try:
        with open(records_path, "w") as records:
            for batch in batches_of(stream, predictor.batch_size, max_frames, path):
                results = predictor.run(batch)
                if writer is None:
                    writer = VideoWriter(out, frames.fps / every, batch[0].size, find_ffmpeg())
                for result in results:
                    writer.write(result.overlay())
                    records.write(json.dumps(result.to_dict(), default=float) + "\n")
                    _append_texts(result, texts, out.parent)
                    counts["frames"] += 1
                    counts["found"] += bool(result.found)
                    if len(lines) < SHOWN_LINES:
                        lines.append(result.summary())
                bar.update(len(batch))
    finally:
        stream.close()
        bar.close()
        for handle in texts.values():
            handle.close()
        if writer is not None:
            writer.close()
    if writer is None:
        raise InputError(f"No frame could be decoded from {path}: the file is empty or damaged.")
    return VideoPrediction(
        model=model,
        task=predictor.task,
        meta=predictor.meta,
        source=path,
        video=out,
        records=records_path,
        texts=[Path(handle.name) for handle in texts.values()],
        frames=counts["frames"],
        decoded=frames.decoded,
        found=counts["found"],
        every=every,
        codec=writer.codec,
        found_label=predictor.found_label,
        lines=lines,
    )


def batches_of(
    stream: Iterator[tuple[int, np.ndarray]], size: int, max_frames: int | None, path: Path
) -> Iterator[list[Frame]]:
    """Lists of up to ``size`` :class:`Frame` from the video's (index, RGB) stream, ``max_frames`` in all."""
    batch: list[Frame] = []
    for taken, (index, rgb) in enumerate(stream, 1):
        batch.append(Frame(f"{safe_name(path.stem)}_{index:06d}", rgb, f"{path} frame {index}"))
        if len(batch) == size or taken == max_frames:
            yield batch
            batch = []
        if taken == max_frames:
            return
    if batch:
        yield batch


def _copy(source: Path, target: Path) -> Path:
    """``source`` copied to ``target`` (its folders made), unless it is already there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not (target.exists() and target.samefile(source)):
        shutil.copy(source, target)
    return target


def _append_texts(result: Result, texts: dict[str, IO[str]], folder: Path) -> None:
    """Append the result's text lines to their files in ``folder``, opening each file on first use."""
    for name, lines in result.text_lines().items():
        if name not in texts:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            texts[name] = open(folder / name, "w")  # noqa: SIM115 (closed when the video is done)
        texts[name].writelines(f"{line}\n" for line in lines)

"""The detector on your frames: players, goalkeepers, referees and the ball as boxes in frame pixels.

Frames of any size go through the validation pipeline of training (a resize to the trained
input size, :func:`~colab_utils.models.detr.frames.augmentations`), the network, and the task's
own post-processing (:class:`~colab_utils.models.detr.decode.DetectionDecoder`, the library's
``post_process_object_detection``). Its boxes are relative to the image, so they are scaled
to each frame's own size and clipped to it; detections scoring below ``threshold`` are left
out of everything shown and saved.

What :meth:`DetectionPrediction.save` writes, and why: ``<frame>.png`` (the frame with its
boxes), ``<sequence>/det/det.txt`` per video or folder of frames in the MOT Challenge's
detection format (``frame,-1,left,top,width,height,score,-1,-1,-1``, frames counted from 1),
which is what trackers (and SoccerNet's tracking baselines) read, and ``results.json`` with
every frame's detections with their class names (MOT det files carry no class). A video's
frame number is its position in the video (so ``every=5`` keeps frames 1, 6, 11...); a
folder's images keep their number when all are named by one (``000001.jpg``, as MOT's
``img1/``), and are numbered in name order otherwise; ``<clip>/img1/`` is sequence ``<clip>``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colab_utils.inference.base import Prediction, Predictor, Result, batches
from colab_utils.inference.inputs import VIDEO_SUFFIXES, Frame
from colab_utils.models.detr.frames import augmentations
from colab_utils.models.detr.picture import detection_picture, draw_boxes
from colab_utils.models.detr.task import Detr

VIDEO_FRAME = re.compile(r"(?P<path>.+) frame (?P<index>\d+)")  # Frame.source of a video's frame
NO_BOXES = {"bboxes": np.zeros((0, 4), np.float32), "labels": [], "track_ids": []}


@dataclass
class DetectionResult(Result):
    """A frame's detections above ``threshold``, best first: ``boxes`` (N, 4) as (x0, y0, x1, y1) in the
    frame's pixels, ``labels`` (N,) indexing ``classes``, ``scores`` (N,); where it sits in its sequence."""

    name: str
    source: str
    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    classes: tuple[str, ...]
    threshold: float
    sequence: str
    frame_number: int

    @property
    def found(self) -> bool:
        return len(self.boxes) > 0

    def counts(self) -> Counter[str]:
        return Counter(self.classes[int(label)] for label in self.labels)

    def summary(self) -> str:
        if not self.found:
            return f"{self.name}: no detection with score >= {self.threshold:g}"
        counts = self.counts()
        per_class = ", ".join(f"{counts[name]} {name}" for name in self.classes if counts[name])
        return f"{self.name}: {len(self.boxes)} detections ({per_class})"

    def figure(self) -> Any:
        none = (np.zeros((0, 4)), np.zeros(0, dtype=np.int64))
        title = f"{self.name}: {self.summary().split(': ', 1)[1]}"
        found = (self.boxes, self.labels, self.scores)
        figure = detection_picture(self.image, none, found, self.classes, self.threshold, title=title)
        _drop_truth_from_legend(figure.axes[0])
        return figure

    def overlay(self) -> np.ndarray:
        return draw_boxes(self.image, self.boxes, self.labels, self.scores)

    def save(self, folder: Path) -> list[Path]:
        """``<name>.png``: the frame with its boxes (the sequence's det.txt is the prediction's)."""
        return [self.save_picture(folder)]

    def text_lines(self) -> dict[str, list[str]]:
        """The frame's lines of its sequence's MOT det file, ``<sequence>/det/det.txt``."""
        return {f"{self.sequence}/det/det.txt": self.mot_lines()}

    def mot_lines(self) -> list[str]:
        """The frame's lines of a MOT det file: ``frame,-1,left,top,width,height,score,-1,-1,-1``."""
        return [
            f"{self.frame_number},-1,{x0:.2f},{y0:.2f},{x1 - x0:.2f},{y1 - y0:.2f},{score:.4f},-1,-1,-1"
            for (x0, y0, x1, y1), score in zip(self.boxes.tolist(), self.scores.tolist(), strict=True)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "sequence": self.sequence,
            "frame": self.frame_number,
            "frame_size": [int(self.image.shape[1]), int(self.image.shape[0])],
            "threshold": self.threshold,
            "detections": [
                {
                    "class": self.classes[int(label)],
                    "bbox": [x0, y0, x1 - x0, y1 - y0],  # left, top, width, height (COCO, MOT)
                    "score": score,
                }
                for (x0, y0, x1, y1), label, score in zip(
                    self.boxes.tolist(), self.labels.tolist(), self.scores.tolist(), strict=True
                )
            ],
        }


def _drop_truth_from_legend(axis: Any) -> None:
    """The evaluate step's legend explains dashed true boxes; a user's frame has none."""
    legend = axis.get_legend()
    kept = [
        (handle, text.get_text())
        for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True)
        if text.get_text() != "truth"
    ]
    axis.legend(
        [handle for handle, _ in kept],
        [label for _, label in kept],
        loc="upper right",
        fontsize=8,
        facecolor="#333333",
        labelcolor="white",
    )


@dataclass
class DetectionPrediction(Prediction):
    """The frames' detections; :meth:`save` adds a MOT det file per sequence."""

    def summary(self, max_lines: int = 20) -> str:
        counts = sum((result.counts() for result in self.results), Counter())
        classes = self.meta["classes"]
        total = ", ".join(f"{counts[name]} {name}" for name in classes if counts[name]) or "nothing"
        threshold = self.results[0].threshold if self.results else 0.0
        return f"{super().summary(max_lines)}\nIn all (score >= {threshold:g}): {total}"

    def save(self, folder: str | Path) -> list[Path]:
        """Each frame's picture, ``results.json`` and ``<sequence>/det/det.txt`` (MOT) per sequence."""
        folder = Path(folder)
        files: dict[str, list[str]] = {}
        for result in sorted(self.results, key=lambda r: r.frame_number):
            for name, lines in result.text_lines().items():
                files.setdefault(name, []).extend(lines)
        written = []
        for name, lines in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{line}\n" for line in lines))
            written.append(path)
        paths = super().save(folder)
        print(f"MOT detections: {', '.join(str(p) for p in written)}")
        return paths + written


def frame_positions(frames: list[Frame]) -> list[tuple[str, int]]:
    """(sequence name, MOT frame number from 1) of each frame: a video's frames by their position in
    it; a folder's images by the number they are named with, or in order when not all are numbers;
    arrays in order. Sequence names are unique and safe as folder names."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, frame in enumerate(frames):
        video = VIDEO_FRAME.fullmatch(frame.source)
        if video and Path(video["path"]).suffix.lower() in VIDEO_SUFFIXES:
            key = ("video", video["path"])
        elif frame.source.startswith("array "):
            key = ("arrays", "")
        else:
            key = ("folder", str(Path(frame.source).parent))
        groups.setdefault(key, []).append(i)
    positions: list[tuple[str, int]] = [("", 0)] * len(frames)
    used: set[str] = set()
    for (kind, where), members in groups.items():
        folder = Path(where).parent if Path(where).name == "img1" else Path(where)  # MOT: <clip>/img1/
        base = {"video": Path(where).stem, "folder": folder.name, "arrays": "arrays"}[kind]
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "frames"
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        if kind == "video":
            numbers = [int(VIDEO_FRAME.fullmatch(frames[i].source)["index"]) + 1 for i in members]
        else:
            stems = [Path(frames[i].source).stem for i in members]
            numbered = kind == "folder" and all(s.isdigit() for s in stems) and len(set(stems)) == len(stems)
            numbers = [int(s) for s in stems] if numbered else list(range(1, len(members) + 1))
        for i, number in zip(members, numbers, strict=True):
            positions[i] = (name, number)
    return positions


class Detection(Predictor):
    """Options: ``threshold`` (detections scoring below it are neither drawn nor saved, default 0.5) and
    ``batch_size`` (frames per forward pass)."""

    task_class = Detr

    found_label = "with a detection"
    streams_video = True

    def __init__(
        self, payload: dict[str, Any], device: str | torch.device, threshold: float = 0.5, batch_size: int = 8
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold is a score between 0 and 1, not {threshold}")
        super().__init__(payload, device)
        self.threshold = float(threshold)
        self.batch_size = int(batch_size)
        self.classes = tuple(self.meta["classes"])
        self.transform = augmentations(self.cfg.data.input_size, train=False)

    def run(self, frames: list[Frame]) -> list[DetectionResult]:
        positions = iter(frame_positions(frames))
        results = []
        for batch in batches(frames, self.batch_size):
            images = torch.stack(
                [
                    torch.from_numpy(self.transform(image=f.image, **NO_BOXES)["image"]).permute(2, 0, 1)
                    for f in batch
                ]
            )
            with self.autocast():
                detections = self.model.predict(images)
            for frame, found in zip(batch, detections, strict=True):
                results.append(self.result(frame, found, *next(positions)))
        return results

    def result(
        self, frame: Frame, found: dict[str, torch.Tensor], sequence: str, number: int
    ) -> DetectionResult:
        """A frame's result from the decoder's detections (boxes relative to the image, 0..1)."""
        width, height = frame.size
        size = np.array([width, height, width, height], dtype=np.float64)
        boxes = np.clip(found["boxes"].double().cpu().numpy() * size, 0, size)
        scores = found["scores"].float().cpu().numpy()
        keep = np.flatnonzero(scores >= self.threshold)
        keep = keep[np.argsort(-scores[keep], kind="stable")]
        labels = found["labels"].cpu().numpy().astype(np.int64)[keep]
        kept = (boxes[keep], labels, scores[keep], self.classes, self.threshold, sequence, number)
        return DetectionResult(frame.name, frame.source, frame.image, *kept)

    def predict(self, inputs: Any, every: int = 1, max_frames: int = 100) -> DetectionPrediction:
        prediction = super().predict(inputs, every, max_frames)
        return DetectionPrediction(**{f.name: getattr(prediction, f.name) for f in fields(prediction)})

"""What every predictor shares: the trained network rebuilt from a portable .pth, and the
:class:`Prediction` handed back to the user.

A task's predictor (``colab_utils/inference/<task>.py``) subclasses :class:`Predictor`:

* ``__init__(payload, device, **options)`` takes its options (keyword arguments with defaults)
  and calls ``super().__init__(payload, device, overrides)``; ``overrides`` are dotted config
  keys applied to the trained config before the network is built
  (``{"model.min_confidence": 0.3}``). ImageNet weights are never fetched (``model.init_from``
  is set to none): the state dict replaces them.
* :meth:`Predictor.model_params` returns the argus params (``nn_module``, ``loss``,
  ``prediction_transform``); by default the task's own ``model_params(cfg)``. Override it when
  the task reads its data there (reid's number of identities): take the value from
  ``self.payload["state_dict"]`` shapes or ``self.meta`` instead.
* :meth:`Predictor.read` turns the user's inputs into something with ``.summary()`` and
  ``.skipped``; by default images, folders, videos and arrays (:func:`~.inputs.read_frames`).
  Tasks whose inputs are not images (tracking data) override it.
* :meth:`Predictor.run` maps what ``read`` returned to one :class:`Result` per input, running
  ``self.model`` (an argus model in eval mode: ``self.model.predict(batch)`` applies the
  task's prediction transform) inside ``self.autocast()``.

A :class:`Result` says in one line what was found (:meth:`Result.summary`), draws it
(:meth:`Result.figure`), writes its files (:meth:`Result.save`) and gives plain data for
``results.json`` (:meth:`Result.to_dict`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from colab_utils import runtime as rt
from colab_utils.engine.contract import Task, TrainModel
from colab_utils.engine.precision import resolve_precision
from colab_utils.inference.inputs import FrameReport, read_frames
from colab_utils.starting_weights import NONE


class Result:
    """One input's result; subclasses hold what the model found."""

    name: str
    source: str
    found: bool  # the model's main output exists for this input (a camera, a homography...)

    def summary(self) -> str:
        raise NotImplementedError

    def figure(self) -> Any:
        """A matplotlib figure of the result."""
        raise NotImplementedError

    def save(self, folder: Path) -> list[Path]:
        """Write this input's files (pictures, per-frame formats) into ``folder``; their paths."""
        raise NotImplementedError

    def overlay(self) -> np.ndarray:
        """The frame (RGB, its own size) with what was found drawn on it: a frame of the annotated video."""
        raise NotImplementedError

    def text_lines(self) -> dict[str, list[str]]:
        """Lines this result adds to text files kept per sequence (their paths relative to the output
        folder), such as detr's MOT det.txt; a video's are written as its frames are predicted."""
        return {}

    def save_picture(self, folder: Path) -> Path:
        """``<name>.png`` of :meth:`figure`, closed afterwards so that many inputs do not pile up figures."""
        import matplotlib.pyplot as plt

        path = folder / f"{self.name}.png"
        figure = self.figure()
        figure.savefig(path, dpi=100)
        plt.close(figure)
        return path

    def save_table(self, folder: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
        """``<name>.csv``: a header of ``columns``, then ``rows``."""
        path = folder / f"{self.name}.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(rows)
        return path

    def to_dict(self) -> dict[str, Any]:
        """The result as plain JSON-able data."""
        raise NotImplementedError


@dataclass
class Prediction:
    """The results of one :func:`colab_utils.inference.api.predict` call, in input order."""

    model: str
    task: str
    meta: dict[str, Any]
    results: list[Result]
    inputs: FrameReport
    found_label: str = "with a result"

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[Result]:
        return iter(self.results)

    def __getitem__(self, index: int) -> Result:
        return self.results[index]

    def summary(self, max_lines: int = 20) -> str:
        metrics = self.meta.get("metrics", {})
        trained = ", ".join(f"{key} {value:.3g}" for key, value in metrics.items() if key.startswith("val_"))
        found = sum(result.found for result in self.results)
        lines = [
            f"{self.model} (epoch {self.meta.get('epoch')}; {trained or 'no validation metrics'})",
            self.inputs.summary(),
            f"{found} of {len(self.results)} {self.found_label}.",
            *(result.summary() for result in self.results[:max_lines]),
        ]
        if len(self.results) > max_lines:
            lines.append(f"... and {len(self.results) - max_lines} more (see results.json after save())")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def show(self, limit: int | None = 8) -> None:
        """Display the first ``limit`` results' figures (all with None) in the notebook."""
        import matplotlib.pyplot as plt

        try:
            from IPython.display import display
        except ImportError:  # a plain Python shell: matplotlib's own window
            display = None
        shown = self.results if limit is None else self.results[:limit]
        for result in shown:
            figure = result.figure()
            if display is None:
                plt.show()
            else:
                display(figure)
            plt.close(figure)
        if len(shown) < len(self.results):
            print(f"Showed {len(shown)} of {len(self.results)}: show(limit=None) shows all.")

    def save(self, folder: str | Path) -> list[Path]:
        """Each result's files, plus ``results.json`` with everything as plain data; their paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = [path for result in self.results for path in result.save(folder)]
        everything = {
            "model": self.model,
            "task": self.task,
            "trained": {key: self.meta.get(key) for key in ("epoch", "metrics", "exported_at")},
            "inputs": self.inputs.summary(),
            "skipped": [{"input": what, "reason": why} for what, why in self.inputs.skipped],
            "results": [result.to_dict() for result in self.results],
        }
        summary = folder / "results.json"
        summary.write_text(json.dumps(everything, indent=1, default=float))
        paths.append(summary)
        print(f"Saved {len(paths)} files to {folder}")
        return paths


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Predictor:
    """A trained model rebuilt from its portable payload, in eval mode on ``device``."""

    task_class: type[Task]  # the model's task, which builds the network
    found_label = "with a result"
    streams_video = False  # frame-level models: a video streams through them (inference/video.py) ...
    batch_size: int  # ... this many frames per forward pass
    smooths_cameras = False  # takes the option smooth (calibration/smoothing.py)

    def __init__(
        self, payload: dict[str, Any], device: str | torch.device, overrides: dict[str, Any] | None = None
    ) -> None:
        self.payload = payload
        self.task: str = payload["task"]
        self.meta: dict[str, Any] = payload["meta"]
        self.device = torch.device(device)
        self.cfg = OmegaConf.create(payload["config"])
        # the state dict replaces any starting weights, and checkpointing is a training setting (files
        # exported before either key existed lack it)
        settings = {"model.init_from": NONE, "model.grad_checkpointing": False} if "model" in self.cfg else {}
        for key, value in {**settings, **(overrides or {})}.items():
            OmegaConf.update(self.cfg, key, value)
        self.model = self.build()

    def model_params(self) -> dict[str, Any]:
        """argus params of the network (and its prediction transform) from the trained config."""
        return self.task_class().model_params(self.cfg)

    def build(self) -> TrainModel:
        """The task's argus model with the payload's weights, loaded strictly, in eval mode."""
        optimizer = OmegaConf.to_container(self.cfg.train.optimizer, resolve=True)
        name = optimizer.pop("name")
        params = {**self.model_params(), "optimizer": (name, optimizer), "device": str(self.device)}
        model = self.task_class.model_class(params)
        try:
            model.get_nn_module().load_state_dict(self.payload["state_dict"])
        except RuntimeError as error:
            raise ValueError(
                f"The weights do not fit the {self.task} network rebuilt from their own config; the file "
                f"was changed or comes from another library version ({error})"
            ) from error
        model.eval()
        return model

    def autocast(self):
        """bf16 where the GPU has it, fp16 on other GPUs, fp32 on the CPU."""
        precision, _ = resolve_precision("auto", self.device, rt.detect_gpu())
        return precision.autocast()

    def read(self, inputs: Any, every: int = 1, max_frames: int = 100) -> FrameReport:
        return read_frames(inputs, every, max_frames)

    def run(self, inputs: Any) -> list[Result]:
        raise NotImplementedError

    def start_sequence(self) -> None:
        """New frames begin (a video, a folder): forget what earlier frames told (the camera smoothing)."""

    def predict(self, inputs: Any, every: int = 1, max_frames: int = 100) -> Prediction:
        self.start_sequence()
        report = self.read(inputs, every, max_frames)
        results = self.run(report.frames)
        return Prediction(self.payload["model"], self.task, self.meta, results, report, self.found_label)

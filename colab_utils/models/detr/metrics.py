"""COCO mean average precision of the detector, as an argus metric.

torchmetrics' ``MeanAveragePrecision`` does the COCO evaluation (with the ``faster_coco_eval``
backend, several times faster than pycocotools on thousands of frames); this wrapper feeds
it each validation batch in frame pixels (so COCO's small / medium / large areas mean what
they mean on the real 1920x1080 frames) and writes ``val_map`` (the monitor), ``val_map_50``,
``val_map_75``, ``val_map_small``, ``val_mar_100``, and for every class ``val_ap_<class>`` (IoU
0.50:0.95) and ``val_ap50_<class>`` (IoU 0.5), NaN for a class the frames do not show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from argus.engine import State
from argus.metrics import Metric
from torchmetrics.detection import MeanAveragePrecision


def cxcywh_to_frame_xyxy(boxes: torch.Tensor, frame_size: torch.Tensor) -> torch.Tensor:
    """Normalised (cx, cy, w, h) boxes (N, 4) -> (x0, y0, x1, y1) in the pixels of a frame (W, H)."""
    centre, size = boxes[:, :2], boxes[:, 2:]
    return torch.cat([centre - size / 2, centre + size / 2], dim=1) * frame_size.repeat(2)


class DetectionMAP(Metric):
    """COCO mAP over the validation set; ``val_map`` decides best.pth."""

    name = "map"
    better = "max"

    def __init__(self, classes: Sequence[str]) -> None:
        super().__init__()
        self.classes = tuple(classes)
        self.reset()

    def reset(self) -> None:
        self.metric = MeanAveragePrecision(
            box_format="xyxy",
            iou_type="bbox",
            class_metrics=True,
            extended_summary=True,  # the precision table, for each class's AP at IoU 0.5
            backend="faster_coco_eval",
        )

    def update(self, step_output: dict) -> None:
        detections, target = step_output["prediction"], step_output["target"]
        sizes = target["frame_size"].float().cpu()
        predictions, truths = [], []
        for found, labels, size in zip(detections, target["labels"], sizes, strict=True):
            predictions.append(
                {
                    "boxes": found["boxes"].float().cpu() * size.repeat(2),
                    "scores": found["scores"].float().cpu(),
                    "labels": found["labels"].cpu(),
                }
            )
            truths.append(
                {
                    "boxes": cxcywh_to_frame_xyxy(labels["boxes"].float().cpu(), size),
                    "labels": labels["class_labels"].cpu(),
                }
            )
        self.metric.update(predictions, truths)

    def compute(self) -> dict[str, float]:
        result = self.metric.compute()
        values = {key: float(result[key]) for key in ("map", "map_50", "map_75", "map_small", "mar_100")}
        present = result["classes"].flatten().tolist()
        per_class = dict(zip(present, result["map_per_class"].flatten().tolist(), strict=True))
        # precision[IoU threshold, recall, class, area, max detections]: IoU 0.5, all areas, 100 detections
        precision = result["precision"][0, :, :, 0, -1]
        for index, name in enumerate(self.classes):
            values[f"ap_{name}"] = per_class.get(index, -1.0)
            column = precision[:, present.index(index)] if index in present else None
            found = column is not None and bool((column >= 0).all())
            values[f"ap50_{name}"] = float(column.mean()) if found else -1.0
        return {key: (value if value >= 0 else math.nan) for key, value in values.items()}

    def epoch_complete(self, state: State) -> None:
        prefix = f"{state.phase}_" if state.phase else ""
        for key, value in self.compute().items():
            state.metrics[f"{prefix}{key}"] = value

"""From the network's queries to detections, with the library's own post-processing.

DETR scores each query with a softmax over the classes and "no object" and keeps its best
class; Conditional and Deformable DETR score every (query, class) pair with a sigmoid and
keep the ``top_k`` best pairs. Their image processors implement exactly that
(``post_process_object_detection``), so they are used here rather than rewritten. Boxes come
out as (x0, y0, x1, y1) relative to the image (0..1), so the same detections can be drawn on
the frame at any size and scored in frame pixels.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from transformers import ConditionalDetrImageProcessor, DeformableDetrImageProcessor, DetrImageProcessor

PROCESSORS = {
    "detr": DetrImageProcessor,
    "conditional_detr": ConditionalDetrImageProcessor,
    "deformable_detr": DeformableDetrImageProcessor,
}


class DetectionDecoder:
    """argus prediction transform: {"logits", "pred_boxes"} -> per image {"scores", "labels", "boxes"}."""

    def __init__(self, variant: str, threshold: float = 0.0, top_k: int = 100) -> None:
        self.variant = variant
        self.processor = PROCESSORS[variant]()
        self.threshold = float(threshold)
        self.top_k = int(top_k)

    def __call__(self, prediction: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        outputs = SimpleNamespace(
            logits=prediction["logits"].float(), pred_boxes=prediction["pred_boxes"].float()
        )
        if self.variant == "detr":
            return self.processor.post_process_object_detection(outputs, threshold=self.threshold)
        top_k = min(self.top_k, outputs.logits.shape[1] * outputs.logits.shape[2])
        return self.processor.post_process_object_detection(outputs, threshold=self.threshold, top_k=top_k)

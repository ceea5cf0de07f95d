"""The evaluate step's picture for the detector: one frame, its true boxes and the predicted ones; and
the boxes drawn onto a frame at its own size, a frame of predict()'s annotated video."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

COLOURS = ("#1f77b4", "#ff7f0e", "#e377c2", "#ffff33")  # player, goalkeeper, referee, ball


def draw_boxes(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """A copy of ``image`` (RGB) with ``boxes`` (N, 4: x0, y0, x1, y1 in its pixels) in their class's
    colour (as the figures) and each score above its box; lines and text grow with the image."""
    canvas = np.ascontiguousarray(image).copy()
    thickness = max(1, round(image.shape[1] / 640))
    for (x0, y0, x1, y1), label, score in zip(boxes.tolist(), labels.tolist(), scores.tolist(), strict=True):
        colour = COLOURS[int(label) % len(COLOURS)]
        rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        cv2.rectangle(canvas, (round(x0), round(y0)), (round(x1), round(y1)), rgb, thickness)
        where = (round(x0), max(round(y0) - 3, 8 * thickness))
        cv2.putText(canvas, f"{score:.2f}", where, cv2.FONT_HERSHEY_SIMPLEX, 0.35 * thickness, rgb, thickness)
    return canvas


def detection_picture(
    image: np.ndarray,
    truth: tuple[np.ndarray, np.ndarray],
    predicted: tuple[np.ndarray, np.ndarray, np.ndarray],
    classes: Sequence[str],
    threshold: float,
    title: str = "",
):
    """A matplotlib figure of ``image`` (RGB) with true boxes dashed and detections above ``threshold`` solid.

    ``truth`` is (boxes (N, 4), labels (N,)), ``predicted`` (boxes (M, 4), labels (M,), scores (M,));
    boxes are (x0, y0, x1, y1) in the image's pixels.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    height, width = image.shape[:2]
    figure, ax = plt.subplots(figsize=(12, 12 * height / width + 0.6))
    ax.imshow(image)
    for (x0, y0, x1, y1), label in zip(*truth, strict=True):
        colour = COLOURS[int(label) % len(COLOURS)]
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=colour, lw=1.2, ls="--"))
    boxes, labels, scores = predicted
    shown = scores >= threshold
    for (x0, y0, x1, y1), label, score in zip(boxes[shown], labels[shown], scores[shown], strict=True):
        colour = COLOURS[int(label) % len(COLOURS)]
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=colour, lw=1.8))
        ax.text(x0, y0 - 2, f"{score:.2f}", color=colour, fontsize=7, va="bottom")
    handles = [Line2D([], [], color=c, lw=2, label=name) for name, c in zip(classes, COLOURS, strict=False)]
    handles += [
        Line2D([], [], color="white", lw=1.2, ls="--", label="truth"),
        Line2D([], [], color="white", lw=1.8, label=f"detected (score >= {threshold:g})"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=8, facecolor="#333333", labelcolor="white")
    ax.set_title(title or f"{int(shown.sum())} detections, {len(truth[1])} true boxes")
    ax.set_axis_off()
    figure.tight_layout()
    return figure

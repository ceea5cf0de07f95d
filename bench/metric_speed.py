"""How long the calibration metric takes on a validation-sized split, ours vs SoccerNet's.

Frames are synthetic (random broadcast cameras, their annotations, and the camera
slightly perturbed as a model's prediction would be). The official evaluator is timed on
a few frames and extrapolated, because running it on the whole split takes over an hour.

    python bench/metric_speed.py --frames 3212 --reference-frames 50
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from colab_utils.geometry.camera import Camera
from colab_utils.geometry.metric import EVAL_HEIGHT, EVAL_WIDTH, THRESHOLDS, CalibrationMetric
from colab_utils.synthetic.annotate import annotate
from colab_utils.synthetic.cameras import random_camera


def synthetic_split(frames: int, seed: int) -> list[tuple[dict, dict]]:
    """(predicted camera JSON, annotation) pairs, predictions off by a fraction of a degree."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(frames):
        camera, _ = random_camera(rng)
        annotation = annotate(camera, rng)
        guess = Camera.from_json(camera.to_json())
        guess.pan += rng.normal(0, 0.3)
        guess.tilt += rng.normal(0, 0.3)
        guess.fx = guess.fy = camera.fx * (1 + rng.normal(0, 0.02))
        pairs.append((guess.to_json(), annotation))
    return pairs


def time_ours(pairs: list[tuple[dict, dict]]) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    metric = CalibrationMetric()
    for camera, annotation in pairs:
        metric.update(camera, annotation)
    return time.perf_counter() - start, metric.compute()


def time_reference(pairs: list[tuple[dict, dict]]) -> float:
    """The official per-frame work of CameraCalibration.evaluate, once per threshold as it is run."""
    from SoccerNet.Evaluation.utils_calibration import (
        evaluate_camera_prediction,
        get_polylines,
        mirror_labels,
        scale_points,
    )

    start = time.perf_counter()
    for threshold in THRESHOLDS:
        for camera, annotation in pairs:
            groundtruth = scale_points(annotation, EVAL_WIDTH, EVAL_HEIGHT)
            polylines = get_polylines(camera, EVAL_WIDTH, EVAL_HEIGHT, sampling_factor=0.9)
            evaluate_camera_prediction(polylines, groundtruth, threshold)
            evaluate_camera_prediction(polylines, mirror_labels(groundtruth), threshold)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3212)
    parser.add_argument("--reference-frames", type=int, default=0, help="0 skips the official evaluator")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    pairs = synthetic_split(args.frames, args.seed)
    seconds, results = time_ours(pairs)
    print(f"ours: {seconds:.1f} s for {len(pairs)} frames ({1000 * seconds / len(pairs):.2f} ms/frame)")
    print("  " + ", ".join(f"{k} {v:.4f}" for k, v in results.items()))
    if args.reference_frames:
        sample = pairs[: args.reference_frames]
        reference = time_reference(sample)
        estimate = reference / len(sample) * len(pairs)
        print(
            f"reference: {reference:.1f} s for {len(sample)} frames x {len(THRESHOLDS)} thresholds"
            f" -> about {estimate / 60:.0f} min for {len(pairs)} frames ({estimate / seconds:.0f}x ours)"
        )


if __name__ == "__main__":
    main()

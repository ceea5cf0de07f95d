"""Cameras recovered from keypoints, judged by the official calibration metric."""

from __future__ import annotations

import numpy as np
import pytest

from colab_utils.geometry.calibrate import (
    camera_from_homography,
    camera_from_keypoints,
    focal_from_homography,
)
from colab_utils.geometry.camera import Camera
from colab_utils.geometry.keypoints import WORLD_57
from colab_utils.geometry.metric import CalibrationMetric
from colab_utils.synthetic.annotate import annotate
from colab_utils.synthetic.cameras import KINDS, random_camera, visible_keypoints

NOISE_PX = 0.5


def _detections(camera: Camera, rng: np.random.Generator, drop: float = 0.0) -> np.ndarray:
    """What a good keypoint model would output: visible keypoints with pixel noise, NaN elsewhere."""
    uv, _ = camera.project(WORLD_57)
    keep = visible_keypoints(camera) & (rng.random(len(WORLD_57)) >= drop)
    return np.where(keep[:, None], uv + rng.normal(0, NOISE_PX, uv.shape), np.nan)


def _scores(kind: str | None, count: int, seed: int, drop: float = 0.0) -> tuple[dict, dict]:
    """Metric of the calibrated cameras and, for reference, of the true ones on the same frames."""
    rng = np.random.default_rng(seed)
    fitted, true = CalibrationMetric(), CalibrationMetric()
    for _ in range(count):
        camera, _ = random_camera(rng, kind)
        annotation = annotate(camera, rng)
        fitted.update(camera_from_keypoints(_detections(camera, rng, drop)), annotation)
        true.update(camera, annotation)
    return fitted.compute(), true.compute()


def test_homography_gives_back_the_camera():
    rng = np.random.default_rng(0)
    for kind in KINDS:
        camera, _ = random_camera(rng, kind)
        H = camera.ground_homography()
        assert focal_from_homography(H, camera.cx, camera.cy) == pytest.approx(camera.fx, rel=1e-6)
        recovered = camera_from_homography(H * -3.0)  # a homography's scale and sign are arbitrary
        assert recovered is not None
        np.testing.assert_allclose(recovered.rotation, camera.rotation, atol=1e-6)
        np.testing.assert_allclose(recovered.position, camera.position, atol=1e-4)


def test_homography_without_a_focal_length_gives_none():
    assert camera_from_homography(np.eye(3)) is None


@pytest.mark.parametrize("kind", KINDS)
def test_calibrating_true_keypoints_scores_like_the_true_camera(kind):
    fitted, true = _scores(kind, count=100, seed=KINDS.index(kind))
    print(f"{kind}: acc@5 fitted {fitted['acc@5']:.4f}, true camera {true['acc@5']:.4f}")
    assert fitted["completeness"] >= 0.95
    # the true camera itself loses a few points to what the annotator skipped (see test_metric)
    assert fitted["acc@5"] >= true["acc@5"] - 0.03


def test_calibrating_a_broadcast_mix_reaches_095():
    fitted, true = _scores(None, count=300, seed=10)
    print(f"mix: acc@5 fitted {fitted['acc@5']:.4f}, true camera {true['acc@5']:.4f}")
    assert fitted["final_score"] >= 0.95


def test_calibration_survives_missing_keypoints():
    fitted, true = _scores(None, count=150, seed=11, drop=0.2)
    print(f"20% dropped: {fitted}")
    assert fitted["completeness"] >= 0.95
    assert fitted["acc@5"] >= true["acc@5"] - 0.04


def test_one_wrong_keypoint_is_dropped():
    rng = np.random.default_rng(12)
    robust, naive = CalibrationMetric(), CalibrationMetric()
    for _ in range(40):
        camera, _ = random_camera(rng, "main_high", min_keypoints=10)
        annotation = annotate(camera, rng)
        xy = _detections(camera, rng)
        xy[rng.choice(np.flatnonzero(np.isfinite(xy[:, 0])))] += rng.choice([-1, 1], 2) * 40.0
        robust.update(camera_from_keypoints(xy), annotation)
        naive.update(camera_from_keypoints(xy, max_outliers=0), annotation)
    assert robust.compute()["acc@5"] >= 0.9
    assert robust.compute()["acc@5"] > naive.compute()["acc@5"] + 0.2


def _keypoint_shift(fitted: Camera, camera: Camera) -> float:
    """Largest pixel distance between where the two cameras put the keypoints ``camera`` sees."""
    seen = WORLD_57[visible_keypoints(camera)]
    return float(np.linalg.norm(fitted.project(seen)[0] - camera.project(seen)[0], axis=1).max())


def test_low_confidence_keypoints_are_ignored():
    rng = np.random.default_rng(13)
    camera, _ = random_camera(rng, "main_high", min_keypoints=10)
    xy = _detections(camera, rng)
    confidence = np.where(np.isfinite(xy[:, 0]), 0.9, 0.0)
    wrong = np.flatnonzero(~np.isfinite(xy[:, 0]))[:5]
    xy[wrong] = rng.uniform(0, 500, (len(wrong), 2))
    confidence[wrong] = 0.1
    fitted = camera_from_keypoints(xy, confidence, max_outliers=0)
    assert fitted is not None
    assert _keypoint_shift(fitted, camera) < 2.0
    assert camera_from_keypoints(xy, confidence, min_confidence=0.0, max_outliers=0) is not None


def test_three_points_are_not_enough():
    rng = np.random.default_rng(14)
    camera, _ = random_camera(rng, "main_high", min_keypoints=10)
    xy = _detections(camera, rng)
    xy[np.flatnonzero(np.isfinite(xy[:, 0]))[3:]] = np.nan
    assert camera_from_keypoints(xy) is None
    assert camera_from_keypoints(np.full((57, 2), np.nan)) is None


def test_mirrored_image_has_no_camera():
    """Flipped pixels with unflipped labels fit only a camera under the pitch: reject, return None."""
    rng = np.random.default_rng(15)
    for _ in range(40):
        camera, _ = random_camera(rng)
        xy = _detections(camera, rng)
        xy[:, 0] = camera.image_size[0] - 1 - xy[:, 0]
        assert camera_from_keypoints(xy) is None

"""The calibration metric against SoccerNet's own evaluator (installed, used as an oracle)."""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest

from colab_utils.geometry import metric as M
from colab_utils.geometry import pitch as P
from colab_utils.geometry.camera import Camera
from colab_utils.synthetic.annotate import annotate
from colab_utils.synthetic.cameras import KINDS, random_camera

W, H = M.EVAL_WIDTH, M.EVAL_HEIGHT


@pytest.fixture(scope="module")
def ref():
    """SoccerNet's own evaluator, the oracle: read for its rules, called here, never copied."""
    return pytest.importorskip("SoccerNet.Evaluation.utils_calibration")


def _frames(count: int, seed: int) -> list[tuple[Camera, dict]]:
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        camera, _ = random_camera(rng, KINDS[i % len(KINDS)])
        frames.append((camera, annotate(camera, rng)))
    return frames


def _prediction(camera: Camera, rng: np.random.Generator, style: int) -> Camera:
    """The true camera, a slightly wrong one, a badly wrong one, or one with lens distortion."""
    if style == 0:
        return camera
    if style == 3:
        return dataclasses.replace(
            camera,
            radial=np.array([rng.normal(0, 0.1), rng.normal(0, 0.02), 0, 0, 0, 0]),
            tangential=[1e-3, 0],
        )
    spread = 0.3 if style == 1 else 3.0
    focal = camera.fx * (1 + rng.normal(0, spread / 20))
    return dataclasses.replace(
        camera,
        pan=camera.pan + rng.normal(0, spread),
        tilt=camera.tilt + rng.normal(0, spread),
        roll=camera.roll + rng.normal(0, spread / 3),
        position=camera.position + rng.normal(0, spread, 3),
        fx=focal,
        fy=focal,
    )


def _official_counts(ref, camera_json: dict, annotation: dict, threshold: float) -> tuple[int, int, int]:
    """One frame at one threshold exactly as SoccerNet's CameraCalibration.evaluate scores it."""
    polylines = ref.get_polylines(camera_json, W, H, sampling_factor=0.9)
    groundtruth = ref.scale_points(annotation, W, H)
    original, _, _ = ref.evaluate_camera_prediction(polylines, groundtruth, threshold)
    mirrored, _, _ = ref.evaluate_camera_prediction(polylines, ref.mirror_labels(groundtruth), threshold)
    accuracies = [c[0, 0] / c.sum() if c.sum() > 0 else 0.0 for c in (original, mirrored)]
    chosen = original if accuracies[0] > accuracies[1] else mirrored
    return int(chosen[0, 0]), int(chosen[0, 1]), int(chosen[1, 0])


def test_pitch_samples_are_soccernets(ref):
    theirs = ref.SoccerPitch().sample_field_points(M.LINE_STEP_M)
    assert set(theirs) == set(P.CLASS_NAMES)
    for index, name in enumerate(P.CLASS_NAMES):
        np.testing.assert_allclose(
            M.SAMPLES[np.equal(M.SAMPLE_CLASS, index)], np.array(theirs[name]), atol=1e-9
        )


def test_clipped_polylines_match_reference(ref):
    rng = np.random.default_rng(1)
    for i, (camera, _) in enumerate(_frames(100, seed=1)):
        prediction = _prediction(camera, rng, i % 4).to_json()
        theirs = ref.get_polylines(prediction, W, H, sampling_factor=0.9)
        ours = M.project_polylines(prediction)
        assert set(ours) == set(theirs), i
        for name, points in theirs.items():
            expected = np.array([[p["x"], p["y"]] for p in points])
            # the reference rounds projections to float32 (its distortion step); extrapolating
            # a border crossing from two close samples magnifies that to a few thousandths of a pixel
            np.testing.assert_allclose(ours[name], expected, atol=0.05, err_msg=f"frame {i} {name}")


def test_frame_scores_and_aggregate_match_reference(ref):
    rng = np.random.default_rng(2)
    frames = _frames(24, seed=2)  # the reference needs ~1 s per frame
    metric = M.CalibrationMetric()
    official: dict[float, list[float]] = {t: [] for t in M.THRESHOLDS}
    for i, (camera, annotation) in enumerate(frames):
        if i % 12 == 11:
            metric.update(None, annotation)
            continue
        prediction = _prediction(camera, rng, i % 4).to_json()
        ours = M.frame_scores(prediction, annotation)
        for t in M.THRESHOLDS:
            counts = _official_counts(ref, prediction, annotation, t)
            assert ours[t] == counts, (i, t)
            official[t].append(counts[0] / sum(counts) if sum(counts) else 0.0)
        metric.update(prediction, annotation)
    results = metric.compute()
    assert results["completeness"] == pytest.approx(22 / 24)
    for t in M.THRESHOLDS:
        assert results[f"acc@{t}"] == pytest.approx(np.mean(official[t]), abs=1e-6)
    assert results["final_score"] == pytest.approx(results["completeness"] * results["acc@5"])
    # the frames must exercise both outcomes, or the comparison proves little
    assert 0.0 < results["acc@5"] < 1.0


def test_unmodelled_classes_and_empty_frames_follow_reference(ref):
    camera, annotation = _frames(1, seed=3)[0]
    odd = dict(annotation, **{"Line unknown": [{"x": 0.5, "y": 0.5}], "Side line top": []})
    looking_up = dataclasses.replace(camera, tilt=170.0).to_json()
    for prediction, labels in [
        (camera.to_json(), odd),
        (camera.to_json(), {}),
        (looking_up, {}),
        (looking_up, odd),
    ]:
        ours = M.frame_scores(prediction, labels)
        assert ours == {t: _official_counts(ref, prediction, labels, t) for t in M.THRESHOLDS}


def _near_corner(points: np.ndarray, margin: float = 60.0) -> bool:
    x_edge = np.minimum(points[:, 0], W - 1 - points[:, 0]) < margin
    y_edge = np.minimum(points[:, 1], H - 1 - points[:, 1]) < margin
    return bool(np.any(x_edge & y_edge))


def test_true_camera_scores_one():
    """The true camera is perfect wherever the official rules allow it to be.

    Two things cost the true camera points in SoccerNet's metric, here and on real data:
    a marking whose visible part is too short to annotate (under 8 px for our annotator)
    is still projected, an FP; and a polyline clipped at an image corner may be cut short,
    because the evaluator inserts the border crossing nearest the inside sample, which can
    be on the wrong border. Frames free of both must score 1 at every threshold.
    """
    clean = 0
    for camera, annotation in _frames(80, seed=4):
        projected = M.project_polylines(camera)
        annotated = M.annotation_pixels(annotation)
        if set(projected) != set(annotated) or any(_near_corner(p) for p in annotated.values()):
            continue
        clean += 1
        scores = M.frame_scores(camera, annotation)
        assert all(fp == fn == 0 for _, fp, fn in scores.values()), scores
    assert clean >= 25


def _accuracy_at_5(frames: list[tuple[Camera, dict]], change) -> float:
    metric = M.CalibrationMetric()
    for camera, annotation in frames:
        metric.update(change(camera), annotation)
    return metric.compute()["acc@5"]


def test_worse_cameras_score_lower():
    frames = _frames(40, seed=5)
    by_pan = [
        _accuracy_at_5(frames, lambda c, d=d: dataclasses.replace(c, pan=c.pan + d))
        for d in (0, 0.2, 0.5, 1, 2)
    ]
    by_focal = [
        _accuracy_at_5(frames, lambda c, s=s: dataclasses.replace(c, fx=c.fx * s, fy=c.fy * s))
        for s in (1.0, 1.01, 1.03, 1.1)
    ]
    for scores in (by_pan, by_focal):
        assert scores[0] > 0.95
        assert all(a > b for a, b in itertools.pairwise(scores)), scores


def test_missing_prediction_lowers_completeness_only():
    frames = _frames(8, seed=6)
    everything, some = M.CalibrationMetric(), M.CalibrationMetric()
    for i, (camera, annotation) in enumerate(frames):
        everything.update(camera.to_json(), annotation)
        some.update(camera.to_json() if i % 2 else None, annotation)
    only_predicted = M.CalibrationMetric()
    for camera, annotation in frames[1::2]:
        only_predicted.update(camera, annotation)
    assert everything.compute()["completeness"] == 1.0
    assert some.compute()["completeness"] == 0.5
    assert some.compute()["acc@5"] == only_predicted.compute()["acc@5"]
    assert some.compute()["final_score"] == pytest.approx(0.5 * only_predicted.compute()["acc@5"])


def test_mirrored_labels_score_the_same():
    rng = np.random.default_rng(7)
    for i, (camera, annotation) in enumerate(_frames(20, seed=7)):
        prediction = _prediction(camera, rng, i % 3)
        mirrored = {P.ROTATE_CLASSES[name]: points for name, points in annotation.items()}
        for (tp, fp, fn), (mtp, mfp, mfn) in zip(
            M.frame_scores(prediction, annotation).values(),
            M.frame_scores(prediction, mirrored).values(),
            strict=True,
        ):
            assert tp / (tp + fp + fn) == mtp / (mtp + mfp + mfn)


def test_camera_object_and_json_score_the_same():
    camera, annotation = _frames(1, seed=8)[0]
    guess = dataclasses.replace(camera, pan=camera.pan + 0.3)
    assert M.frame_scores(guess, annotation) == M.frame_scores(guess.to_json(), annotation)


def test_evaluate_folder_reads_soccernet_layout(tmp_path):
    predictions, annotations = tmp_path / "pred", tmp_path / "valid"
    predictions.mkdir()
    annotations.mkdir()
    (annotations / "match_info.json").write_text(json.dumps({"not": "a frame"}))
    metric = M.CalibrationMetric()
    for i, (camera, annotation) in enumerate(_frames(6, seed=9)):
        (annotations / f"{i:05d}.json").write_text(json.dumps(annotation))
        guess = dataclasses.replace(camera, tilt=camera.tilt + 0.2 * i)
        if i != 4:
            (predictions / f"camera_{i:05d}.json").write_text(json.dumps(guess.to_json()))
        metric.update(None if i == 4 else guess, annotation)
    assert M.evaluate_folder(predictions, annotations) == pytest.approx(metric.compute())
    assert metric.compute()["completeness"] == pytest.approx(5 / 6)


def test_compute_without_frames_is_an_error():
    with pytest.raises(ValueError):
        M.CalibrationMetric().compute()


def test_pck_counts_missing_predictions_as_misses():
    true = np.array([[100.0, 100.0], [200.0, 200.0], [300.0, 300.0], [400.0, 400.0]])
    pred = true + [[3.0, 4.0], [0.0, 9.0], [np.nan, np.nan], [50.0, 0.0]]
    visible = np.array([True, True, True, False])
    assert M.pck(pred, true, visible, (5, 10)) == {5: pytest.approx(0.0), 10: pytest.approx(2 / 3)}
    assert M.pck(pred, true, visible, (5.01,))[5.01] == pytest.approx(1 / 3)
    batch = M.pck(np.stack([pred, true]), np.stack([true, true]), np.stack([visible, visible]), (1,))
    assert batch[1] == pytest.approx(3 / 6)
    assert np.isnan(M.pck(pred, true, np.zeros(4, bool), (5,))[5])

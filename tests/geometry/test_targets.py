"""Keypoint targets from SoccerNet annotations: accurate, honest about what is unknown, symmetric."""

from __future__ import annotations

import numpy as np
import pytest

from colab_utils.geometry.camera import Camera
from colab_utils.geometry.keypoints import WORLD_57
from colab_utils.geometry.targets import (
    DEFAULT_MARGIN_PX,
    ON_CLASSES,
    KeypointTargets,
    Source,
    canonical_side,
    conic_tangent_points,
    fit_ellipse,
    flip_annotation,
    flip_targets,
    keypoints_from_annotation,
    rotate_annotation,
    rotate_targets,
)
from colab_utils.synthetic.annotate import annotate
from colab_utils.synthetic.cameras import KINDS, look_at, random_camera

W, H = 960, 540
CIRCLE_DERIVED = (30, 31, 32, 33, 40, 41, 44, 45, 46, 47, 51, 52, 53, 54)


@pytest.fixture(scope="module")
def frames() -> list[tuple[Camera, dict, KeypointTargets]]:
    rng = np.random.default_rng(2024)
    out = []
    for i in range(320):
        camera, _ = random_camera(rng, KINDS[i % len(KINDS)])
        annotation = annotate(camera, rng, W, H)
        out.append((camera, annotation, keypoints_from_annotation(annotation, W, H)))
    return out


def test_targets_lie_on_the_true_projections(frames) -> None:
    errors: dict[Source, list[float]] = {s: [] for s in (Source.LINES, Source.ELLIPSE, Source.HOMOGRAPHY)}
    for camera, _, targets in frames:
        truth, depth = camera.project(WORLD_57)
        for k in np.flatnonzero(targets.visible):
            assert depth[k] > 0
            errors[Source(targets.source[k])].append(float(np.linalg.norm(targets.xy[k] - truth[k])))
    print()
    for source, errs in errors.items():
        e = np.array(errs)
        median, p95 = np.median(e), np.percentile(e, 95)
        print(f"{source.name:>10}: n={len(e)} median {median:.2f} px, p95 {p95:.2f} px")
        assert len(e) > 500
        assert median < 1.5
        assert p95 < 8.0


def test_circle_points_come_from_ellipses_and_the_rest_from_the_homography(frames) -> None:
    for _, _, targets in frames:
        assert set(np.flatnonzero(targets.source == Source.LINES)) <= set(range(30))
        assert set(np.flatnonzero(targets.source == Source.ELLIPSE)) <= set(CIRCLE_DERIVED)
        if targets.homography is None:
            assert not np.any(targets.source == Source.HOMOGRAPHY)


def test_keypoints_out_of_frame_are_not_visible(frames) -> None:
    slack = DEFAULT_MARGIN_PX + 5.0  # the margin, plus what 0.5 px annotation noise can move a fit
    for camera, _, targets in frames:
        truth, depth = camera.project(WORLD_57)
        with np.errstate(invalid="ignore"):
            inside = (
                (depth > 0)
                & (truth[:, 0] > -slack)
                & (truth[:, 0] < W - 1 + slack)
                & (truth[:, 1] > -slack)
                & (truth[:, 1] < H - 1 + slack)
            )
        assert not np.any(targets.visible & ~inside)


def test_mask_semantics(frames) -> None:
    for _, annotation, t in frames:
        known = t.source != Source.NONE
        assert np.array_equal(known, np.isfinite(t.xy).all(axis=1))
        assert np.all(t.mask[t.visible]) and np.all(t.mask[known])
        assert not np.any(t.visible & ~known)
        for k in np.flatnonzero(~t.mask):
            assert all(name in annotation for name in ON_CLASSES[k]), "unknown, yet a marking of it is absent"


def test_without_homography_circle_channels_are_masked_not_negative() -> None:
    # Only the halfway line and the far touch line: one keypoint, no homography.
    annotation = {
        "Middle line": [{"x": 0.5, "y": 0.2}, {"x": 0.45, "y": 0.9}],
        "Side line top": [{"x": 0.1, "y": 0.2}, {"x": 0.9, "y": 0.21}],
        "Circle central": [{"x": 0.5 + 0.1 * np.cos(a), "y": 0.6 + 0.05 * np.sin(a)} for a in (0, 1, 2, 3)],
    }
    t = keypoints_from_annotation(annotation, W, H)
    assert t.homography is None
    assert t.visible[15] and t.source[15] == Source.LINES
    assert not t.mask[34:40].any()  # on the annotated centre circle (4 points: no ellipse), unknown
    assert not t.mask[[48, 55]].any()  # the penalty marks lie on no marking: only a homography says
    assert t.mask[[8, 9, 43, 50]].all() and not t.visible[[8, 9, 43, 50]].any()  # boxes not annotated


def test_malformed_annotations_never_raise() -> None:
    nan, far = float("nan"), 1e6
    cases = [
        {},
        {"Middle line": [{"x": 0.5, "y": 0.5}]},
        {"Middle line": [{"x": 0.5, "y": 0.5}, {"x": 0.5, "y": 0.5}], "Side line top": []},
        {"Middle line": [{"x": nan, "y": 0.5}, {"x": 0.5, "y": 0.9}], "Side line top": [{"x": far, "y": 3}]},
        {"Circle central": [{"x": 0.1 * i, "y": 0.5} for i in range(9)]},  # collinear "circle"
        {"Circle left": [{"x": "a", "y": None}, {"y": 0.2}, "junk"], "Line unknown": [{"x": 0.1, "y": 0.1}]},
        {"Goal left post left": [{"x": 0.2, "y": 0.2}, {"x": 0.2, "y": 0.4}]},  # no trailing space
    ]
    for annotation in cases:
        t = keypoints_from_annotation(annotation, W, H)
        assert t.xy.shape == (57, 2) and t.visible.shape == t.mask.shape == (57,)
        assert not np.any(t.visible & ~np.isfinite(t.xy).all(axis=1))
    one_point = {
        "Middle line": [{"x": 0.5, "y": 0.5}],
        "Side line top": [{"x": 0.1, "y": 0.2}, {"x": 0.9, "y": 0.2}],
    }
    t = keypoints_from_annotation(one_point, W, H)
    assert not t.mask[15]  # on two annotated lines, but one point fits no line: unknown
    assert t.mask[14] and not t.visible[14]  # the near touch line is not annotated: out of view


def test_flip_commutes_with_deriving(frames) -> None:
    for _, annotation, targets in frames:
        flipped_first = keypoints_from_annotation(flip_annotation(annotation), W, H)
        flipped_after = flip_targets(targets, W)
        for field in ("visible", "mask", "source"):
            assert np.array_equal(getattr(flipped_first, field), getattr(flipped_after, field))
        assert np.array_equal(np.isnan(flipped_first.xy), np.isnan(flipped_after.xy))
        v = flipped_after.visible
        np.testing.assert_allclose(flipped_first.xy[v], flipped_after.xy[v], rtol=0, atol=1e-6)


def test_flipped_targets_match_the_mirrored_camera(frames) -> None:
    camera, annotation, _ = frames[0]
    mirrored = keypoints_from_annotation(flip_annotation(annotation), W, H)
    truth, _ = camera.project(WORLD_57 * [-1.0, 1.0, 1.0])  # keypoint k of the mirror is at world -x
    truth[:, 0] = (W - 1) - truth[:, 0]
    visible = np.flatnonzero(mirrored.visible)
    assert len(visible) >= 6
    assert np.median(np.linalg.norm(mirrored.xy[visible] - truth[visible], axis=1)) < 1.5


def test_180_degree_relabelling_renames_keypoints(frames) -> None:
    for _, annotation, targets in frames[:80]:
        relabelled = keypoints_from_annotation(rotate_annotation(annotation), W, H)
        expected = rotate_targets(targets)
        assert np.array_equal(relabelled.visible, expected.visible)
        assert np.array_equal(relabelled.mask, expected.mask)
        v = expected.visible
        np.testing.assert_allclose(relabelled.xy[v], expected.xy[v], rtol=0, atol=1e-6)


def test_behind_the_goal_views_get_one_canonical_labelling() -> None:
    rng = np.random.default_rng(11)
    behind_right = look_at(np.array([68.0, 4.0, -16.0]), np.array([38.0, -3.0, 0.0]), 0.5, 55.0, W, H)
    annotation = annotate(behind_right, rng, W, H)
    twin = rotate_annotation(annotation)  # what an annotator who took the other end would write
    assert any("right" in name for name in annotation) and any("left" in name for name in twin)
    canonical = canonical_side(annotation)
    assert canonical == canonical_side(twin)
    assert canonical == twin  # the visible goal is the left one
    main = annotate(random_camera(rng, "main_high")[0], rng, W, H)
    assert canonical_side(main) == main  # main camera at the bottom: SoccerNet's own convention
    assert canonical_side(rotate_annotation(main)) == main


def test_ellipse_fit_and_tangents_on_an_exact_ellipse() -> None:
    angles = np.linspace(0.3, 2.0, 9)  # a partial arc, as annotators see one
    points = np.column_stack([400 + 120 * np.cos(angles), 300 + 40 * np.sin(angles)])
    conic = fit_ellipse(points)
    homogeneous = np.column_stack([points, np.ones(len(points))])
    assert np.abs(np.einsum("ij,jk,ik->i", homogeneous, conic, homogeneous)).max() < 1e-9
    touches = conic_tangent_points(np.array([400.0, 500.0]), conic)
    # From (400, 500) the tangents touch x^2/120^2 + y^2/40^2 = 1 where y = 40^2 / 200.
    np.testing.assert_allclose(sorted(touches[:, 0]), 400 + np.array([-1, 1]) * 120 * np.sqrt(1 - 0.2**2))
    np.testing.assert_allclose(touches[:, 1], 300 + 40**2 / 200)
    assert fit_ellipse(points[:4]) is None
    assert fit_ellipse(np.column_stack([np.arange(9.0), 2 * np.arange(9.0)])) is None

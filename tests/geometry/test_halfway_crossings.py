"""Keypoints 40/41 from a frame that annotates only the centre circle and the halfway line."""

from __future__ import annotations

import numpy as np
import pytest

from colab_utils.geometry.keypoints import WORLD_57
from colab_utils.geometry.targets import Source, keypoints_from_annotation, rotate_annotation
from colab_utils.synthetic.annotate import annotate
from colab_utils.synthetic.cameras import look_at

W, H = 960, 540
ONLY = ("Circle central", "Middle line")


def cameras() -> list:
    """Known cameras that see the centre circle with the touch lines out of view."""
    rng = np.random.default_rng(40)
    out = []
    for _ in range(12):  # main cameras beside the bottom touch line, zoomed on the centre
        position = np.array([rng.uniform(-10, 10), 34 + rng.uniform(12, 35), -rng.uniform(8, 28)])
        target = np.array([rng.uniform(-4, 4), rng.uniform(-4, 4), 0.0])
        out.append(look_at(position, target, rng.normal(0, 1.0), rng.uniform(14, 22), W, H))
    for _ in range(4):  # behind the left goal, as canonical_side labels such a view
        position = np.array([-52.5 - rng.uniform(6, 20), rng.uniform(-6, 6), -rng.uniform(10, 22)])
        out.append(look_at(position, np.zeros(3), rng.normal(0, 1.0), rng.uniform(8, 12), W, H))
    return out


@pytest.mark.parametrize("camera", cameras())
def test_40_and_41_are_derived_within_a_pixel(camera) -> None:
    annotation = annotate(camera, np.random.default_rng(0), W, H, noise_px=0.0)
    assert set(ONLY) <= set(annotation)
    only = {name: annotation[name] for name in ONLY}
    truth, depth = camera.project(WORLD_57[[40, 41]])
    assert (depth > 0).all()
    targets = keypoints_from_annotation(only, W, H, side_convention=True)
    assert (targets.source[[40, 41]] == Source.ELLIPSE).all()
    np.testing.assert_array_less(np.linalg.norm(targets.xy[[40, 41]] - truth, axis=1), 1.0)


def test_without_the_convention_the_names_are_left_open() -> None:
    """Circle and halfway line are their own 180-degree relabelling: only the convention names 40/41."""
    camera = cameras()[0]
    only = {name: annotate(camera, np.random.default_rng(0), W, H, noise_px=0.0)[name] for name in ONLY}
    assert rotate_annotation(only) == only
    targets = keypoints_from_annotation(only, W, H)
    assert (targets.source[[40, 41]] == Source.NONE).all() and not targets.mask[[40, 41]].any()

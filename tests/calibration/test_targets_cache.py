"""Keypoint targets derived once per split: the same targets and samples as derived per call, and a
cache that is rebuilt when its frames or its file change."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from colab_utils.calibration import targets_cache
from colab_utils.calibration.annotations import prepare_calibration
from colab_utils.calibration.frames import CalibrationFrames
from colab_utils.calibration.synthetic import generate_calibration_dataset
from colab_utils.calibration.targets_cache import PREFIX, frame_targets, split_targets

MARGIN = 6.0


@pytest.fixture()
def split(tmp_path: Path):
    zips = tmp_path / "zips"
    generate_calibration_dataset(zips, {"valid": 6})
    verified = prepare_calibration(tmp_path, ["valid"], zip_dir=zips, download=False)["valid"]
    return verified


def _frames(pairs, targets=None) -> CalibrationFrames:
    return CalibrationFrames(pairs, (480, 270), (480, 288), train=True, margin_px=MARGIN, targets=targets)


def test_cached_targets_equal_those_derived_per_frame_and_so_do_the_samples(split, monkeypatch):
    monkeypatch.setattr(targets_cache, "CHUNK", 2)  # two worker processes, as on a Colab runtime
    cached = split_targets(split.pairs, MARGIN, split.split_dir)
    assert len(list(split.split_dir.glob(f"{PREFIX}*.npz"))) == 1
    for index, (_, annotation) in enumerate(split.pairs):
        width, height = (int(v) for v in cached.sizes[index])
        derived = frame_targets(json.loads(annotation.read_text()), width, height, MARGIN)
        found = cached.get(index, width, height)
        for name in ("xy", "visible", "mask", "source"):
            np.testing.assert_array_equal(getattr(found, name), getattr(derived, name))
        assert (found.homography is None) == (derived.homography is None)
        if derived.homography is not None:
            np.testing.assert_array_equal(found.homography, derived.homography)
    with_cache, without = _frames(split.pairs, cached), _frames(split.pairs)
    with_cache.seed = without.seed = 3
    for key in [(0, i) for i in range(len(split.pairs))]:
        (image_a, target_a), (image_b, target_b) = with_cache[key], without[key]
        assert torch.equal(image_a, image_b)
        for name in target_a:
            assert torch.equal(target_a[name], target_b[name]) or (
                target_a[name].isnan().all() and target_b[name].isnan().all()
            ), name


def test_a_changed_annotation_or_a_damaged_file_is_derived_again(split):
    first = split_targets(split.pairs, MARGIN, split.split_dir)
    (old,) = split.split_dir.glob(f"{PREFIX}*.npz")

    annotation = split.pairs[0][1]
    content = json.loads(annotation.read_text())
    keep = next(name for name, points in content.items() if len(points) >= 2)
    annotation.write_text(json.dumps({keep: content[keep]}))  # most markings removed by hand
    os.utime(annotation, ns=(annotation.stat().st_atime_ns, annotation.stat().st_mtime_ns + 10**9))
    again = split_targets(split.pairs, MARGIN, split.split_dir)
    (new,) = split.split_dir.glob(f"{PREFIX}*.npz")
    assert new != old and not old.exists()
    assert not np.array_equal(again.visible[0], first.visible[0])

    whole = new.read_bytes()
    for damaged in (b"not an npz", whole[: len(whole) // 2], whole[:-200] + bytes(200)):
        new.write_bytes(damaged)  # derived again, not an error
        repaired = split_targets(split.pairs, MARGIN, split.split_dir)
        np.testing.assert_array_equal(repaired.visible, again.visible)
        assert new.read_bytes() == whole
    assert split_targets(split.pairs, MARGIN + 1, split.split_dir).xy.shape == again.xy.shape


def test_a_frame_decoded_at_another_size_than_its_header_says_is_derived_in_the_loader(split):
    cached = split_targets(split.pairs, MARGIN, split.split_dir)
    width, height = (int(v) for v in cached.sizes[0])
    assert cached.get(0, width, height) is not None
    assert cached.get(0, height, width) is None  # an EXIF rotation turned it

"""``data.synthetic_cameras``: the synthetic calibration frames drawn from the shots the user weighs."""

from __future__ import annotations

import json

import pytest

from colab_utils.calibration.source import prepare, source_root
from colab_utils.config import ConfigError, load_config

FEW = ["data.source=synthetic", "data.synthetic_frames.train=3", "data.synthetic_frames.valid=2"]


def test_frames_come_from_the_chosen_shots_in_a_folder_of_their_own(folders):
    cfg = load_config("homography", "smoke", [*FEW, "data.synthetic_cameras={behind_goal: 1}"], verbose=False)
    default = load_config("homography", "smoke", FEW, verbose=False)
    assert source_root(cfg) != source_root(default)  # frames of another mix are never reused
    prepare(cfg)
    zips = source_root(cfg) / "zips" / "calibration-2023"
    for split in ("train", "valid"):
        truth = json.loads((zips / f"{split}_cameras.json").read_text())
        assert {camera["kind"] for camera in truth.values()} == {"behind_goal"}


def test_an_unknown_shot_names_the_known_ones(folders):
    cfg = load_config("homography", "smoke", [*FEW, "data.synthetic_cameras={drone: 1.0}"], verbose=False)
    with pytest.raises(ConfigError, match="names drone: the camera kinds are main_high, main_low"):
        prepare(cfg)

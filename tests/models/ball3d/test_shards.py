"""ball3d's clips rendered once: the same samples as rendering them, verified, rebuilt when stale."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from colab_utils.config import load_config
from colab_utils.errors import DataNotPrepared
from colab_utils.models.ball3d.samples import BallClips, clip_spec
from colab_utils.models.ball3d.shards import MANIFEST, ClipShards, build_shards, shard_folder
from colab_utils.registry import get_task

CLIPS = 6


@pytest.fixture
def smoke(folders):
    return load_config("ball3d", "smoke", [f"data.clips.train={CLIPS}", "data.clips.valid=2"], verbose=False)


def _rendered(cfg, folder_root, augment=True) -> BallClips:
    clips = BallClips(clip_spec(cfg), CLIPS, 0, "train", augment)
    clips.shards = ClipShards(build_shards(folder_root, clips, workers=1, report=lambda _: None), CLIPS)
    return clips


def test_shards_hold_the_clips_rendering_gives(smoke, folders):
    stored = _rendered(smoke, folders["data"], augment=False)
    rendered = BallClips(clip_spec(smoke), CLIPS, 0, "train")
    for index in range(CLIPS):
        (inputs, target), (inputs_r, target_r) = stored[(0, index)], rendered[(0, index)]
        for name in target:
            assert torch.equal(target[name], target_r[name]), name
        for name in inputs:
            if name != "crops":
                assert torch.equal(inputs[name], inputs_r[name]), name
        error = (inputs["crops"].float() - inputs_r["crops"].float()).abs()
        assert error.mean() < 4 and inputs["crops"].shape == inputs_r["crops"].shape  # JPEG, quality 90


def test_augmentation_is_a_function_of_seed_epoch_and_index(smoke, folders):
    first, again = _rendered(smoke, folders["data"]), _rendered(smoke, folders["data"])
    a, b = first[(3, 2)][0]["crops"], again[(3, 2)][0]["crops"]
    assert torch.equal(a, b)  # a resumed run, another worker: the same sample
    assert not torch.equal(a, first[(4, 2)][0]["crops"])  # another epoch: another jitter


def test_a_damaged_shard_is_found_and_rendered_again(smoke, folders):
    clips = BallClips(clip_spec(smoke), CLIPS, 0, "train")
    folder = build_shards(folders["data"], clips, workers=1, report=lambda _: None)
    jpeg = next(folder.glob("*.jpeg"))
    good = jpeg.read_bytes()
    jpeg.write_bytes(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])
    said = []
    build_shards(folders["data"], clips, workers=1, report=said.append)
    assert said and "rendering" in said[0]
    assert jpeg.read_bytes() == good  # deterministic: the same bytes again


def test_a_changed_config_renders_anew_and_removes_the_stale_shards(smoke, folders):
    old = build_shards(folders["data"], BallClips(clip_spec(smoke), CLIPS, 0, "train"), 1, lambda _: None)
    overrides = [f"data.clips.train={CLIPS}", "data.miss_rate=0.2"]
    changed = load_config("ball3d", "smoke", overrides, verbose=False)
    clips = BallClips(clip_spec(changed), CLIPS, 0, "train")
    new = build_shards(folders["data"], clips, 1, lambda _: None)
    assert new != old and not old.exists() and (new / MANIFEST).exists()
    assert shard_folder(folders["data"], clips) == new
    assert json.loads((new / MANIFEST).read_text())["clips"] == CLIPS


def test_training_without_the_data_step_says_to_run_it(smoke):
    with pytest.raises(DataNotPrepared, match="run the data step"):
        get_task("ball3d").datasets(smoke)


def test_the_training_set_reads_the_shards_the_data_step_rendered(smoke):
    task = get_task("ball3d")
    task.prepare_data(smoke)
    train_set, valid_set = task.datasets(smoke)
    assert train_set.shards is not None and valid_set.shards is not None
    inputs, _ = train_set[(0, 1)]
    assert inputs["crops"].dtype == torch.uint8 and np.isfinite(inputs["geometry"].numpy()).all()

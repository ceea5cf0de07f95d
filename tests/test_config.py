"""Hydra compose of defaults, the model's recipe, a profile and overrides; the patch report."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONFIGS
from omegaconf import OmegaConf

from colab_utils.config import ConfigError, load_config
from colab_utils.runtime import GPU, Clock, Runtime


def fake_runtime(folders, gpu: GPU | None, profile: str) -> Runtime:
    return Runtime(False, gpu, profile, folders["drive"], folders["data"], Clock(None))


def test_profile_patch_is_applied_and_reported(folders, capsys):
    cfg = load_config("toy", "t4", config_dir=CONFIGS)
    out = capsys.readouterr().out
    assert cfg.train.batch_size == 4 and cfg.train.amp == "fp16" and cfg.profile == "t4"
    assert "train.batch_size  8 -> 4  (profile t4)" in out
    assert "train.amp  auto -> fp16  (profile t4)" in out


def test_user_overrides_win_over_the_profile_and_are_labelled(folders, capsys):
    cfg = load_config("toy", "t4", ["train.batch_size=2", "train.epochs=7"], config_dir=CONFIGS)
    out = capsys.readouterr().out
    assert cfg.train.batch_size == 2 and cfg.train.epochs == 7
    assert "train.batch_size  8 -> 2  (your override)" in out
    assert "train.epochs  3 -> 7  (your override)" in out


def test_run_folder_is_drive_project_model_run(folders):
    cfg = load_config("toy", "cpu", ["run.name=exp1"], config_dir=CONFIGS, verbose=False)
    assert cfg.run.dir == str(folders["drive"] / "colab_utils" / "toy" / "exp1")
    assert cfg.run.data_dir == str(folders["data"])


def test_unknown_key_names_the_nearest_valid_keys(folders):
    with pytest.raises(ConfigError) as error:
        load_config("toy", "cpu", ["train.batchsize=4"], config_dir=CONFIGS, verbose=False)
    text = str(error.value)
    assert "Unknown config key 'train.batchsize'" in text
    assert "Did you mean train.batch_size?" in text
    assert "Valid keys under train:" in text and "accumulate" in text


def test_adding_a_key_on_purpose_is_allowed(folders):
    cfg = load_config("toy", "cpu", ["+model.extra=3"], config_dir=CONFIGS, verbose=False)
    assert cfg.model.extra == 3


def test_wrong_value_type_is_refused(folders):
    with pytest.raises(ConfigError, match=r"train\.batch_size must be a number"):
        load_config("toy", "cpu", ["train.batch_size=four"], config_dir=CONFIGS, verbose=False)


def test_a_fraction_for_a_whole_number_names_key_value_and_type(folders):
    with pytest.raises(ConfigError) as error:
        load_config("toy", "cpu", ["train.batch_size=2.5"], config_dir=CONFIGS, verbose=False)
    assert str(error.value) == (
        "train.batch_size must be a number with no fractional part (the recipe has 8), got 2.5."
    )


def test_a_whole_number_may_stand_for_a_decimal_one(folders):
    cfg = load_config("toy", "cpu", ["model.dropout=0"], config_dir=CONFIGS, verbose=False)
    assert cfg.model.dropout == 0


def test_minutes_between_checkpoints_may_be_a_fraction():
    """The recipe's kind decides what an override may be: a checkpoint every 2.5 minutes is fine."""
    defaults = OmegaConf.load(Path(__file__).parents[1] / "configs" / "defaults.yaml")
    assert isinstance(defaults.checkpoint.every_minutes, float)


def test_bad_override_syntax_says_key_value(folders):
    with pytest.raises(ConfigError, match="Write key=value"):
        load_config("toy", "cpu", ["train.batch_size"], config_dir=CONFIGS, verbose=False)


def test_unknown_profile_and_model_list_the_valid_ones(folders):
    with pytest.raises(
        ConfigError, match=r"Unknown profile 't5'. Did you mean t4\? Valid profiles: auto, base, t4"
    ):
        load_config("toy", "t5", config_dir=CONFIGS, verbose=False)
    with pytest.raises(ConfigError, match=r"Unknown model 'tooy'. Did you mean toy\?"):
        load_config("tooy", "cpu", config_dir=CONFIGS, verbose=False)


def test_a_profile_with_a_typo_is_refused(folders, tmp_path):
    bad = tmp_path / "configs"
    bad.mkdir()
    (bad / "typo.yaml").write_text("task: x\nprofiles:\n  t4: {train: {batchsize: 2}}\n")
    with pytest.raises(ConfigError, match=r"in profile 't4'\. Did you mean train\.batch_size"):
        load_config("typo", "t4", config_dir=bad, verbose=False)


@pytest.mark.parametrize(
    ("gpu", "detected", "expected"),
    [
        (GPU("Tesla T4", 15.0, (7, 5)), "t4", "t4"),
        (GPU("NVIDIA L4", 22.0, (8, 9)), "l4", "t4"),  # toy defines no l4 profile: falls back to t4
        (GPU("NVIDIA A100", 40.0, (8, 0)), "a100", "base"),  # no a100 profile: the recipe as is
        (None, "cpu", "cpu"),
    ],
)
def test_auto_profile_follows_the_hardware(folders, gpu, detected, expected):
    cfg = load_config(
        "toy", "auto", runtime=fake_runtime(folders, gpu, detected), config_dir=CONFIGS, verbose=False
    )
    assert cfg.profile == expected


def test_derived_sizes_are_computed_once_from_the_input_size(folders, tmp_path, capsys):
    d = tmp_path / "configs"
    d.mkdir()
    (d / "heat.yaml").write_text(
        "task: x\ndata: {input_size: [960, 540]}\nmodel: {pad_multiple: 32, heatmap_stride: 2}\n"
        "train: {batch_size: 8, amp: bf16}\n"
        "profiles:\n  t4: {data: {input_size: [720, 405]},\n"
        "       train: {batch_size: 4, accumulate: 2, amp: fp16}}\n"
    )
    cfg = load_config("heat", "t4", config_dir=d)
    out = capsys.readouterr().out
    assert list(cfg.derived.padded_size) == [736, 416]  # timm's HRNet needs sides divisible by 32
    assert list(cfg.derived.heatmap_size) == [360, 203]
    assert list(cfg.derived.padded_heatmap_size) == [368, 208]
    assert cfg.derived.effective_batch_size == 8
    for line in (
        "data.input_size  960x540 -> 720x405",
        "derived.heatmap_size  480x270 -> 360x203",
        "bf16 -> fp16",
    ):
        assert line in out
    with pytest.raises(ConfigError, match="computed from other keys"):
        load_config("heat", "t4", ["derived.heatmap_size=[1,1]"], config_dir=d, verbose=False)

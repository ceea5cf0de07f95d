"""detr chooses its best weights on training clips held out by name, never on the test split, and
scores the test split once at the end, counting (not failing on) clips whose labels are elsewhere."""

from __future__ import annotations

import zipfile

import pytest

from colab_utils.config import ConfigError, load_config
from colab_utils.errors import DataError
from colab_utils.holdout import held_out_names
from colab_utils.models.detr import source as detr_source
from colab_utils.models.detr.synthetic.dataset import TRACKING, generate_detection_dataset
from colab_utils.pipeline import evaluate, prepare_data
from colab_utils.registry import get_task

SMALL = ["data.num_workers=0", "data.synthetic.frames=2", "data.synthetic.frame_size=[128,72]"]


def test_held_out_names_are_every_kth_by_name_whatever_the_order():
    names = [f"SNMOT-{i:03d}" for i in range(57, 0, -1)]
    held = held_out_names(names, 10)
    assert held == ["SNMOT-001", "SNMOT-011", "SNMOT-021", "SNMOT-031", "SNMOT-041", "SNMOT-051"]
    assert held_out_names(sorted(names), 10) == held
    with pytest.raises(DataError, match="at least 2"):
        held_out_names(["SNMOT-001"], 10)
    with pytest.raises(ConfigError, match="2 or more"):
        held_out_names(names, 1)


def test_selection_clips_are_disjoint_from_training_and_test_clips(folders):
    cfg = load_config("detr", "smoke", [*SMALL, "data.synthetic.clips.train=7"], verbose=False)
    prepare_data(cfg)
    trained_on, selection = detr_source.training_clips(cfg)
    detr_source.prepare(cfg, ["test"])
    test = detr_source.split_clips(cfg, "test")
    assert [c.name for c in selection] == ["SNMOT-001", "SNMOT-004", "SNMOT-007"]  # one in 3, by name
    assert len(trained_on) == 4 and not {c.name for c in trained_on} & {c.name for c in selection}
    assert not {c.folder for c in selection} & {c.folder for c in test}
    assert {c.folder.parent.name for c in selection} == {"train"}
    assert {c.folder.parent.name for c in test} == {"test"}
    train_set, val_set = get_task("detr").datasets(cfg)
    assert [c.name for c in val_set.clips] == [c.name for c in selection]
    assert [c.name for c in train_set.clips] == [c.name for c in trained_on]


def test_the_test_split_never_chooses_the_weights(folders):
    cfg = load_config("detr", "smoke", [*SMALL, "data.val_split=test"], verbose=False)
    with pytest.raises(ConfigError, match="must not be the one reported as test"):
        prepare_data(cfg)
    cfg = load_config("detr", "smoke", SMALL, verbose=False)
    with pytest.raises(ConfigError, match="chooses its best weights with"):
        evaluate(cfg, split="heldout")


def _test_zip_without_gt(cfg, unlabelled: set[str]) -> None:
    """The test zip the synthetic source would write, less the gt.txt of the ``unlabelled`` clips."""
    target = detr_source.source_root(cfg) / "zips" / TRACKING / "test.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    made = generate_detection_dataset(target.parents[2] / "made", {"test": 2}, 2, 0, 128, 72, [TRACKING])
    with zipfile.ZipFile(made.zips[TRACKING]["test"]) as source, zipfile.ZipFile(target, "w") as archive:
        for info in source.infolist():
            clip = info.filename.split("/")[1]
            if not (info.filename.endswith("gt/gt.txt") and clip in unlabelled):
                archive.writestr(info, source.read(info))


def test_clips_without_gt_are_counted_and_the_rest_scored(folders):
    cfg = load_config("detr", "smoke", [*SMALL, "data.synthetic.clips.valid=2"], verbose=False)
    _test_zip_without_gt(cfg, {"SNMOT-202"})
    summary = get_task("detr").prepare_split(cfg, "test")
    assert "test: 1 clips, 2 frames" in summary
    assert "1 clip(s) without labels (gt/gt.txt missing), not used" in summary
    assert [c.name for c in detr_source.labelled_clips(cfg, "test")] == ["SNMOT-201"]
    assert [c.name for c in get_task("detr").split_dataset(cfg, "test").clips] == ["SNMOT-201"]


def test_a_test_split_without_labels_explains_where_they_come_from(folders, capsys):
    cfg = load_config("detr", "smoke", [*SMALL, "data.synthetic.clips.valid=2"], verbose=False)
    _test_zip_without_gt(cfg, {"SNMOT-201", "SNMOT-202"})
    assert evaluate(cfg, split="test") is None  # no training needed to know there is nothing to score
    out = capsys.readouterr().out
    assert "test: 0 clips, 0 frames" in out and "2 clip(s) without labels" in out
    assert "'test_labels' (test2023-private.zip" in out and "SoccerNet/SN-GroundTruth" in out
    assert "Nothing to score on test" in out
    with pytest.raises(DataError, match=r"test2023-private\.zip"):
        detr_source.split_clips(cfg, "test")


def test_models_without_a_test_split_say_so(folders):
    cfg = load_config("gnn", "smoke", [], verbose=False)
    with pytest.raises(ConfigError, match="gnn has no test split"):
        evaluate(cfg, split="test")

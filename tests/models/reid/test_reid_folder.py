"""data.source=folder for reid: one folder per identity, and crops named as sn-reid names them,
each with a truncated image and a badly named crop, trained one epoch and evaluated; the
validation split is whole identities or actions, never frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from colab_utils.config import load_config
from colab_utils.errors import DataError
from colab_utils.models.reid import source as reid_source
from colab_utils.models.reid.files import CropName
from colab_utils.pipeline import evaluate, prepare_data, train

HEIGHT, WIDTH = 32, 16


def _crop(path: Path, seed: int, truncated: bool = False) -> None:
    colour = np.random.default_rng(seed).integers(0, 255, 3)
    image = np.full((HEIGHT, WIDTH, 3), colour, dtype=np.uint8)
    data = cv2.imencode(path.suffix, image)[1].tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) // 2] if truncated else data)


def _cfg(folder: Path, *overrides: str):
    return load_config(
        "reid",
        "smoke",
        [
            "data.source=folder",
            f"data.folder={folder}",
            "train.epochs=1",
            "train.batch_size=8",
            "data.num_workers=0",
            "logging.progress=false",
            *overrides,
        ],
        verbose=False,
    )


def _train_and_evaluate(cfg) -> None:
    result = train(cfg)
    assert result.epochs_done == 1 and result.global_step >= 1
    assert "val_map" in evaluate(cfg).metrics


def test_one_folder_per_identity_trains_and_holds_out_whole_identities(folders):
    folder = folders["tmp"] / "players"
    for person in range(10):
        for shot in range(4):
            _crop(folder / f"player {person}" / f"shot{shot}.jpg", person, truncated=(person, shot) == (1, 1))
    _crop(folder / "stray.jpg", 99)  # not in an identity folder
    cfg = _cfg(folder)
    summary = prepare_data(cfg)
    assert "held out 2 of 10 identities" in summary
    assert "1 unreadable image(s) skipped" in summary
    assert "1 file(s) with a malformed name skipped" in summary
    train_ids = {c.name.person_uid for c in reid_source.verified_split(cfg, "train").crops}
    valid = reid_source.verified_split(cfg, "valid").crops
    assert len(train_ids) == 8 and train_ids.isdisjoint(c.name.person_uid for c in valid)
    assert sum(c.subset == "query" for c in valid) == 2 and sum(c.subset == "gallery" for c in valid) == 6
    _train_and_evaluate(cfg)


def test_sn_reid_crops_hold_out_whole_actions(folders):
    folder = folders["tmp"] / "sn_named"
    for action in range(5):
        for person in range(2):
            for frame in range(3):
                name = CropName(
                    bbox_idx=len(list(folder.rglob("*.png"))) if folder.exists() else 0,
                    action_idx=action,
                    height=HEIGHT,
                    width=WIDTH,
                    person_uid=str(person),
                    frame_idx=frame,
                    clazz="Player_team_left",
                    jersey="10",
                    uai=f"a{action}p{person}f{frame}",
                )
                _crop(folder / f"action{action}" / name.filename(), 10 * action + person)
    first = sorted(folder.rglob("*.png"))[0]
    _crop(first, 0, truncated=True)
    _crop(folder / "action0" / "crop.png", 1)  # not an sn-reid name
    cfg = _cfg(folder)
    summary = prepare_data(cfg)
    assert "held out 1 of 5 actions" in summary
    assert "1 unreadable image(s) skipped" in summary and "1 file(s) with a malformed name skipped" in summary
    train_actions = {c.name.action_idx for c in reid_source.verified_split(cfg, "train").crops}
    valid = reid_source.verified_split(cfg, "valid").crops
    assert train_actions.isdisjoint(c.name.action_idx for c in valid)
    assert all((c.subset == "query") == (c.name.frame_idx == 0) for c in valid)
    _train_and_evaluate(cfg)


def test_a_given_valid_split_of_identity_folders_is_refused_with_what_to_do(folders):
    folder = folders["tmp"] / "given"
    for split in ("train", "valid"):
        _crop(folder / split / "someone" / "a.jpg", 1)
    with pytest.raises(DataError, match="query/ and gallery/"):
        prepare_data(_cfg(folder))

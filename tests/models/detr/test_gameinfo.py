"""tracking-2023's ``gameinfo.ini`` with tracklets whose team is unknown: kept with their role."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest

from colab_utils.models.detr.frames import CLASSES, clip_frames
from colab_utils.models.detr.mot import parse_tracklet, read_mot_clip

SEQINFO = """[Sequence]
name=SNMOT-901
imDir=img1
frameRate=25
seqLength=2
imWidth=64
imHeight=36
imExt=.jpg
"""

GAMEINFO = """[Sequence]
name=SNMOT-901
gameID=3
gameTimeStart=1 - 12:00
gameTimeStop=1 - 12:30
clipStart=720000
clipStop=750000
actionPosition=721000
actionClass=Kick-off
visibility=visible
num_tracklets=5
trackletID_1= player team left;10
trackletID_2= player team unknown;23
trackletID_3= goalkeeper team unknown;1
trackletID_4= referee;main
trackletID_5= ball;1
"""

GT = "".join(
    f"{frame},{track},{4 * track},{2 * track},5,9,1,-1,-1,-1\n" for frame in (1, 2) for track in range(1, 6)
)


def write_clip(folder) -> None:
    """A clip folder laid out as the tracking-2023 archives hold it."""
    (folder / "gt").mkdir(parents=True)
    (folder / "img1").mkdir()
    (folder / "seqinfo.ini").write_text(SEQINFO)
    (folder / "gameinfo.ini").write_text(GAMEINFO)
    (folder / "gt" / "gt.txt").write_text(GT)
    image = cv2.imencode(".jpg", np.zeros((36, 64, 3), np.uint8))[1].tobytes()
    for frame in (1, 2):
        (folder / "img1" / f"{frame:06d}.jpg").write_bytes(image)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" player team unknown;23", ("player", None, "23")),
        (" goalkeeper team unknown;1", ("goalkeeper", None, "1")),
        (" goalkeepers team unknown;X", ("goalkeeper", None, "X")),
        (" player team Unknown;", ("player", None, None)),
    ],
)
def test_a_tracklet_of_unknown_team_keeps_its_role(text, expected):
    tracklet = parse_tracklet(2, text)
    assert (tracklet.role, tracklet.team, tracklet.jersey) == expected


def test_boxes_of_unknown_team_are_detector_targets_of_their_role(tmp_path):
    write_clip(tmp_path / "SNMOT-901")
    clip = read_mot_clip(tmp_path / "SNMOT-901")
    assert not clip.problems.bad_lines and not clip.problems.reasons
    assert {t: (x.role, x.team) for t, x in clip.tracklets.items()} == {
        1: ("player", "left"),
        2: ("player", None),
        3: ("goalkeeper", None),
        4: ("referee", None),
        5: ("ball", None),
    }
    skipped: Counter[str] = Counter()
    frames = clip_frames(clip, skipped)
    assert not skipped
    for labels, ids in zip(frames.labels, frames.track_ids, strict=True):
        assert dict(zip(ids.tolist(), (CLASSES[i] for i in labels), strict=True)) == {
            1: "player",
            2: "player",
            3: "goalkeeper",
            4: "referee",
            5: "ball",
        }

"""Phases of play whose rows share their boundary frame, on SkillCorner's real sample files.

The tracking and match sheet are the SkillCorner v3 samples kloppy ships with its tests
(real open-data files, cut short); the phases CSV is written in SkillCorner's columns.
"""

from __future__ import annotations

import csv
import shutil
import warnings
from pathlib import Path

import kloppy
import pytest

from colab_utils.tracking.skillcorner import DEFENDING_PHASE_NAMES, PHASE_NAMES, MatchFiles

SAMPLES = Path(kloppy.__file__).parent / "tests" / "files"
MATCH_ID, HOME, AWAY = 1, 3, 4
COLUMNS = (
    "index", "match_id", "frame_start", "frame_end", "time_start", "time_end", "minute_start",
    "second_start", "duration", "period", "attacking_side_id", "team_in_possession_id", "attacking_side",
    "team_in_possession_shortname", "team_in_possession_phase_type", "team_in_possession_phase_type_id",
    "team_out_of_possession_phase_type", "team_out_of_possession_phase_type_id",
)  # fmt: skip
# (frame_start, frame_end, team, attacking phase, defending phase): rows 0-1 and 1-2 share a
# boundary frame, row 2 ends before a gap, rows 3-4 share one in the second half (listed out
# of order, as nothing promises the file's order).
ROWS = (
    (10, 14, HOME, "build_up", "high_block"),
    (14, 18, AWAY, "transition", "defending_transition"),
    (18, 19, HOME, "create", "medium_block"),
    (60984, 60990, HOME, "finish", "low_block"),
    (60977, 60984, AWAY, "direct", "defending_direct"),
)


@pytest.fixture
def match_folder(tmp_path):
    if not (SAMPLES / "skillcorner_v3_raw_data.jsonl").is_file():
        pytest.skip("this kloppy ships no SkillCorner sample files")
    copies = (("meta_data.json", "match.json"), ("v3_raw_data.jsonl", "tracking_extrapolated.jsonl"))
    for sample, name in copies:
        shutil.copy(SAMPLES / f"skillcorner_{sample}", tmp_path / f"{MATCH_ID}_{name}")
    with open(tmp_path / f"{MATCH_ID}_phases_of_play.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for index, (start, end, team, attacking, defending) in enumerate(ROWS):
            period = 1 if start < 60000 else 2
            writer.writerow(
                [index, MATCH_ID, start, end, "", "", "", "", (end - start) / 10, period, 1, team,
                 "left_to_right", "Team Short Name", attacking, PHASE_NAMES.index(attacking),
                 defending, DEFENDING_PHASE_NAMES.index(defending)]
            )  # fmt: skip
    return tmp_path


def expected_labels(frame: int) -> tuple[str, str, int] | None:
    """The rule: a row covers [frame_start, frame_end], but stops where the next row starts."""
    rows = sorted(ROWS)
    for (start, end, team, attacking, defending), following in zip(rows, [*rows[1:], None], strict=True):
        stop = min(end + 1, following[0]) if following else end + 1
        if start <= frame < stop:
            return attacking, defending, (HOME, AWAY).index(team)
    return None


def test_each_frame_gets_exactly_one_phase_and_a_shared_boundary_goes_to_the_phase_starting_there(
    match_folder,
):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Could not determine orientation", category=UserWarning)
        match = MatchFiles.in_folder(match_folder, MATCH_ID).load()
    assert set(range(10, 23)) | set(range(60977, 60991)) <= set(match.frame_ids.tolist())
    for t, frame in enumerate(match.frame_ids.tolist()):
        labels = expected_labels(frame)
        got = (match.phases[t], match.defending_phases[t], match.phase_team[t])
        if labels is None:
            assert got == (-1, -1, -1), frame
        else:
            attacking, defending, team = labels
            assert got == (PHASE_NAMES.index(attacking), DEFENDING_PHASE_NAMES.index(defending), team), frame
    at = {frame: t for t, frame in enumerate(match.frame_ids.tolist())}
    assert PHASE_NAMES[match.phases[at[13]]] == "build_up"
    assert PHASE_NAMES[match.phases[at[14]]] == "transition"  # the boundary goes to the phase starting there
    assert PHASE_NAMES[match.phases[at[18]]] == "create" and PHASE_NAMES[match.phases[at[19]]] == "create"
    assert match.phases[at[20]] == -1  # after the last row of the half: no phase
    assert PHASE_NAMES[match.phases[at[60984]]] == "finish"
    assert PHASE_NAMES[match.phases[at[60990]]] == "finish"  # the last row keeps its frame_end

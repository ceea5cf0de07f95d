"""Tracking of other providers through kloppy's loaders: Metrica's CSV written here in its real
layout (the two RawTrackingData files of Metrica's open data), Metrica's EPTS and Sportec/DFL
samples that kloppy ships with its tests, and baller2vec and gnn trained on the Metrica files
with the pitch size and frame rate those files give."""

from __future__ import annotations

import shutil
from pathlib import Path

import kloppy
import numpy as np
import pytest
import torch

from colab_utils.config import load_config
from colab_utils.errors import DataError
from colab_utils.models.baller2vec.tokens import token_features, window_tensors
from colab_utils.models.gnn.formations import GOALKEEPER
from colab_utils.models.gnn.graphs import EdgeSpec, batch_graphs, collate_windows, match_roles, window_arrays
from colab_utils.pipeline import evaluate, train
from colab_utils.registry import get_task
from colab_utils.tracking.providers import find_matches
from colab_utils.tracking.skillcorner import load_cached
from colab_utils.tracking.windows import WindowSpec, cut_window, window_starts

SAMPLES = Path(kloppy.__file__).parent / "tests" / "files"
FPS = 25  # Metrica's CSV tracking rate
PITCH = (102.0, 66.0)  # not 105 x 68: what the user says of their Metrica CSV pitch
HOME_JERSEYS = (11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14)  # the keeper first, three substitutes last
AWAY_JERSEYS = (25, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 26, 27, 28)
SHAPE = np.array(  # a 4-4-2 from the left goal, as fractions of the pitch's length and width
    [(0.04, 0.5), (0.2, 0.15), (0.18, 0.38), (0.18, 0.62), (0.2, 0.85), (0.33, 0.15), (0.31, 0.4),
     (0.31, 0.6), (0.33, 0.85), (0.44, 0.4), (0.44, 0.6)]
)  # fmt: skip


def write_metrica_csv(folder: Path, game: int, frames: int, seed: int) -> Path:
    """One match as Metrica's open data ships it: Sample_Game_<n>_RawTrackingData_{Home,Away}_Team.csv,
    three header rows (team, jersey numbers, column names), then Period, Frame, Time [s] and an x, y
    pair per player and for the ball, as fractions of the pitch, NaN off the pitch."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(frames)[:, None, None]
    drift = np.stack([np.sin(t[..., 0] / 90 + k) for k in range(2)], axis=-1) * 0.05  # the block moves
    ball = 0.5 + np.column_stack([0.3 * np.sin(np.arange(frames) / 60), 0.2 * np.cos(np.arange(frames) / 45)])
    for team, jerseys, side in (("Home", HOME_JERSEYS, 1.0), ("Away", AWAY_JERSEYS, -1.0)):
        jitter = np.cumsum(rng.normal(0, 0.0006, (frames, 11, 2)), axis=0)
        shape = SHAPE if side > 0 else np.column_stack([1 - SHAPE[:, 0], SHAPE[:, 1]])
        players = np.clip(shape[None] + drift[:, :1] * [side, 1] + jitter, 0.0, 1.0)
        header = [["", "", ""], ["", "", ""], ["Period", "Frame", "Time [s]"]]
        for j in jerseys:
            header[0] += [team, ""]
            header[1] += [str(j), ""]
            header[2] += [f"Player{j}", ""]
        header[0] += ["", ""]
        header[1] += ["", ""]
        header[2] += ["Ball", ""]
        lines = [",".join(row) for row in header]
        for f in range(frames):
            cells = ["1", str(f + 1), f"{(f + 1) / FPS:.2f}"]
            cells += [f"{v:.5f}" for v in players[f].ravel()] + ["NaN"] * 2 * (len(jerseys) - 11)
            cells += [f"{v:.5f}" for v in ball[f]]
            lines.append(",".join(cells))
        name = f"Sample_Game_{game}_RawTrackingData_{team}_Team.csv"
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def metrica_folder(tmp_path_factory) -> Path:
    """Three matches (one folder each) of 1 minute at 25 fps in Metrica's CSV."""
    root = tmp_path_factory.mktemp("metrica")
    for game in (1, 2, 3):
        write_metrica_csv(root / f"Sample_Game_{game}", game, frames=60 * FPS, seed=game)
    return root


def test_metrica_csv_is_read_by_kloppy_on_the_pitch_and_at_the_rate_of_the_data(metrica_folder, tmp_path):
    found = find_matches("metrica", metrica_folder, PITCH)
    assert [f.kind for f in found] == ["metrica_csv"] * 3 and [f.match_id for f in found] == [1, 2, 3]
    match = load_cached(found[0], tmp_path / "1.npz")
    assert match.pitch_size == PITCH and match.fps == FPS
    assert np.allclose(np.diff(match.times), 1 / FPS) and len(match.players) == 28
    home_keeper = match.players.index(next(p for p in match.players if p.number == 11))
    first = match.positions[0, home_keeper]
    expected = (SHAPE[0] + (0, 0.05 * np.sin(1)) - 0.5) * PITCH  # metres from the centre mark, 102 x 66
    assert np.abs(first - expected).max() < 0.5
    assert np.isnan(match.positions[:, match.team_of == 0][:, -3:]).all()  # substitutes never came on
    assert match.home_sides == ("left_to_right",)  # the home keeper stands at the left goal
    standard = load_cached(find_matches("metrica", metrica_folder)[0], tmp_path / "1.npz")
    assert standard.pitch_size == (105, 68)  # another pitch_size rebuilds the cache
    assert np.isclose(standard.positions[0, home_keeper, 0] / first[0], 105 / PITCH[0])


def test_the_normalisation_of_both_models_follows_the_pitch_of_the_data(metrica_folder, tmp_path):
    match = load_cached(find_matches("metrica", metrica_folder, PITCH)[0], tmp_path / "1.npz")
    spec = WindowSpec(length=12, stride=50, step=5)
    window = cut_window(match, 0, int(window_starts(match, spec)[0]), spec)
    assert window.pitch_size == PITCH and np.isclose(window.times[1], 5 / FPS)
    tokens = window_tensors(window, None)
    assert torch.allclose(tokens["pitch_half"], torch.tensor(PITCH) / 2)
    batch = {key: value[None] for key, value in tokens.items()}
    extents = torch.ones(23)
    features = token_features(
        batch["positions"], batch["present"], batch["detected"], extents, batch["pitch_half"]
    )
    on_105 = token_features(
        batch["positions"], batch["present"], batch["detected"], extents, torch.tensor([[52.5, 34.0]])
    )
    present = batch["present"][0]
    assert torch.allclose(
        features[0, ..., :2][present], batch["positions"][0][present] / torch.tensor(PITCH) * 2
    )
    assert not torch.allclose(features[0, ..., :2][present], on_105[0, ..., :2][present])
    arrays = window_arrays(window, np.full(22, -1), np.array([-1, -1]))
    graph = batch_graphs(collate_windows([arrays]), EdgeSpec())
    first = graph.x[graph.node_t == 0]
    slots = np.flatnonzero((window.columns >= 0) & np.isfinite(window.players).all(axis=-1).any(axis=0))
    expected = np.concatenate([window.players[0, slots], window.ball[:1, :2]]) / (np.array(PITCH) / 2)
    assert np.allclose(first[:, :2].numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("model", ["baller2vec", "gnn"])
def test_both_models_train_and_evaluate_on_metrica_csv(model, metrica_folder, folders):
    torch.set_num_threads(1)
    overrides = [
        "data.source=metrica",
        f"data.folder={metrica_folder}",
        f"data.pitch_size=[{PITCH[0]},{PITCH[1]}]",
        "data.valid_matches=1",
        "data.num_workers=0",
        "train.max_steps=3",
        "logging.progress=false",
    ]
    cfg = load_config(model, "smoke", overrides, verbose=False)
    summary = get_task(model).prepare_data(cfg)
    assert "metrica tracking" in summary and "at 25 fps" in summary and "2 training match(es)" in summary
    train_set, valid_set = get_task(model).datasets(cfg)
    assert len(train_set) and len(valid_set)
    assert {m.pitch_size for m in train_set.matches} == {PITCH} and {m.fps for m in train_set.matches} == {25}
    train(cfg)
    report = evaluate(cfg)
    assert report.metrics and report.figure is not None
    meta = get_task(model).export_meta(cfg)
    assert meta.get("fps", meta.get("window", {}).get("fps")) == FPS  # the exported model says its rate


def test_sportec_positions_are_read_with_their_pitch_roles_and_rate(tmp_path):
    if not (SAMPLES / "sportec_positional.xml").is_file():
        pytest.skip("this kloppy ships no Sportec sample files")
    match_folder = tmp_path / "DFL-MAT-003BN1"
    match_folder.mkdir()
    shutil.copy(SAMPLES / "sportec_meta.xml", match_folder / "DFL_02_01_matchinformation.xml")
    shutil.copy(SAMPLES / "sportec_positional.xml", match_folder / "DFL_04_03_positions_raw_observed.xml")
    (found,) = find_matches("sportec", tmp_path, pitch_size=PITCH)  # the files' own pitch wins
    assert found.kind == "sportec" and found.pitch_size is None
    match = found.load()
    assert match.pitch_size == (100.0, 68.0) and match.fps == 25.0  # as the DFL files say
    present = match.positions[~np.isnan(match.positions[..., 0])]
    assert len(present) and np.abs(present[:, 0]).max() <= 50 + 3 and np.abs(present[:, 1]).max() <= 34 + 3
    assert GOALKEEPER in match_roles(match)  # DFL names positions; kloppy passes them on
    assert set(match.periods.tolist()) == {1, 2} and len(match.home_sides) == 2


def test_metrica_epts_carries_its_own_pitch(tmp_path):
    if not (SAMPLES / "epts_metrica_tracking.txt").is_file():
        pytest.skip("this kloppy ships no Metrica EPTS sample files")
    shutil.copy(SAMPLES / "epts_metrica_metadata.xml", tmp_path / "Sample_Game_3_metadata.xml")
    shutil.copy(SAMPLES / "epts_metrica_tracking.txt", tmp_path / "Sample_Game_3_tracking.txt")
    (found,) = find_matches("metrica", tmp_path)
    match = found.load()
    assert found.kind == "metrica_epts" and match.pitch_size == (105.0, 68.0) and match.fps == 25.0


def test_a_folder_without_a_providers_files_says_what_it_needs(tmp_path):
    (tmp_path / "game" / "notes.txt").parent.mkdir()
    (tmp_path / "game" / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"Home_Team\.csv"):
        find_matches("metrica", tmp_path)
    with pytest.raises(DataError, match=r"set data\.folder"):
        find_matches("sportec", None)

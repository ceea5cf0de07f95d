"""SkillCorner data layer: synthetic matches in the real file formats read back through kloppy,
Git LFS pointers, the downloader against a local stand-in for GitHub, and trajectory windows
with their augmentations."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from kloppy._providers.skillcorner import identify_data_version
from scipy.optimize import linear_sum_assignment

from colab_utils.tracking.download import download_matches
from colab_utils.tracking.skillcorner import (
    DEFENDING_PHASE_NAMES,
    PHASE_NAMES,
    LfsPointerError,
    Match,
    MatchFiles,
    load_match,
)
from colab_utils.tracking.synthetic import (
    FORMATION_NAMES,
    FORMATIONS,
    read_formations,
    simulate_match,
    write_match,
)
from colab_utils.tracking.windows import Augmentation, TrajectoryWindows, Window, WindowSpec

MATCH_ID, SEED, MINUTES = 4411, 5, 3.0


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A synthetic match's folder, the generator's own arrays, and the match as the loader reads it."""
    folder = write_match(tmp_path_factory.mktemp("matches"), MATCH_ID, seed=SEED, minutes=MINUTES)
    match = MatchFiles.in_folder(folder, MATCH_ID).load()
    return folder, simulate_match(MATCH_ID, SEED, MINUTES), match


def lfs_pointer(data: bytes) -> bytes:
    return (
        "version https://git-lfs.github.com/spec/v1\n"
        f"oid sha256:{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n"
    ).encode()


# ----------------------------------------------------------------- the files and kloppy


def test_the_tracking_file_has_skillcorner_v3_layout(written):
    folder, _, _ = written
    path = folder / f"{MATCH_ID}_tracking_extrapolated.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    keys = {
        "frame",
        "timestamp",
        "period",
        "ball_data",
        "possession",
        "image_corners_projection",
        "player_data",
    }
    assert all(set(line) == keys for line in lines)
    assert lines[0]["period"] is None and lines[0]["player_data"] == []  # before kick-off, as real files
    first = next(line for line in lines if line["period"] == 1)
    assert first["timestamp"] == "00:00:00.00"
    assert next(line for line in lines if line["period"] == 2)["timestamp"] == "00:45:00.00"
    item = first["player_data"][0]
    assert set(item) == {"x", "y", "player_id", "is_detected"} and set(first["ball_data"]) == {
        "x", "y", "z", "is_detected"
    }  # fmt: skip
    sheet = json.loads((folder / f"{MATCH_ID}_match.json").read_text())
    assert {p["player_id"] for line in lines for p in line["player_data"]} <= {
        p["id"] for p in sheet["players"]
    }
    with open(path, "rb") as handle:
        assert identify_data_version(handle) == "V3"


def test_every_position_round_trips_through_kloppy(written):
    _, sim, match = written
    assert [p.player_id for p in match.players] == [p["id"] for p in sim.meta["players"]]
    assert np.array_equal(match.frame_ids, sim.frame_ids)
    assert np.allclose(match.times, sim.clock)
    assert np.array_equal(match.positions, sim.positions.astype(np.float32), equal_nan=True)
    assert np.array_equal(match.ball, sim.ball.astype(np.float32), equal_nan=True)
    assert np.array_equal(match.detected, sim.detected)
    assert np.array_equal(match.ball_detected, sim.ball_detected)
    assert np.array_equal(match.possession, sim.possession)
    assert match.team_of.tolist() == [0] * 14 + [1] * 14
    assert match.players[0].role_name == "Goalkeeper" and match.players[0].number == 1


def test_undetected_players_are_extrapolated_and_untracked_frames_are_empty(written):
    _, sim, match = written
    present = ~np.isnan(match.positions[..., 0])
    tracked = present.any(axis=1)
    assert (present[tracked].sum(axis=1) == 22).all()  # extrapolated data: all 22 whenever tracked
    share = match.detected[tracked].sum() / present[tracked].sum()
    assert 0.4 < share < 0.95  # the camera sees part of the pitch
    assert (~tracked).sum() > 20 and np.isnan(match.ball[~tracked]).all()  # a replay or close-up
    error = np.linalg.norm(sim.positions - sim.truth, axis=-1)
    assert np.nanmedian(error[match.detected]) < 0.1 < np.nanmedian(error[present & ~match.detected])
    for team in (0, 1):  # one substitution each: the replaced column ends where the new one starts
        on = present[:, 14 * team + 11]
        assert not on[match.periods == 1].any() and on[-1]
        assert np.isnan(match.positions[:, 14 * team + 12 :][:, :2]).all()  # the unused bench


def test_the_game_moves_like_football(written):
    _, sim, _ = written
    same_period = np.diff(sim.periods) == 0
    speed = np.linalg.norm(np.diff(sim.truth, axis=0), axis=-1)[same_period] * 10
    assert np.nanmax(speed) < 10.5 and 1.0 < np.nanmedian(speed) < 4.0  # m/s
    carriers = sim.carrier[sim.carrier >= 0]
    assert 6 < np.count_nonzero(np.diff(carriers)) / MINUTES < 25  # passes (and tackles) per minute
    assert np.count_nonzero(np.diff(sim.possession[sim.possession >= 0])) >= 4  # turnovers
    team = np.repeat([0, 1], 14)
    nearest_to_carrier, nearest_to_others = [], []
    for t in np.flatnonzero(sim.carrier >= 0):  # pressing: defenders close down the man on the ball
        c, on = sim.carrier[t], ~np.isnan(sim.truth[t, :, 0])
        gaps = np.linalg.norm(sim.truth[t, :, None] - sim.truth[t, None], axis=-1)
        rivals = gaps[on & (team == team[c]) & (np.arange(28) != c)][:, on & (team != team[c])]
        nearest_to_carrier.append(gaps[c, on & (team != team[c])].min())
        nearest_to_others.append(np.median(rivals.min(axis=1)))
    assert np.median(nearest_to_carrier) < 0.7 * np.median(nearest_to_others)


def test_phases_of_play_land_on_their_frames_and_each_has_one_formation_per_team(written):
    folder, sim, match = written
    labelled = sim.phases >= 0
    assert (match.phases[labelled] == sim.phases[labelled]).mean() > 0.9  # rows merge runs under 1 s
    assert (match.phases[~labelled] == -1).all()
    assert {PHASE_NAMES[p] for p in match.phases[labelled]} >= {"build_up", "create", "transition"}
    assert {DEFENDING_PHASE_NAMES[p] for p in match.defending_phases[labelled]} >= {"high_block"}
    truth = read_formations(folder, MATCH_ID)
    assert truth["formation_names"] == list(FORMATION_NAMES)
    row_of_frame = {int(f): t for t, f in enumerate(sim.frame_ids)}
    for phase in truth["phases"]:
        rows = slice(row_of_frame[phase["frame_start"]], row_of_frame[phase["frame_end"]] + 1)
        home, away = (FORMATION_NAMES.index(phase[side]) for side in ("home", "away"))
        assert (sim.formations[rows] == (home, away)).all()


def test_formations_can_be_read_from_mean_shapes(written):
    """What the gnn model learns: a team's mean outfield shape matches its true formation's template."""
    _, sim, _ = written
    home_sign = 1.0 if sim.meta["home_team_side"][0] == "left_to_right" else -1.0
    templates = {
        name: np.array([(30 * depth, 25 * width) for _, depth, width in slots])
        for name, slots in FORMATIONS.items()
    }
    checked = 0
    for period in (1, 2):
        for team in (0, 1):
            frames = (sim.periods == period) & sim.tracked
            sign = home_sign * (1 if period == 1 else -1) * (1 if team == 0 else -1)
            for formation in np.unique(sim.formations[frames, team]):
                chosen = frames & (sim.formations[:, team] == formation)
                if chosen.sum() < 300:
                    continue
                outfield = sim.truth[chosen][:, 14 * team + 1 : 14 * team + 12] * sign  # + the substitute
                on = ~np.isnan(outfield[..., 0]).all(axis=0)
                relative = outfield[:, on] - np.nanmean(outfield[:, on], axis=1, keepdims=True)
                shape = np.nanmean(relative, axis=0)[:10]
                cost = {}
                for name, template in templates.items():
                    gaps = np.linalg.norm(shape[:, None] - (template - template.mean(0))[None], axis=-1)
                    cost[name] = gaps[linear_sum_assignment(gaps)].sum()
                assert min(cost, key=cost.get) == FORMATION_NAMES[formation]
                checked += 1
    assert checked >= 3


# ----------------------------------------------------------------- Git LFS pointers


def test_a_git_lfs_pointer_instead_of_tracking_fails_with_an_explanation(written, tmp_path):
    folder, _, _ = written
    copy = shutil.copytree(folder, tmp_path / "clone")
    tracking = copy / f"{MATCH_ID}_tracking_extrapolated.jsonl"
    tracking.write_bytes(lfs_pointer(tracking.read_bytes()))
    with pytest.raises(LfsPointerError) as caught:
        load_match(copy / f"{MATCH_ID}_match.json", tracking)
    message = str(caught.value)
    assert str(tracking) in message and "Git LFS pointer" in message
    assert f"{tracking.stat().st_size} bytes" in message and "git lfs pull" in message
    assert "download_matches" in message


# ----------------------------------------------------------------- download


class GitHubStandIn:
    """Serves ``/raw/<path>`` and ``/media/<path>`` from dictionaries on 127.0.0.1, recording requests."""

    def __init__(self, raw: dict[str, bytes], media: dict[str, bytes]) -> None:
        self.files = {"raw": raw, "media": media}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                kind, _, path = self.path.lstrip("/").partition("/")
                body = server.files.get(kind, {}).get(path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> GitHubStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def urls(self) -> dict[str, str]:
        host, port = self.httpd.server_address[:2]
        return {"raw_url": f"http://{host}:{port}/raw", "media_url": f"http://{host}:{port}/media"}


def repository_files(folder) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The repository as GitHub serves it: tracking as an LFS pointer at raw, the object at media."""
    prefix = f"data/matches/{MATCH_ID}"
    raw = {f"{prefix}/{p.name}": p.read_bytes() for p in folder.iterdir() if "formations" not in p.name}
    tracking = f"{prefix}/{MATCH_ID}_tracking_extrapolated.jsonl"
    media = {tracking: raw[tracking]}
    raw[tracking] = lfs_pointer(raw[tracking])
    raw["data/matches.json"] = json.dumps([{"id": MATCH_ID, "status": "closed"}]).encode()
    return raw, media


def test_download_follows_lfs_pointers_verifies_and_is_idempotent(written, tmp_path):
    folder, _, match = written
    raw, media = repository_files(folder)
    root = tmp_path / "skillcorner"
    with GitHubStandIn(raw, media) as github:
        (files,) = download_matches(root, **github.urls())
        assert sorted(github.requests) == sorted(
            [f"/raw/{path}" for path in raw] + [f"/media/{path}" for path in media]
        )
        loaded = files.load()
        assert np.array_equal(loaded.positions, match.positions, equal_nan=True)
        assert files.phases is not None and np.array_equal(loaded.phases, match.phases)
        github.requests.clear()
        download_matches(root, **github.urls())
        assert github.requests == []  # everything complete: no network at all
        files.tracking.write_bytes(b"{truncated")  # damaged by a killed runtime or a Drive sync
        (files.tracking.with_name(files.tracking.name + ".part")).write_bytes(b"leftover")
        download_matches(root, [MATCH_ID], **github.urls())
        tracking = f"data/matches/{MATCH_ID}/{MATCH_ID}_tracking_extrapolated.jsonl"
        assert github.requests == [f"/raw/{tracking}", f"/media/{tracking}"]
    assert files.tracking.read_bytes() == media[tracking]
    assert not list(root.rglob("*.part"))


def test_download_explains_a_pointer_served_instead_of_the_data(written, tmp_path):
    folder, _, _ = written
    raw, media = repository_files(folder)
    tracking = f"data/matches/{MATCH_ID}/{MATCH_ID}_tracking_extrapolated.jsonl"
    media[tracking] = raw[tracking]  # GitHub's LFS quota is spent: the media address sends the pointer too
    with GitHubStandIn(raw, media) as github, pytest.raises(LfsPointerError) as caught:
        download_matches(tmp_path, [MATCH_ID], **github.urls())
    message = str(caught.value)
    assert "Git LFS pointer instead of" in message and "bandwidth quota" in message
    assert "git lfs pull" in message and "run this cell again later" in message
    assert not (tmp_path / tracking).exists() and not list(tmp_path.rglob("*.part"))


def test_download_refuses_an_object_that_does_not_match_its_pointer(written, tmp_path):
    folder, _, _ = written
    raw, media = repository_files(folder)
    tracking = f"data/matches/{MATCH_ID}/{MATCH_ID}_tracking_extrapolated.jsonl"
    media[tracking] = media[tracking][:-100]
    with GitHubStandIn(raw, media) as github, pytest.raises(RuntimeError, match="arrived damaged"):
        download_matches(tmp_path, [MATCH_ID], **github.urls())
    assert not (tmp_path / tracking).exists()


# ----------------------------------------------------------------- windows and augmentation

SPEC = WindowSpec(length=20, stride=7, max_warp=0.2)
PITCH = np.array([52.5, 34.0])


def test_windows_lie_inside_one_tracked_stretch_and_copy_the_match(written):
    _, _, match = written
    windows = TrajectoryWindows([match], SPEC)
    assert len(windows) > 150
    present = (~np.isnan(match.positions[..., 0])).sum(axis=1)
    for _, start in windows.index:
        frames = slice(start, start + SPEC.span)
        assert (np.diff(match.frame_ids[frames]) == 1).all() and len(set(match.periods[frames])) == 1
        assert (present[frames] >= SPEC.min_players).all()
    window = windows.window(40)
    expected = match.positions[window.start : window.start + SPEC.length][:, window.columns]
    assert np.array_equal(window.players, expected, equal_nan=True)
    assert np.array_equal(window.ball, match.ball[window.start : window.start + SPEC.length], equal_nan=True)
    assert (match.team_of[window.columns] == window.team).all() and not window.dropped.any()
    assert np.allclose(np.diff(window.times), 0.1)


def test_augmentation_comes_from_the_sample_generator_alone(written):
    _, _, match = written
    augment = Augmentation(flip=True, rotate_deg=5, translate_m=2, time_warp=0.2, drop_rate=0.05)
    first, again = TrajectoryWindows([match], SPEC, augment), TrajectoryWindows([match], SPEC, augment)
    for key in [(0, 3), (4, 3), (0, 60)]:
        a, b = first[key], again[key]  # another object, as in another loader worker or a resumed run
        assert np.array_equal(a.players, b.players, equal_nan=True) and np.array_equal(
            a.ball, b.ball, equal_nan=True
        )
        assert a.flips == b.flips and np.array_equal(a.dropped, b.dropped)
    epochs = [first[(epoch, 3)] for epoch in range(6)]
    assert len({w.times[-1] for w in epochs}) == 6  # each epoch draws its own warp, flips, drops
    assert len({w.flips for w in epochs}) > 1


def test_flips_map_the_pitch_onto_itself(written):
    _, _, match = written
    plain = TrajectoryWindows([match], SPEC)
    flipped = TrajectoryWindows([match], SPEC, Augmentation(flip=True))
    seen = set()
    for epoch in range(12):
        window, original = flipped[(epoch, 25)], plain.window(25)
        sign = np.array([-1.0 if window.flips[0] else 1.0, -1.0 if window.flips[1] else 1.0])
        seen.add(window.flips)
        assert np.array_equal(window.players, original.players * sign, equal_nan=True)
        assert np.array_equal(window.ball[:, :2], original.ball[:, :2] * sign, equal_nan=True)
        assert np.array_equal(window.ball[:, 2], original.ball[:, 2], equal_nan=True)
        assert window.home_direction == original.home_direction * sign[0]  # flipping x swaps the goals
        inside = (np.abs(original.players) <= PITCH).all(axis=-1)
        assert (np.abs(window.players[inside]) <= PITCH).all()
    assert seen == {(False, False), (True, False), (False, True), (True, True)}


def test_time_warp_resamples_between_frames_and_drops_flag_what_they_remove(written):
    _, _, match = written
    plain = TrajectoryWindows([match], SPEC)
    warped = TrajectoryWindows([match], SPEC, Augmentation(time_warp=0.2))[(2, 30)]
    speed = warped.times[1] * match.fps
    assert 0.8 <= speed <= 1.2 and speed != 1.0
    assert np.allclose(np.diff(warped.times), speed / match.fps, atol=1e-5)
    source = match.positions[warped.start : warped.start + SPEC.span][:, warped.columns]
    step = 7
    low, weight = int(np.floor(step * speed)), step * speed - np.floor(step * speed)
    assert np.allclose(warped.players[step], (1 - weight) * source[low] + weight * source[low + 1], atol=1e-4)
    dropped = TrajectoryWindows([match], SPEC, Augmentation(drop_rate=0.1))[(1, 30)]
    original = plain.window(30)
    assert 0.04 < dropped.dropped.mean() < 0.2
    removed = dropped.dropped[:, :-1]
    assert np.isnan(dropped.players[removed]).all() and not np.isnan(original.players[removed]).any()
    kept = ~np.isnan(dropped.players[..., 0])
    assert np.array_equal(dropped.players[kept], original.players[kept])


def _narrower(match: Match, dropped: int) -> Match:
    """The match without its last ``dropped`` player columns: packed with it, it gets padding columns."""
    keep = slice(0, len(match.players) - dropped)
    return dataclasses.replace(
        match,
        players=match.players[keep],
        team_of=match.team_of[keep],
        positions=match.positions[:, keep],
        detected=match.detected[:, keep],
    )


def _same_window(a: Window, b: Window) -> bool:
    return all(
        np.array_equal(getattr(a, f.name), getattr(b, f.name), equal_nan=True)
        for f in dataclasses.fields(Window)
    )


AUGMENT = Augmentation(flip=True, rotate_deg=5, translate_m=2, time_warp=0.2, drop_rate=0.05)


def test_a_window_is_the_same_alone_or_inside_any_batch(written):
    _, _, match = written
    matches = [match, _narrower(match, 3)]
    training = TrajectoryWindows(matches, SPEC, AUGMENT)
    validation = TrajectoryWindows(matches, SPEC)
    second = int(np.flatnonzero(training.index[:, 0] == 1)[0])  # the narrower match's first window
    training_keys = [(2, 5), (2, second + 7), (0, 5), (7, len(training) - 1), (2, second + 40)]
    validation_keys = [3, second + 11, 0, len(validation) - 1]
    for dataset, keys in ((training, training_keys), (validation, validation_keys)):
        for batch in (keys, keys[::-1], keys[1:3]):
            fetched = dataset.__getitems__(batch)
            assert all(_same_window(dataset[key], window) for key, window in zip(batch, fetched, strict=True))
    narrow = validation[second + 11]
    assert narrow.match_index == 1 and (narrow.columns < len(matches[1].players)).all()
    assert _same_window(narrow, validation.window(second + 11))
    draws = TrajectoryWindows(matches, SPEC, AUGMENT, lambda window, rng: (window.start, rng.random()))
    assert draws.__getitems__(training_keys) == [draws[key] for key in training_keys]  # rng after the cut


def test_a_batch_draws_each_samples_augmentation_from_seed_epoch_and_index(written):
    _, _, match = written
    first, again = TrajectoryWindows([match], SPEC, AUGMENT), TrajectoryWindows([match], SPEC, AUGMENT)
    keys = [(1, 3), (1, 30), (1, 60)]
    for a, b in zip(first.__getitems__(keys), again.__getitems__(keys), strict=True):
        assert _same_window(a, b)
    other_epoch = first.__getitems__([(2, index) for _, index in keys])
    again.seed = 1
    other_seed = again.__getitems__(keys)
    for a, b, c in zip(first.__getitems__(keys), other_epoch, other_seed, strict=True):
        assert a.start == b.start == c.start and a.times[-1] != b.times[-1] and a.times[-1] != c.times[-1]


def test_match_arrays_survive_the_npz_cache(written, tmp_path):
    _, _, match = written
    match.save(tmp_path / "match.npz")
    again = Match.load(tmp_path / "match.npz")
    assert again.players == match.players and again.home_sides == match.home_sides
    for name in ("positions", "detected", "ball", "phases", "frame_ids", "times", "team_of"):
        assert np.array_equal(getattr(again, name), getattr(match, name), equal_nan=True)


def test_a_truncated_tracking_file_fails_with_what_to_do(written, tmp_path):
    folder, _, _ = written
    copy = shutil.copytree(folder, tmp_path / "cut")
    tracking = copy / f"{MATCH_ID}_tracking_extrapolated.jsonl"
    tracking.write_bytes(tracking.read_bytes()[:50_000])  # a download cut in the middle of a line
    with pytest.raises(ValueError, match="download it again"):
        MatchFiles.in_folder(copy, MATCH_ID).load()

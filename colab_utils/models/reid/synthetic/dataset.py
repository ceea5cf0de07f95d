"""A synthetic SoccerNet reid-2023 download: the real layout and crop names, from known people.

``root/reid-2023/<split>.zip`` holds ``<split>/<league>/<season>/<game>/<action>/<crop>.png`` for
train, and the same tree under ``<split>/query/`` and ``<split>/gallery/`` for every other split,
with the crop names SoccerNet writes (see :mod:`colab_utils.models.reid.files`).

Each game has two teams (kits drawn from a palette, goalkeepers in their own colours) and three
referees; an action shows a handful of them in its action frame and in one to three replays,
each frame from another camera (pose, side, size, blur, colour balance). As in SoccerNet, a
person gets a new ``person_uid`` in every action, so the same player in two actions of a game
is two identities. In ranking splits, queries are the action frame's crops of people seen again
in a replay; the gallery holds the replays' crops. Everything is drawn from seeds (seed, split,
game) and (seed, split, action): the same call writes identical bytes.
"""

from __future__ import annotations

import argparse
import os
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from colab_utils.models.reid.files import CropName
from colab_utils.models.reid.synthetic.players import (
    Colour,
    Person,
    random_kit,
    random_person,
    random_view,
    render_person,
)

REID_TASK = "reid-2023"
TRAIN_SPLIT = "train"
LEAGUE, SEASON = "synthetic_league", "2023-2024"
ACTIONS_PER_GAME = 4
OUTFIELD_PER_TEAM = 10
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Member:
    """A person of a game's roster, with the class SoccerNet gives them."""

    person: Person
    clazz: str


@dataclass(frozen=True)
class GeneratedReid:
    """What :func:`generate_reid_dataset` wrote: the zips, crop counts and every crop's archive path."""

    root: Path
    zips: dict[str, Path]
    counts: dict[str, dict[str, int]]
    members: dict[str, list[str]]


def _rng(seed: int, split: str, kind: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(split.encode()), zlib.crc32(kind.encode()), index])


def game_roster(seed: int, split: str, game: int) -> tuple[str, list[Member]]:
    """(game folder name, roster): two teams of numbered players with goalkeepers, and the referees."""
    rng = _rng(seed, split, "game", game)
    left_name, left = random_kit(rng)
    right_name, right = random_kit(rng, avoid={left_name})
    _, keeper_left = random_kit(rng, avoid={left_name, right_name})
    _, keeper_right = random_kit(rng, avoid={left_name, right_name})
    _, referee = random_kit(rng, avoid={left_name, right_name})
    roster = []
    for side, kit, keeper in (("left", left, keeper_left), ("right", right, keeper_right)):
        numbers = rng.choice(np.arange(2, 40), size=OUTFIELD_PER_TEAM, replace=False)
        roster += [Member(random_person(rng, kit, int(n)), f"Player_team_{side}") for n in numbers]
        roster.append(Member(random_person(rng, keeper, 1), f"Goalkeeper_team_{side}"))
    roster.append(Member(random_person(rng, referee, None), "Main_referee"))
    roster += [Member(random_person(rng, referee, None), "Side_referee") for _ in range(2)]
    goals = rng.integers(0, 4, 2)
    date = f"2023-{8 + game // 28 % 5:02d}-{1 + game % 28:02d}"
    title = f"{date} - 15-00 {left_name.title()} {goals[0]} - {goals[1]} {right_name.title()}"
    return f"{title} ({split} {game:03d})", roster


def _action_people(rng: np.random.Generator, roster: list[Member]) -> list[int]:
    """Who the action's frames show: mostly outfield players, now and then a keeper or a referee."""
    weights = np.array([1.0 if m.clazz.startswith("Player") else 0.25 for m in roster])
    count = int(rng.integers(4, 9))
    return sorted(rng.choice(len(roster), size=count, replace=False, p=weights / weights.sum()).tolist())


def _appearances(rng: np.random.Generator, people: int, replays: int) -> np.ndarray:
    """(people, frames) bool: who is seen in the action frame and in each replay (at least once each)."""
    seen = np.column_stack([rng.random(people) < 0.9, rng.random((people, replays)) < 0.75])
    lonely = ~seen.any(axis=1)
    seen[lonely, rng.integers(0, replays + 1, int(lonely.sum()))] = True
    return seen


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED  # PNG is already compressed
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def _uai(game: int, frame: int, action: int, person_uid: int) -> str:
    return f"{game:03d}r{frame:03d}_{action:06x}{person_uid:06x}"


def _write_split(path: Path, split: str, actions: int, seed: int) -> tuple[dict[str, int], list[str]]:
    ranking = split != TRAIN_SPLIT
    counters = {"train": 0, "query": 0, "gallery": 0}
    members: list[str] = []
    next_uid = 0
    partial = path.with_name(path.name + ".part")
    with zipfile.ZipFile(partial, "w") as archive:
        for action in range(actions):
            game, action_in_game = divmod(action, ACTIONS_PER_GAME)
            game_name, roster = game_roster(seed, split, game)
            passers: list[Colour] = list(dict.fromkeys(m.person.kit.shirt for m in roster))
            rng = _rng(seed, split, "action", action)
            people = _action_people(rng, roster)
            replays = int(rng.integers(1, 4))
            seen = _appearances(rng, len(people), replays)
            folder = f"{LEAGUE}/{SEASON}/{game_name}/{action_in_game}"
            for row, index in enumerate(people):
                member, uid = roster[index], str(next_uid)
                next_uid += 1
                if ranking and not seen[row, 1:].any():
                    continue  # an action-frame crop nobody could find again: not a query
                for frame in np.flatnonzero(seen[row]):
                    subset = ("query" if frame == 0 else "gallery") if ranking else "train"
                    view = random_view(rng, passers)
                    image = render_person(member.person, view, rng)
                    visible_number = member.person.number is not None and view.facing in ("front", "back")
                    name = CropName(
                        bbox_idx=counters[subset],
                        action_idx=action,
                        height=image.shape[0],
                        width=image.shape[1],
                        person_uid=uid,
                        frame_idx=int(frame),
                        clazz=member.clazz,
                        jersey=str(member.person.number) if visible_number else "None",
                        uai=_uai(game, int(frame), action, int(uid)),
                    )
                    counters[subset] += 1
                    ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
                    if not ok:
                        raise RuntimeError(f"PNG encoding failed for {name.filename()}")
                    middle = f"{subset}/" if ranking else ""
                    member_name = f"{split}/{middle}{folder}/{name.filename()}"
                    _add(archive, member_name, png.tobytes())
                    members.append(member_name)
    os.replace(partial, path)
    return {k: v for k, v in counters.items() if v}, members


def generate_reid_dataset(root: Path, splits: Mapping[str, int], seed: int = 0) -> GeneratedReid:
    """Write ``root/reid-2023/<split>.zip`` for each split, ``splits`` giving its number of actions."""
    task_dir = Path(root) / REID_TASK
    task_dir.mkdir(parents=True, exist_ok=True)
    zips, counts, members = {}, {}, {}
    for split, actions in splits.items():
        if not split.isidentifier() or actions < 1:
            raise ValueError(f"bad split {split!r} with {actions} actions: a name and at least one action")
        zips[split] = task_dir / f"{split}.zip"
        counts[split], members[split] = _write_split(zips[split], split, int(actions), seed)
    return GeneratedReid(task_dir, zips, counts, members)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic SoccerNet reid-2023 download.")
    parser.add_argument("out_dir", type=Path, help="folder that receives reid-2023/")
    for split, default in (("train", 48), ("valid", 16), ("test", 0)):
        parser.add_argument(f"--{split}", type=int, default=default, help=f"actions in {split}.zip")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = {s: getattr(args, s) for s in ("train", "valid", "test") if getattr(args, s) > 0}
    result = generate_reid_dataset(args.out_dir, sizes, args.seed)
    for split, path in result.zips.items():
        print(f"{path}: {result.counts[split]}")


if __name__ == "__main__":
    main()

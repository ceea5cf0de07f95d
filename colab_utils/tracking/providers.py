"""Tracking from other providers, read by kloppy's own loaders, as :class:`Match` arrays.

``data.source`` names the provider and ``data.folder`` holds the user's matches: one sub-folder
per match (or the folder itself for a single match), with the provider's files as it delivers
them. kloppy parses them and turns them into SkillCorner's metres (origin at the centre mark, y
up) on the data's own pitch, at the data's own frame rate:

* ``metrica``: Metrica Sports' CSV pair (``*Home*.csv`` and ``*Away*.csv``, their open data's
  ``RawTrackingData`` files, 25 fps) or EPTS pair (``*.xml`` metadata and ``*.txt`` tracking). The
  CSV gives positions as fractions of a pitch whose size it does not say: kloppy assumes
  105 x 68 m unless ``data.pitch_size`` says otherwise. The EPTS metadata carries its own size.
* ``sportec``: Sportec Solutions / DFL XML, the match information and the raw positions
  (``*position*.xml``), as in DFL's open data; the pitch size is in the files.

Players get the role kloppy reads for them (Sportec names positions; Metrica does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colab_utils.errors import DataError
from colab_utils.tracking.skillcorner import Match, kloppy_arrays

PROVIDERS = ("metrica", "sportec")
LAYOUTS = {
    "metrica": "Metrica CSV (<name>_Home_Team.csv and <name>_Away_Team.csv, as Metrica's open data "
    "names its RawTrackingData files) or Metrica EPTS (<name>_metadata.xml and <name>_tracking.txt)",
    "sportec": "Sportec/DFL XML (the match information .xml and the raw positions .xml, whose name "
    "holds 'position')",
}


@dataclass(frozen=True)
class ProviderFiles:
    """One match's files for a kloppy loader; ``kind`` picks the loader, ``files`` are its arguments."""

    match_id: int
    kind: str  # metrica_csv | metrica_epts | sportec
    files: tuple[Path, ...]
    pitch_size: tuple[float, float] | None = None  # the user's, for files that do not say (Metrica CSV)

    @property
    def tracking(self) -> Path:
        """The file whose age says whether the cache is stale (the largest: the positions)."""
        return max(self.files, key=lambda path: path.stat().st_size)

    @property
    def made_from(self) -> str:
        return f"{self.kind} {', '.join(map(str, self.files))} pitch {self.pitch_size}"

    def load(self) -> Match:
        return load_provider_match(self)


def find_matches(provider: str, folder: Path, pitch_size: Any = None) -> list[ProviderFiles]:
    """The matches in ``folder`` (one per sub-folder, or the folder itself), in name order."""
    if provider not in PROVIDERS:
        raise DataError(f"data.source={provider!r}: kloppy providers wired in are {', '.join(PROVIDERS)}.")
    if folder is None:
        raise DataError(
            f"data.source={provider} reads your files: set data.folder to a folder (on Drive or local) "
            f"with one sub-folder per match, each holding {LAYOUTS[provider]}."
        )
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"data.folder={folder} is not a folder: give the folder that holds your matches.")
    size = None if pitch_size is None else (float(pitch_size[0]), float(pitch_size[1]))
    subfolders = sorted(path for path in folder.iterdir() if path.is_dir() and not path.name.startswith("."))
    found = []
    for number, match_folder in enumerate(subfolders or [folder], start=1):
        kind, files = _match_files(provider, match_folder)
        found.append(ProviderFiles(number, kind, files, size if kind == "metrica_csv" else None))
    return found


def _match_files(provider: str, folder: Path) -> tuple[str, tuple[Path, ...]]:
    """(loader kind, its files) of one match folder; a :class:`DataError` naming the layout if none."""
    names = sorted(path for path in folder.iterdir() if path.is_file())

    def having(suffix: str, word: str = "") -> list[Path]:
        return [p for p in names if p.suffix.lower() == suffix and word in p.name.lower()]

    if provider == "metrica":
        home, away = having(".csv", "home"), having(".csv", "away")
        if len(home) == 1 and len(away) == 1:
            return "metrica_csv", (home[0], away[0])
        if len(having(".xml")) == 1 and len(having(".txt")) == 1:
            return "metrica_epts", (having(".xml")[0], having(".txt")[0])
    else:
        raw = having(".xml", "position")
        meta = [p for p in having(".xml") if p not in raw]
        if len(raw) == 1 and len(meta) == 1:
            return "sportec", (meta[0], raw[0])
    listed = ", ".join(p.name for p in names) or "nothing"
    raise DataError(
        f"{folder} holds {listed}: a {provider} match folder holds {LAYOUTS[provider]}, one match per "
        "folder. Move each match's files into a folder of its own inside data.folder."
    )


def load_provider_match(files: ProviderFiles) -> Match:
    """Parse one match with kloppy into a :class:`Match` in metres on its own pitch, at its own rate."""
    from kloppy import metrica, sportec
    from kloppy.domain import (
        AttackingDirection,
        DatasetType,
        Provider,
        attacking_direction_from_frame,
        build_coordinate_system,
    )
    from kloppy.exceptions import KloppyError

    loaders = {
        "metrica_csv": metrica.load_tracking_csv,
        "metrica_epts": metrica.load_tracking_epts,
        "sportec": sportec.load_tracking,
    }
    try:
        dataset = loaders[files.kind](*(str(path) for path in files.files))
    except (KloppyError, ValueError, KeyError, IndexError, AttributeError, SyntaxError) as error:
        names = ", ".join(path.name for path in files.files)
        raise DataError(
            f"kloppy could not read {names} in {files.files[0].parent} as {files.kind} "
            f"({type(error).__name__}: {error}). Check that these are the provider's files, whole and "
            "unedited; a download cut short reads like this: copy them again."
        ) from error
    dimensions = dataset.metadata.pitch_dimensions
    length, width = dimensions.pitch_length, dimensions.pitch_width
    if not length or not width:
        raise DataError(
            f"{files.tracking} does not say how large its pitch is: set data.pitch_size=[length, width] "
            "in metres."
        )
    metres = build_coordinate_system(Provider.SKILLCORNER, DatasetType.TRACKING, length, width)
    dataset = dataset.transform(to_coordinate_system=metres)
    frames = kloppy_arrays(dataset, _role_name)
    if not frames.players:
        raise DataError(f"kloppy read no player in {files.tracking}: is it the provider's tracking file?")
    scale = np.ones(2, np.float32)
    if files.pitch_size is not None:  # fractions of the pitch: kloppy read them on 105 x 68 m
        scale = np.array([files.pitch_size[0] / length, files.pitch_size[1] / width], np.float32)
        length, width = files.pitch_size
    sides = []
    for period in dataset.metadata.periods:
        first = next((f for f in dataset.records if f.period.id == period.id and f.players_data), None)
        right = first is None or attacking_direction_from_frame(first) == AttackingDirection.LTR
        sides.append("left_to_right" if right else "right_to_left")
    ball = frames.ball.copy()
    ball[:, :2] *= scale
    count = len(frames.frame_ids)
    return Match(
        match_id=files.match_id,
        fps=float(dataset.metadata.frame_rate),
        frame_ids=frames.frame_ids,
        periods=frames.periods,
        times=frames.times,
        players=frames.players,
        team_of=frames.team_of,
        positions=frames.positions * scale,
        detected=~np.isnan(frames.positions[..., 0]),  # these providers flag no extrapolation
        ball=ball,
        ball_detected=~np.isnan(ball[:, 0]),
        possession=frames.possession,
        phases=np.full(count, -1, np.int16),
        defending_phases=np.full(count, -1, np.int16),
        phase_team=np.full(count, -1, np.int8),
        home_sides=tuple(sides),
        team_ids=frames.team_ids,
        team_names=frames.team_names,
        pitch_size=(float(length), float(width)),
    )


def _role_name(player: Any) -> str:
    """kloppy's position of a player ("Right Center Back"), "" where the provider names none."""
    position = player.starting_position
    name = getattr(position, "name", "")
    return "" if name in ("Unknown", None) else str(name)

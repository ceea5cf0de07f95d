"""Where the trajectory models' matches come from: SkillCorner's open data, the generator, or the
user's own files of another provider kloppy reads (:mod:`colab_utils.tracking.providers`).

baller2vec and gnn train on the same matches: the same download, the same generated matches
(same ids and folders, so one generated set serves both) or the same folder, parsed once and
then read from a local ``.npz`` cache. A match that cannot be read is reported and left out.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from colab_utils.errors import DataError
from colab_utils.tracking.download import download_matches
from colab_utils.tracking.providers import PROVIDERS, ProviderFiles, find_matches
from colab_utils.tracking.skillcorner import LfsPointerError, Match, MatchFiles, load_cached
from colab_utils.tracking.synthetic import write_match

SYNTHETIC_FIRST_ID = 9_000_001


def data_root(cfg: DictConfig) -> Path:
    """The local folder of this config's matches (and their cache)."""
    data_dir = Path(cfg.run.data_dir)
    if cfg.data.source == "skillcorner":
        return data_dir / "skillcorner"
    if cfg.data.source == "synthetic":
        synthetic = cfg.data.synthetic
        name = f"skillcorner-{synthetic.matches}x{float(synthetic.minutes):g}min-seed{synthetic.seed}"
        return data_dir / "synthetic" / name
    if cfg.data.source in PROVIDERS:
        return data_dir / cfg.data.source
    raise DataError(
        f"data.source={cfg.data.source!r} is not one of {', '.join(('skillcorner', 'synthetic', *PROVIDERS))}"
    )


def match_files(cfg: DictConfig) -> list[MatchFiles | ProviderFiles]:
    """Download (SkillCorner), generate (synthetic) or find (a provider's folder) the matches."""
    root = data_root(cfg)
    if cfg.data.source == "skillcorner":
        return download_matches(root, list(cfg.data.match_ids) if cfg.data.match_ids else None)
    if cfg.data.source in PROVIDERS:
        return find_matches(cfg.data.source, cfg.data.folder, cfg.data.pitch_size)
    synthetic, folder = cfg.data.synthetic, root / "data" / "matches"
    files = []
    for k in range(int(synthetic.matches)):
        match_id = SYNTHETIC_FIRST_ID + k
        if not (folder / str(match_id)).is_dir():  # written aside, then moved: a kill leaves no half match
            scratch = root / "partial"
            shutil.rmtree(scratch, ignore_errors=True)
            written = write_match(scratch, match_id, int(synthetic.seed), float(synthetic.minutes))
            folder.mkdir(parents=True, exist_ok=True)
            written.rename(folder / str(match_id))
        files.append(MatchFiles.in_folder(folder / str(match_id), match_id))
    return files


def load_matches(cfg: DictConfig) -> tuple[list[Match], list[Match], list[str]]:
    """(training, validation) matches from the ``.npz`` cache, and a line per match that could not be read."""
    files = sorted(match_files(cfg), key=lambda f: f.match_id)
    cache = data_root(cfg) / "cache"
    matches, skipped = [], []
    for found in files:
        try:
            matches.append(load_cached(found, cache / f"{found.match_id}.npz"))
        except (LfsPointerError, OSError, ValueError, KeyError) as error:  # JSONDecodeError, DataError too
            skipped.append(f"match {found.match_id}: {type(error).__name__}: {error}")
    held_out = int(cfg.data.valid_matches)
    if len(matches) <= held_out:
        raise ValueError(
            f"{len(matches)} readable match(es) ({len(skipped)} skipped) but data.valid_matches={held_out} "
            "are held out: nothing is left to train on. Lower data.valid_matches or add matches "
            "(data.match_ids)." + "".join(f"\n  skipped {line}" for line in skipped)
        )
    return matches[: len(matches) - held_out], matches[len(matches) - held_out :], skipped


def cached_fps(cfg: DictConfig) -> float | None:
    """The frame rate of this config's parsed matches (None before the data step): read from the
    cache, so an export on a fresh runtime neither downloads nor parses anything."""
    for path in sorted((data_root(cfg) / "cache").glob("*.npz")):
        try:
            with np.load(path) as data:
                return float(json.loads(str(data["meta"]))["fps"])
        except (OSError, ValueError, KeyError):
            continue
    return None


def describe_source(cfg: DictConfig) -> str:
    """The data source in words, for the data step's summary."""
    if cfg.data.source == "skillcorner":
        return "SkillCorner open data"
    if cfg.data.source in PROVIDERS:
        return f"{cfg.data.source} tracking from {cfg.data.folder}, read by kloppy"
    return f"synthetic matches in SkillCorner's format ({float(cfg.data.synthetic.minutes):g} min each)"

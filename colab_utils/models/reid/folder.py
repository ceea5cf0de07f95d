"""``data.source=folder`` for reid: your crops named as sn-reid names them, or one folder per identity.

Crops named as reid-2023 names them (``<bbox>-<action>-<person>-<frame>-<class>-<ID>-<UAI>-<H>x<W>.png``)
are linked as they are. In the other layout, ``<identity>/<any>.jpg`` (or ``<game>/<identity>/...``),
each crop is linked under the name sn-reid would give it, the identity and game read from its
folders, so the reid-2023 verification and manifest apply unchanged; a crop outside an identity
folder keeps its own name and is counted as malformed. A validation split held out here is whole
identities (whole games when there are several), never frames: each held-out identity's first
crop (sn-reid: its action frame) is the query, the others the gallery.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig
from PIL import Image

from colab_utils.errors import DataError
from colab_utils.holdout import hold_out
from colab_utils.models.reid.files import (
    CROP_SUFFIXES,
    CropName,
    CropNameError,
    load_verified_split,
    parse_crop_name,
    verify_reid_split,
    write_manifest,
)
from colab_utils.models.reid.synthetic.dataset import REID_TASK
from colab_utils.user_folder import (
    expected,
    files,
    fingerprint,
    link,
    prepare_views,
    safe_name,
    split_folders,
    stage,
)

LAYOUTS = (
    "crops named as SoccerNet reid-2023 names them (<bbox>-<action>-<person>-<frame>-<class>-<ID>-<UAI>-"
    "<H>x<W>.png; a valid/ split holds query/ and gallery/), or one folder per identity "
    "(<identity>/<crop>.jpg, optionally <game>/<identity>/<crop>.jpg), optionally under train/ and valid/"
)


def _crops(folder: Path) -> list[Path]:
    return [path for path in files(folder) if path.suffix.lower() in CROP_SUFFIXES]


def _sn_named(path: Path) -> CropName | None:
    try:
        return parse_crop_name(path.name)
    except CropNameError:
        return None


def _size(path: Path) -> tuple[int, int]:
    """(height, width) from the image header; (0, 0) when it cannot be read (verification skips it)."""
    try:
        with Image.open(path) as image:
            return image.height, image.width
    except OSError:
        return 0, 0


def _identity_names(folder: Path) -> dict[Path, tuple[str, str, int, str]]:
    """Crop -> (game, identity, its number within the identity, its sn-reid name) for
    ``<identity>/<crop>`` or ``<game>/<identity>/<crop>``; a crop outside an identity folder keeps
    its own name."""
    crops = _crops(folder)
    games = sorted({p.relative_to(folder).parts[0] for p in crops if len(p.relative_to(folder).parts) >= 3})
    named: dict[Path, tuple[str, str, int, str]] = {}
    counts: dict[tuple[str, str], int] = {}
    for path in crops:
        parts = path.relative_to(folder).parts
        if len(parts) < 2:
            named[path] = ("", "", -1, path.name)  # no identity folder: verification counts its name
            continue
        game, identity = (parts[0], "/".join(parts[1:-1])) if len(parts) >= 3 else ("", parts[0])
        frame = counts.get((game, identity), 0)
        counts[(game, identity)] = frame + 1
        height, width = _size(path)
        action = games.index(game) if game else 0
        fields = [len(named), action, safe_name(identity), frame, "Player", "None", f"u{len(named)}"]
        name = "-".join(str(f) for f in fields) + f"-{height}x{width}{path.suffix.lower()}"
        named[path] = (game, identity, frame, name)
    return named


def _link_as_given(folder: Path, view: Path) -> None:
    for path in files(folder):
        link(path, view / path.relative_to(folder))


def prepare_folder(cfg: DictConfig) -> str:
    """The data step for ``data.source=folder``: stage, split by identity or game, link and verify."""
    staged = stage(cfg, LAYOUTS)
    train_dir, valid_dir = split_folders(staged.data, cfg)
    train_split, val_split = str(cfg.data.train_split), str(cfg.data.val_split)
    splits = list(dict.fromkeys([train_split, val_split]))

    def build(task_dir: Path) -> str:
        crops = _crops(train_dir)
        if not crops:
            raise DataError(f"No crop (.png, .jpg) in {train_dir}: {expected(LAYOUTS)}")
        sn_named = any(_sn_named(path) for path in crops)
        if valid_dir is not None:
            if not sn_named:
                raise DataError(
                    f"{valid_dir} is a given validation split, which reid ranks: it needs crops named as "
                    "sn-reid names them in query/ and gallery/. Leave valid/ out to hold out identities."
                )
            _link_as_given(train_dir, task_dir / train_split)
            _link_as_given(valid_dir, task_dir / val_split)
            return f"Validation: {valid_dir.name}/ of data.folder."
        if sn_named:
            names = {path: _sn_named(path) for path in crops}
            group = {path: str(name.action_idx) if name else "" for path, name in names.items()}
            held, note = hold_out({g for g in group.values() if g}, "actions")
            query = {path for path, name in names.items() if name and name.frame_idx == 0}
            target = {path: path.name for path in crops}
            note += " Crops of the action frame (frame_idx 0) are the queries, the replays the gallery."
        else:
            named = _identity_names(train_dir)
            by_game = len({game for game, *_ in named.values() if game}) > 1
            group = {path: (game if by_game else identity) for path, (game, identity, *_) in named.items()}
            held, note = hold_out({g for g in group.values() if g}, "games" if by_game else "identities")
            query = {path for path, (_, _, frame, _) in named.items() if frame == 0}
            target = {path: name for path, (*_, name) in named.items()}
            note += " Each held-out identity's first crop is its query, the others its gallery."
        for path in files(train_dir):
            if path not in target:  # not a crop: verification lists it as another file
                link(path, task_dir / train_split / path.relative_to(train_dir))
            elif group[path] in held:
                subset = "query" if path in query else "gallery"
                link(path, task_dir / val_split / subset / target[path])
            else:
                link(path, task_dir / train_split / target[path])
        return note

    key = fingerprint(staged.data, splits)
    return prepare_views(
        staged,
        REID_TASK,
        splits,
        key,
        build,
        lambda split_dir: write_manifest(verify_reid_split(split_dir)),
        load_verified_split,
    )

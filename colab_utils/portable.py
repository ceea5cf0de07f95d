"""The portable weights file: what a user downloads at the end of a notebook.

It holds the best weights as a plain state dict, the config they were trained with (as
plain Python values) and what inference needs (input size, names of outputs, metrics),
so ``torch.load(path, weights_only=True)`` opens it in any fresh Python with torch, no
colab_utils required. In Colab it is handed to the browser; elsewhere it is copied to a
folder and its path printed.
"""

from __future__ import annotations

import datetime
import os
import shutil
from pathlib import Path
from typing import Any

import torch
import yaml
from omegaconf import DictConfig

import colab_utils
from colab_utils import runtime as rt
from colab_utils.engine.checkpoint import BEST_FILE, CheckpointStore
from colab_utils.engine.oom import with_recorded_stepdown
from colab_utils.registry import get_task

PORTABLE_FORMAT = "colab_utils.portable/1"


def _weights_source(store: CheckpointStore) -> tuple[dict[str, Any], str]:
    best = store.best()
    if best is not None:
        return best.payload, BEST_FILE
    newest = store.newest_valid()
    if newest is None:
        raise FileNotFoundError(
            f"No checkpoint in {store.folder}: train the model first (the train step), then export."
        )
    return newest.payload, newest.path.name


def portable_payload(cfg: DictConfig, half: bool = False) -> dict[str, Any]:
    """The portable file's content for ``cfg``'s run, built from its best checkpoint."""
    cfg = with_recorded_stepdown(cfg)  # the settings it trained with, out-of-memory step-downs included
    store = CheckpointStore(Path(cfg.run.dir) / "checkpoints")
    source, source_name = _weights_source(store)
    trained_cfg = yaml.safe_load(source["config"])
    state = {k: v.half() if half and v.is_floating_point() else v.clone() for k, v in source["model"].items()}
    meta = {
        **get_task(cfg.task).export_meta(cfg),
        "metrics": source.get("metrics", {}),
        "epoch": source.get("epoch", source.get("progress", {}).get("epoch")),
        "source": source_name,
        "library_version": colab_utils.__version__,
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return {
        "format": PORTABLE_FORMAT,
        "model": cfg.run.model,
        "task": cfg.task,
        "state_dict": state,
        "config": trained_cfg,
        "meta": meta,
        "model_signature": source.get("model_signature"),  # what model.init_from checks the network by
    }


def load_portable(path: str | Path) -> dict[str, Any]:
    """Open a portable file safely (no pickled code runs) and check what it is."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != PORTABLE_FORMAT:
        raise ValueError(f"{path} is not a colab_utils portable weights file (export one with export()).")
    return payload


def deliver(path: Path, dest_dir: str | Path | None = None) -> Path:
    """Hand the file to the user: browser download in Colab, a copy elsewhere."""
    if rt.in_colab():
        from google.colab import files

        files.download(str(path))
        print(f"Downloading {path.name} ({_size(path)}) to your computer (also kept at {path}).")
        return path
    dest = Path(dest_dir or "exported").resolve()
    dest.mkdir(parents=True, exist_ok=True)
    copy = dest / path.name
    shutil.copy2(path, copy)
    print(f"Exported weights: {copy} ({_size(copy)})")
    return copy


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def weights_identity(cfg: DictConfig) -> str:
    """What the export is made of: the source checkpoint's name, size and time, and the precision.
    The same identity means the same weights (best.pth is only ever replaced, never edited)."""
    folder = Path(cfg.run.dir) / "checkpoints"
    store = CheckpointStore(folder)
    source = folder / BEST_FILE if (folder / BEST_FILE).is_file() else next(iter(store.step_files()), None)
    if source is None:
        return ""
    stat = source.stat()
    return f"{source.name} {stat.st_size} {stat.st_mtime_ns} half={bool(cfg.export.half)}"


def export(cfg: DictConfig, download: bool = True, again: bool = False) -> Path:
    """Write ``<run>/export/<model>-<run>.pth`` from the best checkpoint and deliver it.

    In Colab a file already sent to the browser with the same weights is not sent again (Run all
    after a finished run would download it once more each time); ``again=True`` sends it anyway.
    """
    out_dir = Path(cfg.run.dir) / "export"
    out = out_dir / f"{cfg.run.model}-{cfg.run.name}.pth"
    sent = out.with_name(out.name + ".sent")  # the identity of the weights last sent to the browser
    identity = weights_identity(cfg)
    colab_download = download and rt.in_colab()
    if colab_download and not again and out.is_file() and sent.is_file() and sent.read_text() == identity:
        print(
            f"{out.name} was already downloaded to your computer with these weights: not sent again. It is "
            f"on Drive at {out}; colab_utils.export(cfg, again=True) downloads it once more."
        )
        return out
    payload = portable_payload(cfg, half=bool(cfg.export.half))
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    torch.save(payload, tmp)
    os.replace(tmp, out)
    if not download:
        return out
    delivered = deliver(out, cfg.export.dir)
    if colab_download:
        sent.write_text(identity)
    return delivered

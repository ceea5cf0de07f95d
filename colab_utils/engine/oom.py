"""Out-of-memory step-down: when CUDA runs out of memory, train with smaller settings and go on.

``train.oom_ladder`` lists rungs; each out-of-memory error takes the next rung that changes
something:

* ``halve_batch``: ``train.batch_size`` divided by 2 (by its smallest factor when odd) and
  ``train.accumulate`` multiplied by the same, so the effective batch, the optimizer steps
  per epoch and the learning-rate schedule stay as they were;
* a mapping of dotted keys to values, e.g. ``{data.input_size: [640, 360]}``; derived sizes
  follow, since the values go through the same composition as the user's overrides.
  ``{model.grad_checkpointing: true}`` trades compute for memory and keeps the training as it was,
  so the t4 profiles take it before they shrink the input.

Each step is appended to the run folder's ``oom_stepdown.yaml`` (when, where, torch's message,
the values set); ``load_config`` applies it on every later start of the run, so a new session
does not run out of memory again, and :func:`with_recorded_stepdown` applies it to a config
loaded before the step (the notebook's evaluate and export steps). A rung may not change the
network's shape: the training continues from the newest checkpoint, whose weights must still fit.
"""

from __future__ import annotations

import datetime
import gc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf

from colab_utils.config import ConfigError, with_overrides
from colab_utils.engine.checkpoint import CheckpointStore
from colab_utils.engine.contract import Task
from colab_utils.files import write_atomically
from colab_utils.setting_text import hydra_overrides, show_value
from colab_utils.stepdown_record import STEPDOWN_FILE, read_stepdown

HALVE_BATCH = "halve_batch"
RECORD_HEADER = """\
# Written by colab_utils: training this run ran out of GPU memory and stepped down train.oom_ladder.
# Every later start of the run (notebook, CLI) applies the overrides below after the profile; an
# explicit override of the same key wins. Delete this file to go back to the profile's settings.
"""
_ABSENT = object()


class OutOfMemoryLadderExhausted(ConfigError):
    """Out of GPU memory with no rung left on ``train.oom_ladder``; the message says what to lower."""


@dataclass(frozen=True)
class OutOfMemory:
    """One out-of-memory error: where training was and torch's message."""

    where: str
    error: str

    @property
    def summary(self) -> str:
        """torch's first sentences: what it tried to allocate and how much the GPU had free."""
        sentences = self.error.strip().split("\n")[0].split(". ")
        return ". ".join(sentences[:3]).rstrip(".") + "."


@dataclass(frozen=True)
class Step:
    """The rung taken (index into the ladder) and the values it sets, with those they replace."""

    rung: int
    values: dict[str, Any]
    old: dict[str, Any]

    def changes(self) -> str:
        pairs = self.values.items()
        return ", ".join(f"{key} {show_value(self.old[key])} -> {show_value(value)}" for key, value in pairs)


def _value(cfg: DictConfig, key: str) -> Any:
    value = OmegaConf.select(cfg, key, default=_ABSENT)
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, ListConfig) else value


def ladder(cfg: DictConfig) -> list[Any]:
    """``train.oom_ladder``, checked: each rung is ``halve_batch`` or a mapping of settings to values."""
    rungs = OmegaConf.to_container(cfg.train.oom_ladder, resolve=True)
    example = "e.g. [halve_batch, {data.input_size: [640, 360]}]"
    if not isinstance(rungs, list):
        raise ConfigError(f"train.oom_ladder must be a list of rungs, {example}; got {rungs!r}.")
    for number, rung in enumerate(rungs, 1):
        if rung == HALVE_BATCH:
            continue
        if not isinstance(rung, dict) or not rung:
            raise ConfigError(
                f"train.oom_ladder rung {number} is {rung!r}: write {HALVE_BATCH} or a mapping of "
                f"settings to values, {example}."
            )
        for key, value in rung.items():
            current = OmegaConf.select(cfg, key, default=_ABSENT)
            if current is _ABSENT or isinstance(current, DictConfig) or isinstance(value, dict):
                raise ConfigError(
                    f"train.oom_ladder rung {number} sets {key!r}, which is not a single setting of this "
                    "model; use the dotted key of one value, e.g. data.input_size."
                )
            if key.split(".")[0] in ("run", "derived") or key == "train.oom_ladder":
                raise ConfigError(f"train.oom_ladder rung {number} may not set {key} (not a memory setting).")
    return rungs


def rung_values(rung: Any, cfg: DictConfig) -> dict[str, Any]:
    """The values a rung sets from ``cfg``, without those ``cfg`` already has ({}: nothing to change)."""
    if rung == HALVE_BATCH:
        batch = int(cfg.train.batch_size)
        factor = next((f for f in range(2, batch + 1) if batch % f == 0), None)
        if factor is None:
            return {}
        return {"train.batch_size": batch // factor, "train.accumulate": int(cfg.train.accumulate) * factor}
    return {key: value for key, value in rung.items() if _value(cfg, key) != value}


def next_step(cfg: DictConfig, start: int) -> Step | None:
    """The first rung from ``start`` on that changes something, or None when the ladder is used up."""
    rungs = ladder(cfg)
    for index in range(start, len(rungs)):
        values = rung_values(rungs[index], cfg)
        if values:
            return Step(index, values, {key: _value(cfg, key) for key in values})
    return None


def write_record(run_dir: Path, record: dict[str, Any]) -> Path:
    """Write the step-down record atomically (a killed session leaves the old or the new one)."""
    path = run_dir / STEPDOWN_FILE
    run_dir.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(record, sort_keys=False, default_flow_style=None, width=100, allow_unicode=True)
    return write_atomically(path, RECORD_HEADER + text)


@dataclass(frozen=True)
class StepDown:
    """One step down the ladder: the config to train with now, the message to print, the record."""

    config: DictConfig
    message: str
    record_path: Path


def step_down(cfg: DictConfig, task: Task, oom: OutOfMemory) -> StepDown:
    """Take the next rung and record it; ``cfg`` is left as it is, the step's config is returned.

    Raises :class:`OutOfMemoryLadderExhausted` when no rung is left.
    """
    run_dir = Path(cfg.run.dir)
    record = read_stepdown(run_dir)
    step = next_step(cfg, record["next_rung"])
    if step is None:
        raise OutOfMemoryLadderExhausted(exhausted_message(cfg, oom, len(record["steps"])))
    new = with_overrides(cfg, step.values)
    if task.model_signature(new) != task.model_signature(cfg):
        raise ConfigError(
            f"train.oom_ladder rung {step.rung + 1} ({step.changes()}) changes the network's shape, so the "
            "last checkpoint could not continue. Remove it from the ladder; lower the batch or the input "
            "size instead."
        )
    record["next_rung"] = step.rung + 1
    record["steps"].append(
        {
            "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "where": oom.where,
            "error": oom.error.strip().split("\n")[0],
            "rung": ladder(cfg)[step.rung],
            "overrides": step.values,
        }
    )
    path = write_record(run_dir, record)
    return StepDown(new, _step_message(cfg, new, step, oom, path), path)


def _step_message(old: DictConfig, new: DictConfig, step: Step, oom: OutOfMemory, record: Path) -> str:
    before, after = int(old.derived.effective_batch_size), int(new.derived.effective_batch_size)
    effective = f"{after} (unchanged)" if before == after else f"{before} -> {after}"
    if CheckpointStore(Path(old.run.dir) / "checkpoints").step_files():
        restart = "Continuing from the last checkpoint."
    else:
        restart = "No checkpoint yet: training starts again from the beginning."
    return (
        f"Out of GPU memory {oom.where}: {oom.summary}\n"
        f"Stepping down (train.oom_ladder rung {step.rung + 1} of {len(ladder(old))}): {step.changes()}; "
        f"effective batch {effective}.\n"
        f"Recorded in {record}: resuming this run (re-running the notebook, the CLI) keeps these settings. "
        + restart
    )


def with_recorded_stepdown(cfg: DictConfig) -> DictConfig:
    """``cfg`` with the values its run folder's step-down record sets, as a new config.

    A config loaded before training stepped down (the notebook's later cells) evaluates and
    exports with the settings the run trained with. Without a record, or when ``cfg`` already
    has them, ``cfg`` itself is returned.
    """
    values: dict[str, Any] = {}
    for step in read_stepdown(cfg.run.dir)["steps"]:
        values.update(step["overrides"])
    changed = {key: value for key, value in values.items() if _value(cfg, key) != value}
    return with_overrides(cfg, changed) if changed else cfg


def exhausted_message(cfg: DictConfig, oom: OutOfMemory, taken: int) -> str:
    """What to do when even the ladder's last rung runs out of memory."""
    named = {key for rung in ladder(cfg) if isinstance(rung, dict) for key in rung}
    keys = ["train.batch_size", *sorted(named - {"train.batch_size"})]
    current = ", ".join(f"{key} {show_value(_value(cfg, key))}" for key in keys)
    return (
        f"Out of GPU memory {oom.where} ({oom.summary}) and train.oom_ladder has no rung left that "
        f"changes anything ({taken} taken, recorded in {Path(cfg.run.dir) / STEPDOWN_FILE}). The model does "
        f"not fit this GPU at {current}. Choose a smaller profile or model, or lower these settings with "
        "overrides (halve train.batch_size and double train.accumulate to keep the effective batch), or "
        "use a GPU with more memory (Colab: Runtime > Change runtime type)."
    )


def distributed_message(cfg: DictConfig, oom: OutOfMemory, rank: int, world_size: int) -> str:
    """Under torchrun the other ranks wait inside a collective: stop, and say what to restart with."""
    step = next_step(cfg, read_stepdown(cfg.run.dir)["next_rung"])
    settings = " ".join(hydra_overrides(step.values)) if step else "a smaller train.batch_size"
    return (
        f"Out of GPU memory on rank {rank} of {world_size} {oom.where}: {oom.summary}\n"
        "Under torchrun the out-of-memory step-down does not run (the other processes wait inside a "
        "collective operation and cannot be told to rebuild), so this run stops. Start it again with "
        f"{settings}; it resumes from the last checkpoint."
    )


def free_cuda_memory() -> None:
    """Once the failed attempt's model, optimizer and loaders are dropped: collect them, release the cache."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def continue_position(old: list[list[int]], new: list[list[int]], done: int, world_size: int = 1) -> int:
    """Where to continue an epoch in ``new`` batches after ``done`` (per rank) of ``old`` ones.

    The samples of the first ``done * world_size`` old batches were trained on; the epoch goes on
    at the first new batch holding one that was not, so no sample is skipped. With the same
    sample order cut into smaller batches (``ShuffledBatches``) nothing is repeated either.
    """
    seen = {index for batch in old[: done * world_size] for index in batch}
    first = next((i for i, batch in enumerate(new) if not seen.issuperset(batch)), len(new))
    return first // world_size

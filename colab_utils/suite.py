"""``train_all()``: the whole suite, model after model, across as many Colab sessions as it takes.

First every model's data is prepared (downloads fail early, before hours of training);
then the models train in order, each resuming from its own checkpoints. A
model that fails is reported and the others go on. After every model the run's state is
written to ``<drive>/<project>/train_all/<run>/`` (``state.json`` and ``summary.csv``),
so re-running after a disconnect skips the finished models without touching their data
and continues the one that was interrupted.

(Not named ``train_all.py``: importing a submodule sets the package attribute of its name,
which would shadow the ``colab_utils.train_all`` function of the lazy API.)
"""

from __future__ import annotations

import csv
import datetime
import gc
import hashlib
import json
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from colab_utils import runtime as rt
from colab_utils.config import load_config
from colab_utils.engine.trainer import BUDGET_MARGIN_S, TrainResult, session_clock
from colab_utils.files import write_atomically
from colab_utils.pipeline import prepare_data, train
from colab_utils.portable import export
from colab_utils.registry import shipped_models

# Each model package's TRAIN_ORDER: the order in which the models feed each other at inference.
# The camera (calibration, homography) puts everything in pitch coordinates, then trajectories,
# the 3-D ball, players (re-id, detection) and the tactics graph. Each trains on its own data, so
# the order only decides which models are ready first.
ORDER = tuple(shipped_models())
MIN_START_S = BUDGET_MARGIN_S + 10 * 60  # with less left, a model would stop before its first checkpoint
STATE_FORMAT = "colab_utils.train_all/1"

WAITING = "waiting"
TRAINING = "training"  # on disk while a model trains: found on a re-run, the session died during it
TRAINED = "trained now"
SKIPPED = "skipped (finished earlier)"
STOPPED = "stopped (time budget)"
NOT_STARTED = "not started (time budget)"
NO_DATA = "no data"
FAILED = "failed"
DONE = (TRAINED, SKIPPED)
PREPARED_BEFORE = (WAITING, TRAINING, STOPPED, NOT_STARTED)

COMPLETION_NOTES = {
    "early_stopped": "stopped early: no improvement within the patience",
    "max_steps": "reached train.max_steps",
}


@dataclass
class Row:
    """One model's line of the summary; ``fingerprint`` identifies the config it was trained with."""

    model: str
    status: str = WAITING
    metric: str = ""
    value: float | None = None
    hours: float | None = None
    weights: str = ""
    note: str = ""
    fingerprint: str = ""


def select_models(models: str | Sequence[str] | None) -> list[str]:
    """The requested models (a list or "a,b") in training order; an unknown name is refused."""
    if models is None:
        return list(ORDER)
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",")]
    unknown = [m for m in models if m not in ORDER]
    if unknown:
        raise ValueError(
            f"Unknown model(s) {', '.join(unknown)}. Valid models, in training order: {', '.join(ORDER)}."
        )
    return [m for m in ORDER if m in models]


def split_overrides(overrides: Sequence[str], models: Sequence[str]) -> dict[str, list[str]]:
    """Per-model overrides: ``key=value`` goes to every model, ``<model>:key=value`` to that one only."""
    per_model: dict[str, list[str]] = {m: [] for m in models}
    for item in overrides:
        key = item.split("=", 1)[0]
        if ":" not in key:
            for found in per_model.values():
                found.append(item)
            continue
        model, override = item.split(":", 1)
        if model not in ORDER:
            raise ValueError(
                f"{item!r}: {model!r} is not a model. Write <model>:key=value with one of {', '.join(ORDER)}."
            )
        if model in per_model:
            per_model[model].append(override)
    return per_model


class RunState:
    """``state.json`` (read back on a re-run) and ``summary.csv`` (for people) of one train-all run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.json_path = folder / "state.json"
        self.csv_path = folder / "summary.csv"
        self.rows: dict[str, Row] = {}
        if self.json_path.exists():
            names = {f.name for f in fields(Row)}
            for row in json.loads(self.json_path.read_text())["models"]:
                self.rows[row["model"]] = Row(**{k: v for k, v in row.items() if k in names})

    def table(self) -> pd.DataFrame:
        rows = [asdict(self.rows[m]) for m in ORDER if m in self.rows]
        table = pd.DataFrame(rows, columns=[f.name for f in fields(Row)]).drop(columns="fingerprint")
        return table.round({"hours": 3})

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {
            "format": STATE_FORMAT,
            "updated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "models": [asdict(self.rows[m]) for m in ORDER if m in self.rows],
        }
        write_atomically(self.json_path, json.dumps(state, indent=1))
        write_atomically(self.csv_path, self.table().to_csv(index=False))


def fingerprint(cfg: DictConfig) -> str:
    return hashlib.sha256(OmegaConf.to_yaml(cfg, resolve=True).encode()).hexdigest()[:16]


def last_line(error: BaseException) -> str:
    """The failure for the summary: its kind (without the module's path) and its message's last line."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[-1] if lines else ''}".strip()


def training_hours(run_dir: Path) -> float | None:
    """Training time of the run over all its sessions, from the last row of its metrics.csv."""
    path = run_dir / "metrics.csv"
    if not path.exists():
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return float(rows[-1]["seconds"]) / 3600 if rows and rows[-1].get("seconds") else None


def summary_text(table: pd.DataFrame) -> str:
    """The table for a terminal: one short line per model, then the long columns model by model."""
    lines = [table.drop(columns=["weights", "note"]).to_string(index=False)]
    for column, heading in (("note", "notes:"), ("weights", "weights:")):
        lines += [heading] + [f"  {r.model}: {r[column]}" for _, r in table.iterrows() if r[column]]
    return "\n".join(lines)


def _after_training(model: str, cfg: DictConfig, result: TrainResult, fp: str) -> Row:
    row = Row(
        model,
        metric=str(cfg.train.monitor),
        value=result.best_metric,
        hours=training_hours(result.run_dir),
        fingerprint=fp,
    )
    if result.status == "time_budget":
        weights = str(result.best_path or "")
        return replace(row, status=STOPPED, weights=weights, note=f"re-run to continue with {model}")
    weights = export(cfg, download=False)
    print(f"{model}: portable weights {weights}")
    if result.status == "already_finished":
        return replace(row, status=SKIPPED, weights=str(weights), note="finished earlier")
    notes = [COMPLETION_NOTES.get(result.status, "")]
    if result.resumed_from is not None:
        notes.append(f"resumed from {result.resumed_from.name}")
    return replace(row, status=TRAINED, weights=str(weights), note="; ".join(n for n in notes if n))


def _release_memory() -> None:
    """Let the next model start with the GPU memory the previous one held."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _load_configs(
    models: list[str], profile: str, overrides: Sequence[str], run_name: str, runtime: rt.Runtime
) -> tuple[dict[str, DictConfig], dict[str, Row]]:
    per_model = split_overrides(overrides, models)
    configs, failed = {}, {}
    for model in models:
        try:
            configs[model] = load_config(model, profile, [*per_model[model], f"run.name={run_name}"], runtime)
        except Exception as error:
            failed[model] = Row(model, FAILED, note=f"config: {last_line(error)}")
            print(f"{model}: its config failed ({last_line(error)}); the other models go on.")
    return configs, failed


def _prepare(model: str, cfg: DictConfig, state: RunState) -> bool:
    """Download or generate ``model``'s data; on failure its row says why and False is returned."""
    print(f"\n== data: {model} ==")
    try:
        prepare_data(cfg)
    except Exception as error:
        state.rows[model] = Row(model, NO_DATA, note=last_line(error), fingerprint=fingerprint(cfg))
        print(f"{model}: no data ({last_line(error)}). It is left out; fix that and re-run.")
        return False
    return True


def _plan(configs: dict[str, DictConfig], state: RunState) -> tuple[list[str], set[str]]:
    """(models to train, those whose data are prepared just before training).

    Data are prepared up front, so that a missing token shows up before hours of training,
    except for models whose data an earlier session of this run prepared with the same
    config: a new runtime's disk is empty, and downloading every dataset again in every
    session would cost the time of the models that are not reached in it.
    """
    ready, later = [], set()
    for model, cfg in configs.items():
        fp, old = fingerprint(cfg), state.rows.get(model)
        same = old is not None and old.fingerprint == fp
        if same and old.status in DONE and Path(old.weights).is_file():
            state.rows[model] = replace(old, status=SKIPPED, note="finished earlier")
            print(f"\n{model}: finished in an earlier session with this config: skipped.")
            continue
        if same and old.status == TRAINING:
            print(f"\n{model} was interrupted in the previous run: it resumes from its newest checkpoint.")
        if same and old.status in PREPARED_BEFORE:
            later.add(model)
        elif not _prepare(model, cfg, state):
            continue
        state.rows[model] = Row(model, WAITING, fingerprint=fp)
        ready.append(model)
    return ready, later


def train_all(
    profile: str = "auto",
    models: str | Sequence[str] | None = None,
    run_name: str = "default",
    overrides: Sequence[str] = (),
    time_budget_h: float | None = None,
    runtime: rt.Runtime | None = None,
) -> pd.DataFrame:
    """Prepare the data of ``models`` (default: all), train them in order, export, summarize.

    ``overrides`` are config overrides for every model (``train.epochs=5``) or for one
    (``gnn:train.epochs=5``). Every model trains in its run folder ``<model>/<run_name>``,
    so a model already trained under that name in its own notebook is skipped here.
    Returns the summary table (also in ``summary.csv`` of the train-all run folder).
    """
    chosen = select_models(models)
    runtime = runtime or rt.setup(profile=profile, time_budget_h=time_budget_h)
    configs, failed = _load_configs(chosen, profile, overrides, run_name, runtime)
    project = next(iter(configs.values())).run.project if configs else "colab_utils"
    state = RunState(runtime.drive_root / project / "train_all" / run_name)
    state.rows.update(failed)
    ready, later = _plan(configs, state)
    state.save()

    continue_with = None
    for index, model in enumerate(ready, 1):
        cfg, fp = configs[model], state.rows[model].fingerprint
        if continue_with or session_clock(cfg, runtime.clock).remaining() < MIN_START_S:
            continue_with = continue_with or model
            note = f"re-run to continue with {continue_with}"
            state.rows[model] = replace(state.rows[model], status=NOT_STARTED, note=note)
            continue
        if model in later and not _prepare(model, cfg, state):
            state.save()
            continue
        print(f"\n== train {index}/{len(ready)}: {model} ==")
        state.rows[model] = replace(state.rows[model], status=TRAINING)
        state.save()
        try:
            row = _after_training(model, cfg, train(cfg, runtime), fp)
        except Exception as error:
            traceback.print_exc()
            row = Row(model, FAILED, note=last_line(error), fingerprint=fp)
            print(f"{model} failed: {row.note}. The other models go on.")
        finally:
            _release_memory()
        state.rows[model] = row
        state.save()
        if row.status == STOPPED:
            continue_with = model

    state.save()
    table = state.table()
    print("\n" + summary_text(table))
    print(f"Summary written to {state.csv_path}")
    if continue_with:
        print(f"The session's time budget is nearly used up: re-run to continue with {continue_with}.")
    elif any(state.rows[m].status not in DONE for m in chosen):
        print(
            "Some models did not finish (see their status and note). Fix the cause and re-run: "
            "the finished ones are skipped."
        )
    return table

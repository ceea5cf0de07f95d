"""A run folder's record of its out-of-memory step-downs (``oom_stepdown.yaml``), read back.

The engine (``colab_utils/engine/oom.py``) takes the steps and writes the record; ``load_config``
reads it on every later start so a new session keeps the smaller settings. Reading it is plain
YAML, kept here so the config loader needs nothing from the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from colab_utils.errors import UserError
from colab_utils.setting_text import hydra_overrides, show_value

STEPDOWN_FILE = "oom_stepdown.yaml"
STEPDOWN_SOURCE = "OOM step-down"


class StepDownRecordDamaged(UserError, ValueError):
    """The run folder's step-down record cannot be read; the message says what to do."""


def read_stepdown(run_dir: str | Path) -> dict[str, Any]:
    """The run folder's out-of-memory step-down record: ``next_rung`` and the ``steps`` taken."""
    path = Path(run_dir) / STEPDOWN_FILE
    if not path.is_file():
        return {"next_rung": 0, "steps": []}
    try:
        record = yaml.safe_load(path.read_text())
        steps = record["steps"]
        if not isinstance(record["next_rung"], int) or not all(
            isinstance(step["overrides"], dict) for step in steps
        ):
            raise TypeError("next_rung must be a number and every step needs its overrides")
    except (yaml.YAMLError, KeyError, TypeError) as error:
        raise StepDownRecordDamaged(
            f"{path} is damaged ({error}). Delete it to train with the profile's settings again "
            "(the next out-of-memory error records a new one)."
        ) from None
    return record


@dataclass
class RecordedStepDown:
    """The step-down steps of a run folder that apply, and those the user's overrides replace."""

    path: Path
    kept: list[dict[str, Any]] = field(default_factory=list)
    replaced: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)

    @property
    def overrides(self) -> list[str]:
        """The kept steps' values, in order, as Hydra overrides."""
        return [item for step in self.kept for item in hydra_overrides(step["overrides"])]

    def notes(self) -> list[str]:
        """The lines the config report adds: where the kept settings come from, which were replaced."""
        lines = []
        if self.kept:
            lines.append(
                f"{STEPDOWN_SOURCE}: {self.path} keeps the smaller settings this run chose when it ran out "
                "of GPU memory (delete the file to go back to the profile's)."
            )
        for step, keys in self.replaced:
            recorded = ", ".join(f"{k}={show_value(v)}" for k, v in step["overrides"].items())
            lines.append(
                f"note: your override of {', '.join(keys)} replaces the {STEPDOWN_SOURCE} ({recorded}) "
                f"recorded in {self.path}; if the run runs out of memory again, it steps down to the next "
                "rung."
            )
        return lines


def recorded_stepdown(run_dir: str | Path, user_keys: set[str] = frozenset()) -> RecordedStepDown:
    """The recorded steps, in order; a step is left out whole when the user sets one of its keys
    (a halved batch without its doubled accumulation would change the effective batch)."""
    found = RecordedStepDown(Path(run_dir) / STEPDOWN_FILE)
    for step in read_stepdown(run_dir)["steps"]:
        clash = sorted(set(step["overrides"]) & user_keys)
        if clash:
            found.replaced.append((step, clash))
        else:
            found.kept.append(step)
    return found

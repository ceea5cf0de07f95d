"""The per-epoch metrics table of a run, kept as ``metrics.csv`` in the run folder.

It is rewritten whole (atomically) after each epoch rather than appended to, so a
runtime killed mid-write never leaves a torn line, and on resume the rows logged after
the checkpoint being resumed are dropped: the table always matches the weights.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from colab_utils.engine.callbacks.base import Callback, EpochEnd, TrainerView
from colab_utils.files import write_atomically


class History(Callback):
    """metrics.csv: cut back to the checkpoint training starts from, then one row per epoch."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []

    def on_train_start(self, trainer: TrainerView) -> None:
        self.load(up_to_step=trainer.progress.global_step)

    def on_epoch_end(self, trainer: TrainerView, epoch: EpochEnd) -> None:
        trainer.drive.write("metrics.csv", self._append_once, epoch.row)

    def _append_once(self, row: dict[str, Any]) -> None:
        """Add the epoch's row; repeated after a failed write, the row is still added once."""
        if self.rows and self.rows[-1] is row:
            self.rows.pop()
        self.append(row)

    def load(self, up_to_step: int | None) -> None:
        """Read the existing table, keeping rows logged at or before ``up_to_step``."""
        self.rows = []
        if not self.path.exists():
            return
        with open(self.path, newline="") as f:
            for row in csv.DictReader(f):
                parsed = {k: _number(v) for k, v in row.items() if v not in ("", None)}
                if up_to_step is None or parsed.get("step", 0) <= up_to_step:
                    self.rows.append(parsed)
        self._write()

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self._write()

    def column(self, name: str) -> tuple[list[float], list[float]]:
        """(epochs, values) where the column has a value."""
        pairs = [(r["epoch"], r[name]) for r in self.rows if name in r]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def _write(self) -> None:
        fields: list[str] = []
        for row in self.rows:
            fields += [k for k in row if k not in fields]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(self.rows)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, buffer.getvalue())


def _number(text: str) -> Any:
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and math.isfinite(value) and "." not in text else value

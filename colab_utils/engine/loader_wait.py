"""Is the data loader the bottleneck? Time spent waiting for batches, against the whole step.

A GPU that waits for data trains no faster on a bigger GPU or with mixed precision; the usual
causes on Colab are a data folder on Google Drive (each sample read over the network), too few
loader processes, and heavy augmentation of large source images. The trainer takes its batches
through :meth:`LoaderWait.batches`, which times each wait with ``time.perf_counter`` (nothing
else, so the cost is negligible). After the first ``EARLY_BATCHES`` batches of a run and at the
end of each epoch, a wait above ``WAIT_SHARE`` of the time is reported with what to do.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from omegaconf import DictConfig
from tqdm.auto import tqdm

from colab_utils import runtime as rt

WAIT_SHARE = 0.30
EARLY_BATCHES = 50
MIN_WAIT_S = 5.0  # a bottleneck that costs less than this is not worth the user's attention


def data_on_drive_warning(cfg: DictConfig) -> str | None:
    """The warning for a data folder on Google Drive, or None."""
    if not rt.on_google_drive(cfg.run.data_dir):
        return None
    return (
        f"The data folder {cfg.run.data_dir} (run.data_dir) is on Google Drive: every sample is read "
        "over the network, which can make training several times slower. Keep the data on the runtime's "
        f"local disk (run.data_dir={rt.COLAB_DATA_DIR}, or leave {rt.DATA_ENV} unset) and run the data "
        "step again."
    )


class LoaderWait:
    """Measures the share of training time spent waiting for the loader and reports a bottleneck."""

    def __init__(self, cfg: DictConfig, enabled: bool) -> None:
        self.data_dir = str(cfg.run.data_dir)
        self.workers = int(cfg.data.num_workers)
        self.enabled = enabled
        self.counted = 0  # batches timed in this run
        self.explained = False
        self._reset(time.perf_counter())

    def _reset(self, now: float) -> None:
        self.window_start, self.waited, self.window_batches = now, 0.0, 0

    def batches(self, loader: Iterable[Any], epoch: int) -> Iterator[Any]:
        """``loader``'s batches. The first of each pass is not timed: it includes starting the workers."""
        iterator = iter(loader)
        first = True
        while True:
            asked = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                self._check(f"epoch {epoch + 1}")
                return
            now = time.perf_counter()
            if first:
                first = False
                self._reset(now)
            else:
                self.waited += now - asked
                self.window_batches += 1
                self.counted += 1
                if self.counted == EARLY_BATCHES:
                    self._check(f"the first {EARLY_BATCHES} training steps")
            yield batch

    def share(self) -> float:
        """Waiting for data as a share of the time since the window started."""
        return self.waited / max(time.perf_counter() - self.window_start, 1e-9)

    def _check(self, where: str) -> None:
        share = self.share()
        if self.enabled and share > WAIT_SHARE and self.waited >= MIN_WAIT_S:
            tqdm.write(self.message(share, where))
            self.explained = True
        self._reset(time.perf_counter())

    def message(self, share: float, where: str) -> str:
        waiting = f"{share:.0%} of {where} went to waiting for data ({self.waited:.0f} s)"
        if self.explained:
            return f"The data loader is still the bottleneck: {waiting}."
        place = "on Google Drive" if rt.on_google_drive(self.data_dir) else "on the runtime's disk"
        return (
            f"The data loader is the bottleneck: {waiting}. Likely causes:\n"
            f"  - data read from Google Drive: run.data_dir is {self.data_dir} ({place}); it must be on "
            "the runtime's local disk.\n"
            f"  - too few loader processes: data.num_workers is {self.workers} and this runtime has "
            f"{os.cpu_count()} CPU cores; set data.num_workers to the number of cores (on Colab's 2 cores, "
            "more than 2-3 workers does not help).\n"
            "  - heavy augmentation or large source images: each sample is decoded and augmented on the "
            "CPU; smaller source images or lighter augmentation make it cheaper."
        )

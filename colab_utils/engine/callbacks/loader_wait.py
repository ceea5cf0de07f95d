"""Is the data loader the bottleneck? Time spent waiting for batches, against the whole step.

A GPU that waits for data trains no faster on a bigger GPU or with mixed precision; the usual
causes on Colab are a data folder on Google Drive (each sample read over the network), too few
loader processes, and heavy augmentation of large source images. The training loop times each
wait for a batch with ``time.perf_counter`` (nothing else, so the cost is negligible) and hands
it over with the step's time. After the first ``EARLY_BATCHES`` batches of a run and at the end
of each epoch, a wait above ``WAIT_SHARE`` of the time is reported with what to do.
"""

from __future__ import annotations

import os

from omegaconf import DictConfig
from tqdm.auto import tqdm

from colab_utils import runtime as rt
from colab_utils.engine.callbacks.base import BatchEnd, Callback, EpochEnd, TrainerView

WAIT_SHARE = 0.30
EARLY_BATCHES = 50
MIN_WAIT_S = 5.0  # a bottleneck that costs less than this is not worth the user's attention


class LoaderWait(Callback):
    """Measures the share of training time spent waiting for the loader and reports a bottleneck."""

    def __init__(self, cfg: DictConfig) -> None:
        self.data_dir = str(cfg.run.data_dir)
        self.workers = int(cfg.data.num_workers)
        self.counted = 0  # batches timed in this run
        self.explained = False
        self.first_of_pass = True
        self._reset()

    def _reset(self) -> None:
        self.waited, self.elapsed = 0.0, 0.0

    def on_epoch_start(self, trainer: TrainerView) -> None:
        self.first_of_pass = True

    def on_batch_end(self, trainer: TrainerView, batch: BatchEnd) -> None:
        """The first wait of each pass is not counted: it includes starting the loader's workers."""
        if self.first_of_pass:
            self.first_of_pass = False
            self._reset()
            self.elapsed = batch.step_s - batch.data_wait_s
            return
        self.waited += batch.data_wait_s
        self.elapsed += batch.step_s
        self.counted += 1
        if self.counted == EARLY_BATCHES:
            self._check(f"the first {EARLY_BATCHES} training steps")

    def on_epoch_end(self, trainer: TrainerView, epoch: EpochEnd) -> None:
        self._check(f"epoch {epoch.row['epoch']}")

    def share(self) -> float:
        """Waiting for data as a share of the time since the window started."""
        return self.waited / max(self.elapsed, 1e-9)

    def _check(self, where: str) -> None:
        share = self.share()
        if share > WAIT_SHARE and self.waited >= MIN_WAIT_S:
            tqdm.write(self.message(share, where))
            self.explained = True
        self._reset()

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

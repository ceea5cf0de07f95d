"""The training loop's callbacks: the hooks a callback passed to fit() sees, in order, and the
default list the config asks for."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from colab_utils.engine.callbacks import BatchEnd, Callback, EpochEnd, default_callbacks
from colab_utils.engine.callbacks.checkpoint_log import CheckpointLog
from colab_utils.engine.callbacks.drive import DriveNotes
from colab_utils.engine.callbacks.history import History
from colab_utils.engine.callbacks.live_curves import LiveCurves, curves_figure
from colab_utils.engine.callbacks.loader_wait import LoaderWait
from colab_utils.engine.callbacks.progress_bar import ProgressBar, left_text, run_time_left
from colab_utils.engine.callbacks.trackers import Trackers
from colab_utils.engine.trainer import fit
from colab_utils.registry import get_task

FAST = ("data.num_workers=0", "logging.progress=false")


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Recorder(Callback):
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.batches: list[BatchEnd] = []

    def on_train_start(self, trainer) -> None:
        self.calls.append(("train start", trainer.progress.global_step))

    def on_epoch_start(self, trainer) -> None:
        self.calls.append(("epoch start", trainer.progress.epoch))

    def on_batch_end(self, trainer, batch: BatchEnd) -> None:
        self.calls.append(("batch end", trainer.progress.global_step))
        self.batches.append(batch)

    def on_checkpoint_written(self, trainer, path: Path, reason: str) -> None:
        self.calls.append(("checkpoint written", path.name, reason))

    def on_validation_start(self, trainer, batches: int) -> None:
        self.calls.append(("validation start", batches))

    def on_validation_batch_end(self, trainer) -> None:
        self.calls.append(("validation batch",))

    def on_validation_end(self, trainer, metrics: dict[str, float]) -> None:
        self.calls.append(("validation end", sorted(metrics)))

    def on_epoch_end(self, trainer, epoch: EpochEnd) -> None:
        self.calls.append(("epoch end", epoch.row["epoch"], epoch.row["step"], epoch.improved))

    def on_train_end(self, trainer, status: str) -> None:
        self.calls.append(("train end", status))


def test_a_callback_passed_to_fit_sees_the_hooks_in_order(toy_config):
    cfg = toy_config(*FAST, "train.epochs=1")  # 12 batches of 8, a checkpoint every 5 steps
    recorder = Recorder()
    result = fit(cfg, get_task(cfg.task), callbacks=[recorder])
    assert result.status == "finished"
    batches = lambda first, last: [("batch end", step) for step in range(first, last + 1)]  # noqa: E731
    assert recorder.calls == [
        ("train start", 0),
        ("epoch start", 0),
        *batches(1, 5),
        ("checkpoint written", "step-000000005.pth", "periodic"),
        *batches(6, 10),
        ("checkpoint written", "step-000000010.pth", "periodic"),
        *batches(11, 12),
        ("validation start", 4),  # 32 validation samples in batches of 8
        *[("validation batch",)] * 4,
        ("validation end", ["val_accuracy", "val_loss"]),
        ("epoch end", 1, 12, True),
        ("checkpoint written", "step-000000012.pth", "end of epoch"),
        ("train end", "finished"),
    ]
    # the loop's timing: the wait for each batch is part of its step
    assert all(0 <= batch.data_wait_s <= batch.step_s for batch in recorder.batches)
    assert all(isinstance(batch.loss, float) for batch in recorder.batches)


def test_a_resumed_run_starts_the_callbacks_at_the_checkpoint(toy_config):
    cfg = toy_config(*FAST, "train.epochs=2", "train.max_steps=5")  # max_steps ends the epoch there
    assert fit(cfg, get_task(cfg.task)).status == "max_steps"
    recorder = Recorder()
    again = toy_config(*FAST, "train.epochs=2")
    assert fit(again, get_task(again.task), callbacks=[recorder]).status == "finished"
    assert recorder.calls[:3] == [("train start", 5), ("epoch start", 1), ("batch end", 6)]


def test_the_default_callbacks_follow_the_logging_settings(toy_config):
    quiet = default_callbacks(toy_config(*FAST))
    assert [type(c) for c in quiet] == [CheckpointLog, LoaderWait, DriveNotes, History]
    shown = ("logging.progress=true", "logging.live_plot=true", "logging.tensorboard=true")
    full = default_callbacks(toy_config(*shown))
    kinds = [type(c) for c in full]
    assert kinds[0] is ProgressBar and kinds[-2:] == [Trackers, LiveCurves]
    history = next(c for c in full if isinstance(c, History))
    assert full[-1].history is history  # the curves are drawn from the rows metrics.csv holds


def test_the_time_left_counts_the_remaining_batches_and_validations():
    # epoch 3 of 30 (index 2) with 10 of its 100 batches done: 2,790 batches and 28 validations left
    assert run_time_left(30, 2, 10, 100, batch_s=0.5, validation_s=60.0) == 2790 * 0.5 + 28 * 60.0
    assert left_text(13 * 3600) == "13.0 h (2 sessions)" and left_text(600) == "0.2 h (1 session)"


def test_the_progress_bar_shows_the_time_the_run_has_left(toy_config, capsys):
    cfg = toy_config("data.num_workers=0", "logging.progress=true", "train.epochs=1")
    assert fit(cfg, get_task(cfg.task)).status == "finished"
    assert "left=0.0 h (1 session)" in capsys.readouterr().err


def test_each_checkpoint_written_is_one_line_with_its_step_reason_and_seconds(toy_config, capsys):
    cfg = toy_config(*FAST, "train.epochs=1")
    fit(cfg, get_task(cfg.task))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("checkpoint ")]
    assert [line.rsplit(", ", 1)[0] for line in lines] == [
        "checkpoint step 5 (periodic): step-000000005.pth",
        "checkpoint step 10 (periodic): step-000000010.pth",
        "checkpoint step 12 (end of epoch): step-000000012.pth",
    ]
    assert all(float(line.rsplit(", ", 1)[1].removesuffix(" s")) >= 0 for line in lines)


def test_the_curves_have_a_training_loss_point_every_few_steps_across_a_resume(toy_config):
    cfg = toy_config(*FAST, "train.epochs=2", "train.max_steps=7", "logging.live_plot=true")
    assert fit(cfg, get_task(cfg.task)).status == "max_steps"  # stopped at step 7, checkpoint at 5
    again = toy_config(*FAST, "train.epochs=2", "logging.live_plot=true")
    fit(again, get_task(again.task))
    run_dir = Path(again.run.dir)
    steps = [int(line.split(",")[0]) for line in (run_dir / "loss_steps.csv").read_text().splitlines()[1:]]
    # 12 batches an epoch: a point every 2 steps (at least 5 per epoch); max_steps ended epoch 1 at
    # step 7, epoch 2 went on to step 19; each point once, across the resume
    assert steps == list(range(2, 19, 2))
    assert (run_dir / "curves.png").stat().st_size > 0


def test_the_curve_is_by_step_marks_the_latest_best_and_goes_log_when_the_loss_spans_decades():
    losses = [(step, 10.0 / step**2) for step in range(1, 41)]  # 10 down to 0.006
    rows = [
        {"epoch": 1, "step": 20, "train_loss": 0.1, "val_loss": 0.5, "val_pck": 0.4},
        {"epoch": 2, "step": 40, "train_loss": 0.01, "val_loss": 0.3, "val_pck": 0.4},
    ]
    fig = curves_figure(losses, rows, "val_pck", "max")
    loss_ax, metric_ax = fig.axes
    assert loss_ax.get_xlabel() == metric_ax.get_xlabel() == "step"
    assert loss_ax.get_yscale() == "log" and metric_ax.get_yscale() == "linear"
    (star,) = [line for line in metric_ax.lines if line.get_marker() == "*"]
    assert list(star.get_xdata()) == [40]  # a tie: the latest, as best.pth keeps
    assert not [line for line in loss_ax.lines if line.get_marker() == "*"]

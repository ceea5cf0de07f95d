"""``fit(cfg, task)``: the one training loop every model runs, resumable to the exact batch.

The engine knows no model: ``colab_utils.train(cfg)`` looks the task up in the registry and
hands it here.

argus supplies the model container (network, optimizer, loss, device), the train and
validation steps and the metrics. The loop is ours because argus' ``fit`` always starts
at epoch 0 and cannot stop in the middle of an epoch without running the epoch's end.

A checkpoint holds the whole training state (weights, optimizer, scheduler, scaler,
epoch, batch within the epoch, global step, random states, monitor state, the resolved
config and the library version). It is written every ``checkpoint.every_minutes``, at the
end of each epoch, when the user interrupts the cell and before the session's time budget
runs out. ``train`` picks the newest checkpoint that verifies and continues at the next
batch; with the same config the result is bit-identical to a run that was never stopped.
A CUDA out-of-memory error steps the config down ``train.oom_ladder`` (engine/oom.py) and
training goes on from the newest checkpoint in the same call.
"""

from __future__ import annotations

import datetime
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from omegaconf import DictConfig, OmegaConf
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

import colab_utils
from colab_utils import runtime as rt
from colab_utils import starting_weights
from colab_utils.config import SMOKE_PROFILE
from colab_utils.engine.callbacks import BatchEnd, Callback, CallbackList, EpochEnd, default_callbacks
from colab_utils.engine.checkpoint import CheckpointStore, Found
from colab_utils.engine.contract import Task, differences
from colab_utils.engine.distributed import Distributed, init_distributed, shutdown_distributed
from colab_utils.engine.drive_errors import DriveWriter
from colab_utils.engine.estimate import estimate, time_loader
from colab_utils.engine.interrupt import DeferredInterrupt
from colab_utils.engine.model import TrainModel
from colab_utils.engine.oom import (
    OutOfMemory,
    continue_position,
    distributed_message,
    free_cuda_memory,
    ladder,
    step_down,
)
from colab_utils.engine.precision import resolve_precision
from colab_utils.engine.progress import Progress
from colab_utils.engine.rng import capture_rng_state, restore_rng_state, seed_everything
from colab_utils.engine.sampling import ResumableBatchSampler
from colab_utils.engine.schedule import LRSchedule, Monitor
from colab_utils.engine.speed import apply_speed_settings
from colab_utils.errors import UserError

CHECKPOINT_FORMAT = "colab_utils.checkpoint/1"
BUDGET_MARGIN_S = 120.0
LOADER_PROBE_S = 5.0  # seconds of loading the time estimate measures
STOP_MESSAGES = {
    "interrupted": "Checkpoint saved at step {step}. Run the cell again to continue.",
    "time_budget": (
        "Stopping before the session's time budget runs out; checkpoint saved at step {step}. "
        "Run all cells again (a new session) to continue."
    ),
}
STOP_MESSAGES["stopped_by_peer"] = STOP_MESSAGES["time_budget"]
T = TypeVar("T")


STATUS_TEXT = {
    "finished": "finished",
    "early_stopped": "stopped early (no improvement within train.early_stopping_patience)",
    "max_steps": "reached train.max_steps",
    "time_budget": "stopped before the session's time budget ran out: Run all again to continue",
    "stopped_by_peer": "stopped before the session's time budget ran out: Run all again to continue",
    "already_finished": "already complete: nothing trained (raise train.epochs to continue it)",
}


@dataclass
class TrainResult:
    status: str  # finished | early_stopped | max_steps | time_budget | already_finished
    run_dir: Path
    epochs_done: int
    global_step: int
    best_metric: float | None
    best_path: Path | None
    resumed_from: Path | None
    config: DictConfig  # the settings it finished with: out-of-memory step-downs included

    def summary(self) -> str:
        """What a person wants to know when training ends, in a few lines."""
        cfg = self.config
        best = "none yet" if self.best_metric is None else f"{self.best_metric:.4g}"
        weights = self.best_path or f"{self.run_dir / 'checkpoints'} (no best.pth yet)"
        lines = [
            f"Training {STATUS_TEXT.get(self.status, self.status)}.",
            f"  epochs     {self.epochs_done} of {cfg.train.epochs} (step {self.global_step})",
            f"  best       {cfg.train.monitor} {best}",
            f"  weights    {weights}",
        ]
        if cfg.profile == SMOKE_PROFILE:
            lines.append("  (a smoke run: metrics of about 0 are expected, the network has barely trained)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


class ModelConfigMismatch(UserError, ValueError):
    """The run folder holds a checkpoint of a differently shaped model."""


def check_fits(cfg: DictConfig, task: Task, payload: dict[str, Any]) -> None:
    """Refuse a checkpoint of a differently shaped model, or a smoke run's checkpoint for a real run
    (its network may have the same shape, its few steps at another input size are no start), unless
    ``run.resume=force``."""
    if cfg.run.resume == "force":
        return
    saved_profile = OmegaConf.create(payload["config"]).get("profile")
    if saved_profile == SMOKE_PROFILE and cfg.profile != SMOKE_PROFILE:
        raise ModelConfigMismatch(
            f"The run folder {cfg.run.dir} holds a smoke run's checkpoint (a tiny network trained for a "
            f"few steps on synthetic data), and this run uses the {cfg.profile} profile. To train for real, "
            "choose another run name (run.name=...; in a notebook, RUN_NAME), or delete that run folder. "
            "(Smoke runs now get a folder of their own, <name>-smoke.)"
        )
    wanted = task.model_signature(cfg)
    if payload["model_signature"] == wanted:
        return
    changes = "\n  ".join(differences(payload["model_signature"], wanted))
    raise ModelConfigMismatch(
        f"The run folder {cfg.run.dir} holds a checkpoint of a different model:\n  {changes}\n"
        "To train this config from scratch, choose another run name (run.name=...; in a notebook, "
        "RUN_NAME). To go on from the checkpoint's weights that still fit (the others start afresh), "
        "set run.resume=force."
    )


def check_run_folder(cfg: DictConfig, task: Task) -> None:
    """Before any download: the run folder's newest checkpoint must fit ``cfg``'s model.

    The data step calls it, so a wrong run name costs seconds, not a download and a mismatch at train.
    """
    found = CheckpointStore(Path(cfg.run.dir) / "checkpoints").newest_valid(map_location="cpu")
    if found is not None:
        check_fits(cfg, task, found.payload)


def session_clock(cfg: DictConfig, runtime_clock: rt.Clock | None) -> rt.Clock:
    """The deadline to stop before: ``run.time_budget_h`` if set, else the runtime's budget.

    In Colab the budget counts from the VM's start, since that is what Colab enforces.
    """
    if cfg.run.time_budget_h is None:
        return runtime_clock or rt.Clock(None)
    started = rt.runtime_started_at() if rt.in_colab() else time.time()
    if runtime_clock is not None:
        started = runtime_clock.started_at
    return rt.Clock(float(cfg.run.time_budget_h) * 3600, started_at=started)


def make_loader(
    task: Task, dataset: Any, batch_sampler: Any, cfg: DictConfig, device: torch.device
) -> DataLoader:
    workers = int(cfg.data.num_workers)
    return DataLoader(
        dataset,
        batch_sampler=batch_sampler,
        num_workers=workers,
        collate_fn=task.collate_fn(),
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        # the loader's own generator, so creating an iterator never draws from the global
        # random state that dropout and friends use (a resumed run creates one mid-epoch)
        generator=torch.Generator().manual_seed(int(cfg.seed)),
    )


def make_val_loader(task: Task, dataset: Any, cfg: DictConfig) -> DataLoader:
    """Validation batches in a fixed order, with the same batch size and workers as training."""
    dataset.seed = int(cfg.seed)
    return DataLoader(
        dataset,
        batch_size=int(cfg.train.batch_size),
        num_workers=int(cfg.data.num_workers),
        collate_fn=task.collate_fn(),
        generator=torch.Generator().manual_seed(int(cfg.seed)),
    )


def timed(batches: Iterable[T]) -> Iterator[tuple[T, float]]:
    """Each batch with the seconds the loop waited for it (what the loader-wait diagnosis reads)."""
    iterator = iter(batches)
    while True:
        asked = time.perf_counter()
        try:
            batch = next(iterator)
        except StopIteration:
            return
        yield batch, time.perf_counter() - asked


class Trainer:
    """One training run: built from a config, resumed from its run folder, then ``run()``."""

    def __init__(
        self,
        cfg: DictConfig,
        task: Task,
        gpu: rt.GPU | None = None,
        clock: rt.Clock | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.cfg = cfg
        self.dist: Distributed = init_distributed()
        self.device = self.dist.device()
        self.clock = session_clock(cfg, clock)
        self.run_dir = Path(cfg.run.dir)
        self.task = task
        self.gpu = gpu or rt.detect_gpu()
        self.precision, note = resolve_precision(cfg.train.amp, self.device, self.gpu)
        if note and self.dist.is_main:
            print(note)

        seed_everything(int(cfg.seed))
        self.model: TrainModel = self._build_model()
        self._build_data()
        self.schedule = self._build_schedule()
        self.monitor = Monitor(cfg.train.monitor, cfg.train.monitor_mode, cfg.train.early_stopping_patience)
        self.progress = Progress()
        self.store = CheckpointStore(self.run_dir / "checkpoints", keep=int(cfg.checkpoint.keep))
        self.drive = DriveWriter(self.run_dir)
        # what watches training; the default ones print and write, so only rank 0 has them
        self.callbacks = CallbackList([*(default_callbacks(cfg) if self.dist.is_main else []), *callbacks])
        self.slowest_save_s = self.last_save_s = 0.0
        self.last_val_s = 0.0
        self.resumed_from: Path | None = None
        self.last_save = time.monotonic()
        self.phase = "setup"  # setup | training | validation: where an out-of-memory error happened

    def _build_model(self) -> TrainModel:
        model = self.task.build_model(self.cfg, self.device)
        train = self.cfg.train
        model.memory_format = apply_speed_settings(model.nn_module, train, self.device)
        model.configure_training(self.precision, int(train.accumulate), train.clip_grad_norm)
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            model.nn_module = DistributedDataParallel(model.nn_module, device_ids=ids)
        return model

    def _build_data(self) -> None:
        """The datasets, the resumable sampler and the loaders (validation on rank 0 only)."""
        cfg = self.cfg
        train_set, val_set = self.task.datasets(cfg)
        train_set.seed = int(cfg.seed)
        self.train_set = train_set
        self.has_validation = val_set is not None
        self.sizes = (len(train_set), len(val_set) if val_set is not None else 0)
        self.sampler = ResumableBatchSampler(
            self.task.batch_plan(cfg, train_set), self.dist.rank, self.dist.world_size
        )
        self.train_loader = make_loader(self.task, train_set, self.sampler, cfg, self.device)
        self.val_loader = None
        if val_set is not None and self.dist.is_main:
            self.val_loader = make_val_loader(self.task, val_set, cfg)
        self.batches_per_epoch = len(self.sampler)
        if self.batches_per_epoch == 0:
            raise ValueError(
                f"The training set has {len(train_set)} samples: not one batch of {cfg.train.batch_size} "
                f"per process. Lower train.batch_size or check the data folder {cfg.run.data_dir}."
            )

    def _build_schedule(self) -> LRSchedule:
        train = self.cfg.train
        total_steps = math.ceil(self.batches_per_epoch / int(train.accumulate)) * int(train.epochs)
        if train.max_steps:
            total_steps = min(total_steps, math.ceil(int(train.max_steps) / int(train.accumulate)))
        return LRSchedule(train.scheduler, self.model.optimizer, total_steps, train.monitor_mode)

    # ----------------------------------------------------------------- checkpoint dict

    def state(self, reason: str) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "library_version": colab_utils.__version__,
            "torch_version": str(torch.__version__),
            "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "reason": reason,
            "model": self.model.get_nn_module().state_dict(),
            "optimizer": self.model.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "scaler": self.model.scaler.state_dict(),
            "progress": asdict(self.progress),
            "sampler": {"epoch": self.sampler.epoch, "position": self.progress.batch},
            "rng": capture_rng_state(),
            "monitor": self.monitor.state_dict(),
            "finished": self.completion(),
            "config": OmegaConf.to_yaml(self.cfg, resolve=True),
            "model_signature": self.task.model_signature(self.cfg),
        }

    def best_state(self, metrics: dict[str, float]) -> dict[str, Any]:
        """best.pth: the weights and what is needed to use them, without optimizer state."""
        return {
            "format": CHECKPOINT_FORMAT,
            "library_version": colab_utils.__version__,
            "model": self.model.get_nn_module().state_dict(),
            "epoch": self.progress.epoch,
            "global_step": self.progress.global_step,
            "metrics": metrics,
            "monitor": {"metric": self.monitor.metric, "mode": self.monitor.mode, "value": self.monitor.best},
            "config": OmegaConf.to_yaml(self.cfg, resolve=True),
            "model_signature": self.task.model_signature(self.cfg),
        }

    def save(self, reason: str) -> None:
        if self.dist.is_main:
            started = time.perf_counter()
            step = self.progress.global_step
            what = f"the checkpoint step-{step:09d}.pth"
            self.drive.last_checkpoint = self.drive.write(what, self.store.save, self.state(reason), step)
            self.last_save_s = time.perf_counter() - started
            self.slowest_save_s = max(self.slowest_save_s, self.last_save_s)
            self.callbacks.on_checkpoint_written(self, self.drive.last_checkpoint, reason)
        self.dist.barrier()
        self.last_save = time.monotonic()

    def resume(self) -> None:
        """Continue from the newest checkpoint that verifies, if there is one."""
        if self.dist.is_main:
            for stale in self.store.remove_stale_temporaries():
                print(f"Removed {stale.name}: an unfinished checkpoint write from a killed session.")
        # on the CPU: the random states must be CPU tensors, and the weights and optimizer state are
        # copied into the model's own tensors, so a GPU copy of the file would only take GPU memory
        found = self.store.newest_valid(map_location="cpu")
        if found is None:
            return
        payload = found.payload
        check_fits(self.cfg, self.task, payload)
        if self._load_weights(found):
            self.model.optimizer.load_state_dict(payload["optimizer"])
            self.model.scaler.load_state_dict(payload["scaler"])
        self.schedule.load_state_dict(payload["scheduler"])
        self.progress = Progress(**payload["progress"])
        saved = OmegaConf.create(payload["config"])
        if self.progress.batch and int(saved.train.batch_size) != int(self.cfg.train.batch_size):
            self._continue_after_batch_change(saved)
        self.monitor.load_state_dict(payload["monitor"])
        restore_rng_state(payload["rng"])
        self.resumed_from = found.path
        self._keep_recorded_start(saved, found.path)
        if self.dist.is_main:
            where = f"epoch {self.progress.epoch + 1}, batch {self.progress.batch}/{self.batches_per_epoch}"
            if self.completion():
                where = f"after epoch {self.progress.epoch} of {self.cfg.train.epochs}"
            print(
                f"Resuming from {found.path.name} (saved {payload['saved_at']}, {payload['reason']}): "
                f"{where}, step {self.progress.global_step}."
            )

    def _keep_recorded_start(self, saved: DictConfig, checkpoint: Path) -> None:
        """A resumed run keeps the ``model.init_from`` it started from, in its config.yaml too."""
        started = saved.model.get("init_from")
        asked = self.cfg.model.init_from
        if started is None or started == asked:
            return
        if self.dist.is_main:
            print(
                f"model.init_from={asked} is not applied: this run resumes from {checkpoint.name}, and a "
                f"checkpoint always wins (it started from {started}). To start afresh from {asked}, "
                "choose another run name (run.name=...)."
            )
        self.cfg = OmegaConf.merge(self.cfg, {"model": {"init_from": started}})

    def _start_from_init_weights(self) -> None:
        """A run starting from nothing loads ``model.init_from``'s weights, leaving the random states as
        they were (so a fresh run's batches and dropout do not depend on how the weights were read)."""
        rng = capture_rng_state()
        line = starting_weights.apply(self.cfg, self.task, self.model.get_nn_module())
        restore_rng_state(rng)
        if line and self.dist.is_main:
            print(line)

    def _load_weights(self, found: Found) -> bool:
        """Load the checkpoint's weights; True when all fit, so its optimizer state applies too.

        Only ``run.resume=force`` meets weights that do not fit (another width, say): those
        whose name and shape match are loaded, the others keep their fresh values, and the
        optimizer starts afresh, since its state belongs to the old shapes.
        """
        network = self.model.get_nn_module()
        own, saved = network.state_dict(), found.payload["model"]
        fits = {k: v for k, v in saved.items() if k in own and own[k].shape == v.shape}
        if len(fits) == len(saved) == len(own):
            network.load_state_dict(saved)
            return True
        network.load_state_dict(fits, strict=False)
        misfits = [f"{k} (not in the checkpoint)" for k in own if k not in saved]
        for key, value in saved.items():
            if key not in own:
                misfits.append(f"{key} (not in the model)")
            elif key not in fits:
                misfits.append(f"{key} (checkpoint {list(value.shape)}, model {list(own[key].shape)})")
        if self.dist.is_main:
            print(
                f"run.resume=force: loaded {len(fits)} of {len(own)} tensors from {found.path.name}; "
                f"did not fit: {', '.join(misfits)}. The optimizer starts afresh."
            )
        return False

    def _continue_after_batch_change(self, saved: DictConfig) -> None:
        """The checkpoint counted batches of another size (an out-of-memory step-down, an override):
        go on at the first batch of the epoch holding a sample not trained on yet."""
        epoch, done = self.progress.epoch, self.progress.batch
        old = self.task.batch_plan(saved, self.train_set).batches(epoch)
        new = self.sampler.plan.batches(epoch)
        self.progress.batch = continue_position(old, new, done, self.dist.world_size)
        if self.dist.is_main:
            print(
                f"The checkpoint was saved at train.batch_size {saved.train.batch_size} ({done} batches "
                f"into epoch {epoch + 1}); with {self.cfg.train.batch_size} the epoch continues at batch "
                f"{self.progress.batch}/{self.batches_per_epoch}, the first with samples not trained on yet."
            )

    def where(self) -> str:
        """Where training stands, for the out-of-memory message."""
        if self.phase == "validation":
            return f"in validation after epoch {self.progress.epoch + 1}"
        if self.phase == "training":
            return (
                f"in training at epoch {self.progress.epoch + 1}, batch {self.progress.batch + 1}"
                f"/{self.batches_per_epoch} (step {self.progress.global_step})"
            )
        return "while setting up the model"

    # ----------------------------------------------------------------- the loop

    def _print_estimate(self) -> None:
        """Before a GPU run: expected time per epoch, what bounds it, and Colab sessions for the recipe.

        The loader is timed for a few seconds here, on its own cores; the sampler is set again
        when the epoch starts, so this changes nothing the training sees.
        """
        if self.gpu is None or self.device.type != "cuda":
            return
        timing = time_loader(self.sampler, self.train_loader, seconds=LOADER_PROBE_S)
        found = estimate(
            self.task, self.cfg, timing.first_batch, timing.first_size, *self.sizes, self.gpu, timing.rate
        )
        print(found.text(self.gpu) if found else f"No time estimate: peak FLOP/s of {self.gpu.name} unknown.")

    def lr(self) -> float:
        return self.model.optimizer.param_groups[0]["lr"]

    def _validate(self) -> dict[str, float]:
        """Validation on rank 0 with the bare network (DDP's forward would wait for the other ranks)."""
        wrapped = self.model.nn_module
        self.model.nn_module = self.model.get_nn_module()
        self.phase = "validation"
        try:
            metrics = self.model.validate(self._validation_batches(), metrics=self.task.metrics(self.cfg))
        finally:
            self.model.nn_module = wrapped
        self.phase = "training"
        self.callbacks.on_validation_end(self, metrics)
        return metrics

    def _validation_batches(self) -> Iterator[Any]:
        """The validation loader's batches, each reported to the callbacks (the progress bar)."""
        self.callbacks.on_validation_start(self, len(self.val_loader))
        for batch in self.val_loader:
            yield batch
            self.callbacks.on_validation_batch_end(self)

    def _stop_reason(self, interrupt: DeferredInterrupt) -> str | None:
        if interrupt.requested:
            return "interrupted"
        margin = BUDGET_MARGIN_S + 2 * self.slowest_save_s + self.last_val_s
        if self.clock.remaining() < margin:
            return "time_budget"
        return None

    def _checkpoint_due(self) -> bool:
        every_steps = self.cfg.checkpoint.every_steps
        if every_steps and self.progress.global_step % int(every_steps) == 0:
            return True
        return time.monotonic() - self.last_save >= float(self.cfg.checkpoint.every_minutes) * 60

    def _max_steps_reached(self) -> bool:
        return bool(self.cfg.train.max_steps) and self.progress.global_step >= int(self.cfg.train.max_steps)

    def completion(self) -> str | None:
        """Why the run is complete under the current config, or None.

        Judged afresh from the state and the config, so raising ``train.epochs`` or the
        early-stopping patience after a run ended continues it.
        """
        if self.monitor.exhausted:
            return "early_stopped"
        if self.progress.epoch >= int(self.cfg.train.epochs):
            return "finished"
        if self._max_steps_reached():
            return "max_steps"
        return None

    def _end_epoch(self) -> None:
        """Validation, schedules, best.pth, the metrics row and the epoch checkpoint."""
        if self.model.pending_batches:  # the epoch's last accumulated batches
            self.model.optimizer_step()
            self._optimizer_stepped()
        metrics, validated = self._epoch_metrics()
        improved = self._update_monitor(metrics, validated)
        epoch = self.progress.epoch
        self.progress.epoch += 1
        self.progress.batch = 0
        self.progress.loss_sum, self.progress.loss_count = 0.0, 0
        row = {
            "epoch": epoch + 1,
            "step": self.progress.global_step,
            "seconds": round(self.progress.train_seconds, 1),
            "lr": self.lr(),
            **metrics,
        }
        self.callbacks.on_epoch_end(self, EpochEnd(row, improved))
        if self.dist.is_main:
            summary = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
            print(f"epoch {epoch + 1}: {summary}" + ("  (best so far)" if improved else ""))
            if improved:
                self.drive.write("best.pth", self.store.save_best, self.best_state(metrics))
        self.save("end of epoch")

    def _optimizer_stepped(self) -> None:
        self.progress.optimizer_steps += 1
        self.schedule.after_optimizer_step()

    def _epoch_metrics(self) -> tuple[dict[str, float], bool]:
        """The epoch's training loss plus, when it validates, the validation metrics (on every rank);
        and whether it validated."""
        epoch = self.progress.epoch
        metrics = {"train_loss": self.progress.loss_sum / max(1, self.progress.loss_count)}
        validated = self.has_validation and (epoch + 1) % int(self.cfg.train.val_every_epochs) == 0
        if validated and self.dist.is_main:
            started = time.perf_counter()
            metrics.update(self._validate())
            self.last_val_s = time.perf_counter() - started
        return self.dist.broadcast(metrics), validated

    def _update_monitor(self, metrics: dict[str, float], validated: bool) -> bool:
        """Step the epoch schedules and early stopping on the monitored metric; True when it improved."""
        if not self.has_validation and self.monitor.metric == "val_loss":
            monitored = metrics["train_loss"]  # nothing to validate on: follow the training loss
        elif validated or not self.monitor.metric.startswith("val_"):
            if self.monitor.metric not in metrics:
                raise ValueError(
                    f"train.monitor={self.monitor.metric!r} is not a metric of this model; "
                    f"it reports {', '.join(sorted(metrics))}."
                )
            monitored = metrics[self.monitor.metric]
        else:
            monitored = None  # no validation this epoch
        self.schedule.after_epoch(monitored)
        return monitored is not None and self.monitor.update(float(monitored), self.progress.epoch + 1)

    def run(self) -> TrainResult:
        self.resume()
        if self.resumed_from is None:
            self._start_from_init_weights()
        if self.completion():
            print(
                f"This run is already complete ({self.completion()}); nothing to train. "
                f"Checkpoints: {self.store.folder}"
            )
            return self._result("already_finished")
        self._start()
        status = "failed"
        try:
            with DeferredInterrupt() as interrupt:
                status = self._train(interrupt)
                if status in STOP_MESSAGES:
                    print(STOP_MESSAGES[status].format(step=self.progress.global_step))
                if status == "interrupted":
                    raise KeyboardInterrupt
        finally:
            self.callbacks.on_train_end(self, status)
        return self._result(status)

    def _start(self) -> None:
        """The run folder's config.yaml and the time estimate, then the callbacks' start."""
        self.drive.last_checkpoint = self.resumed_from
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            config = OmegaConf.to_yaml(self.cfg, resolve=True)
            self.drive.write("config.yaml", (self.run_dir / "config.yaml").write_text, config)
            self._print_estimate()
        self.callbacks.on_train_start(self)
        self.phase = "training"

    def _train(self, interrupt: DeferredInterrupt) -> str:
        """Epochs until the run is complete or stops; returns the status."""
        while self.completion() is None:
            stop = self._train_epoch(interrupt)
            if stop:
                return stop
            self._end_epoch()
        return self.completion()

    def _train_epoch(self, interrupt: DeferredInterrupt) -> str | None:
        """The epoch's remaining batches; the stop reason when training stops within it, else None."""
        self.sampler.set_epoch(self.progress.epoch, start=self.progress.batch)
        self.callbacks.on_epoch_start(self)
        tick = time.perf_counter()
        for batch, waited in timed(self.train_loader):
            loss = self._train_step(batch)
            now = time.perf_counter()
            self.progress.train_seconds += now - tick
            self.callbacks.on_batch_end(self, BatchEnd(loss, waited, now - tick))
            tick = now
            if self.model.pending_batches:
                continue  # checkpoints and stops only between optimizer steps
            if self._max_steps_reached():
                return None
            stop = self._stop_or_checkpoint(interrupt)
            if stop:
                return stop
        return None

    def _train_step(self, batch: Any) -> float:
        out = self.model.train_step(batch)
        self.progress.batch += 1
        self.progress.global_step += 1
        self.progress.loss_sum += out["loss"]
        self.progress.loss_count += 1
        if out["optimizer_stepped"]:
            self._optimizer_stepped()
        return out["loss"]

    def _stop_or_checkpoint(self, interrupt: DeferredInterrupt) -> str | None:
        """Between optimizer steps: a stop agreed by all ranks (saved first), else a checkpoint when due."""
        reason = self._stop_reason(interrupt)
        stop = (reason or "stopped_by_peer") if self.dist.any(reason is not None) else None
        if stop or self.dist.any(self._checkpoint_due()):
            self.save(stop or "periodic")
        return stop

    def _result(self, status: str) -> TrainResult:
        best = self.store.folder / "best.pth"
        return TrainResult(
            status=status,
            run_dir=self.run_dir,
            epochs_done=self.progress.epoch,
            global_step=self.progress.global_step,
            best_metric=self.monitor.best,
            best_path=best if best.exists() else None,
            resumed_from=self.resumed_from,
            config=self.cfg,
        )


def fit(
    cfg: DictConfig, task: Task, runtime: rt.Runtime | None = None, callbacks: Sequence[Callback] = ()
) -> TrainResult:
    """Train ``task`` as ``cfg`` says in its run folder, resuming from the newest valid checkpoint.

    When CUDA runs out of memory, training steps down ``train.oom_ladder``: the step is recorded
    in the run folder and training continues from the newest checkpoint with a new config (``cfg``
    is left as it is; the result's ``config`` is the one training finished with).
    ``callbacks`` are called besides those the config asks for (progress bar, curves, trackers...).
    """
    clock = runtime.clock if runtime else None
    gpu = runtime.gpu if runtime else None
    ladder(cfg)  # a mistake in the ladder shows now, not at the first out-of-memory error hours later
    try:
        while True:
            trainer: Trainer | None = None
            try:
                trainer = Trainer(cfg, task, gpu=gpu, clock=clock, callbacks=callbacks)
                return trainer.run()
            except torch.cuda.OutOfMemoryError as error:
                oom = OutOfMemory(trainer.where() if trainer else "while setting up the model", str(error))
                dist = trainer.dist if trainer else init_distributed()
                if dist.enabled:
                    print(distributed_message(cfg, oom, dist.rank, dist.world_size))
                    raise
            # out of the except block, the error's traceback no longer holds the batch and activations
            trainer = None
            free_cuda_memory()
            step = step_down(cfg, task, oom)
            print(step.message)
            cfg = step.config
    finally:
        shutdown_distributed()  # under torchrun; the group is joined again by the next train()

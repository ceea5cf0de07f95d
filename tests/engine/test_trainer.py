"""The training loop in-process: checkpoints, best.pth, resume, stops, accumulation."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from colab_utils.engine.checkpoint import CheckpointStore, read_checkpoint
from colab_utils.engine.precision import resolve_precision
from colab_utils.engine.trainer import ModelConfigMismatch
from colab_utils.pipeline import train
from colab_utils.runtime import GPU

FAST = ("data.num_workers=0", "logging.progress=false")


def checkpoints(cfg) -> CheckpointStore:
    return CheckpointStore(Path(cfg.run.dir) / "checkpoints")


def final_weights(cfg) -> dict[str, torch.Tensor]:
    return checkpoints(cfg).newest_valid().payload["model"]


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def history(cfg) -> list[dict]:
    with open(Path(cfg.run.dir) / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_a_run_records_history_and_best_follows_the_monitored_metric(toy_config):
    cfg = toy_config(*FAST)
    result = train(cfg)
    assert result.status == "finished" and result.epochs_done == 3 and result.global_step == 36
    rows = history(cfg)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    accuracies = [float(r["val_accuracy"]) for r in rows]
    best = read_checkpoint(result.best_path)
    assert best["metrics"]["val_accuracy"] == max(accuracies)
    last_best = len(accuracies) - accuracies[::-1].index(max(accuracies))  # 1-based
    assert best["epoch"] == last_best  # a tie keeps the latest weights
    assert "optimizer" not in best  # best.pth is weights + config, small enough for Drive
    assert (Path(cfg.run.dir) / "config.yaml").read_text().startswith("task: toy_model")


def test_running_a_finished_run_again_trains_nothing(toy_config, capsys):
    cfg = toy_config(*FAST)
    train(cfg)
    before = {p.name: p.stat().st_mtime_ns for p in checkpoints(cfg).folder.iterdir()}
    assert train(cfg).status == "already_finished"
    assert "already complete" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in checkpoints(cfg).folder.iterdir()} == before


@pytest.mark.parametrize("damage", ["zero", "truncate", "flip"])
def test_a_damaged_newest_checkpoint_is_skipped_and_the_run_recovers_exactly(toy_config, damage):
    reference = toy_config(*FAST, "run.name=reference")
    train(reference)
    cfg = toy_config(*FAST)
    train(cfg)
    newest = checkpoints(cfg).step_files()[0]
    data = newest.read_bytes()
    if damage == "zero":
        data = b""
    elif damage == "truncate":
        data = data[: len(data) - 100]
    else:
        data = data[:500] + bytes([data[500] ^ 1]) + data[501:]
    newest.write_bytes(data)
    with pytest.warns(UserWarning, match="Skipping damaged checkpoint"):
        result = train(cfg)
    assert result.resumed_from == checkpoints(cfg).folder / "step-000000035.pth"
    assert result.status == "finished"
    assert_same_weights(final_weights(cfg), final_weights(reference))


def test_a_checkpoint_of_another_model_shape_is_refused_unless_forced(toy_config):
    train(toy_config(*FAST, "train.epochs=1"))
    with pytest.raises(ModelConfigMismatch) as error:
        train(toy_config(*FAST, "train.epochs=2", "model.dropout=0.3"))
    assert "model.dropout: checkpoint 0.2, config 0.3" in str(error.value)
    assert "run.name=" in str(error.value) and "run.resume=force" in str(error.value)
    assert (
        train(toy_config(*FAST, "train.epochs=2", "model.dropout=0.3", "run.resume=force")).status
        == "finished"
    )


def test_the_time_budget_stops_with_a_checkpoint_and_the_next_session_continues(toy_config, capsys):
    reference = toy_config(*FAST, "run.name=reference")
    train(reference)
    cfg = toy_config(*FAST, "run.time_budget_h=0.01")  # 36 s: less than the safety margin
    result = train(cfg)
    assert result.status == "time_budget" and result.global_step == 1
    assert "Run all cells again" in capsys.readouterr().out
    assert checkpoints(cfg).newest_valid().payload["reason"] == "time_budget"
    resumed = train(toy_config(*FAST))
    assert resumed.status == "finished"
    assert_same_weights(final_weights(cfg), final_weights(reference))


def test_interrupting_the_cell_saves_first_then_stops_and_resume_is_exact(toy_config, monkeypatch, capsys):
    reference = toy_config(*FAST, "run.name=reference")
    train(reference)
    cfg = toy_config(*FAST)
    monkeypatch.setenv("TOY_INTERRUPT_AT_BATCH", "17")
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    out = capsys.readouterr().out
    assert "Stop requested" in out and "Checkpoint saved at step 17" in out
    assert checkpoints(cfg).newest_valid().payload["reason"] == "interrupted"
    monkeypatch.delenv("TOY_INTERRUPT_AT_BATCH")
    train(cfg)
    assert_same_weights(final_weights(cfg), final_weights(reference))


def test_accumulation_steps_the_optimizer_every_k_batches_and_resumes_exactly(toy_config, monkeypatch):
    overrides = (*FAST, "train.batch_size=4", "train.accumulate=3", "checkpoint.every_steps=null")
    reference = toy_config(*overrides, "run.name=reference")
    result = train(reference)
    payload = checkpoints(reference).newest_valid().payload
    assert result.global_step == 72 and payload["progress"]["optimizer_steps"] == 24
    assert reference.derived.effective_batch_size == 12
    cfg = toy_config(*overrides)
    monkeypatch.setenv("TOY_INTERRUPT_AT_BATCH", "10")  # mid-accumulation: the stop waits for batch 12
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    assert checkpoints(cfg).newest_valid().payload["progress"]["global_step"] == 12
    monkeypatch.delenv("TOY_INTERRUPT_AT_BATCH")
    train(cfg)
    assert_same_weights(final_weights(cfg), final_weights(reference))


def test_early_stopping_ends_the_run_and_stays_ended(toy_config):
    cfg = toy_config(*FAST, "train.epochs=50", "train.early_stopping_patience=1", "train.optimizer.lr=0.0")
    result = train(cfg)  # with lr 0 nothing improves after epoch 1
    assert result.status == "early_stopped" and result.epochs_done == 2
    assert train(cfg).status == "already_finished"


def test_max_steps_ends_a_smoke_run(toy_config):
    result = train(toy_config(*FAST, "train.max_steps=7"))
    assert result.status == "max_steps" and result.global_step == 7 and result.best_path is not None


@pytest.mark.parametrize(
    ("requested", "device", "gpu", "expected", "note"),
    [
        ("auto", "cpu", None, "fp32", None),
        ("fp16", "cpu", None, "fp32", "ignored on CPU"),
        ("auto", "cuda", GPU("Tesla T4", 15, (7, 5)), "fp16", None),
        ("bf16", "cuda", GPU("Tesla T4", 15, (7, 5)), "fp16", "no bf16 tensor cores"),
        ("auto", "cuda", GPU("NVIDIA A100", 40, (8, 0)), "bf16", None),
        ("fp32", "cuda", GPU("NVIDIA A100", 40, (8, 0)), "fp32", None),
    ],
)
def test_precision_follows_the_hardware(requested, device, gpu, expected, note):
    precision, message = resolve_precision(requested, torch.device(device), gpu)
    assert precision.name == expected
    assert (message is None) if note is None else (note in message)
    assert precision.needs_loss_scaling == (expected == "fp16")


def test_tensorboard_and_offline_wandb_log_every_epoch(toy_config, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    cfg = toy_config(*FAST, "train.epochs=2", "logging.tensorboard=true", "logging.wandb=true")
    train(cfg)
    run_dir = Path(cfg.run.dir)
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert list((run_dir / "wandb").glob("offline-run-*"))


def test_raising_the_epoch_count_continues_a_finished_run(toy_config):
    train(toy_config(*FAST, "train.epochs=1"))
    result = train(toy_config(*FAST, "train.epochs=2"))
    assert result.status == "finished" and result.epochs_done == 2 and result.resumed_from is not None


def test_a_mistyped_monitor_names_the_metrics_the_model_reports(toy_config):
    with pytest.raises(ValueError, match=r"train\.monitor='val_acuracy' is not a metric.*val_accuracy"):
        train(toy_config(*FAST, "train.monitor=val_acuracy"))


def test_a_tie_for_best_keeps_the_latest_epoch_but_does_not_reset_the_patience():
    from colab_utils.engine.schedule import Monitor

    monitor = Monitor("val_pck", "max", patience=2)
    assert [monitor.update(v, e) for e, v in enumerate([0.0, 0.0, 0.0], 1)] == [True, True, True]
    assert monitor.best_epoch == 3 and monitor.exhausted  # still 0 after two more epochs: stop early
    monitor = Monitor("val_loss", "min")
    assert [monitor.update(v, e) for e, v in enumerate([2.0, 1.0, 1.5, float("nan")], 1)] == [
        True,
        True,
        False,
        False,
    ]
    assert monitor.best == 1.0 and monitor.best_epoch == 2


def test_train_ends_with_a_short_summary_instead_of_a_raw_result(toy_config, capsys):
    result = train(toy_config(*FAST))
    said = capsys.readouterr().out.splitlines()
    summary = said[said.index("Training finished.") :]
    assert summary[1].split() == ["epochs", "3", "of", "3", "(step", "36)"]
    assert summary[2].split() == ["best", "val_accuracy", f"{result.best_metric:.4g}"]
    assert summary[3].split() == ["weights", str(result.best_path)]
    assert repr(result) == result.summary()  # a cell ending in `result` shows the same, not TrainResult(...)

"""The out-of-memory step-down, with the CUDA error injected (no GPU here): the toy network raises
torch's OutOfMemoryError for batches above TOY_OOM_ABOVE_BATCH, as a too large batch would."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import CONFIGS
from omegaconf import OmegaConf
from test_distributed import torchrun
from toy_model.task import OOM_ENV, OOM_MESSAGE, ToyDataset, ToyModel

from colab_utils.config import ConfigError, load_config
from colab_utils.engine.checkpoint import CheckpointStore
from colab_utils.engine.oom import (
    OutOfMemory,
    OutOfMemoryLadderExhausted,
    ladder,
    step_down,
    with_recorded_stepdown,
)
from colab_utils.engine.sampling import SampleDataset
from colab_utils.models.sportlight_hrnet57.network import HRNetHeatmap
from colab_utils.pipeline import prepare_data, train
from colab_utils.registry import get_task
from colab_utils.stepdown_record import read_stepdown

FAST = ("data.num_workers=0", "logging.progress=false")
OOM_SUMMARY = (
    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 14.74 GiB of which "
    "1.12 GiB is free."
)
HALVED = "train.batch_size 8 -> 4, train.accumulate 1 -> 2; effective batch 8 (unchanged)."


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def progress(cfg) -> dict:
    return CheckpointStore(Path(cfg.run.dir) / "checkpoints").newest_valid().payload["progress"]


def test_oom_in_training_halves_the_batch_records_it_and_a_new_session_keeps_it(
    toy_config, folders, monkeypatch, capsys
):
    monkeypatch.setenv(OOM_ENV, "4")
    cfg = toy_config(*FAST, "train.epochs=2")
    result = train(cfg)
    out = capsys.readouterr().out
    assert f"Out of GPU memory in training at epoch 1, batch 1/12 (step 0): {OOM_SUMMARY}" in out
    assert f"Stepping down (train.oom_ladder rung 1 of 6): {HALVED}" in out
    assert "No checkpoint yet: training starts again from the beginning." in out
    assert result.status == "finished" and result.epochs_done == 2
    assert (result.config.train.batch_size, result.config.train.accumulate) == (4, 2)
    assert (cfg.train.batch_size, cfg.train.accumulate) == (8, 1)  # the caller's config is left as it is
    # 96 samples: 24 batches of 4 per epoch, one optimizer step per 2: as many as 12 batches of 8
    assert (progress(cfg)["global_step"], progress(cfg)["optimizer_steps"]) == (48, 24)
    record = read_stepdown(cfg.run.dir)
    assert record["next_rung"] == 1 and len(record["steps"]) == 1
    step = record["steps"][0]
    assert step["overrides"] == {"train.batch_size": 4, "train.accumulate": 2}
    assert step["rung"] == "halve_batch" and step["error"] == OOM_MESSAGE
    assert step["where"] == "in training at epoch 1, batch 1/12 (step 0)"

    # no checkpoint before the error: the result is exactly a run configured with the small batch
    small = ("train.batch_size=4", "train.accumulate=2")
    reference = toy_config(*FAST, "train.epochs=2", *small, "run.name=reference")
    train(reference)
    ours = CheckpointStore(Path(cfg.run.dir) / "checkpoints").newest_valid().payload["model"]
    theirs = CheckpointStore(Path(reference.run.dir) / "checkpoints").newest_valid().payload["model"]
    assert all(torch.equal(ours[name], theirs[name]) for name in theirs)
    capsys.readouterr()

    # a new session (load_config again, one more epoch): the recorded batch, labelled, no new error
    again = load_config("toy", "cpu", [*FAST, "train.epochs=3"], config_dir=CONFIGS)
    out = capsys.readouterr().out
    assert "train.batch_size  8 -> 4  (OOM step-down)" in out
    assert "train.accumulate  1 -> 2  (OOM step-down)" in out
    assert train(again).status == "finished"
    assert "Out of GPU memory" not in capsys.readouterr().out
    assert progress(again)["optimizer_steps"] == 36 and len(read_stepdown(cfg.run.dir)["steps"]) == 1


def test_oom_in_validation_continues_from_the_last_checkpoint_at_the_first_unseen_sample(
    toy_config, monkeypatch, capsys
):
    trained: list[tuple[int, int]] = []

    def logged(self, key):
        if isinstance(key, tuple):
            trained.append(key)
        return SampleDataset.__getitem__(self, key)

    def val_step(self, batch, state=None):  # argus names the metrics after the method
        if len(batch[0]) > 4:
            raise torch.cuda.OutOfMemoryError(OOM_MESSAGE)
        return real_val_step(self, batch, state)

    real_val_step = ToyModel.val_step
    monkeypatch.setattr(ToyDataset, "__getitem__", logged)
    monkeypatch.setattr(ToyModel, "val_step", val_step)
    cfg = toy_config(*FAST)  # 3 epochs of 12 batches of 8, a checkpoint every 5 batches
    result = train(cfg)
    out = capsys.readouterr().out
    assert "Out of GPU memory in validation after epoch 1" in out and HALVED in out
    assert "Continuing from the last checkpoint." in out
    assert "Resuming from step-000000010.pth" in out
    assert "with 4 the epoch continues at batch 20/24, the first with samples not trained on yet" in out
    assert result.status == "finished" and result.epochs_done == 3
    # epoch 1 trained 96 samples, 80 of them before the checkpoint; after it, exactly the other 16
    first_epoch = [index for epoch, index in trained if epoch == 0]
    assert sorted(first_epoch[:96]) == list(range(96))
    assert first_epoch[96:] == first_epoch[80:96]
    # the optimizer steps of a run that never ran out of memory: 12 per epoch
    assert progress(cfg)["optimizer_steps"] == 10 + 2 + 12 + 12
    assert read_stepdown(cfg.run.dir)["steps"][0]["where"] == "in validation after epoch 1"


def test_input_size_rung_recomputes_derived_sizes_and_the_checkpoint_still_fits(folders, capsys):
    cfg = load_config("sportlight_hrnet57", "t4", ["run.name=oom"], verbose=False)
    task = get_task(cfg.task)
    signature, network = task.model_signature(cfg), task.model_params(cfg)["nn_module"]
    oom = OutOfMemory("in training at epoch 1, batch 1/100 (step 0)", OOM_MESSAGE)
    given = OmegaConf.to_yaml(cfg)
    first = step_down(cfg, task, oom)
    halved = "rung 1 of 4): train.batch_size 4 -> 2, train.accumulate 2 -> 4; effective batch 8"
    assert halved in first.message
    assert OmegaConf.to_yaml(cfg) == given  # the step's config is a new one
    assert first.record_path == Path(cfg.run.dir) / "oom_stepdown.yaml"
    checkpointed = step_down(first.config, task, oom)
    assert "rung 2 of 4): model.grad_checkpointing False -> True; effective batch 8" in checkpointed.message
    second = step_down(checkpointed.config, task, oom)
    smaller = "rung 3 of 4): data.input_size 720x405 -> 640x360; effective batch 8 (unchanged)."
    assert smaller in second.message
    assert (first.config.train.batch_size, list(first.config.data.input_size)) == (2, [720, 405])
    # a config loaded before the steps gets them from the record (the notebook's evaluate, export)
    assert with_recorded_stepdown(cfg) == second.config
    cfg = second.config
    # padded to multiples of 32, heatmaps at stride 2
    assert cfg.derived == {
        "effective_batch_size": 8,
        "padded_size": [640, 384],
        "heatmap_size": [320, 180],
        "padded_heatmap_size": [320, 192],
    }
    assert task.model_signature(cfg) == signature  # ModelConfigMismatch will not refuse the checkpoint
    assert task.model_params(cfg)["nn_module"] == network | {"grad_checkpointing": True}  # the same shapes

    capsys.readouterr()
    again = load_config("sportlight_hrnet57", "t4", ["run.name=oom"])
    out = capsys.readouterr().out
    assert again.derived == cfg.derived and again.train.batch_size == 2
    assert "data.input_size  960x540 -> 640x360  (OOM step-down)" in out
    assert "derived.heatmap_size  480x270 -> 320x180  (derived)" in out

    # an explicit override wins over the recorded step (the whole step: its other values go too)
    mine = load_config("sportlight_hrnet57", "t4", ["run.name=oom", "data.input_size=[720,405]"])
    out = capsys.readouterr().out
    assert list(mine.data.input_size) == [720, 405] and mine.derived.heatmap_size == [360, 203]
    assert (mine.train.batch_size, mine.train.accumulate) == (2, 4)
    note = "note: your override of data.input_size replaces the OOM step-down (data.input_size=640x360)"
    assert note in out


def test_oom_takes_the_grad_checkpointing_rung_and_training_goes_on_with_it(folders, monkeypatch, capsys):
    """The HRNet runs out of memory (injected) unless its activations are recomputed: the t4 ladder
    halves the batch, still out of memory, then turns checkpointing on, and the run finishes."""
    small = ["data.source=synthetic", "data.synthetic_frames.train=4", "data.synthetic_frames.valid=2"]
    cfg = load_config("sportlight_hrnet57", "smoke", [*small, *FAST, "train.max_steps=2"], verbose=False)
    cfg.train.oom_ladder = load_config("sportlight_hrnet57", "t4", verbose=False).train.oom_ladder
    prepare_data(cfg)
    forward = HRNetHeatmap.forward

    def needs_checkpointing(self, images):
        if self.training and not self.grad_checkpointing:
            raise torch.cuda.OutOfMemoryError(OOM_MESSAGE)
        return forward(self, images)

    monkeypatch.setattr(HRNetHeatmap, "forward", needs_checkpointing)
    result = train(cfg)
    out = capsys.readouterr().out
    assert "rung 1 of 4): train.batch_size 2 -> 1, train.accumulate 1 -> 2" in out
    assert "rung 2 of 4): model.grad_checkpointing False -> True; effective batch 2 (unchanged)." in out
    assert result.status == "max_steps" and result.config.model.grad_checkpointing is True
    assert [step["rung"] for step in read_stepdown(cfg.run.dir)["steps"]] == [
        "halve_batch",
        {"model.grad_checkpointing": True},
    ]
    assert progress(cfg)["global_step"] == 2
    assert load_config("sportlight_hrnet57", "smoke", [*small], verbose=False).model.grad_checkpointing


def test_exhausted_or_wrong_ladders_say_what_to_do(toy_config, monkeypatch):
    monkeypatch.setenv(OOM_ENV, "2")
    cfg = toy_config(*FAST, "train.oom_ladder=[halve_batch]")
    with pytest.raises(OutOfMemoryLadderExhausted) as error:
        train(cfg)
    text = str(error.value)
    assert "train.oom_ladder has no rung left that changes anything (1 taken" in text
    assert "at train.batch_size 4. Choose a smaller profile or model, or lower these settings" in text
    assert len(read_stepdown(cfg.run.dir)["steps"]) == 1

    with pytest.raises(ConfigError, match="rung 2 is 'quarter_batch': write halve_batch or a mapping"):
        train(toy_config(*FAST, "train.oom_ladder=[halve_batch,quarter_batch]"))
    shape = toy_config(*FAST, "run.name=shape")
    shape.train.oom_ladder = [{"model.hidden": 16}]
    with pytest.raises(ConfigError, match=r"rung 1 \(model.hidden 32 -> 16\) changes the network's shape"):
        step_down(shape, get_task(shape.task), OutOfMemory("in training", OOM_MESSAGE))
    shape.train.oom_ladder = [{"train.batchsize": 4}]
    with pytest.raises(ConfigError, match=r"sets 'train\.batchsize', which is not a single setting"):
        ladder(shape)


def test_cli_steps_down_and_the_next_run_keeps_the_setting(run_cli, folders):
    common = ("train", "toy", "--config-dir", str(CONFIGS), *FAST)
    first = run_cli(*common, "train.epochs=1", env={OOM_ENV: "4", "OMP_NUM_THREADS": "1"})
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"Stepping down (train.oom_ladder rung 1 of 6): {HALVED}" in first.stdout
    assert "train: finished after 24 batches" in first.stdout
    second = run_cli(*common, "train.epochs=2", env={OOM_ENV: "4", "OMP_NUM_THREADS": "1"})
    assert second.returncode == 0, second.stderr[-3000:]
    assert "train.batch_size  8 -> 4  (OOM step-down)" in second.stdout
    assert "Out of GPU memory" not in second.stdout
    assert "train: finished after 48 batches" in second.stdout


@pytest.mark.slow
def test_under_torchrun_the_run_stops_and_says_what_to_restart_with(folders, monkeypatch):
    monkeypatch.setenv(OOM_ENV, "4")
    stopped = torchrun(*FAST)
    assert stopped.returncode != 0  # stopped, not hung waiting for the rank that failed
    assert "Out of GPU memory on rank 0 of 2 in training at epoch 1, batch 1/6 (step 0)" in stopped.stdout
    assert "Start it again with train.batch_size=4 train.accumulate=2;" in stopped.stdout
    assert not (folders["drive"] / "colab_utils" / "toy" / "default" / "oom_stepdown.yaml").exists()

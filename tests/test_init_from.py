"""model.init_from: a run starts from weights the user has, once; a resume never reads them again;
weights that cannot start the run are refused with one message and the run folder left alone."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from conftest import CONFIGS

from colab_utils.engine.checkpoint import CheckpointStore
from colab_utils.portable import load_portable

ARGS = ("train", "toy", "--config-dir", str(CONFIGS), "data.num_workers=2", "logging.progress=false")


def run_dir(drive: Path, run: str) -> Path:
    return drive / "colab_utils" / "toy" / run


def final_payload(drive: Path, run: str) -> dict:
    return CheckpointStore(run_dir(drive, run) / "checkpoints").newest_valid().payload


def exported_weights(run_cli, folders, run: str = "source", *overrides: str) -> Path:
    """A toy run of one epoch, exported as the portable .pth a notebook downloads."""
    assert run_cli(*ARGS, f"run.name={run}", "train.epochs=1", *overrides).returncode == 0
    exported = run_cli("export", "toy", "--config-dir", str(CONFIGS), f"run.name={run}", *overrides)
    assert exported.returncode == 0, exported.stderr
    return run_dir(folders["drive"], run) / "export" / f"toy-{run}.pth"


def test_a_run_started_from_exported_weights_resumes_bit_exactly_without_reading_them_again(run_cli, folders):
    weights = exported_weights(run_cli, folders)
    start = (f"model.init_from={weights}",)
    reference = run_cli(*ARGS, "run.name=reference", *start)
    assert reference.returncode == 0, reference.stderr
    assert f"model.init_from={weights}: loaded 4 of 4 tensors from {weights}; missing 0" in reference.stdout
    expected = final_payload(folders["drive"], "reference")
    # it started from those weights, not from random ones
    assert run_cli(*ARGS, "run.name=fresh").returncode == 0
    from_random = final_payload(folders["drive"], "fresh")["model"]["layers.0.weight"]
    assert not torch.equal(from_random, expected["model"]["layers.0.weight"])

    killed = run_cli(*ARGS, "run.name=killed", *start, env={"TOY_KILL_AT_BATCH": "7"})
    assert killed.returncode == -9, killed.stderr
    weights.rename(weights.with_suffix(".moved"))  # a resume must not need the file (Colab's disk is gone)
    resumed = run_cli(*ARGS, "run.name=killed", *start)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming from step-" in resumed.stdout and "loaded" not in resumed.stdout
    got = final_payload(folders["drive"], "killed")
    assert got["progress"]["global_step"] == expected["progress"]["global_step"] == 36
    for name, tensor in expected["model"].items():
        assert torch.equal(got["model"][name], tensor), name
    config = yaml.safe_load((run_dir(folders["drive"], "killed") / "config.yaml").read_text())
    assert config["model"]["init_from"] == str(weights)


def test_a_resume_keeps_the_start_it_had_and_says_a_new_init_from_is_not_applied(run_cli, folders):
    weights = exported_weights(run_cli, folders)
    killed = run_cli(*ARGS, "run.name=x", f"model.init_from={weights}", env={"TOY_KILL_AT_BATCH": "7"})
    assert killed.returncode == -9
    resumed = run_cli(*ARGS, "run.name=x", "model.init_from=none")
    assert resumed.returncode == 0, resumed.stderr
    assert "model.init_from=none is not applied: this run resumes from step-000000005.pth" in resumed.stdout
    config = yaml.safe_load((run_dir(folders["drive"], "x") / "config.yaml").read_text())
    assert config["model"]["init_from"] == str(weights)


def test_a_training_checkpoint_starts_a_run_too(run_cli, folders):
    exported_weights(run_cli, folders)
    best = run_dir(folders["drive"], "source") / "checkpoints" / "best.pth"
    started = run_cli(*ARGS, "run.name=from-best", "train.epochs=1", f"model.init_from={best}")
    assert started.returncode == 0, started.stderr
    assert f"loaded 4 of 4 tensors from {best}" in started.stdout


def refused(run_cli, folders, source: str, *overrides: str) -> str:
    """The one error line of a run started from ``source``; its run folder must not exist afterwards."""
    result = run_cli(*ARGS, "run.name=new", f"model.init_from={source}", *overrides)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert not run_dir(folders["drive"], "new").exists()
    return result.stderr


def test_a_missing_file_is_named_and_nothing_is_written(run_cli, folders):
    message = refused(run_cli, folders, str(folders["tmp"] / "nowhere.pth"))
    assert f"there is no file {folders['tmp'] / 'nowhere.pth'}" in message and "hf://" in message


def test_a_cut_or_flipped_file_is_called_damaged_and_nothing_is_written(run_cli, folders):
    weights = exported_weights(run_cli, folders)
    cut = folders["tmp"] / "cut.pth"
    cut.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert "cut.pth cannot be read" in refused(run_cli, folders, str(cut))
    best = run_dir(folders["drive"], "source") / "checkpoints" / "best.pth"
    flipped = folders["tmp"] / "flipped.pth"
    data = bytearray(best.read_bytes())
    data[100] ^= 0xFF
    flipped.write_bytes(bytes(data))
    assert "flipped.pth does not match its checksum" in refused(run_cli, folders, str(flipped))


def test_weights_of_another_network_are_refused_with_what_differs(run_cli, folders):
    wider = exported_weights(run_cli, folders, "wider", "model.hidden=64")
    message = refused(run_cli, folders, str(wider))
    assert "holds a differently shaped toy network" in message
    assert "model.hidden: file 64, this run 32" in message
    assert "layers.0.weight: file [64, 8], this run [32, 8]" in message

    other = load_portable(wider)
    other["model"] = "gnn"  # what an export of another model says it is
    torch.save(other, folders["tmp"] / "gnn.pth")
    message = refused(run_cli, folders, str(folders["tmp"] / "gnn.pth"))
    assert "holds gnn weights and this run trains toy" in message


def test_imagenet_is_refused_for_a_model_without_an_imagenet_backbone(run_cli, folders):
    message = refused(run_cli, folders, "imagenet")
    assert "model.init_from=imagenet: toy has no backbone with ImageNet weights" in message

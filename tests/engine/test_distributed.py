"""The same entry point under torchrun: two CPU processes on gloo train, rank 0 writes, resume works."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import CONFIGS, REPO, TESTS

from colab_utils.engine.checkpoint import CheckpointStore


def torchrun(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO)]), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += ["-m", "colab_utils", "train", "toy", "--config-dir", str(CONFIGS), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_two_process_ddp_trains_checkpoints_once_and_resumes(folders):
    common = ("data.num_workers=0", "logging.progress=false", "checkpoint.every_steps=null")
    first = torchrun(*common, "train.epochs=1")
    assert first.returncode == 0, first.stderr[-3000:]
    store = CheckpointStore(folders["drive"] / "colab_utils" / "toy" / "default" / "checkpoints")
    files = store.step_files()
    # 96 samples, batch 8, two ranks: 6 batches per rank per epoch; one file per save, written by rank 0
    assert [p.name for p in files] == ["step-000000006.pth"]
    assert first.stdout.count("epoch 1: train_loss") == 1  # only rank 0 reports

    second = torchrun(*common, "train.epochs=2")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Resuming from step-000000006.pth" in second.stdout
    progress = store.newest_valid().payload["progress"]
    assert (progress["epoch"], progress["global_step"]) == (2, 12)

"""The guarantee no peer makes: SIGKILL at any batch, run again, get the same weights bit for bit.

Real processes, two loader workers, random augmentation in the dataset, dropout in the
network, periodic checkpoints every 5 batches (so most kills land mid-epoch, between
checkpoints, and the resumed run must replay batches it already trained on once).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS

from colab_utils.engine.checkpoint import CheckpointStore

ARGS = ("train", "toy", "--config-dir", str(CONFIGS), "data.num_workers=2", "logging.progress=false")
TOTAL_BATCHES = 36  # 3 epochs of 12


def final_state(drive: Path, run: str) -> dict:
    store = CheckpointStore(drive / "colab_utils" / "toy" / run / "checkpoints")
    payload = store.newest_valid().payload
    assert payload["progress"]["global_step"] == TOTAL_BATCHES
    return payload


@pytest.mark.slow
def test_sigkill_at_random_batches_then_resume_is_bit_identical(run_cli, folders):
    reference = run_cli(*ARGS, "run.name=uninterrupted")
    assert reference.returncode == 0, reference.stderr
    expected = final_state(folders["drive"], "uninterrupted")

    kill_points = sorted(random.Random(2026).sample(range(2, TOTAL_BATCHES), 3))
    for batch in kill_points:
        run = f"killed-at-{batch}"
        killed = run_cli(*ARGS, f"run.name={run}", env={"TOY_KILL_AT_BATCH": str(batch)})
        assert killed.returncode == -9, killed.stderr  # died without any chance to clean up
        resumed = run_cli(*ARGS, f"run.name={run}")
        assert resumed.returncode == 0, resumed.stderr
        assert "Resuming from step-" in resumed.stdout
        got = final_state(folders["drive"], run)
        for name, tensor in expected["model"].items():
            assert torch.equal(got["model"][name], tensor), f"{name} differs after a kill at batch {batch}"
        for key in ("exp_avg", "exp_avg_sq"):
            for index, state in expected["optimizer"]["state"].items():
                assert torch.equal(got["optimizer"]["state"][index][key], state[key])
        assert got["monitor"] == expected["monitor"]

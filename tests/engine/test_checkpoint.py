"""Checkpoint files: atomic writes, checksums, fallback to the previous file, rotation."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from colab_utils.engine.checkpoint import (
    CheckpointStore,
    CorruptCheckpoint,
    read_checkpoint,
    verify_checkpoint,
)


def payload(step: int) -> dict:
    generator = torch.Generator().manual_seed(step)
    return {"model": {"w": torch.randn(64, 64, generator=generator)}, "progress": {"global_step": step}}


def test_round_trip_is_exact_and_plain_torch_load_works(tmp_path):
    store = CheckpointStore(tmp_path)
    path = store.save(payload(3), step=3)
    loaded = read_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], payload(3)["model"]["w"])
    # The trailer does not stop anyone from opening it with torch alone, without unpickling code.
    plain = torch.load(path, weights_only=True)
    assert plain["progress"] == {"global_step": 3}


def test_rotation_keeps_the_newest_k(tmp_path):
    store = CheckpointStore(tmp_path, keep=2)
    for step in (10, 20, 30, 40):
        store.save(payload(step), step)
    assert [p.name for p in store.step_files()] == ["step-000000040.pth", "step-000000030.pth"]
    with pytest.raises(ValueError, match="at least 1"):
        CheckpointStore(tmp_path, keep=0)


def zero_bytes(path):
    path.write_bytes(b"")


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_bit(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [zero_bytes, truncate, flip_a_bit])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path, damage):
    store = CheckpointStore(tmp_path, keep=3)
    store.save(payload(1), 1)
    newest = store.save(payload(2), 2)
    damage(newest)
    with pytest.raises(CorruptCheckpoint):
        verify_checkpoint(newest)
    with pytest.warns(UserWarning, match="Skipping damaged checkpoint"):
        found = store.newest_valid()
    assert found.path.name == "step-000000001.pth"
    assert torch.equal(found.payload["model"]["w"], payload(1)["model"]["w"])
    # the damaged file is kept aside (nothing the user had is deleted) and not tried again
    assert (tmp_path / "step-000000002.pth.corrupt").exists()
    assert [p.name for p in store.step_files()] == ["step-000000001.pth"]


def test_sigkill_between_the_temporary_write_and_the_rename_keeps_the_previous(tmp_path):
    script = textwrap.dedent(
        f"""
        import os, signal, sys, torch
        from pathlib import Path
        from colab_utils.engine.checkpoint import CheckpointStore
        store = CheckpointStore(Path({str(tmp_path)!r}))
        store.save({{"model": {{"w": torch.ones(1000)}}}}, 1)
        def die(src, dst):
            os.kill(os.getpid(), signal.SIGKILL)  # the runtime dies after the bytes, before the rename
        os.replace = die
        store.save({{"model": {{"w": torch.zeros(1000)}}}}, 2)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode == -9
    store = CheckpointStore(tmp_path)
    leftovers = [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]
    assert len(leftovers) == 1  # the complete-but-unpublished new file
    found = store.newest_valid()
    assert found.path.name == "step-000000001.pth" and torch.equal(
        found.payload["model"]["w"], torch.ones(1000)
    )
    assert [p.name for p in store.remove_stale_temporaries()] == leftovers
    assert not any(".tmp-" in p.name for p in tmp_path.iterdir())

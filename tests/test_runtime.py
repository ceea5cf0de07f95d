"""Where am I: GPU facts, profile choice, Drive mounting, folders and the session clock."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import torch

from colab_utils import runtime
from colab_utils.runtime import GPU, choose_profile, detect_gpu, setup

T4 = GPU("Tesla T4", 14.7, (7, 5))
L4 = GPU("NVIDIA L4", 22.0, (8, 9))
A100_40 = GPU("NVIDIA A100-SXM4-40GB", 39.4, (8, 0))
H100 = GPU("NVIDIA H100 80GB HBM3", 79.1, (9, 0))
V100 = GPU("Tesla V100-SXM2-16GB", 15.8, (7, 0))
A10G = GPU("NVIDIA A10G", 22.0, (8, 6))


@pytest.mark.parametrize(
    ("gpu", "profile"),
    [(T4, "t4"), (L4, "l4"), (A100_40, "a100"), (H100, "a100"), (V100, "t4"), (A10G, "l4"), (None, "cpu")],
)
def test_profile_follows_memory_and_bf16(gpu, profile):
    assert choose_profile(gpu) == profile


def test_bf16_is_decided_by_compute_capability_not_by_torch():
    # torch.cuda.is_bf16_supported() says True on a T4 (emulation); we must not.
    assert not T4.bf16 and not V100.bf16
    assert L4.bf16 and A100_40.bf16 and H100.bf16


def fake_cuda(monkeypatch, name: str, memory_gib: float, capability: tuple[int, int]) -> None:
    props = SimpleNamespace(
        name=name, total_memory=int(memory_gib * 2**30), major=capability[0], minor=capability[1]
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: props)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


@pytest.mark.parametrize(
    ("name", "memory", "capability", "profile"),
    [
        ("Tesla T4", 15.0, (7, 5), "t4"),
        ("NVIDIA L4", 22.5, (8, 9), "l4"),
        ("NVIDIA A100-SXM4-40GB", 40.0, (8, 0), "a100"),
    ],
)
def test_setup_detects_a_faked_gpu_and_picks_its_profile(
    monkeypatch, folders, name, memory, capability, profile
):
    fake_cuda(monkeypatch, name, memory, capability)
    gpu = detect_gpu()
    assert gpu.name == name and gpu.capability == capability
    assert setup(verbose=False).profile == profile


def test_setup_without_gpu_is_cpu_and_prints_a_summary(folders, capsys):
    rt = setup()
    out = capsys.readouterr().out
    assert rt.profile == "cpu" and rt.gpu is None and not rt.colab
    assert "CPU only" in out and str(folders["drive"]) in out
    assert rt.drive_root == folders["drive"] and rt.drive_root.is_dir()
    assert rt.data_root == folders["data"] and rt.data_root.is_dir()


def test_explicit_profile_is_passed_through(folders):
    assert setup(profile="smoke", verbose=False).profile == "smoke"


def test_off_colab_defaults_are_home_folders_and_no_budget(monkeypatch, tmp_path):
    monkeypatch.delenv("COLAB_UTILS_DRIVE", raising=False)
    monkeypatch.delenv("COLAB_UTILS_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    rt = setup(verbose=False)
    assert rt.drive_root == tmp_path / "colab_utils_drive"
    assert rt.data_root == tmp_path / "colab_utils_data"
    assert rt.clock.budget_s is None and rt.clock.remaining() == float("inf")


def test_colab_mounts_drive_once_and_keeps_data_on_local_disk(fake_colab, monkeypatch):
    fake_cuda(monkeypatch, "Tesla T4", 15.0, (7, 5))
    first = setup(verbose=False)
    second = setup(verbose=False)
    assert first.colab and second.colab
    assert fake_colab.mount_calls == [str(fake_colab.root / "drive")]  # the second setup reused the mount
    assert first.drive_root == fake_colab.root / "drive" / "MyDrive"
    assert first.data_root == fake_colab.root / "data"


def test_a_failing_drive_mount_says_what_to_do(fake_colab, monkeypatch):
    fake_cuda(monkeypatch, "Tesla T4", 15.0, (7, 5))
    fake_colab.fail_mount = ValueError("mount failed: timeout")
    with pytest.raises(RuntimeError) as error:
        setup(verbose=False)
    text = str(error.value)
    assert "mount failed: timeout" in text
    assert "accept the permission dialog" in text and "COLAB_UTILS_DRIVE" in text


def test_colab_budget_counts_from_the_vm_start(fake_colab, monkeypatch):
    monkeypatch.setattr(runtime, "runtime_started_at", lambda: time.time() - 3600)
    fake_cuda(monkeypatch, "Tesla T4", 15.0, (7, 5))
    rt = setup(verbose=False)
    assert rt.clock.budget_s == runtime.COLAB_DEFAULT_BUDGET_H * 3600
    assert rt.clock.remaining() == pytest.approx((runtime.COLAB_DEFAULT_BUDGET_H - 1) * 3600, abs=5)
    assert setup(time_budget_h=2, verbose=False).clock.remaining() == pytest.approx(3600, abs=5)

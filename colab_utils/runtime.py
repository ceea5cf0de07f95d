"""Where am I running: Colab or not, which GPU, which profile, where files go, how long is left.

This module imports nothing else of ours but the leaf :mod:`colab_utils.errors`, so every other part
can ask it questions.
Off Colab everything still works: "Drive" is a local folder and there is no time limit
unless one is given.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from colab_utils.errors import UserError

DRIVE_ENV = "COLAB_UTILS_DRIVE"
DATA_ENV = "COLAB_UTILS_DATA"
COLAB_MOUNTPOINT = Path("/content/drive")
COLAB_DATA_DIR = Path("/content/data")
COLAB_DEFAULT_BUDGET_H = 11.5  # free sessions end after at most ~12 h
PROFILES = ("t4", "l4", "a100", "cpu")


@dataclass(frozen=True)
class GPU:
    """The facts about a GPU that decide how we train on it."""

    name: str
    memory_gib: float
    capability: tuple[int, int]
    count: int = 1

    @property
    def bf16(self) -> bool:
        """Real bf16 tensor cores (Ampere and newer). ``torch.cuda.is_bf16_supported()``
        says True on a T4 too, because it counts slow emulation."""
        return self.capability >= (8, 0)


def in_colab() -> bool:
    """True inside a Colab runtime (its kernel ships ``google.colab``)."""
    if "google.colab" in sys.modules:
        return True
    if os.environ.get("COLAB_RELEASE_TAG"):
        return True
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


def secret(name: str) -> str | None:
    """A key from the environment, else from Colab Secrets (the key icon); None when neither has it."""
    if os.environ.get(name):
        return os.environ[name]
    try:
        from google.colab import userdata
    except ImportError:
        return None
    try:
        return userdata.get(name)
    except Exception:  # userdata raises its own SecretNotFoundError / NotebookAccessError
        return None


def detect_gpu() -> GPU | None:
    """The first visible CUDA device, or None on a CPU-only machine."""
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return GPU(
        name=props.name,
        memory_gib=props.total_memory / 2**30,
        capability=(props.major, props.minor),
        count=torch.cuda.device_count(),
    )


def choose_profile(gpu: GPU | None) -> str:
    """The hardware profile for a GPU: t4, l4, a100 or cpu.

    Decided by what matters for training (memory, bf16), not by the marketing name, so
    an unknown card gets the profile of the known card it resembles: a V100 16 GB or a
    P100 is treated like a T4, an A10/L4-class card like an L4, A100/H100-class like an A100.
    """
    if gpu is None:
        return "cpu"
    if gpu.bf16 and gpu.memory_gib >= 39:
        return "a100"
    if gpu.bf16 and gpu.memory_gib >= 20:
        return "l4"
    return "t4"


class NoGPURuntime(UserError, RuntimeError):
    """Colab gave this notebook a runtime without a GPU while the profile was left on "auto"."""


NO_GPU_MESSAGE = (
    "This Colab runtime has no GPU, and training on its CPU would take days. Choose Runtime > Change "
    "runtime type > T4 GPU > Save, then Runtime > Run all (a run already started resumes from its "
    "checkpoints on Drive). If Colab says no GPU is available (usage limits), try again later, or set "
    'PROFILE = "cpu" (or "smoke" for a quick check; --profile on the command line) to run on the CPU anyway.'
)


def on_google_drive(path: str | Path) -> bool:
    """True for a path on the Colab Drive mount or in a synced Drive folder (MyDrive, Shareddrives)."""
    parts = Path(path).expanduser().absolute().parts
    return parts[:3] == ("/", "content", "drive") or "MyDrive" in parts or "Shareddrives" in parts


def mount_drive(mountpoint: Path | None = None) -> Path:
    """Mount Google Drive once per runtime and return its ``MyDrive`` folder.

    Calling it again is free: an already mounted Drive is reused.
    """
    mountpoint = mountpoint or COLAB_MOUNTPOINT
    my_drive = mountpoint / "MyDrive"
    if my_drive.is_dir():
        return my_drive
    from google.colab import drive

    try:
        drive.mount(str(mountpoint))
    except Exception as error:  # the Colab client raises plain exceptions with a text
        raise RuntimeError(
            f"Google Drive could not be mounted at {mountpoint} ({error}). Checkpoints are kept on "
            "Drive so that a killed runtime can resume. Run this cell again and accept the "
            "permission dialog; if Drive keeps failing, use Runtime -> Disconnect and delete "
            f"runtime, or set {DRIVE_ENV}=/content/local_runs to keep checkpoints on the "
            "runtime's disk (they are lost when the runtime is deleted)."
        ) from error
    if not my_drive.is_dir():
        raise RuntimeError(f"Drive was mounted but {my_drive} does not exist; re-run this cell.")
    return my_drive


def remount_drive(mountpoint: Path | None = None) -> None:
    """Mount Drive again after its FUSE process died ("[Errno 107] Transport endpoint is not connected")."""
    from google.colab import drive

    drive.mount(str(mountpoint or COLAB_MOUNTPOINT), force_remount=True)


def runtime_started_at() -> float:
    """Epoch seconds when this machine (the Colab VM) started; the session clock counts from it."""
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return time.time()
    return time.time() - uptime


@dataclass
class Clock:
    """The session's time budget: a deadline to stop and checkpoint before."""

    budget_s: float | None
    started_at: float = field(default_factory=time.time)

    def remaining(self) -> float:
        if self.budget_s is None:
            return float("inf")
        return self.started_at + self.budget_s - time.time()


@dataclass
class Runtime:
    """Everything ``setup()`` found out, handed to the config and the trainer."""

    colab: bool
    gpu: GPU | None
    profile: str
    drive_root: Path
    data_root: Path
    clock: Clock

    def summary(self) -> str:
        gpu = (
            f"{self.gpu.name}, {self.gpu.memory_gib:.1f} GiB, compute {self.gpu.capability[0]}."
            f"{self.gpu.capability[1]}, bf16 {'yes' if self.gpu.bf16 else 'no (fp16 + GradScaler)'}"
            if self.gpu
            else "none (CPU only)"
        )
        budget = (
            "none"
            if self.clock.budget_s is None
            else f"{self.clock.remaining() / 3600:.1f} h left of {self.clock.budget_s / 3600:.1f} h"
        )
        rows = [
            ("environment", "Google Colab" if self.colab else "local machine"),
            ("GPU", gpu),
            ("profile", self.profile),
            ("checkpoints on", str(self.drive_root)),
            ("data on", str(self.data_root)),
            ("time budget", budget),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def setup(
    profile: str = "auto",
    time_budget_h: float | None = None,
    drive_dir: str | Path | None = None,
    data_dir: str | Path | None = None,
    verbose: bool = True,
) -> Runtime:
    """Find out where we run, mount Drive in Colab, and choose folders and the profile.

    ``profile="auto"`` picks t4 / l4 / a100 / cpu from the GPU; any profile name the model's
    config defines (e.g. ``smoke``) is passed through. Folders can be overridden by arguments
    or by the ``COLAB_UTILS_DRIVE`` / ``COLAB_UTILS_DATA`` environment variables.

    In Colab, "auto" without a GPU raises :class:`NoGPURuntime` before Drive is mounted: a
    notebook opened on a CPU runtime by mistake would otherwise start a days-long CPU training.
    """
    colab = in_colab()
    gpu = detect_gpu()
    if colab and gpu is None and profile == "auto":
        raise NoGPURuntime(NO_GPU_MESSAGE)
    chosen = choose_profile(gpu) if profile == "auto" else profile
    drive_override = drive_dir or os.environ.get(DRIVE_ENV)
    if drive_override:
        drive_root = Path(drive_override).expanduser()
    elif colab:
        drive_root = mount_drive()
    else:
        drive_root = Path.home() / "colab_utils_drive"
    data_override = data_dir or os.environ.get(DATA_ENV)
    if data_override:
        data_root = Path(data_override).expanduser()
    elif colab:
        data_root = COLAB_DATA_DIR
    else:
        data_root = Path.home() / "colab_utils_data"
    drive_root.mkdir(parents=True, exist_ok=True)
    data_root.mkdir(parents=True, exist_ok=True)
    if time_budget_h is None and colab:
        time_budget_h = COLAB_DEFAULT_BUDGET_H
    # In Colab the budget counts from the VM's start: re-running cells does not reset the
    # limit Colab enforces. Elsewhere it counts from now.
    clock = Clock(
        None if time_budget_h is None else time_budget_h * 3600,
        started_at=runtime_started_at() if colab else time.time(),
    )
    runtime = Runtime(colab, gpu, chosen, drive_root, data_root, clock)
    if verbose:
        print(runtime.summary())
    return runtime

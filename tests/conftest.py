"""Shared fixtures: isolated Drive/data folders, the toy task's config, subprocess runs,
and a fake ``google.colab`` (the real one exists only inside Colab)."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
REPO = TESTS.parent
CONFIGS = TESTS / "configs"

sys.path.insert(0, str(TESTS))  # the toy model package (task: toy_model) lives here, outside the library

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two pytest workers on the machine's 2 cores: each (and every process it
    # starts: papermill kernels, CLI runs, loader workers) computes on one thread, so they do not
    # fight over the cores.
    import torch

    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Fresh "Drive" and data folders for one test, through the documented environment variables."""
    drive, data = tmp_path / "drive", tmp_path / "data"
    monkeypatch.setenv("COLAB_UTILS_DRIVE", str(drive))
    monkeypatch.setenv("COLAB_UTILS_DATA", str(data))
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    return {"drive": drive, "data": data, "tmp": tmp_path}


@pytest.fixture
def toy_config(folders: dict[str, Path]) -> Callable:
    """``toy_config(*overrides, profile="cpu")`` -> the resolved toy config in this test's folders."""
    from colab_utils.config import load_config

    def make(*overrides: str, profile: str = "cpu"):
        return load_config("toy", profile, list(overrides), config_dir=CONFIGS, verbose=False)

    return make


@pytest.fixture
def run_cli(folders: dict[str, Path]) -> Callable:
    """Run ``python -m colab_utils ...`` in a real subprocess with this test's folders."""

    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO)]), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "colab_utils", *args],
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


class FakeColab:
    """Stands in for ``google.colab``: Drive mounts into a temporary folder, downloads are recorded."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.mount_calls: list[str] = []
        self.downloads: list[str] = []
        self.secrets: dict[str, str] = {}
        self.fail_mount: Exception | None = None

    def modules(self) -> dict[str, types.ModuleType]:
        google = types.ModuleType("google")
        colab = types.ModuleType("google.colab")
        drive = types.ModuleType("google.colab.drive")
        files = types.ModuleType("google.colab.files")
        userdata = types.ModuleType("google.colab.userdata")

        def mount(mountpoint: str, force_remount: bool = False, timeout_ms: int = 120000) -> None:
            self.mount_calls.append(mountpoint)
            if self.fail_mount:
                raise self.fail_mount
            (Path(mountpoint) / "MyDrive").mkdir(parents=True, exist_ok=True)

        class SecretNotFoundError(Exception):
            pass

        def get(name: str) -> str:
            if name not in self.secrets:
                raise SecretNotFoundError(name)
            return self.secrets[name]

        drive.mount = mount
        files.download = self.downloads.append
        userdata.get = get
        colab.drive, colab.files, colab.userdata = drive, files, userdata
        google.colab = colab
        return {
            "google": google,
            "google.colab": colab,
            "google.colab.drive": drive,
            "google.colab.files": files,
            "google.colab.userdata": userdata,
        }


@pytest.fixture
def fake_colab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeColab]:
    """Pretend to be inside Colab: ``google.colab`` importable, /content mapped to a temp folder."""
    from colab_utils import runtime

    fake = FakeColab(tmp_path / "content")
    for name, module in fake.modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(runtime, "COLAB_MOUNTPOINT", fake.root / "drive")
    monkeypatch.setattr(runtime, "COLAB_DATA_DIR", fake.root / "data")
    monkeypatch.delenv("COLAB_UTILS_DRIVE", raising=False)
    monkeypatch.delenv("COLAB_UTILS_DATA", raising=False)
    yield fake

"""Files in and out of the runtime for the try-your-frames notebook.

In Colab an empty path opens the browser's upload dialog, a path on Drive mounts Drive
first, and the saved results are zipped and downloaded. Elsewhere paths are required and
the results stay where they were saved (the zip's path is printed).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from colab_utils import runtime as rt


def _upload(folder: Path, what: str) -> list[Path]:
    """Colab's upload dialog; the chosen files land in ``folder`` (``files.upload`` writes to the cwd)."""
    from google.colab import files

    folder.mkdir(parents=True, exist_ok=True)
    print(f"Choose {what} in the dialog below.")
    previous = Path.cwd()
    os.chdir(folder)
    try:
        uploaded = files.upload()
    finally:
        os.chdir(previous)
    if not uploaded:
        raise ValueError(f"Nothing was uploaded: run the cell again and choose {what}.")
    return [folder / name for name in uploaded]


def _given(path: str, parameter: str) -> Path:
    found = Path(path).expanduser()
    if rt.in_colab() and found.is_relative_to(rt.COLAB_MOUNTPOINT):
        rt.mount_drive()
    if not found.exists():
        raise FileNotFoundError(f"{found} does not exist: check {parameter} in the parameters cell.")
    return found


def weights_file(path: str, folder: str | Path = "uploads/weights") -> Path:
    """The exported .pth named by ``path``; in Colab with no path, the one chosen in the upload dialog."""
    if path:
        return _given(path, "WEIGHTS")
    if not rt.in_colab():
        raise ValueError("Set WEIGHTS to the exported .pth's path (outside Colab there is no upload dialog).")
    uploaded = _upload(Path(folder), "the exported .pth file")
    if len(uploaded) != 1:
        raise ValueError(f"Choose one .pth file, not {len(uploaded)} files: run the cell again.")
    return uploaded[0]


def input_paths(path: str, folder: str | Path = "uploads/frames") -> Path | list[Path]:
    """The image, folder or video named by ``path``; in Colab with no path, the files chosen in
    the upload dialog (images and short videos)."""
    if path:
        return _given(path, "INPUTS")
    if not rt.in_colab():
        raise ValueError("Set INPUTS to an image, a folder or a video (no upload dialog outside Colab).")
    return _upload(Path(folder), "your images or a short video (several files at once are fine)")


def deliver_results(folder: str | Path) -> Path:
    """Zip ``folder`` next to it; in Colab the browser downloads the zip."""
    folder = Path(folder).resolve()
    archive = Path(shutil.make_archive(str(folder), "zip", root_dir=folder))
    if rt.in_colab():
        from google.colab import files

        files.download(str(archive))
        print(f"Downloading {archive.name} to your computer.")
    else:
        print(f"Results zipped to {archive}")
    return archive

"""Peak memory of predict() on a video, for 30 frames and for 300: streaming keeps it flat.

It exports a smoke model after one training step (or takes ``--weights``), writes a synthetic
clip at 960x540 (SoccerNet's frame size: 300 such frames held as RGB would be 466 MB; white
lines on green, panning), and runs predict() on the first 30 and then on all 300 frames,
each in a fresh child process that reports its own peak resident memory (``ru_maxrss``):

    python bench/video_memory.py [--model homography] [--weights file.pth] [--frames 30,300]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

SIZE = (960, 540)


def smoke_weights(model: str, root: Path) -> Path:
    """The model's smoke export after one training step, with its data and run under ``root``."""
    from colab_utils.config import load_config
    from colab_utils.pipeline import prepare_data, train
    from colab_utils.portable import export

    overrides = ["data.num_workers=0", "logging.progress=false", "train.max_steps=1", "train.batch_size=1"]
    cfg = load_config(model, "smoke", overrides, verbose=False)
    prepare_data(cfg)
    train(cfg)
    return export(cfg, download=False)


def write_clip(path: Path, frames: int) -> Path:
    """``frames`` frames at 960x540: white lines on green, panning a pixel a frame."""
    pitch = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    pitch[:] = (40, 140, 40)
    for x in range(0, SIZE[0], 160):
        cv2.line(pitch, (x, 0), (x + 200, SIZE[1]), (255, 255, 255), 3)
    cv2.ellipse(pitch, (SIZE[0] // 2, SIZE[1] // 2), (180, 70), 0, 0, 360, (255, 255, 255), 3)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, SIZE)
    for i in range(frames):
        writer.write(np.roll(pitch, i, axis=1))
    writer.release()
    return path


def child(weights: str, clip: str, frames: int) -> None:
    """In a fresh process: predict the first ``frames`` frames and print the peak RSS as JSON."""
    import torch

    from colab_utils.inference.api import predict

    torch.set_num_threads(1)  # the machine's other core stays free
    start = time.perf_counter()
    prediction = predict(weights, clip, max_frames=frames, progress=False, device="cpu")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    seconds = time.perf_counter() - start
    row = {"frames": prediction.frames, "peak_rss_mb": round(peak, 1), "seconds": round(seconds, 1)}
    print(json.dumps(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="homography")
    parser.add_argument("--weights", help="an exported .pth (default: a smoke model trained one step here)")
    parser.add_argument("--frames", default="30,300")
    parser.add_argument("--child", nargs=3, metavar=("WEIGHTS", "CLIP", "FRAMES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    counts = [int(n) for n in args.frames.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        os.environ.update(COLAB_UTILS_DRIVE=str(root / "drive"), COLAB_UTILS_DATA=str(root / "data"))
        weights = Path(args.weights) if args.weights else smoke_weights(args.model, root)
        clip = write_clip(root / "clip.mp4", max(counts))
        print(f"load before: {Path('/proc/loadavg').read_text().strip()}")
        rows = []
        for frames in counts:
            command = [sys.executable, __file__, "--child", str(weights), str(clip), str(frames)]
            run = subprocess.run(command, capture_output=True, text=True)
            if run.returncode:
                raise SystemExit(f"the child predicting {frames} frames failed:\n{run.stderr[-3000:]}")
            rows.append(json.loads(run.stdout.strip().splitlines()[-1]))
            print(f"{SIZE[0]}x{SIZE[1]}, {rows[-1]['frames']} frames: peak RSS {rows[-1]['peak_rss_mb']} MB "
                  f"({rows[-1]['seconds']} s)")  # fmt: skip
        print(f"load after: {Path('/proc/loadavg').read_text().strip()}")
        print(json.dumps({"model": args.model, "size": SIZE, "runs": rows}))


if __name__ == "__main__":
    main()

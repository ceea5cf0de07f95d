"""What fp16 export (``export.half=true``) costs: file size and metrics, fp32 weights against the
same weights rounded to fp16 (what loading the half-size file into the network gives).

A smoke model's metrics are about 0 after its few steps, which would hide any cost, so it trains
for more epochs first (for the calibration models add ``data.val_split=train`` to overfit their
frames):

    python bench/export_half.py [model] [--epochs N] [key=value ...]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from colab_utils import runtime as rt
from colab_utils.config import load_config
from colab_utils.engine.trainer import make_val_loader
from colab_utils.pipeline import load_trained_model, prepare_data, train
from colab_utils.portable import export
from colab_utils.registry import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", nargs="?", default="gnn")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_intermixed_args()
    runtime = rt.setup(profile="smoke", verbose=False)
    overrides = [
        f"run.name=half-{time.strftime('%Y%m%d-%H%M%S')}",
        f"train.epochs={args.epochs}",
        "checkpoint.every_steps=null",
        "logging.progress=false",
        *args.overrides,
    ]
    cfg = load_config(args.model, "smoke", overrides, runtime=runtime, verbose=False)
    prepare_data(cfg)
    train(cfg, runtime)
    task = get_task(cfg.task)
    model, _ = load_trained_model(cfg, torch.device("cpu"))
    _, val_set = task.datasets(cfg)
    full = task.evaluate(cfg, model, make_val_loader(task, val_set, cfg)).metrics
    network = model.get_nn_module()
    rounded = {k: v.half().float() if v.is_floating_point() else v for k, v in network.state_dict().items()}
    network.load_state_dict(rounded)
    half = task.evaluate(cfg, model, make_val_loader(task, val_set, cfg)).metrics
    sizes = {}
    for precision, flag in (("fp32", "false"), ("fp16", "true")):
        path = export(
            load_config(
                args.model, "smoke", [*overrides, f"export.half={flag}"], runtime=runtime, verbose=False
            ),
            download=False,
        )
        sizes[precision] = path.stat().st_size
    rows = {k: {"fp32": full[k], "fp16": half[k], "change": half[k] - full[k]} for k in full}
    print(json.dumps({"model": args.model, "bytes": sizes, "metrics": rows}, indent=1))


if __name__ == "__main__":
    main()

"""Does the time estimate tell the truth? The estimate a T4 run prints before training, against a
whole epoch of the training and validation loaders timed on this machine's cores.

The GPU part of the estimate cannot be checked without a GPU; where the loader sets the pace, the
epoch is the loader's time, and that is what is timed here. Use a few thousand items (overrides)
so the epoch takes minutes:

    python bench/estimate_check.py ball3d --profile t4 data.clips.train=2000 data.clips.valid=200
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time

import torch

from colab_utils.bench.measure import model_bench
from colab_utils.config import load_config
from colab_utils.engine.estimate import estimate, time_loader
from colab_utils.engine.sampling import ResumableBatchSampler
from colab_utils.engine.trainer import LOADER_PROBE_S, make_loader, make_val_loader
from colab_utils.registry import get_task
from colab_utils.runtime import GPU

T4 = GPU("Tesla T4", 15.0, (7, 5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--profile", default="t4")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_intermixed_args()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ.setdefault("COLAB_UTILS_DRIVE", f"{scratch}/drive")
        os.environ.setdefault("COLAB_UTILS_DATA", f"{scratch}/data")
        overrides = [*model_bench(args.model).overrides, *args.overrides]
        cfg = load_config(args.model, args.profile, overrides, verbose=False)
        task = get_task(cfg.task)
        with contextlib.redirect_stdout(io.StringIO()):
            task.prepare_data(cfg)
        train_set, valid_set = task.datasets(cfg)
        train_set.seed = int(cfg.seed)
        sampler = ResumableBatchSampler(task.batch_plan(cfg, train_set))
        loader = make_loader(task, train_set, sampler, cfg, torch.device("cpu"))
        timing = time_loader(sampler, loader, seconds=LOADER_PROBE_S)
        items = sum(len(keys) for keys in sampler), len(valid_set)
        found = estimate(task, cfg, timing.first_batch, timing.first_size, *items, T4, timing.rate)
        print(found.text(T4))

        started = time.perf_counter()
        sampler.set_epoch(1)
        for _ in loader:
            pass
        for _ in make_val_loader(task, valid_set, cfg):
            pass
        measured = time.perf_counter() - started
        loading, epoch = found.loader_seconds_per_epoch, found.seconds_per_epoch
        print(
            f"measured: one epoch of the loaders ({items[0]:,} training + {items[1]:,} validation items) "
            f"took {measured / 60:.2f} min here; the estimate's loading is {loading / 60:.2f} min "
            f"({loading / measured - 1:+.0%}), its epoch {epoch / 60:.2f} min ({found.bound} sets the pace)"
        )


if __name__ == "__main__":
    main()

"""``python -m colab_utils train|evaluate|export|prepare|demo <model> [key=value ...]``,
``python -m colab_utils train-all [--models a,b] [key=value | model:key=value ...]``
and ``python -m colab_utils bench <model|all> [--profile t4] [--batches N] [--json] [--gpu | --learn
[--transfer]] [k=v ...]``.

The same pipeline as the notebooks, for a terminal, a script or ``torchrun``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from colab_utils import runtime as rt
from colab_utils.config import load_config
from colab_utils.engine.checkpoint import CheckpointStore
from colab_utils.errors import EXIT_CODE, UserError
from colab_utils.pipeline import evaluate, prepare_data, train
from colab_utils.portable import export

COMMANDS = ("train", "evaluate", "export", "prepare", "demo", "train-all", "bench")
DEMO_MODEL = "sportlight_hrnet57"
# errors whose message says what to do: printed as "error: ..." (exit code 2), without a traceback
USER_ERRORS = (UserError, FileNotFoundError)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m colab_utils", description=__doc__)
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("model", nargs="?", help=f"model name (demo: default {DEMO_MODEL})")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. train.batch_size=4")
    parser.add_argument(
        "--profile", help="hardware profile (auto, t4, l4, a100, cpu, smoke; default auto, bench: t4)"
    )
    parser.add_argument("--config-dir", help="an extra folder searched for <model>.yaml first")
    parser.add_argument("--models", help="train-all: a comma-separated subset (default: all, in order)")
    parser.add_argument(
        "--batches",
        type=int,
        default=100,
        help="bench: loader batches to time (default 100: with fewer, the workers' start-up lowers the rate)",
    )
    parser.add_argument("--json", action="store_true", help="bench: one JSON line per model instead of text")
    parser.add_argument(
        "--gpu",
        action="store_true",
        help="bench: the GPU proof (fp16 steps under a 15 GiB cap, an out-of-memory step-down, kill and "
        "resume, speed settings); needs CUDA",
    )
    parser.add_argument(
        "--learn",
        action="store_true",
        help="bench: train a few CPU minutes on synthetic data and score held-out frames against the "
        "untrained network",
    )
    parser.add_argument(
        "--transfer",
        action="store_true",
        help="bench --learn: fine-tune on a second synthetic mix from the weights trained on a first, "
        "against as many steps from nothing",
    )
    parser.add_argument(
        "--steps", type=int, default=30, help="bench --gpu: training steps per model (default 30)"
    )
    parser.add_argument(
        "--out", default="gpu_proof.json", help="bench --gpu: the results file (default gpu_proof.json)"
    )
    parser.add_argument(
        "--budget-min", type=float, default=7.5, help="bench --gpu: minutes for all checks (default 7.5)"
    )
    return parser


def _split_profile(overrides: Sequence[str], profile: str) -> tuple[list[str], str]:
    """Accept ``profile=smoke`` among the overrides, as the notebooks' parameters spell it."""
    rest = []
    for item in overrides:
        if item.startswith("profile="):
            profile = item.split("=", 1)[1]
        else:
            rest.append(item)
    return rest, profile


def _wait_for_periodic_checkpoint(
    store: CheckpointStore, process: subprocess.Popen, timeout_s: float
) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if store.step_files():
            return True
        time.sleep(0.1)
    return False


def demo(model: str, overrides: list[str], config_dir: str | None) -> int:
    """Train on synthetic data, get killed like a Colab runtime, resume, export."""
    run_name = time.strftime("demo-%Y%m%d-%H%M%S")
    overrides = [f"run.name={run_name}", *overrides]
    runtime = rt.setup(profile="smoke")
    cfg = load_config(model, "smoke", overrides, runtime=runtime, config_dir=config_dir)
    print("\n== 1/4 data ==")
    prepare_data(cfg)
    print("\n== 2/4 train, then the runtime gets killed (SIGKILL, like Colab) ==")
    command = [sys.executable, "-m", "colab_utils", "train", model, "--profile", "smoke", *overrides]
    if config_dir:
        command += ["--config-dir", config_dir]
    process = subprocess.Popen(command)
    store = CheckpointStore(Path(cfg.run.dir) / "checkpoints")
    if _wait_for_periodic_checkpoint(store, process, timeout_s=900):
        time.sleep(0.5)
        process.send_signal(signal.SIGKILL)
        process.wait()
        print(f"\n** killed the training process; on disk: {[p.name for p in store.step_files()]} **")
    else:
        process.wait()
        print("\n(training ended before it could be killed; resuming will find it complete)")
    print("\n== 3/4 run the same training again: it resumes from the newest checkpoint ==")
    result = train(cfg, runtime)
    print(f"train: {result.status}, resumed from {getattr(result.resumed_from, 'name', 'nothing')}")
    print("\n== 4/4 evaluate and export the best weights ==")
    evaluate(cfg)
    export(cfg)
    print(
        "\nThe smoke model trained for seconds on a few synthetic frames, so held-out numbers of about 0 "
        "are expected: they show the mechanics, not a useful model. How far minutes of a CPU get is "
        f"measured by python -m colab_utils bench {model} --learn (README, 'Does it learn?'): the "
        "calibration model from scratch, 256 steps on 64 frames (5 min on 2 quiet cores), puts 1.6 % of "
        "held-out keypoints within 10 px and no camera close enough to count (score 0), so a demo of "
        "minutes cannot show a non-zero score. Train for real in the notebook (profile t4 on a Colab GPU)."
    )
    return 0


def train_all_command(models: str | None, profile: str, overrides: list[str]) -> int:
    """Exit 0 when every chosen model is trained or was finished before, 1 if not, 2 on bad arguments."""
    from colab_utils.suite import DONE, select_models, split_overrides, train_all  # needs pandas

    run_names = [item.split("=", 1)[1] for item in overrides if item.startswith("run.name=")]
    rest = [item for item in overrides if not item.startswith("run.name=")]
    try:
        chosen = select_models(models)
        split_overrides(rest, chosen)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    table = train_all(profile, chosen, run_names[-1] if run_names else "default", rest)
    return 0 if table[table.model.isin(chosen)].status.isin(DONE).all() else 1


def bench_command(args: argparse.Namespace, profile: str, overrides: list[str]) -> int:
    """Exit 0 when every model was measured, 2 on a missing or unknown model (or --gpu without CUDA)."""
    from colab_utils.bench.command import bench, chosen_models
    from colab_utils.bench.gpu_proof import prove
    from colab_utils.bench.learning_report import learning_bench, transfer_bench

    model = args.model

    if not model:
        print("error: bench needs a model name or all", file=sys.stderr)
        return 2
    try:
        chosen_models(model)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.transfer and not args.learn:
        print("error: --transfer is a part of bench --learn: add --learn", file=sys.stderr)
        return 2
    if args.learn:
        (transfer_bench if args.transfer else learning_bench)(model, overrides)
        return 0
    if args.gpu:
        if overrides:
            print(
                "error: bench --gpu takes no overrides: it proves the profiles as they are", file=sys.stderr
            )
            return 2
        return 0 if prove(model, profile, args.steps, Path(args.out), args.budget_min) is not None else 2
    bench(model, profile, args.batches, overrides, as_json=args.json)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_intermixed_args(argv)
    args.profile = args.profile or ("t4" if args.command == "bench" else "auto")
    if args.command == "train-all":
        if args.model and "=" not in args.model:
            print("error: train-all takes no model name; choose models with --models a,b", file=sys.stderr)
            return 2
        first = [args.model] if args.model else []  # argparse took the first override for a model name
        overrides, profile = _split_profile([*first, *args.overrides], args.profile)
        try:
            return train_all_command(args.models, profile, overrides)
        except USER_ERRORS as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_CODE
        except KeyboardInterrupt:
            return 130
    overrides, profile = _split_profile(args.overrides, args.profile)
    try:
        if args.command == "bench":
            return bench_command(args, profile, overrides)
        if args.command == "demo":
            return demo(args.model or DEMO_MODEL, overrides, args.config_dir)
        if not args.model:
            print(f"{args.command} needs a model name", file=sys.stderr)
            return 2
        verbose = int(os.environ.get("RANK", "0")) == 0
        runtime = rt.setup(profile=profile, verbose=verbose)
        cfg = load_config(
            args.model, profile, overrides, runtime=runtime, config_dir=args.config_dir, verbose=verbose
        )
        if args.command == "prepare":
            prepare_data(cfg)
        elif args.command == "train":
            result = train(cfg, runtime)
            if verbose:
                print(
                    f"train: {result.status} after {result.global_step} batches; run folder {result.run_dir}"
                )
        elif args.command == "evaluate":
            evaluate(cfg)
        else:
            export(cfg)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CODE
    except KeyboardInterrupt:
        return 130
    return 0

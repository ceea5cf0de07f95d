"""The GPU proof's results as Markdown tables, the form the README keeps them in."""

from __future__ import annotations


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _table(header: list[str], rows: list[list[object]]) -> str:
    return "\n".join([_row(header), _row(["---"] * len(header)), *(_row(row) for row in rows)])


def _stepdowns(rungs: list[dict]) -> str:
    return "; ".join(", ".join(f"{k}={v}" for k, v in rung.items()) for rung in rungs) or "none"


def steps_table(results: dict) -> str:
    header = ["model", "batch", "step ms", "GPU step ms", "items/s", "loader wait", "peak alloc GiB"]
    header += ["peak reserved GiB", "skipped steps", "out-of-memory steps"]
    rows = [
        [
            r["model"],
            r["batch_size"],
            f"{r['step_s'] * 1000:.0f}",
            f"{r['gpu_step_s'] * 1000:.0f}",
            f"{r['items_per_s']:.1f}",
            f"{r['loader_wait_share']:.0%}",
            f"{r['peak_allocated_gib']:.2f}",
            f"{r['peak_reserved_gib']:.2f}",
            f"{r['skipped_steps']} of {r['steps']}",
            _stepdowns(r["stepdowns"]),
        ]
        for r in results["steps"]
    ]
    return _table(header, rows)


def speed_table(results: dict) -> str:
    """Each setting's GPU step time as a multiple of the same model's run at its profile's settings
    (above 1: the variant is slower, so the profile's settings pay)."""
    default = {r["model"]: r["gpu_step_s"] for r in results["steps"]}
    rows = [
        [
            r["model"],
            r["setting"],
            f"{r['gpu_step_s'] * 1000:.0f}",
            f"{r['gpu_step_s'] / default[r['model']]:.2f}x",
            f"{r['peak_reserved_gib']:.2f}",
        ]
        for r in results["speed_settings"]
    ]
    return _table(["model", "variant", "GPU step ms", "x the profile's step", "peak reserved GiB"], rows)


def checks_lines(results: dict) -> list[str]:
    lines = []
    oom = results.get("out_of_memory")
    if oom:
        outcome = f"took {_stepdowns(oom.get('rungs', []))} and went on" if oom.get("goes_on") else "failed"
        lines.append(
            f"- Out of memory ({oom['model']}): capped at {oom['cap_gib']} GiB (below the peak allocated at "
            f"15 GiB), training {outcome}: {oom['status']} after {oom.get('steps', 0)} steps"
            + (f" ({oom['error']})" if "error" in oom else "")
            + "."
        )
    resume = results.get("resume")
    if resume and resume.get("status") == "done":
        same = (
            "bit-identical"
            if resume["bit_identical"]
            else f"off by {resume['max_abs_weight_difference']:.3g}"
        )
        lines.append(
            f"- Kill and resume ({resume['model']}, {resume['steps']} steps, a checkpoint every "
            f"{resume['checkpoint_every_steps']}): {resume['first_run']}; the resumed weights are {same} "
            f"against a run never stopped, with {resume['determinism']}."
        )
    elif resume:
        lines.append(f"- Kill and resume ({resume['model']}): failed: {resume.get('error', '')[-300:]}")
    lines += [f"- Not run: {item}" for item in results.get("not_run", [])]
    return lines


def tables(results: dict) -> str:
    """Everything the proof measured, headed by the GPU and software it ran on."""
    head = (
        f"{results['gpu']} ({results['gpu_memory_gib']} GiB) capped at {results['memory_cap_gib']} GiB; "
        f"torch {results['torch']}, CUDA {results['cuda']}, cuDNN {results['cudnn']}; {results['precision']}."
    )
    parts = [head, "", steps_table(results)]
    if results["speed_settings"]:
        parts += ["", speed_table(results)]
    parts += ["", *checks_lines(results)]
    return "\n".join(parts)

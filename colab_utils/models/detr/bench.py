"""The bench's view of detr: synthetic clips, tracking-2023's epoch, its variants' FLOPs and
whether the t4 batch (and twice it) fits a T4's memory, with and without gradient checkpointing
(estimated without a GPU)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from colab_utils.bench.memory import checkpointing_lines, memory_lines
from colab_utils.bench.spec import ModelBench
from colab_utils.engine.contract import Task
from colab_utils.engine.estimate import training_flops
from colab_utils.engine.sampling import SampleDataset
from colab_utils.holdout import held_out_names

TRAIN_CLIPS = 57  # tracking-2023's train split, of which data.heldout_every choose the best weights
VARIANTS = ("detr", "conditional_detr", "deformable_detr")


def epoch(cfg: DictConfig, train_set: SampleDataset) -> tuple[int, int]:
    frames = cfg.data.frames_per_clip
    names = [f"SNMOT-{i:03d}" for i in range(1, TRAIN_CLIPS + 1)]
    held = len(held_out_names(names, int(cfg.data.heldout_every)))
    return (TRAIN_CLIPS - held) * int(frames.train), held * int(frames.valid)


def extra(task: Task, cfg: DictConfig, batch: object) -> list[str]:
    size = int(cfg.train.batch_size)
    per_image = []
    for variant in VARIANTS:
        other = OmegaConf.merge(cfg, {"model": {"variant": variant}})
        per_image.append(f"{variant} {training_flops(task, other, batch) / size / 1e9:.0f}")
    memory = memory_lines(task, cfg, [size, 2 * size])
    return [
        f"GFLOP per image by model.variant: {', '.join(per_image)}",
        *memory,
        *checkpointing_lines(task, cfg),
    ]


BENCH = ModelBench(
    items="images",
    overrides=(
        "data.source=synthetic",
        "data.synthetic.clips.train=2",
        "data.synthetic.clips.valid=1",
        "data.synthetic.frames=24",
        "model.init_from=none",  # no download; the memory estimate then has GroupNorm's larger activations
        "model.backbone_norm=group",
        "logging.progress=false",
    ),
    epoch=epoch,
    extra=extra,
    # close-ups (the largest people) and 256 steps: 32 steps of main-camera clips left every AP at 0
    learning=(
        "data.synthetic.clips.train=4",
        "data.synthetic.frames=16",
        "data.synthetic.cameras={main_high: 0.0, main_low: 0.0, behind_goal: 0.0, close_up: 1.0}",
        "train.optimizer.lr=1.0e-3",
        "train.epochs=64",
    ),
)

"""The bench's view of HRNet-57: synthetic frames in SoccerNet's format, calibration-2023's epoch,
and the peak memory at the profile's batch with and without gradient checkpointing."""

from omegaconf import DictConfig

from colab_utils.bench.memory import checkpointing_lines
from colab_utils.bench.spec import ModelBench
from colab_utils.calibration.source import SPLIT_FRAMES
from colab_utils.engine.contract import Task


def extra(task: Task, cfg: DictConfig, batch: object) -> list[str]:
    return checkpointing_lines(task, cfg)


# the broadcast's main cameras, then the shots a league's own footage adds: behind the goal, close-ups
TRANSFER = (
    ("data.synthetic_cameras={main_high: 0.6, main_low: 0.4}",),
    ("data.synthetic_cameras={behind_goal: 0.5, close_up: 0.5}", "data.synthetic_seed=1"),
)

BENCH = ModelBench(
    items="images",
    overrides=("data.source=synthetic", "data.synthetic_frames.train=96", "logging.progress=false"),
    epoch=SPLIT_FRAMES,
    learning=("data.synthetic_frames.train=64", "data.synthetic_frames.valid=16", "train.epochs=8"),
    extra=extra,
    transfer=TRANSFER,
)

"""The bench's view of HRNet-57: synthetic frames in SoccerNet's format, calibration-2023's epoch."""

from colab_utils.bench.spec import ModelBench
from colab_utils.calibration.source import SPLIT_FRAMES

BENCH = ModelBench(
    items="images",
    overrides=("data.source=synthetic", "data.synthetic_frames.train=96", "logging.progress=false"),
    epoch=SPLIT_FRAMES,
    learning=("data.synthetic_frames.train=64", "data.synthetic_frames.valid=16", "train.epochs=8"),
)

"""The bench's view of ball3d: its clips are rendered from their index, so the configured 50,000
are the real epoch; only the pretrained download is left out (same shapes and FLOPs)."""

from colab_utils.bench.spec import ModelBench

BENCH = ModelBench(
    items="clips",
    overrides=("model.init_from=none",),
    learning=("data.clips.train=96", "train.epochs=6"),
)

"""The bench's view of ball3d: the loader reads 440 clips rendered into shards as the data step
renders the recipe's 50,000 (rendering all of them would take the bench half an hour); the
epoch counted is the recipe's. The pretrained download is left out (same shapes and FLOPs)."""

from colab_utils.bench.spec import ModelBench

BENCH = ModelBench(
    items="clips",
    overrides=("model.init_from=none", "data.clips.train=400", "data.clips.valid=40"),
    epoch=(50000, 2000),
    learning=("data.clips.train=96", "train.epochs=6"),
)

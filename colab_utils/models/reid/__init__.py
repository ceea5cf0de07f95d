"""reid: player re-identification on SoccerNet reid-2023 with OSNet (torchreid).

Everything that is this model's alone lives in this package; what it shares with other
models is imported from the shared packages. The constants below register it (see
:mod:`colab_utils.registry`).
"""

TASK = "task:Reid"
PREDICTOR = "predictor:CropRanking"
EXTRAS = "reid"
TRAIN_ORDER = 5
BENCH = "bench:BENCH"

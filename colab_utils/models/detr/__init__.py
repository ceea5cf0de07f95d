"""detr: players, goalkeepers, referees and the ball in broadcast frames (DETR and relatives).

Everything that is this model's alone lives in this package; what it shares with other
models is imported from the shared packages. The constants below register it (see
:mod:`colab_utils.registry`).
"""

TASK = "task:Detr"
PREDICTOR = "predictor:Detection"
EXTRAS = "detr"
TRAIN_ORDER = 6
BENCH = "bench:BENCH"

"""baller2vec: a transformer over one token per agent per step that forecasts players and ball.

Everything that is this model's alone lives in this package; what it shares with other
models is imported from the shared packages. The constants below register it (see
:mod:`colab_utils.registry`).
"""

TASK = "task:Baller2VecTask"
PREDICTOR = "predictor:TrajectoryForecast"
EXTRAS = "baller2vec"
TRAIN_ORDER = 3
BENCH = "bench:BENCH"

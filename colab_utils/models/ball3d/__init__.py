"""ball3d: the ball's 3-D position in every frame of a broadcast clip, from its 2-D track.

Everything that is this model's alone lives in this package; what it shares with other
models is imported from the shared packages. The constants below register it (see
:mod:`colab_utils.registry`).
"""

TASK = "task:Ball3D"
PREDICTOR = "predictor:BallTrack3D"
EXTRAS = "ball3d"
TRAIN_ORDER = 4
BENCH = "bench:BENCH"

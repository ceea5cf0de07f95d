"""ball3d: the ball's 3-D position in every frame of a broadcast clip, from its 2-D track."""

TASK = "task:Ball3D"
PREDICTOR = "predictor:BallTrack3D"
EXTRAS = "ball3d"
TRAIN_ORDER = 4
BENCH = "bench:BENCH"

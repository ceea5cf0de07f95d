"""detr: players, goalkeepers, referees and the ball in broadcast frames (DETR and relatives)."""

TASK = "task:Detr"
PREDICTOR = "predictor:Detection"
EXTRAS = "detr"
TRAIN_ORDER = 6
BENCH = "bench:BENCH"

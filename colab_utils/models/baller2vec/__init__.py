"""baller2vec: a transformer over one token per agent per step that forecasts players and ball."""

TASK = "task:Baller2VecTask"
PREDICTOR = "predictor:TrajectoryForecast"
EXTRAS = "baller2vec"
TRAIN_ORDER = 3
BENCH = "bench:BENCH"

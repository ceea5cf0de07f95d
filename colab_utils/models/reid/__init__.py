"""reid: player re-identification on SoccerNet reid-2023 with OSNet (torchreid)."""

TASK = "task:Reid"
PREDICTOR = "predictor:CropRanking"
EXTRAS = "reid"
TRAIN_ORDER = 5
BENCH = "bench:BENCH"

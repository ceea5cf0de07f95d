"""Sportlight's HRNet-W48 57-keypoint pitch calibration (SoccerNet calibration-2023), the headline model."""

TASK = "task:SportlightHRNet57"
PREDICTOR = "predictor:KeypointCalibration"
EXTRAS = "calibration"
TRAIN_ORDER = 1
BENCH = "bench:BENCH"

"""Sportlight's HRNet-W48 57-keypoint pitch calibration (SoccerNet calibration-2023), the headline model.

Everything that is this model's alone lives in this package; what it shares with other
models is imported from the shared packages. The constants below register it (see
:mod:`colab_utils.registry`).
"""

TASK = "task:SportlightHRNet57"
PREDICTOR = "predictor:KeypointCalibration"
EXTRAS = "calibration"
TRAIN_ORDER = 1
BENCH = "bench:BENCH"

"""ResNet-50 heatmaps of the 29 ground keypoints -> a ground homography (SoccerNet calibration-2023).

Everything that is this model's alone lives in this package; what it shares with other
models is imported from the shared packages. The constants below register it (see
:mod:`colab_utils.registry`).
"""

TASK = "task:Homography"
PREDICTOR = "predictor:HomographyCalibration"
EXTRAS = "homography"
TRAIN_ORDER = 2
BENCH = "bench:BENCH"

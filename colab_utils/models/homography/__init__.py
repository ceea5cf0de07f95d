"""ResNet-50 heatmaps of the 29 ground keypoints -> a ground homography (SoccerNet calibration-2023)."""

TASK = "task:Homography"
PREDICTOR = "predictor:HomographyCalibration"
EXTRAS = "homography"
TRAIN_ORDER = 2
BENCH = "bench:BENCH"

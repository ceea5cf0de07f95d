"""Pitch model, keypoint definitions, cameras and the calibration metric (numpy and OpenCV only)."""

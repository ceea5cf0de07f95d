"""What the two keypoint calibration models share: SoccerNet calibration files, frames, heatmaps, metrics."""

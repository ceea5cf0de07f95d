"""predict() and what every predictor shares: inputs, results, files in and out of the runtime."""

"""One package per model: its task, network, loss, data, metrics, pictures, predictor and generator."""

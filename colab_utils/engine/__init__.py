"""The trainer every model uses: argus models and metrics, exact resume, crash-safe checkpoints."""

"""Datasets: downloads, safe extraction, verification and synthetic generators."""

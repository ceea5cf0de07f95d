"""Crash-safe Colab training for football vision models."""

__version__ = "0.1.0"

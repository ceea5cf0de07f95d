"""An epoch of SkillCorner's open data, scaled from the synthetic matches the bench measures on."""

from __future__ import annotations

from omegaconf import DictConfig

TRAIN_MATCHES, VALID_MATCHES, MATCH_MINUTES = 8, 2, 95.0  # the open data; minutes of play assumed


def open_data_epoch(cfg: DictConfig, train_windows: int, stride: int, valid_stride: int) -> tuple[int, int]:
    """(training, validation) windows of one epoch of the open data.

    The synthetic training matches' window count per minute is assumed to hold for the real
    ones (tracked share, replays); validation windows start every ``valid_stride`` frames
    instead of every ``stride``.
    """
    synthetic = cfg.data.synthetic
    matches = int(synthetic.matches) - int(cfg.data.valid_matches)
    per_match = train_windows / matches * MATCH_MINUTES / float(synthetic.minutes)
    return round(per_match * TRAIN_MATCHES), round(per_match * stride / valid_stride * VALID_MATCHES)

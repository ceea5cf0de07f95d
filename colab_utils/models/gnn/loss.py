"""The gnn loss: a weighted sum of three cross-entropies, each over the labels that exist.

A label of -1 (a substitute's or unknown role, the ball's track, a team without a
formation label, a frame no phase covers) contributes nothing: each term is the mean over
the labelled items only, and 0 when a batch has none (where ``ignore_index`` with a mean
reduction would give NaN). Computed with masks, not boolean indexing, so the loss keeps
fixed shapes (CUDA graphs, the meta device).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

TASKS = ("role", "formation", "phase")


def masked_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits`` (..., C) over the entries of ``labels`` (...) that are >= 0."""
    flat_logits, flat_labels = logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1)
    valid = flat_labels >= 0
    losses = F.cross_entropy(flat_logits, flat_labels.clamp_min(0), reduction="none")
    return (losses * valid).sum() / valid.sum().clamp_min(1)


class TacticsLoss(nn.Module):
    def __init__(self, role: float = 1.0, formation: float = 1.0, phase: float = 1.0) -> None:
        super().__init__()
        self.weights = {"role": role, "formation": formation, "phase": phase}

    def terms(self, prediction: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict:
        return {task: masked_cross_entropy(prediction[task], target[task]) for task in TASKS}

    def forward(self, prediction: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> torch.Tensor:
        terms = self.terms(prediction, target)
        return sum(self.weights[task] * terms[task] for task in TASKS)

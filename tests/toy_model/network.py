"""A tiny classifier with dropout, in plain torch: the exported-weights test rebuilds it
in a fresh interpreter that cannot import colab_utils."""

import torch
from torch import nn


class ToyNet(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

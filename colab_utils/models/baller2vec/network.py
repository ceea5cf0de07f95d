"""baller2vec: a transformer encoder over one token per agent per time step.

Alcorn and Nguyen (2021) model a basketball possession as a sequence of "multi-entity"
tokens: every player and the ball at every time step, each embedded from its position plus an
identity embedding, read by a standard transformer encoder whose mask lets a token see all
agents at its own and earlier steps. Each token's output classifies the agent's displacement
to the next step into a grid of bins; rolling that out step by step forecasts the play.

Here (football, SkillCorner's 10 fps): a token embeds its features
(:data:`~colab_utils.models.baller2vec.tokens.FEATURES`) with a small MLP and adds learned
embeddings of the agent's window slot, its side (attacking +x, attacking -x, ball) and the time
step; hidden tokens (masked reconstruction) replace their features by a learned vector. Three
heads read each output token: the next step's displacement bin (baller2vec's objective), the
agent's current position (masked reconstruction: it is asked of hidden tokens) and its
displacement at a few horizons ahead (future prediction). ``torch.nn.TransformerEncoder`` does
the attention; nothing of baller2vec's code is used.
"""

from __future__ import annotations

import torch
from torch import nn

from colab_utils.grad_checkpointing import recompute_in_backward
from colab_utils.models.baller2vec.tokens import (
    FEATURES,
    DisplacementBins,
    time_causal_mask,
    token_features,
)

FUTURE_SCALE_M = 10.0  # the future head's outputs are displacements in units of 10 m


class Baller2Vec(nn.Module):
    def __init__(
        self,
        agents: int,
        max_steps: int,
        d_model: int,
        heads: int,
        layers: int,
        feedforward: int,
        dropout: float,
        bins: dict,
        future_horizons: list[int],
        grad_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        self.agents = agents
        self.bins = DisplacementBins(**bins)
        self.future_horizons = [int(h) for h in future_horizons]
        self.embed = nn.Sequential(nn.Linear(len(FEATURES), d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.hidden_token = nn.Parameter(torch.zeros(d_model))
        self.slot = nn.Embedding(agents, d_model)
        self.side = nn.Embedding(3, d_model)
        self.time = nn.Embedding(max_steps, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, feedforward, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(
            layer, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False
        )
        if grad_checkpointing:
            recompute_in_backward(self.encoder.layers)
        self.next_step = nn.Linear(d_model, self.bins.classes)
        self.reconstruct = nn.Linear(d_model, 2)
        self.future = nn.Linear(d_model, 2 * len(self.future_horizons))
        for table in (self.slot, self.side, self.time):  # small, so they do not drown the features at first
            nn.init.normal_(table.weight, std=0.02)
        for head in (self.next_step, self.future):  # start from "no idea": a flat grid, no displacement
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Outputs for every token of ``inputs`` (as :func:`.baller2vec_tokens.window_tensors` makes them)."""
        positions, present = inputs["positions"], inputs["present"]
        _, steps, agents = present.shape
        extents = self.bins.extents(agents, positions.device)
        half = inputs["pitch_half"][:, None, None, :].to(positions.dtype)
        features = token_features(positions, present, inputs["detected"], extents, inputs["pitch_half"])
        tokens = self.embed(features)
        hidden = inputs.get("hidden")
        if hidden is not None:
            tokens = torch.where(hidden[..., None], self.hidden_token.to(tokens.dtype), tokens)
        time = torch.arange(steps, device=positions.device)
        tokens = (
            tokens
            + self.slot(inputs["slot"])[:, None]
            + self.side(inputs["side"])[:, None]
            + self.time(time)[None, :, None]
        )
        mask = time_causal_mask(steps, agents, positions.device)
        # is_causal=False: the mask is not the token-causal one, and torch need not inspect it to find out
        encoded = self.encoder(tokens.flatten(1, 2), mask=mask, is_causal=False).unflatten(1, (steps, agents))
        return {
            "logits": self.next_step(encoded),
            "position": self.reconstruct(encoded) * half,
            "future": self.future(encoded).unflatten(-1, (len(self.future_horizons), 2)) * FUTURE_SCALE_M,
            "extents": extents,
        }

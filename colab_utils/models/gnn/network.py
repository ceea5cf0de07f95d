"""The gnn network: graph attention within each frame, a BiLSTM along each track, three heads.

1. **Per frame**: node features -> a linear embedding -> ``layers`` graph-attention layers
   (torch-geometric's ``GATv2Conv``, or ``GATConv``, with ``heads`` heads concatenated and the
   edge features in the attention), each with a residual connection and LayerNorm. Self
   loops (edge feature ``self_loop`` = 1) are added here, with fixed-size tensor operations
   only, so the network also runs on PyTorch's meta device (the engine's FLOP estimate).
2. **Over time, per node** (each player, and the ball, is a track): its embeddings in the
   window's frames, zeros plus a presence flag where it is absent, go through a
   bidirectional LSTM. Per node rather than per pooled team embedding because the role is
   a property of one player's movement over time (a full back's runs down the line, a
   holding midfielder's place in front of the back line): a team vector pooled per frame
   would have mixed the players before the LSTM could follow any one of them. It costs
   ~23 short sequences per window instead of 2, small next to the graph layers.
3. **Heads**: role per player track (its LSTM outputs averaged over the frames where it is
   present); formation per team (the mean and the maximum of its players' track vectors); phase of play
   per frame (the mean over the tracks present in that frame, next to the ball's track: the
   phase follows where the ball is and who has it).
"""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import GATConv, GATv2Conv
from torch_geometric.utils import scatter

from colab_utils.models.gnn.graphs import FrameGraphs

CONVOLUTIONS = {"gatv2": GATv2Conv, "gat": GATConv}
SELF_LOOP_FEATURES = (0.0, 0.0, 0.0, 1.0, 1.0)  # dx, dy, distance, same_team, self_loop
TEAMS = 2


def _head(width: int, classes: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Dropout(dropout), nn.Linear(width, classes))


class TacticsNet(nn.Module):
    def __init__(
        self,
        node_features: int,
        edge_features: int,
        num_roles: int,
        num_formations: int,
        num_phases: int,
        hidden: int = 128,
        heads: int = 4,
        layers: int = 4,
        conv: str = "gatv2",
        lstm_hidden: int = 128,
        lstm_layers: int = 1,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if conv not in CONVOLUTIONS:
            raise ValueError(f"model.conv must be one of {', '.join(CONVOLUTIONS)}, got {conv!r}")
        if hidden % heads:
            raise ValueError(f"model.hidden ({hidden}) must be a multiple of model.heads ({heads})")
        if len(SELF_LOOP_FEATURES) != edge_features:
            raise ValueError(f"{edge_features} edge features, but self loops are defined for 5")
        self.embed = nn.Linear(node_features, hidden)
        self.convs = nn.ModuleList(
            CONVOLUTIONS[conv](
                hidden, hidden // heads, heads=heads, edge_dim=edge_features, add_self_loops=False
            )
            for _ in range(layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(
            hidden + 1,
            lstm_hidden,
            num_layers=lstm_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if lstm_layers > 1 else 0.0,
        )
        width = 2 * lstm_hidden
        self.role_head = _head(width, num_roles, dropout)
        self.formation_head = _head(2 * width, num_formations, dropout)
        self.phase_head = _head(2 * width, num_phases, dropout)
        self.register_buffer("self_loop", torch.tensor(SELF_LOOP_FEATURES), persistent=False)

    def frame_embeddings(self, batch: FrameGraphs) -> torch.Tensor:
        """(nodes, hidden): step 1, every frame graph of the batch at once."""
        nodes = batch.x.shape[0]
        loops = torch.arange(nodes, device=batch.x.device).expand(2, nodes)
        edge_index = torch.cat([batch.edge_index, loops], dim=1)
        loop_attr = self.self_loop.to(batch.edge_attr.dtype).expand(nodes, -1)
        edge_attr = torch.cat([batch.edge_attr, loop_attr], dim=0)
        h = self.embed(batch.x)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = norm(h + self.dropout(nn.functional.elu(conv(h, edge_index, edge_attr))))
        return h

    def forward(self, batch: FrameGraphs) -> dict[str, torch.Tensor]:
        h = self.frame_embeddings(batch)
        tracks, windows, frames = batch.track_team.numel(), batch.formation.shape[0], batch.phase.shape[1]
        sequence = h.new_zeros(tracks, frames, h.shape[1])
        sequence[batch.node_track, batch.node_t] = h
        present = h.new_zeros(tracks, frames)
        present[batch.node_track, batch.node_t] = 1.0
        out, _ = self.lstm(torch.cat([sequence, present[..., None]], dim=-1))
        out = out * present[..., None]
        track = out.sum(dim=1) / present.sum(dim=1, keepdim=True).clamp_min(1.0)

        is_player = batch.track_team < TEAMS
        team_slot = torch.where(is_player, batch.track_window * TEAMS + batch.track_team, windows * TEAMS)
        slots = windows * TEAMS + 1
        team = torch.cat(
            [
                scatter(track, team_slot, dim=0, dim_size=slots, reduce="mean")[:-1],
                scatter(track, team_slot, dim=0, dim_size=slots, reduce="max")[:-1],
            ],
            dim=-1,
        )
        frame_sum = scatter(out, batch.track_window, dim=0, dim_size=windows, reduce="sum")
        frame_count = scatter(present, batch.track_window, dim=0, dim_size=windows, reduce="sum")
        ball = scatter(out * (~is_player)[:, None, None], batch.track_window, dim=0, dim_size=windows)
        frame = torch.cat([frame_sum / frame_count.clamp_min(1.0)[..., None], ball], dim=-1)
        return {
            "role": self.role_head(track),
            "formation": self.formation_head(team).view(windows, TEAMS, -1),
            "phase": self.phase_head(frame),
        }

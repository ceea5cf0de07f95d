"""The bench's view of gnn: synthetic matches, the open data's epoch, and what the FLOP count misses.

torch's counter sees matrix products only (the graph layers' linear maps, the LSTM). It does
not see torch-geometric's per-edge work: gathering both ends of every edge, the attention's
LeakyReLU and dot product, the softmax over each node's incoming edges (scatter max and sum)
and the weighted message sum. That work is estimated from the batch's edge count: about
``EDGE_OPS`` operations per edge, head and channel forward, twice that backward.
"""

from __future__ import annotations

import re

import torch
from omegaconf import DictConfig
from torch.utils.flop_counter import FlopCounterMode

from colab_utils.bench.spec import ModelBench
from colab_utils.engine.contract import Task
from colab_utils.engine.estimate import FLOP_FIXES
from colab_utils.engine.sampling import SampleDataset
from colab_utils.models.gnn.graphs import WindowBatch, batch_graphs
from colab_utils.models.gnn.task import edge_spec
from colab_utils.tracking.bench import open_data_epoch

EDGE_OPS = 8


def forward_shares(task: Task, cfg: DictConfig, batch: WindowBatch) -> str:
    """Shares of the forward pass's counted FLOPs by part of the network (the counter's split of
    the backward pass by module is not reliable)."""
    model = task.build_model(cfg, torch.device("cpu"))
    model.set_device(torch.device("meta"))
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=FLOP_FIXES) as counter:
        model.forward_loss(batch)
    counts = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    total = counts["Global"]
    convs = sum(flops for name, flops in counts.items() if re.fullmatch(r"TacticsNet\.convs\.\d+", name))
    parts = {"graph layers": convs, "LSTM": counts.get("TacticsNet.lstm", 0)}
    parts["embedding and heads"] = total - sum(parts.values())
    return ", ".join(f"{name} {flops / total:.0%}" for name, flops in parts.items())


def extra(task: Task, cfg: DictConfig, batch: WindowBatch) -> list[str]:
    graphs = batch_graphs(batch, edge_spec(cfg))
    nodes, edges = graphs.x.shape[0], graphs.edge_index.shape[1]
    per_window = 3 * EDGE_OPS * (edges + nodes) * int(cfg.model.hidden) * int(cfg.model.layers)  # self loops
    per_window /= int(cfg.train.batch_size)
    return [
        f"counted FLOPs of the forward pass: {forward_shares(task, cfg, batch)}",
        f"not counted: ~{per_window / 1e9:.2f} GFLOP per window of per-edge gathers, attention softmax and",
        f"scatter sums ({nodes:,} nodes, {edges:,} edges per batch)",
    ]


def epoch(cfg: DictConfig, train_set: SampleDataset) -> tuple[int, int]:
    window = cfg.data.window
    return open_data_epoch(cfg, len(train_set), int(window.stride), int(window.valid_stride))


BENCH = ModelBench(
    items="windows",
    overrides=(
        "data.source=synthetic",
        "data.synthetic.matches=3",
        "data.synthetic.minutes=12.0",
        "data.valid_matches=1",
    ),
    epoch=epoch,
    extra=extra,
    learning=("data.synthetic.minutes=6.0", "train.epochs=8"),
    transfer=(("data.synthetic.seed=0",), ("data.synthetic.seed=1",)),  # other matches of the same kind
)

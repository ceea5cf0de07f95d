"""gnn: players' roles, teams' formations and the phase of play from tracking data.

Data: SkillCorner's open broadcast tracking (downloaded; :mod:`colab_utils.tracking.skillcorner`)
or synthetic matches in the same files (:mod:`colab_utils.tracking.synthetic`), cut
into windows (:mod:`colab_utils.tracking.windows`) whose node arrays become one graph per frame
on the training device, a batch at a time (:mod:`colab_utils.models.gnn.graphs`); the last
``data.valid_matches`` matches are held out.
The network (:mod:`colab_utils.models.gnn.network`) runs graph attention inside every frame and a
BiLSTM along every player's track, and answers three questions at once: each player's role
(labels from the match sheet), each team's formation (labels from the rule in
:mod:`colab_utils.models.gnn.formations`) and each frame's phase of play (SkillCorner's
phases-of-play file). Everything specific to this model is here and in ``configs/gnn.yaml``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from colab_utils.engine.contract import EvalReport, Task, TrainModel
from colab_utils.models.gnn.formations import FORMATIONS, ROLES, templates_named
from colab_utils.models.gnn.graphs import (
    BALL,
    EDGE_FEATURES,
    NODE_FEATURES,
    EdgeSpec,
    FrameGraphs,
    WindowArrays,
    WindowBatch,
    batch_graphs,
    collate_windows,
    match_roles,
)
from colab_utils.models.gnn.loss import TacticsLoss
from colab_utils.models.gnn.metrics import TacticsScores
from colab_utils.models.gnn.network import TacticsNet
from colab_utils.models.gnn.picture import frame_graph_picture
from colab_utils.tracking.skillcorner import PHASE_NAMES, Match
from colab_utils.tracking.source import cached_fps, data_root, describe_source, load_matches
from colab_utils.tracking.synthetic import read_formations
from colab_utils.tracking.windows import Augmentation, TrajectoryWindows, WindowSpec


class GnnModel(TrainModel):
    nn_module = TacticsNet
    loss = TacticsLoss

    def graphs(self, batch: WindowBatch) -> FrameGraphs:
        """The batch's frame graphs, built on the model's device. The edges depend on the data, which
        the meta device (the engine's FLOP count) has not got: there they are built where the batch is."""
        where = batch.features.device if self.device.type == "meta" else self.device
        graphs = batch_graphs(batch.to(where, non_blocking=True), EdgeSpec(**self.params["edges"]))
        return graphs.to(self.device)

    def forward_loss(self, batch: WindowBatch) -> tuple[torch.Tensor, Any, Any]:
        graphs = self.graphs(batch)
        prediction = self.nn_module(graphs)
        target = {"role": graphs.role, "formation": graphs.formation, "phase": graphs.phase}
        return self.loss(prediction, target), prediction, target


def window_spec(cfg: DictConfig, validation: bool) -> WindowSpec:
    data, window = cfg.data, cfg.data.window
    return WindowSpec(
        length=int(window.frames),
        stride=int(window.valid_stride if validation else window.stride),
        step=int(window.step),
        min_players=int(data.min_players),
        max_warp=0.0 if validation else float(data.augment.time_warp),
    )


def edge_spec(cfg: DictConfig) -> EdgeSpec:
    graph = cfg.data.graph
    return EdgeSpec(str(graph.edges), int(graph.k), float(graph.radius_m))


def formation_names(cfg: DictConfig) -> list[str]:
    return [str(name) for name in cfg.data.formations]


def graph_windows(cfg: DictConfig, matches: list[Match], validation: bool) -> TrajectoryWindows:
    spec = window_spec(cfg, validation)
    transform = WindowArrays(matches, spec, templates_named(formation_names(cfg)))
    augment = None if validation else Augmentation(**OmegaConf.to_container(cfg.data.augment, resolve=True))
    return TrajectoryWindows(matches, spec, augment, transform)


def generator_formations(cfg: DictConfig, match: Match, starts: np.ndarray) -> np.ndarray:
    """(windows, 2) the synthetic generator's true formation names at each window's first frame."""
    truth = read_formations(data_root(cfg) / "data" / "matches" / str(match.match_id), match.match_id)
    switch_frames = np.array([s["frame"] for s in truth["switches"]])
    at = np.searchsorted(switch_frames, match.frame_ids[starts], side="right") - 1
    return np.array([[truth["switches"][i]["home"], truth["switches"][i]["away"]] for i in at])


def _label_report(cfg: DictConfig, dataset: TrajectoryWindows) -> str:
    """What the rule says over a split's windows (labelled when the dataset was made), and on
    synthetic matches how often it names the generator's true formation."""
    names, every = formation_names(cfg), dataset.transform.labels
    agree, total = 0, 0
    for m, match in enumerate(dataset.matches):
        mine = dataset.index[:, 0] == m
        if cfg.data.source == "synthetic" and mine.any():
            found = every[mine]
            named = np.where(found >= 0, np.array(names)[np.maximum(found, 0)], "")
            agree += int((named == generator_formations(cfg, match, dataset.index[mine, 1])).sum())
            total += int((found >= 0).sum())
    counts = ", ".join(f"{name} {(every == i).sum()}" for i, name in enumerate(names))
    text = (
        f"formation labels by the rule ({len(every)} windows x 2 teams): {counts}, none {(every < 0).sum()}"
    )
    if total:
        text += f"; the rule names the generator's true formation in {agree / total:.1%} of them"
    return text


# ----------------------------------------------------------------- the task


class Gnn(Task):
    model_class = GnnModel

    def prepare_data(self, cfg: DictConfig) -> str:
        train_matches, valid_matches, skipped = load_matches(cfg)
        train_set, valid_set = self.datasets(cfg)
        every = [*train_matches, *valid_matches]
        frames = sum(m.num_frames for m in every)
        roles = np.concatenate([match_roles(m)[~np.isnan(m.positions[..., 0]).all(axis=0)] for m in every])
        phased = sum(int((m.phases >= 0).sum()) for m in every)
        source = describe_source(cfg)
        ids = lambda matches: ", ".join(str(m.match_id) for m in matches)  # noqa: E731
        window = cfg.data.window
        lines = [
            f"gnn: {source} in {data_root(cfg)}: {len(train_matches)} training match(es) "
            f"({ids(train_matches)}), {len(valid_matches)} held out ({ids(valid_matches)}); "
            f"{frames:,} frames at {every[0].fps:g} fps.",
            f"{len(train_set):,} training windows (every {window.stride} frames) and {len(valid_set):,} "
            f"validation windows (every {window.valid_stride}), each {window.frames} graphs {window.step} "
            "frames apart.",
            f"labels: {(roles >= 0).sum()} of {len(roles)} players who played have a role in the vocabulary; "
            f"{phased / frames:.0%} of frames have a phase of play;",
            _label_report(cfg, train_set) + ".",
        ]
        if skipped:
            lines.append(f"skipped {len(skipped)} unreadable match(es):")
            lines += [f"  {line}" for line in skipped]
        return "\n".join(lines)

    def model_params(self, cfg: DictConfig) -> dict[str, Any]:
        model = cfg.model
        return {
            "nn_module": {
                "node_features": len(NODE_FEATURES),
                "edge_features": len(EDGE_FEATURES),
                "num_roles": len(ROLES),
                "num_formations": len(formation_names(cfg)),
                "num_phases": len(PHASE_NAMES),
                "hidden": int(model.hidden),
                "heads": int(model.heads),
                "layers": int(model.layers),
                "conv": str(model.conv),
                "lstm_hidden": int(model.lstm_hidden),
                "lstm_layers": int(model.lstm_layers),
                "dropout": float(model.dropout),
            },
            "loss": {task: float(weight) for task, weight in cfg.loss.items()},
            "edges": dataclasses.asdict(edge_spec(cfg)),
        }

    def datasets(self, cfg: DictConfig) -> tuple[TrajectoryWindows, TrajectoryWindows]:
        train_matches, valid_matches, _ = load_matches(cfg)
        return graph_windows(cfg, train_matches, False), graph_windows(cfg, valid_matches, True)

    def collate_fn(self):
        return collate_windows

    def metrics(self, cfg: DictConfig) -> list:
        return [TacticsScores()]

    def model_signature(self, cfg: DictConfig) -> dict[str, Any]:
        return {
            **super().model_signature(cfg),
            "node_features": list(NODE_FEATURES),
            "edge_features": list(EDGE_FEATURES),
            "roles": list(ROLES),
            "formations": formation_names(cfg),
            "phases": list(PHASE_NAMES),
        }

    def evaluate(self, cfg: DictConfig, model: TrainModel, loader: Any) -> EvalReport:
        """Metrics on the held-out matches, and one frame's graph with the predicted roles."""
        metrics = model.validate(loader, metrics=self.metrics(cfg))
        dataset: TrajectoryWindows = loader.dataset
        index = min(int(cfg.eval.picture_window), len(dataset) - 1)
        batch = collate_windows([dataset[index]])
        output = model.val_step(batch)
        figure = _picture(cfg, dataset, index, batch_graphs(batch, edge_spec(cfg)), output["prediction"])
        return EvalReport(metrics=metrics, figure=figure, details={"picture_window": index})

    def export_meta(self, cfg: DictConfig) -> dict[str, Any]:
        spec, edges = window_spec(cfg, True), edge_spec(cfg)
        return {
            "node_features": list(NODE_FEATURES),
            "edge_features": list(EDGE_FEATURES),
            "window": {
                "frames": spec.length,
                "frames_between_graphs": spec.step,
                "fps": cached_fps(cfg),  # the training data's
            },
            "positions": "x, y over half the match's pitch length and width (from the data)",
            "edges": {"kind": edges.kind, "k": edges.k, "radius_m": edges.radius_m},
            "roles": list(ROLES),
            "formations": formation_names(cfg),
            "formation_templates": {
                name: [list(slot) for slot in FORMATIONS[name].slots] for name in formation_names(cfg)
            },
            "phases": list(PHASE_NAMES),
            "output": "role logits per track, formation logits per (window, home/away), "
            "phase logits per graph",
        }


def _picture(
    cfg: DictConfig, dataset: TrajectoryWindows, index: int, sample: FrameGraphs, prediction: dict
) -> Any:
    """The middle frame of validation window ``index`` with its edges, predicted roles and formations."""
    frame = int(sample.phase.shape[1]) // 2
    nodes = torch.nonzero(sample.node_t == frame).flatten()
    numbering = torch.full((sample.x.shape[0],), -1, dtype=torch.long)
    numbering[nodes] = torch.arange(len(nodes))
    inside = (sample.node_t[sample.edge_index] == frame).all(dim=0)
    edges = numbering[sample.edge_index[:, inside]].numpy()
    match = dataset.matches[int(dataset.index[index, 0])]
    xy = sample.x[nodes][:, :2].numpy() * np.array(match.pitch_size) / 2
    tracks = sample.node_track[nodes]
    team = sample.track_team[tracks].numpy()
    guessed = prediction["role"].argmax(dim=-1).cpu()[tracks].tolist()
    true = sample.role[tracks].tolist()
    predicted_roles = ["" if side == BALL else ROLES[g] for g, side in zip(guessed, team, strict=True)]
    true_roles = ["" if r < 0 else ROLES[r] for r in true]
    names = formation_names(cfg)
    predicted = prediction["formation"].argmax(dim=-1)[0].cpu().tolist()
    sides = []
    for side, (guess, label) in enumerate(zip(predicted, sample.formation[0].tolist(), strict=True)):
        told = names[label] if label >= 0 else "no label"
        sides.append(f"{('home', 'away')[side]} {names[guess]} (rule: {told})")
    title = (
        f"match {match.match_id}, validation window {index}, graph {frame}: "
        + "; ".join(sides)
        + "\nroles: predicted, or predicted/true in red where wrong"
    )
    return frame_graph_picture(xy, team, edges, predicted_roles, true_roles, title)

"""baller2vec: forecast every player and the ball, from tokens per agent per time step.

Data: SkillCorner's open broadcast tracking (downloaded; :mod:`colab_utils.tracking.skillcorner`)
or synthetic matches in the same files (:mod:`colab_utils.tracking.synthetic`), cut
into windows of ``history + future`` steps (:mod:`colab_utils.tracking.windows`); the last
``data.valid_matches`` matches are held out. The network
(:mod:`colab_utils.models.baller2vec.network`) is trained teacher-forced on every token
(:mod:`colab_utils.models.baller2vec.loss`); validation rolls it out from the observed
history and measures ADE / FDE against the constant-velocity forecast
(:mod:`colab_utils.models.baller2vec.metrics`). Everything specific to this model is here
and in ``configs/baller2vec.yaml``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch
from argus.utils import deep_to
from omegaconf import DictConfig, OmegaConf

from colab_utils.engine.contract import EvalReport, Task, TrainModel
from colab_utils.models.baller2vec.loss import Baller2VecLoss
from colab_utils.models.baller2vec.metrics import ForecastErrors
from colab_utils.models.baller2vec.network import Baller2Vec
from colab_utils.models.baller2vec.picture import forecast_picture
from colab_utils.models.baller2vec.rollout import constant_velocity, rollout
from colab_utils.models.baller2vec.tokens import BALL_SIDE, FEATURES, window_tensors
from colab_utils.tracking.source import cached_fps, data_root, describe_source, load_matches
from colab_utils.tracking.windows import Augmentation, TrajectoryWindows, WindowSpec

AGENTS = 23  # 22 player slots + the ball


class Baller2VecModel(TrainModel):
    nn_module = Baller2Vec
    loss = Baller2VecLoss

    def forward_loss(self, batch: Any) -> tuple[torch.Tensor, Any, Any]:
        """Teacher-forced loss; in eval mode also the rollout and the constant-velocity forecast."""
        inputs = deep_to(batch, device=self.device, non_blocking=True)
        bare = self.get_nn_module()
        outputs = self.nn_module(inputs)
        loss = self.loss(outputs, inputs, bare.bins, bare.future_horizons)
        if self.nn_module.training:
            return loss, {}, {}
        history, steps = self.params["forecast"]["history"], self.params["forecast"]["steps"]
        positions, present = inputs["positions"], inputs["present"]
        target = {
            "future": positions[:, history : history + steps],
            "valid": present[:, history : history + steps] & present[:, history - 1, None],
            "baseline": constant_velocity(positions, present, history, steps),
        }
        return loss, {"forecast": rollout(bare, inputs, history, steps)}, target


def window_spec(cfg: DictConfig, validation: bool) -> WindowSpec:
    data = cfg.data
    return WindowSpec(
        length=int(data.history) + int(data.future),
        stride=int(data.valid_stride if validation else data.stride),
        step=int(data.step),
        min_players=int(data.min_players),
        max_warp=0.0 if validation else float(data.augment.time_warp),
    )


class Baller2VecTask(Task):
    model_class = Baller2VecModel

    def prepare_data(self, cfg: DictConfig) -> str:
        _, _, skipped = load_matches(cfg)
        train_set, valid_set = self.datasets(cfg)
        train_matches, valid_matches = train_set.matches, valid_set.matches
        every = [*train_matches, *valid_matches]
        frames = sum(m.num_frames for m in every)
        present = sum(int((~np.isnan(m.positions[..., 0])).sum()) for m in every)
        detected = sum(int(m.detected.sum()) for m in every)
        source = describe_source(cfg)
        train_ids = ", ".join(str(m.match_id) for m in train_matches)
        valid_ids = ", ".join(str(m.match_id) for m in valid_matches)
        data, fps = cfg.data, every[0].fps
        frames_per_window = (data.history + data.future) * data.step
        unread = "".join(f"\n  skipped unreadable match {line}" for line in skipped)
        return (
            f"baller2vec: {source} in {data_root(cfg)}: {len(train_matches)} training match(es) "
            f"({train_ids}), {len(valid_matches)} held out ({valid_ids}); {frames:,} frames "
            f"({frames / fps / 3600:.1f} h) at {fps:g} fps, {detected / max(present, 1):.0%} of player "
            f"positions detected (the rest extrapolated). {len(train_set):,} training windows every "
            f"{data.stride} frames and {len(valid_set):,} validation windows every {data.valid_stride}, each "
            f"{data.history} observed + {data.future} forecast steps ({frames_per_window} frames) of "
            f"{AGENTS} tokens (22 players + the ball)." + unread
        )

    def model_params(self, cfg: DictConfig) -> dict[str, Any]:
        model, data = cfg.model, cfg.data
        return {
            "nn_module": {
                "agents": AGENTS,
                "max_steps": int(data.history) + int(data.future),
                "d_model": int(model.d_model),
                "heads": int(model.heads),
                "layers": int(model.layers),
                "feedforward": int(model.feedforward),
                "dropout": float(model.dropout),
                "bins": OmegaConf.to_container(model.bins, resolve=True),
                "future_horizons": [int(h) for h in model.future_horizons],
                "grad_checkpointing": bool(model.grad_checkpointing),
            },
            "loss": {name: float(weight) for name, weight in cfg.loss.items()},
            "forecast": {"history": int(data.history), "steps": int(data.future)},
        }

    def datasets(self, cfg: DictConfig) -> tuple[TrajectoryWindows, TrajectoryWindows]:
        train_matches, valid_matches, _ = load_matches(cfg)
        augment = Augmentation(**OmegaConf.to_container(cfg.data.augment, resolve=True))
        train_tokens = partial(window_tensors, mask_rate=float(cfg.data.mask_rate), shuffle_slots=True)
        train = TrajectoryWindows(train_matches, window_spec(cfg, False), augment, train_tokens)
        valid = TrajectoryWindows(valid_matches, window_spec(cfg, True), None, window_tensors)
        return train, valid

    def metrics(self, cfg: DictConfig) -> list:
        return [ForecastErrors(_horizons(cfg))]

    def model_signature(self, cfg: DictConfig) -> dict[str, Any]:
        steps = int(cfg.data.history) + int(cfg.data.future)
        return {**super().model_signature(cfg), "max_steps": steps}

    def evaluate(self, cfg: DictConfig, model: TrainModel, loader: Any) -> EvalReport:
        """Metrics on the held-out windows, and one forecast drawn on the pitch."""
        metrics = model.validate(loader, metrics=self.metrics(cfg))
        dataset: TrajectoryWindows = loader.dataset
        history, future = int(cfg.data.history), int(cfg.data.future)
        candidates = range(min(int(cfg.eval.picture_candidates), len(dataset)))

        def ball_travel(index: int) -> float:
            ball = dataset.window(index).ball[history:, :2]
            return float(np.nansum(np.linalg.norm(np.diff(ball, axis=0), axis=-1)))

        index = max(candidates, key=ball_travel)
        sample = dataset[index]
        output = model.val_step(loader.collate_fn([sample]))
        forecast = output["prediction"]["forecast"][0].float().cpu().numpy()
        target = {key: value[0].float().cpu().numpy() for key, value in output["target"].items()}
        positions = sample["positions"].numpy().copy()
        positions[~sample["present"].numpy()] = np.nan
        horizons = _horizons(cfg)
        curves = {
            "baller2vec, players": [metrics[f"val_ade_{h}"] for h in horizons],
            "constant velocity, players": [metrics[f"val_cv_ade_{h}"] for h in horizons],
            "baller2vec, ball": [metrics[f"val_ball_ade_{h}"] for h in horizons],
            "constant velocity, ball": [metrics[f"val_cv_ball_ade_{h}"] for h in horizons],
        }
        valid = target["valid"].astype(bool)

        def error(track: np.ndarray) -> float:
            return float(np.linalg.norm(track - target["future"], axis=-1)[valid].mean())

        fps = dataset.matches[0].fps / int(cfg.data.step)
        figure = forecast_picture(
            positions[:history],
            np.where(valid[..., None], target["future"], np.nan),
            forecast,
            target["baseline"],
            valid,
            sample["side"].numpy(),
            curves,
            horizons,
            fps=fps,
            title=f"validation window {index}: {history / fps:g} s observed, {future / fps:g} s forecast; "
            f"mean error here: baller2vec {error(forecast):.2f} m, "
            f"constant velocity {error(target['baseline']):.2f} m",
        )
        return EvalReport(metrics=metrics, figure=figure, details={"picture_window": index})

    def export_meta(self, cfg: DictConfig) -> dict[str, Any]:
        return {
            "agents": "tokens per step: 22 player slots (11 per team) then the ball",
            "features": list(FEATURES),
            "positions": "metres from the centre mark; features divide them by half the match's pitch "
            "(pitch_half, from the data)",
            "side_ids": {"attacking +x": 0, "attacking -x": 1, "ball": BALL_SIDE},
            "bins": OmegaConf.to_container(cfg.model.bins, resolve=True),
            "history_steps": int(cfg.data.history),
            "future_steps": int(cfg.data.future),
            "frames_per_step": int(cfg.data.step),
            "fps": cached_fps(cfg),  # the training data's
            "output": "per token: logits over bins.size^2 next-step displacement cells (row: x, column: y), "
            "centred on the last step's displacement when bins.centre is 'velocity'",
        }


def _horizons(cfg: DictConfig) -> list[int]:
    return [int(h) for h in cfg.eval.horizons if int(h) <= int(cfg.data.future)]

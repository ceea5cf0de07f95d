"""reid: player re-identification on SoccerNet reid-2023 with OSNet (torchreid).

Given a player's crop from an action's live frame (the query), rank the crops of the same
action's replays (the gallery) so that the same person comes first. The network maps a crop
to an embedding; it learns from P x K batches (P identities, K crops each) with a batch-hard
triplet loss, a centre loss and a label-smoothed softmax over the training identities, and is
scored by mAP and CMC rank-k under SoccerNet's per-action protocol. Everything specific to
this model is here and in ``configs/reid.yaml``.
"""

from __future__ import annotations

from typing import Any

import torch
from argus.model.build import cast_optimizer, choose_attribute_from_dict
from argus.utils import deep_to
from omegaconf import DictConfig
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from colab_utils.engine.contract import EvalReport, StartingWeights, Task, TrainModel
from colab_utils.models.reid import augment
from colab_utils.models.reid import source as reid_source
from colab_utils.models.reid.files import Crop
from colab_utils.models.reid.loss import ReidLoss
from colab_utils.models.reid.metrics import ReidRanking
from colab_utils.models.reid.network import ReidNet, parameter_groups
from colab_utils.models.reid.picture import RankedQuery, ranking_picture
from colab_utils.models.reid.published import published_osnet
from colab_utils.models.reid.samples import ReidCrops, training_identities
from colab_utils.models.reid.sampling import IdentityBatches
from colab_utils.starting_weights import imagenet_start


class ReidModel(TrainModel):
    nn_module = ReidNet
    loss = ReidLoss

    def build_optimizer(self, optimizer_meta: Any, optim_params: Any) -> torch.optim.Optimizer:
        """argus' optimizer, over :func:`parameter_groups` (centres without weight decay)."""
        optimizer, params = choose_attribute_from_dict(optimizer_meta, optim_params)
        params = dict(params)
        groups = parameter_groups(self.nn_module, float(params.pop("weight_decay", 0.0)))
        return cast_optimizer(optimizer)(groups, **params)

    def forward_loss(self, batch: Any) -> tuple[torch.Tensor, Any, Any]:
        """The step of every model, with a training batch's augmentation applied on the device first."""
        images, target = deep_to(batch, device=self.device, non_blocking=True)
        if "augment" in target:
            images = augment.apply(images, target["augment"])
        prediction = self.nn_module(images.contiguous(memory_format=self.memory_format))
        return self.loss(prediction, target), prediction, target


class Reid(Task):
    imagenet_backbone = True
    model_class = ReidModel
    # one row per training identity, and the embedding on top of OSNet: weights from another dataset
    # or torchreid's model zoo (model.init_from) load the backbone, and these start fresh
    head = ("classifier.", "centers", "bottleneck.", "neck.")

    def published_weights(self, cfg: DictConfig, source: str) -> StartingWeights | None:
        return published_osnet(cfg, source)

    def prepare_data(self, cfg: DictConfig) -> str:
        """Download or generate, extract and verify; then say what training will draw from."""
        summary = reid_source.prepare(cfg)
        least = int(cfg.data.min_images_per_identity)
        crops = reid_source.verified_split(cfg, cfg.data.train_split).crops
        kept, left_out = training_identities(crops, least)
        identities = len({crop.name.identity for crop in kept})
        return (
            f"{summary}\ntraining on {identities} identities with at least {least} crops ({left_out} with "
            f"fewer left out), in batches of {self.identities_per_batch(cfg)} identities x "
            f"{cfg.data.instances_per_identity} crops"
        )

    def training_crops(self, cfg: DictConfig) -> list[Crop]:
        """The training split's crops of identities with enough crops to form a positive pair."""
        crops, _ = training_identities(
            reid_source.verified_split(cfg, cfg.data.train_split).crops, int(cfg.data.min_images_per_identity)
        )
        if not crops:
            raise ValueError(
                f"No identity of split {cfg.data.train_split!r} has {cfg.data.min_images_per_identity} "
                "crops: lower data.min_images_per_identity or check the data step's report."
            )
        return crops

    def num_classes(self, cfg: DictConfig) -> int:
        return len({crop.name.identity for crop in self.training_crops(cfg)})

    def model_params(self, cfg: DictConfig) -> dict[str, Any]:
        loss = cfg.loss
        return {
            "nn_module": {
                "arch": cfg.model.arch,
                "num_classes": self.num_classes(cfg),
                "embed_dim": int(cfg.model.embed_dim),
                "pretrained": imagenet_start(cfg),
                "grad_checkpointing": bool(cfg.model.grad_checkpointing),
            },
            "loss": {
                "margin": float(loss.triplet_margin),
                "label_smoothing": float(loss.label_smoothing),
                "triplet": float(loss.triplet),
                "softmax": float(loss.softmax),
                "center": float(loss.center),
            },
        }

    def model_signature(self, cfg: DictConfig) -> dict[str, Any]:
        """What shapes the weights: the backbone, the embedding size and the number of training identities."""
        return {
            "arch": cfg.model.arch,
            "embed_dim": int(cfg.model.embed_dim),
            "num_classes": self.num_classes(cfg),
        }

    def datasets(self, cfg: DictConfig) -> tuple[ReidCrops, ReidCrops]:
        data = cfg.data
        train = ReidCrops(
            self.training_crops(cfg),
            data.input_size,
            train=bool(data.augment),
            erase_p=float(data.random_erasing),
        )
        valid = ReidCrops(reid_source.verified_split(cfg, data.val_split).crops, data.input_size, train=False)
        if not valid.is_query.any():
            raise ValueError(
                f"data.val_split={data.val_split!r} has no query/ folder: validate on a ranking split "
                "(valid, test)."
            )
        return train, valid

    def identities_per_batch(self, cfg: DictConfig) -> int:
        """P = train.batch_size / data.instances_per_identity (the batch is P x K)."""
        size, k = int(cfg.train.batch_size), int(cfg.data.instances_per_identity)
        if size % k:
            raise ValueError(
                f"train.batch_size={size} is not a multiple of data.instances_per_identity={k}: a batch "
                f"holds P identities x K crops, e.g. train.batch_size={size // k * k or k}."
            )
        return size // k

    def batch_plan(self, cfg: DictConfig, dataset: ReidCrops) -> IdentityBatches:
        return IdentityBatches(
            dataset.identity_samples(),
            dataset.identity_actions(),
            per_batch=self.identities_per_batch(cfg),
            per_identity=int(cfg.data.instances_per_identity),
            per_group=int(cfg.data.identities_per_action),
            seed=int(cfg.seed),
            size=len(dataset),
        )

    def metrics(self, cfg: DictConfig) -> list:
        return [ReidRanking(cfg.eval.distance, list(cfg.eval.ranks))]

    def evaluate(self, cfg: DictConfig, model: TrainModel, loader: Any) -> EvalReport:
        """The ranking metrics, and a few queries with their nearest gallery crops."""
        ranking = ReidRanking(cfg.eval.distance, list(cfg.eval.ranks))
        metrics = model.validate(loader, metrics=[ranking])
        dataset: ReidCrops = loader.dataset
        queries = dataset.is_query.nonzero()[0]
        shown = queries[:: max(1, len(queries) // int(cfg.eval.picture_queries))][
            : int(cfg.eval.picture_queries)
        ]
        rows = []
        for sample in shown:
            name = dataset.crops[sample].name
            matches = [
                (dataset.image(g), distance, right)
                for g, distance, right in ranking.neighbours(int(sample), int(cfg.eval.picture_top))
            ]
            title = f"query: action {name.action_idx}\n{name.clazz.replace('_', ' ')}"
            rows.append(RankedQuery(dataset.image(int(sample)), title, matches))
        figure = ranking_picture(
            rows,
            title=f"mAP {metrics['val_map']:.3f}, rank-1 {metrics['val_rank1']:.3f}: nearest crops of the "
            f"same action ({cfg.eval.distance} distance), green = same person, red = someone else",
        )
        return EvalReport(metrics=metrics, figure=figure, details={"picture_queries": shown.tolist()})

    def export_meta(self, cfg: DictConfig) -> dict[str, Any]:
        width, height = (int(v) for v in cfg.data.input_size)
        return {
            "arch": cfg.model.arch,
            "input_size": [width, height],
            "input": f"RGB uint8 tensor (N, 3, {height}, {width}): the network normalises it itself",
            "normalisation": {
                "scale": 1 / 255,
                "mean": list(IMAGENET_DEFAULT_MEAN),
                "std": list(IMAGENET_DEFAULT_STD),
            },
            "embedding_dim": int(cfg.model.embed_dim),
            "embedding": "output['embedding'] of the network in eval mode (after the BNNeck batch norm)",
            "distance": cfg.eval.distance,
            "protocol": "rank a query against the gallery crops of its own action only",
        }

"""The reid loss: batch-hard triplet + centre loss + label-smoothed softmax ("Bag of Tricks").

* Triplet (pytorch-metric-learning): for each anchor, its farthest positive and nearest negative
  in the batch (``BatchHardMiner``), hinge with ``margin`` on Euclidean distances between the
  un-normalised features, averaged over all anchors, as torchreid's and Bag of Tricks' triplet.
* Centre loss (Wen et al., 2016), by hand (neither library has it): the mean squared distance
  between each feature and its class centre. The centres are the network's parameters (see
  :mod:`colab_utils.models.reid.network`), so the optimizer moves them and checkpoints keep them.
* Softmax: torch's cross-entropy with label smoothing on the classifier's logits.

Validation crops belong to identities that are not training classes: their batches carry no
``class`` target, and only the triplet term (on the held-out identities) is computed.
"""

from __future__ import annotations

import torch
from pytorch_metric_learning import distances, losses, miners, reducers
from torch import nn


def center_loss(features: torch.Tensor, centers: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ||feature - centre of its class||^2."""
    return (features - centers[classes]).pow(2).sum(dim=1).mean()


class ReidLoss(nn.Module):
    def __init__(
        self,
        margin: float = 0.3,
        label_smoothing: float = 0.1,
        triplet: float = 1.0,
        softmax: float = 1.0,
        center: float = 5e-4,
    ) -> None:
        super().__init__()
        distance = distances.LpDistance(normalize_embeddings=False, p=2)
        self.miner = miners.BatchHardMiner(distance=distance)
        self.triplet = losses.TripletMarginLoss(
            margin=margin, distance=distance, reducer=reducers.MeanReducer()
        )
        self.softmax = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.weights = {"triplet": triplet, "softmax": softmax, "center": center}

    def _triplet(self, features: torch.Tensor, identities: torch.Tensor) -> torch.Tensor:
        if features.device.type == "meta":
            # The miner indexes by data (torch.nonzero), which the FLOP counter's meta device cannot
            # run; the term costs B^2 x D operations, nothing next to the network.
            return features.sum() * 0.0
        return self.triplet(features, identities, self.miner(features, identities))

    def terms(
        self, prediction: dict[str, torch.Tensor], target: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        features = prediction["feature"].float()
        terms = {"triplet": self._triplet(features, target["identity"])}
        if "class" in target:
            terms["softmax"] = self.softmax(prediction["logits"].float(), target["class"])
            terms["center"] = center_loss(features, prediction["centers"].float(), target["class"])
        return terms

    def forward(self, prediction: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> torch.Tensor:
        return sum(self.weights[name] * value for name, value in self.terms(prediction, target).items())

"""reid samples: a verified split's crops as the network's tensors, with their identity labels.

Identities are people within one action, ``(action_idx, person_uid)``: SoccerNet links boxes
only inside an action, so the same player in two actions carries two labels. For training,
each identity kept is one class of the softmax (and one centre of the centre loss); an identity
with fewer than ``min_images`` crops teaches no positive pair and is left out (counted).
Ranking splits (valid, test) keep every crop, ordered by action and identity so that a
validation batch holds several views of the same people.

Images leave the loader as uint8 RGB (3, H, W) at the network's input size; the network
normalises them itself (fewer bytes through the loader, one place for the statistics). A
training crop also carries its augmentation's parameters, drawn from the sample's ``rng``; the
model applies them to the batch on its device (:mod:`colab_utils.models.reid.augment` says why).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch

from colab_utils.engine.contract import SampleDataset
from colab_utils.models.reid import augment
from colab_utils.models.reid.files import Crop


def resize(image: np.ndarray, input_size: Sequence[int]) -> np.ndarray:
    """An RGB crop at the network's [width, height], bilinear: training, validation and prediction alike."""
    width, height = (int(v) for v in input_size)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def training_identities(crops: Sequence[Crop], min_images: int) -> tuple[list[Crop], int]:
    """The crops of identities with at least ``min_images`` crops, and how many identities were left out."""
    counts = Counter(crop.name.identity for crop in crops)
    kept = [crop for crop in crops if counts[crop.name.identity] >= min_images]
    return kept, sum(1 for n in counts.values() if n < min_images)


class ReidCrops(SampleDataset):
    """The crops of one split; ``labels[i]`` numbers crop i's identity from 0 in (action, uid) order.

    For a training set the label is also the class and ``augment`` holds the crop's augmentation
    parameters; for a ranking set (query + gallery) the target says which crops are queries.
    """

    seeds_global_generators = False  # every draw is from the sample's rng

    def __init__(self, crops: Sequence[Crop], input_size: Sequence[int], train: bool, erase_p: float = 0.5):
        self.crops = sorted(crops, key=lambda c: (c.name.identity, c.subset, c.name.bbox_idx))
        if not self.crops:
            raise ValueError("no crops to build a dataset from")
        self.train = train
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.identities = sorted({crop.name.identity for crop in self.crops})
        number = {identity: i for i, identity in enumerate(self.identities)}
        self.labels = np.array([number[crop.name.identity] for crop in self.crops], dtype=np.int64)
        self.actions = np.array([crop.name.action_idx for crop in self.crops], dtype=np.int64)
        self.is_query = np.array([crop.subset == "query" for crop in self.crops])
        self.erase_p = erase_p

    def __len__(self) -> int:
        return len(self.crops)

    @property
    def num_identities(self) -> int:
        return len(self.identities)

    def identity_samples(self) -> list[list[int]]:
        """The sample indices of each identity, in label order."""
        boundaries = np.flatnonzero(np.diff(self.labels)) + 1
        return [part.tolist() for part in np.split(np.arange(len(self.labels)), boundaries)]

    def identity_actions(self) -> list[int]:
        """The action of each identity, in label order."""
        return [action for action, _ in self.identities]

    def image(self, index: int) -> np.ndarray:
        """The crop as RGB uint8 at its stored size."""
        path = self.crops[index].path
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise OSError(f"cannot read {path}: re-run the data step to verify the split")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def get(self, index: int, rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, Any]]:
        """Sample ``index % len(self)``: the P x K plan numbers repeats of a crop beyond ``len(self)``."""
        index %= len(self.crops)
        image = resize(self.image(index), self.input_size)
        label = torch.tensor(self.labels[index])
        target = {"identity": label, "action": torch.tensor(self.actions[index])}
        if self.train:
            target["class"] = label
            target["augment"] = augment.draw(rng, image.shape[0], image.shape[1], self.erase_p)
        else:
            target["query"] = torch.tensor(bool(self.is_query[index]))
        return torch.from_numpy(image).permute(2, 0, 1), target  # a view: the batch's stack copies once

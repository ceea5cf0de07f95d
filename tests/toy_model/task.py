"""A small task for the engine tests: random augmentation in the dataset, dropout in the
network, an argus metric, so that exact resume has something to get wrong; and, on request,
the CUDA out-of-memory error a too large batch causes on a GPU."""

from __future__ import annotations

import os
import signal

import numpy as np
import torch
from argus.metrics import CategoricalAccuracy

from colab_utils.engine.contract import Task
from colab_utils.engine.model import TrainModel
from colab_utils.engine.sampling import SampleDataset
from toy_model.network import ToyNet

KILL_ENV = "TOY_KILL_AT_BATCH"
INTERRUPT_ENV = "TOY_INTERRUPT_AT_BATCH"
OOM_ENV = "TOY_OOM_ABOVE_BATCH"
# torch's wording, so the trainer's summary of it is exercised on a realistic message
OOM_MESSAGE = (
    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 14.74 GiB of which "
    "1.12 GiB is free. Including non-PyTorch memory, this process has 13.61 GiB memory in use."
)


class ToyDataset(SampleDataset):
    """Points of two classes separated by a random hyperplane, with noise and flips as augmentation."""

    def __init__(self, samples: int, dim: int, data_seed: int, augment: bool) -> None:
        data = np.random.default_rng(data_seed)
        self.x = data.normal(size=(samples, dim)).astype(np.float32)
        self.y = (self.x @ np.linspace(-1, 1, dim) > 0).astype(np.int64)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.x)

    def get(self, index: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.x[index].copy()
        if self.augment:
            x += rng.normal(0, 0.3, x.shape).astype(np.float32)
            x *= np.float32(rng.uniform(0.8, 1.2))
        return torch.from_numpy(x), torch.tensor(self.y[index])


class ToyModel(TrainModel):
    nn_module = ToyNet
    loss = torch.nn.CrossEntropyLoss

    def train_step(self, batch, state=None):
        """At the batch named in the environment (counted in this process), die like a killed
        Colab runtime (SIGKILL, no cleanup) or receive the user's "interrupt execution" (SIGINT)."""
        self.batches_seen = getattr(self, "batches_seen", 0) + 1
        if os.environ.get(KILL_ENV) and self.batches_seen == int(os.environ[KILL_ENV]):
            os.kill(os.getpid(), signal.SIGKILL)
        if os.environ.get(INTERRUPT_ENV) and self.batches_seen == int(os.environ[INTERRUPT_ENV]):
            signal.raise_signal(signal.SIGINT)
        return super().train_step(batch, state)

    def forward_loss(self, batch):
        """A batch above the limit set in the environment runs out of "GPU memory" (also in validation)."""
        limit = os.environ.get(OOM_ENV)
        if limit and len(batch[0]) > int(limit):
            raise torch.cuda.OutOfMemoryError(OOM_MESSAGE)
        return super().forward_loss(batch)


class ToyTask(Task):
    model_class = ToyModel

    def model_params(self, cfg):
        return {"nn_module": {"dim": cfg.data.dim, "hidden": cfg.model.hidden, "dropout": cfg.model.dropout}}

    def datasets(self, cfg):
        train = ToyDataset(cfg.data.samples, cfg.data.dim, data_seed=1, augment=True)
        val = ToyDataset(cfg.data.val_samples, cfg.data.dim, data_seed=2, augment=False)
        return train, val

    def metrics(self, cfg):
        return [CategoricalAccuracy()]

    def export_meta(self, cfg):
        return {"inputs": cfg.data.dim, "classes": ["negative", "positive"]}

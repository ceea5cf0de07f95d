"""reid and gnn, whose loaders leave work to the model's step or skip seeding the global generators:
stopped mid-epoch with two loader workers and resumed, they end with the weights of a run never stopped."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import torch

from colab_utils.config import load_config
from colab_utils.engine.checkpoint import CheckpointStore
from colab_utils.pipeline import prepare_data, train
from colab_utils.registry import get_task

STOP_AT = 3  # a training batch in the first epoch, between checkpoints
SMALL = {
    "reid": ("data.synthetic_actions.train=12", "data.synthetic_actions.valid=8"),
    "gnn": ("data.synthetic.minutes=1.0",),
}


def final_weights(cfg) -> dict[str, torch.Tensor]:
    return CheckpointStore(Path(cfg.run.dir) / "checkpoints").newest_valid().payload["model"]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["reid", "gnn"])
def test_stopped_mid_epoch_and_resumed_the_weights_are_bit_identical(model, folders, monkeypatch):
    def config(*overrides: str):
        extra = ("data.num_workers=2", "logging.progress=false", *SMALL[model], *overrides)
        return load_config(model, "smoke", list(extra), verbose=False)

    reference = config("run.name=reference")
    prepare_data(reference)
    train(reference)

    model_class = get_task(model).model_class
    original = model_class.train_step
    seen = []

    def stop_at(self, batch, state=None):
        seen.append(1)
        if len(seen) == STOP_AT:
            signal.raise_signal(signal.SIGINT)  # the notebook's stop button
        return original(self, batch, state)

    cfg = config("run.name=stopped")
    monkeypatch.setattr(model_class, "train_step", stop_at)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(model_class, "train_step", original)
    resumed = train(cfg)
    assert resumed.status == "finished"
    expected, got = final_weights(reference), final_weights(cfg)
    assert expected.keys() == got.keys()
    for name, tensor in expected.items():
        assert torch.equal(got[name], tensor), name

"""Data order and augmentation are pure functions of (seed, epoch, index)."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import DataLoader
from toy_model.task import ToyDataset

from colab_utils.engine.sampling import ResumableBatchSampler, ShuffledBatches


def test_batches_depend_on_seed_and_epoch_only():
    plan = ShuffledBatches(size=50, batch_size=8, seed=7)
    assert plan.batches(3) == ShuffledBatches(size=50, batch_size=8, seed=7).batches(3)
    assert plan.batches(3) != plan.batches(4)
    assert len(plan.batches(0)) == 6 and all(len(b) == 8 for b in plan.batches(0))  # drop_last
    assert sorted(i for b in ShuffledBatches(50, 8, 7, drop_last=False).batches(0) for i in b) == list(
        range(50)
    )


def test_resuming_at_a_position_yields_the_rest_of_the_epoch():
    sampler = ResumableBatchSampler(ShuffledBatches(size=64, batch_size=8, seed=1))
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, start=5)
    assert list(sampler) == full[5:]
    assert len(sampler) == len(full) == 8
    assert all(key[0] == 2 for batch in full for key in batch)


def test_ranks_get_disjoint_shards_of_equal_length():
    plan = ShuffledBatches(size=80, batch_size=4, seed=3)
    shards = []
    for rank in range(3):
        sampler = ResumableBatchSampler(plan, rank=rank, world_size=3)
        sampler.set_epoch(0)
        shards.append([i for batch in sampler for _, i in batch])
    assert len({len(s) for s in shards}) == 1
    assert not set(shards[0]) & set(shards[1]) and not set(shards[1]) & set(shards[2])


def test_a_sample_is_the_same_whoever_loads_it_and_whatever_came_before():
    data = ToyDataset(samples=16, dim=4, data_seed=0, augment=True)
    data.seed = 11
    first = data[(5, 3)][0]
    for key in [(5, 1), (0, 3), (5, 2)]:
        data[key]
    assert torch.equal(data[(5, 3)][0], first)
    assert not torch.equal(data[(6, 3)][0], first)  # another epoch: another augmentation


def test_loading_a_sample_leaves_the_callers_random_state_alone():
    data = ToyDataset(samples=4, dim=4, data_seed=0, augment=True)
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    data[(0, 1)]
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected


def test_batches_are_identical_with_zero_or_two_loader_workers():
    data = ToyDataset(samples=40, dim=4, data_seed=0, augment=True)
    data.seed = 5

    def epoch_batches(workers: int) -> list[torch.Tensor]:
        sampler = ResumableBatchSampler(ShuffledBatches(40, 8, seed=5))
        sampler.set_epoch(1)
        return [x for x, _ in DataLoader(data, batch_sampler=sampler, num_workers=workers)]

    for a, b in zip(epoch_batches(0), epoch_batches(2), strict=True):
        assert torch.equal(a, b)

"""P x K batches for metric learning: P distinct identities, K images of each, resumable.

The batch-hard triplet loss needs positives (K images of an identity) and negatives (the
other P - 1 identities) in every batch. This plan draws them, epoch by epoch, as a pure
function of (seed, epoch), which is what the engine's exact resume needs.

One epoch: each identity's images are shuffled and cut into chunks of K (the incomplete
remainder is left for another epoch, as torchreid's RandomIdentitySampler does); an identity
with fewer than K images gets one chunk drawn with replacement. The engine seeds a sample's
augmentation from its index, so the r-th repeat of sample i in a chunk is planned as index
``i + r * size``: datasets read sample ``index % size`` and each copy is augmented differently.
Chunks are then grouped into batches of P distinct identities.

``per_group=1`` is plain random identity sampling (torchreid's). With ``per_group`` > 1,
identities come ``per_group`` at a time from the same group (in reid: the same action), so a
batch holds the negatives the evaluation ranks against (teammates in the same kit, seen in the
same action); the price is batches drawn from only P / ``per_group`` actions, which batch norm
sees as one narrow distribution (on the synthetic data it learned no faster than
``per_group=1``). Chunks that cannot fill a last batch are dropped for this epoch.

Written by hand: pytorch-metric-learning's MPerClassSampler and torchreid's samplers draw
from a global random state and cannot start again in the middle of an epoch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np


class IdentityBatches:
    """The engine's BatchPlan for P x K batches (see the module docstring)."""

    def __init__(
        self,
        identities: Sequence[Sequence[int]],
        groups: Sequence[int],
        per_batch: int,
        per_identity: int,
        per_group: int,
        seed: int,
        size: int,
    ) -> None:
        if len(identities) != len(groups):
            raise ValueError(f"{len(identities)} identities but {len(groups)} group labels")
        if per_batch < 2 or per_identity < 1 or per_group < 1:
            raise ValueError(
                f"need at least 2 identities per batch, 1 image per identity and 1 identity per group; got "
                f"P={per_batch}, K={per_identity}, per group {per_group}"
            )
        if per_group > per_batch:
            raise ValueError(
                f"{per_group} identities per group do not fit in a batch of {per_batch} identities"
            )
        if len(identities) < per_batch:
            raise ValueError(
                f"{len(identities)} identities cannot fill one batch of {per_batch} distinct identities: "
                "lower train.batch_size or raise data.instances_per_identity (batch = P x K)"
            )
        if any(len(samples) == 0 for samples in identities):
            raise ValueError("every identity needs at least one sample")
        self.identities = [np.asarray(samples, dtype=np.int64) for samples in identities]
        self.groups = np.asarray(groups)
        self.per_batch, self.per_identity, self.per_group = per_batch, per_identity, per_group
        self.seed, self.size = seed, size
        self._members = {g: np.flatnonzero(self.groups == g) for g in np.unique(self.groups)}
        self._cache: tuple[int, list[list[int]]] | None = None

    def batches(self, epoch: int) -> list[list[int]]:
        if self._cache is None or self._cache[0] != epoch:
            self._cache = (epoch, self._plan(epoch))
        return [list(batch) for batch in self._cache[1]]

    def _chunks(self, rng: np.random.Generator) -> list[deque[np.ndarray]]:
        k, chunks = self.per_identity, []
        for samples in self.identities:
            if len(samples) < k:
                drawn = rng.choice(samples, size=k, replace=True)
                repeats = np.array([np.count_nonzero(drawn[:i] == s) for i, s in enumerate(drawn)])
                chunks.append(deque([drawn + repeats * self.size]))
            else:
                order = rng.permutation(samples)
                chunks.append(deque(order[: len(order) // k * k].reshape(-1, k)))
        return chunks

    def _units(self, rng: np.random.Generator, chunks: list[deque[np.ndarray]]) -> list[np.ndarray]:
        """Groups of up to ``per_group`` distinct identities of one group, each owed one chunk."""
        units = []
        for members in self._members.values():
            counts = np.array([len(chunks[i]) for i in members])
            while counts.any():
                ready = rng.permutation(np.flatnonzero(counts))
                for start in range(0, len(ready), self.per_group):
                    take = ready[start : start + self.per_group]
                    units.append(members[take])
                    counts[take] -= 1
        return [units[i] for i in rng.permutation(len(units))]

    def _plan(self, epoch: int) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, epoch, 0x1D5])
        chunks = self._chunks(rng)
        pending: deque[np.ndarray] = deque(self._units(rng, chunks))
        batches: list[list[int]] = []
        current: list[int] = []
        skipped: list[np.ndarray] = []
        while pending or skipped:
            if not pending:  # what is left cannot complete this batch: drop it, start one from the rest
                pending, skipped, current = deque(skipped), [], []
            unit = pending.popleft()
            if len(current) + len(unit) > self.per_batch or not set(current).isdisjoint(unit.tolist()):
                skipped.append(unit)
                continue
            current += unit.tolist()
            if len(current) == self.per_batch:
                batches.append([int(s) for identity in current for s in chunks[identity].popleft()])
                current = []
                pending.extendleft(reversed(skipped))
                skipped = []
        return batches

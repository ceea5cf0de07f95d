"""One entry point for one GPU and for ``torchrun --nproc_per_node=N``.

Under torchrun every process trains on its shard of the batches; decisions that depend on
wall-clock time or signals (checkpoint now? stop now?) are agreed on by all ranks, so no
rank waits forever for a peer that already stopped. Rank 0 alone writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self) -> torch.device:
        if torch.cuda.is_available():
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is True on any rank."""
        if not self.enabled:
            return flag
        value = torch.tensor([int(flag)], device=self._collective_device())
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def _collective_device(self) -> torch.device:
        return self.device() if dist.get_backend() == "nccl" else torch.device("cpu")


def init_distributed() -> Distributed:
    """Join the process group torchrun describes in the environment (no-op otherwise)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    info = Distributed(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend)
    return info


def shutdown_distributed() -> None:
    """Leave the process group. A process that exits with it still open may die in gloo's
    teardown ("terminate called without an active exception", SIGABRT) after a good run."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()

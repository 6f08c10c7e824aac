"""Running the same training code in one process or under ``torchrun --nproc_per_node=N``.

``init_distributed`` reads torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, ...) and starts
a process group: gloo on CPU, nccl on CUDA. Without that environment it returns a one-process
``DistEnv`` and the helpers below become no-ops, so callers never branch on "distributed".
Only rank 0 writes files (``DistEnv.is_main``).
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from ..errors import RnnkitError

__all__ = ["DistEnv", "init_distributed", "rank_rows"]


@dataclass
class DistEnv:
    """Where this process stands: its rank among ``world_size`` and its device."""

    rank: int = 0  # global rank of this process
    world_size: int = 1  # number of processes
    local_rank: int = 0  # rank on this node (picks the GPU)
    local_world_size: int = 1  # processes on this node (shares the CPU cores)
    device: torch.device = field(
        default_factory=lambda: torch.device("cpu")
    )  # where the model and batches live

    @property
    def is_main(self) -> bool:
        """True on the one process that writes files and prints."""
        return self.rank == 0

    def all_gather(self, obj: Any) -> list[Any]:
        """``obj`` from every rank, in rank order (a one-element list in one process)."""
        if self.world_size == 1:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def mean(self, value: float) -> float:
        """The mean of ``value`` over ranks."""
        if self.world_size == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.item() / self.world_size

    def barrier(self) -> None:
        """Wait for every rank."""
        if self.world_size > 1:
            dist.barrier()


def rank_rows(batch_size: int, rank: int, world_size: int) -> slice:
    """This rank's rows ``rank * B/W ... (rank+1) * B/W`` of a global batch of ``batch_size``;
    ``RnnkitError`` unless the processes divide it evenly."""
    if batch_size % world_size:
        raise RnnkitError(
            f"--batch-size {batch_size} must be divisible by the {world_size} processes"
        )
    per = batch_size // world_size
    return slice(rank * per, (rank + 1) * per)


def _pick_device(name: str, local_rank: int) -> torch.device:
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RnnkitError("--device cuda was asked for, but torch sees no CUDA device")
    return torch.device("cuda", local_rank)


def _destroy_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def init_distributed(device: str = "auto") -> DistEnv:
    """A ``DistEnv`` for this process; starts the process group under torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = _pick_device(device, local_rank)
    if world_size == 1:
        return DistEnv(device=dev)
    if not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        # torch warns, and gloo's threads can abort the exit ("terminate called without an
        # active exception", seen once in the test suite), when the group outlives the process
        atexit.register(_destroy_process_group)
    return DistEnv(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=local_rank,
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size))),
        device=dev,
    )

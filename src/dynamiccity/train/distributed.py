"""torchrun / DDP set-up: gloo on CPU, NCCL on GPU; a single process needs nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from dynamiccity.device import pick_device


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str | None = None) -> DistInfo:
    """Join the process group torchrun describes in the environment (if any) and pick the device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    target = pick_device(device, local)
    use_cuda = target.type == "cuda"
    if use_cuda:
        torch.cuda.set_device(target)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(rank, world, local, target)


def all_gather_floats(values: list[float], info: DistInfo) -> list[list[float]]:
    """Every rank's `values` (same length on every rank)."""
    if not info.enabled:
        return [values]
    tensor = torch.tensor(values, dtype=torch.float64, device=info.device)
    out = [torch.zeros_like(tensor) for _ in range(info.world_size)]
    dist.all_gather(out, tensor)
    return [t.tolist() for t in out]


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def gather_objects(value: Any, info: DistInfo) -> list[Any]:
    """Every rank's `value`, in rank order (a collective: every rank calls it)."""
    if not info.enabled:
        return [value]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, value)
    return out


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank when `flag` is true on any (a collective: every rank calls it)."""
    if not info.enabled:
        return flag
    tensor = torch.tensor([float(flag)], device=info.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())

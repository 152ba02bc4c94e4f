"""torch.distributed glue: the same training code runs alone or under ``torchrun``.

``torchrun --nproc-per-node K ...`` sets WORLD_SIZE/RANK; we then join a process group (gloo on
CPU, NCCL on GPU), wrap the model in DDP, shard batches with a ``DistributedSampler`` and sum
metrics across ranks so that every rank takes the same early-stopping decision.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def setup(device: str) -> tuple[int, int]:
    """Join the process group if launched by torchrun; return ``(rank, world_size)``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def local_device(device: str) -> torch.device:
    """Under torchrun on GPU each rank takes the GPU named by LOCAL_RANK."""
    if device == "cuda" and dist.is_initialized():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device(device)


def all_sum(values: list[float], device) -> list[float]:
    """Sum a list of numbers over ranks (identity when not distributed)."""
    if not dist.is_initialized():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def sync_buffers(model) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

    DDP broadcasts buffers at the start of each forward, so after the last training step every
    rank holds statistics of its own shard; syncing before evaluation and checkpointing makes all
    ranks score, select and save exactly the same model.
    """
    if dist.is_initialized():
        for buf in model.buffers():
            dist.broadcast(buf, src=0)

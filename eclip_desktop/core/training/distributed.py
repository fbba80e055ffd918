"""Multi-GPU runs through `torchrun`: gradients are averaged across ranks by an all-reduce after each
backward (the same arithmetic as DistributedDataParallel, without wrapping the model, since the pooled
embedding is computed outside the model's own forward)."""
from __future__ import annotations

import os
from contextlib import contextmanager

import torch
import torch.distributed as dist

from eclip_desktop.core.model.device import resolve_device


def join_group() -> tuple[int, int, bool]:
    """(rank, world size, whether this call created the process group)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    created = world > 1 and not dist.is_initialized()
    if created:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world, created) if world > 1 else (0, 1, False)


@contextmanager
def process_group():
    """Several train() calls in one torchrun process share one process group: once destroyed, a
    group cannot be made again in that process (the rendezvous keys are spent)."""
    _, world, created = join_group()
    try:
        yield
    finally:
        if created:
            dist.destroy_process_group()


def leave_group(world: int, created: bool) -> None:
    if world > 1:
        dist.barrier()
        if created:
            dist.destroy_process_group()


def rank_device(name: str, world: int) -> torch.device:
    """The device asked for; under torchrun on GPUs, this rank's own GPU."""
    device = resolve_device(name)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def average_gradients(params, world: int) -> None:
    if world <= 1:
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad)
        p.grad /= world

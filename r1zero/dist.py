"""Every collective and barrier of the trainer, on the device its backend needs.

    rank, world, local_world = dist.init()         # deepspeed launcher, torchrun, or a plain `python` (one rank)
    total = dist.all_sum(float(mask.sum()))        # a float, summed over ranks
    ok = dist.all_true(bool(torch.isfinite(loss)))  # True on every rank iff True on every rank
    dist.barrier()
    name = dist.broadcast_object(name)              # rank 0's value on every rank

NCCL (the backend on GPUs) reduces CUDA tensors only; gloo (CPU) reduces CPU tensors only. Each collective here
builds its tensor on `device()`: the rank's GPU (`cuda:LOCAL_RANK`, made current by `init`) under NCCL, the CPU
under gloo. With one rank (or no process group) every function returns its input without communicating.
"""
from __future__ import annotations

import os
import socket

import torch
import torch.distributed as tdist


def active() -> bool:
    """True when a process group with more than one rank exists."""
    return tdist.is_available() and tdist.is_initialized() and tdist.get_world_size() > 1


def device() -> torch.device:
    """Where collective tensors live: the current CUDA device under NCCL, else the CPU."""
    if tdist.is_available() and tdist.is_initialized() and tdist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_sum(values: float | list[float]) -> float | list[float]:
    """Sum a float (or a list of floats) over ranks, in float64."""
    if not active():
        return values
    single = not isinstance(values, (list, tuple))
    t = torch.tensor([values] if single else list(values), dtype=torch.float64, device=device())
    tdist.all_reduce(t)
    out = t.tolist()
    return out[0] if single else out


def all_true(flag: bool) -> bool:
    """True on every rank when `flag` is True on every rank."""
    return all_sum(0.0 if flag else 1.0) == 0.0


def barrier() -> None:
    if active():
        if tdist.get_backend() == "nccl":
            tdist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            tdist.barrier()


def broadcast_object(obj, src: int = 0):
    """Rank `src`'s `obj` (picklable) on every rank."""
    if not active():
        return obj
    box = [obj]
    tdist.broadcast_object_list(box, src=src, device=device())
    return box[0]


def init() -> tuple[int, int, int]:
    """(rank, world_size, local_world_size). Works under the deepspeed launcher, torchrun, or a plain `python`
    (a single rank: the env vars DeepSpeed wants are filled in). NCCL when CUDA is available, with this process's
    GPU chosen from LOCAL_RANK before the group exists; gloo on CPU."""
    import deepspeed

    if "RANK" not in os.environ:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", LOCAL_WORLD_SIZE="1",
                          MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if not tdist.is_initialized():
        deepspeed.init_distributed(dist_backend="nccl" if cuda else "gloo")
    world = tdist.get_world_size()
    return tdist.get_rank(), world, int(os.environ.get("LOCAL_WORLD_SIZE", world))


def shutdown() -> None:
    """Destroy the process group at exit: multi-rank CPU runs that skip this died with SIGABRT now and then."""
    if tdist.is_available() and tdist.is_initialized():
        barrier()
        tdist.destroy_process_group()

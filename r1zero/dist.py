"""Every collective and barrier of the trainer, on the device its backend needs.

    rank, world, local_world = dist.init()         # deepspeed launcher, torchrun, or a plain `python` (one rank)
    total = dist.all_sum(float(mask.sum()))        # a float, summed over ranks
    sums = dist.all_sum([a, b, c])                 # a list of floats, summed element-wise (one collective)
    ok = dist.all_true(bool(torch.isfinite(loss)))  # True on every rank iff True on every rank
    dist.barrier()
    name = dist.broadcast_object(name)              # rank 0's value on every rank
    dist.rank()                                     # this process's rank (0 without a process group)
    dist.shutdown()                                 # at exit

NCCL (the backend on GPUs) reduces CUDA tensors only; gloo (CPU) reduces CPU tensors only. Each collective here
builds its tensor on `device()`: the rank's GPU (`cuda:LOCAL_RANK`, made current by `init` before the process
group exists) under NCCL, the CPU under gloo. With one rank (or no process group) every function returns its input
(as floats) without communicating. No other module calls torch.distributed.
"""
from __future__ import annotations

import os
import socket

import torch
import torch.distributed as tdist


def active() -> bool:
    """True when a process group with more than one rank exists."""
    return tdist.is_available() and tdist.is_initialized() and tdist.get_world_size() > 1


def _nccl() -> bool:
    return tdist.is_available() and tdist.is_initialized() and tdist.get_backend() == "nccl"


def device() -> torch.device:
    """Where collective tensors live: the current CUDA device under NCCL, else the CPU."""
    if _nccl():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def rank() -> int:
    """This process's rank: the process group's, else the launcher's RANK, else 0."""
    if tdist.is_available() and tdist.is_initialized():
        return tdist.get_rank()
    return int(os.environ.get("RANK", "0"))


def all_sum(values: float | list[float]) -> float | list[float]:
    """Sum a float (or a list of floats) over ranks, in float64."""
    single = not isinstance(values, (list, tuple))
    floats = [float(values)] if single else [float(v) for v in values]
    if active() and floats:
        t = torch.tensor(floats, dtype=torch.float64, device=device())
        tdist.all_reduce(t)
        floats = t.tolist()
    return floats[0] if single else floats


def all_true(flag: bool) -> bool:
    """True on every rank when `flag` is True on every rank."""
    return all_sum(0.0 if flag else 1.0) == 0.0


def barrier() -> None:
    """Wait for every rank. Under NCCL the barrier names this rank's GPU (without it NCCL guesses one from the
    rank number, which is wrong across nodes and can hang)."""
    if active():
        if _nccl():
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


def cuda_index(local_rank: int, visible: int) -> int:
    """The CUDA device of a rank: its LOCAL_RANK, which must name a visible GPU (one rank per GPU)."""
    if not 0 <= local_rank < visible:
        raise RuntimeError(f"LOCAL_RANK={local_rank} but this process sees {visible} GPU(s) (CUDA_VISIBLE_DEVICES="
                           f"{os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}): launch one rank per GPU with every "
                           f"GPU of the node visible to each rank (the deepspeed launcher and torchrun do this)")
    return local_rank


def _no_shm_op() -> None:
    """Keep DeepSpeed from JIT-building its shared-memory CPU all-reduce op. It compiles C++ for over a minute the
    first time a machine starts DeepSpeed on CPU, under a file lock in ~/.cache/torch_extensions that torch waits on
    without a timeout: one run killed mid-compile (a test timeout, Ctrl-C) leaves a lock that hangs every later run
    on that machine. gloo's all-reduce is what the CPU runs need."""
    import deepspeed.ops

    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False


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
        torch.cuda.set_device(cuda_index(int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()))
    if not tdist.is_initialized():
        if not cuda:
            _no_shm_op()
        deepspeed.init_distributed(dist_backend="nccl" if cuda else "gloo")
    world = tdist.get_world_size()
    return tdist.get_rank(), world, int(os.environ.get("LOCAL_WORLD_SIZE", world))


def shutdown() -> None:
    """Destroy the process group at exit: multi-rank CPU runs that skip this died with SIGABRT now and then.
    Only `if initialized`: vLLM's engine teardown may already have destroyed it."""
    if tdist.is_available() and tdist.is_initialized():
        barrier()
        tdist.destroy_process_group()

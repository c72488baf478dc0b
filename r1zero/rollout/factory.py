"""The one place where `rollout.engine` becomes an engine: training (`runtime.init`), standalone evaluation
(`evaluate.run_evaluation`) and the tasks (the GRM judge and data builder, SEAL's self-edits) all build theirs with
`make_engine`.

    engine = make_engine(cfg, model_path, tokenizer, policy=policy, rank=rank, world_size=world, max_model_len=L)
    engine_class(cfg.rollout.engine).default_is_mode      # a capability, before any engine exists

Everything else reads an engine's capabilities (base.Engine's class attributes and `close()`), not its name.
Importing this module imports neither torch nor vllm: an engine's module is imported when it is first asked for,
and the memory terms (`gpu_bytes`) are here so that `python -m r1zero.memory` stays torch-free.

Where to add an engine: a class in rollout/<name>.py that subclasses base.Engine (overriding the capabilities that
differ), an entry in ENGINES (the class, how a config builds it, what it takes of a training GPU), and its name in
config.CHOICES["rollout.engine"].
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Target:
    """What an engine is built for. `policy`: the trainer (`policy.Policy`), None for a standalone engine (evaluation,
    the tasks), which loads `model_path` itself."""

    model_path: str
    tokenizer: Any
    max_model_len: int  # the longest prompt + completion the engine must hold
    rank: int = 0
    world_size: int = 1
    policy: Any = None


@dataclass(frozen=True)
class Kind:
    cls: str  # "module:Class", imported on first use
    build: Callable[[Any, Target], Any]  # (cfg, target) -> engine
    # (cfg, model spec, training ranks, GPU GiB, bytes per training value) -> bytes it takes of each training GPU;
    # memory.py's module docstring says how each is estimated
    gpu_bytes: Callable[[Any, Any, int, float, int], float]


def _hf(cfg, t: Target):
    from r1zero.rollout.hf import HFEngine

    if t.policy is not None:  # the trainer's own module; ZeRO-3 over ranks: every rank steps the forward together
        return HFEngine(t.policy.module, t.tokenizer, synced_gpus=cfg.train.zero_stage == 3 and t.world_size > 1,
                        device=t.policy.device)
    import torch
    from transformers import AutoModelForCausalLM

    from r1zero.models import training_dtype

    dtype = torch.bfloat16 if training_dtype(cfg.model.dtype)[0] == "bf16" else torch.float32
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return HFEngine(AutoModelForCausalLM.from_pretrained(t.model_path, dtype=dtype).to(device).eval(), t.tokenizer)


def _vllm(cfg, t: Target):
    from r1zero.rollout.vllm import VLLMEngine

    return VLLMEngine(t.model_path, cfg.rollout, seed=cfg.train.seed + t.rank, max_model_len=t.max_model_len)


def _server(cfg, t: Target):
    from r1zero.rollout.server import ServerEngine, api_key

    r = cfg.rollout
    return ServerEngine(r.servers, api_key(r.api_key_file), timeout_s=r.server_timeout_s)


def _hf_bytes(cfg, spec, world: int, gpu_gib: float, value_bytes: int) -> float:
    seqs = cfg.train.prompts_per_step // world * cfg.rollout.group_size  # this rank's sequences: their KV cache
    T = cfg.data.max_prompt_tokens + cfg.rollout.max_new_tokens
    return seqs * T * 2 * spec.layers * spec.kv_heads * spec.head_dim * value_bytes


def _vllm_bytes(cfg, spec, world: int, gpu_gib: float, value_bytes: int) -> float:
    return cfg.rollout.gpu_memory_utilization * gpu_gib * 2 ** 30  # vLLM's reservation: weights and KV cache


def _no_bytes(cfg, spec, world: int, gpu_gib: float, value_bytes: int) -> float:
    return 0.0  # the servers run on other GPUs


ENGINES = {
    "hf": Kind("r1zero.rollout.hf:HFEngine", _hf, _hf_bytes),
    "vllm": Kind("r1zero.rollout.vllm:VLLMEngine", _vllm, _vllm_bytes),
    "server": Kind("r1zero.rollout.server:ServerEngine", _server, _no_bytes),
}


def _kind(name: str) -> Kind:
    if name not in ENGINES:
        raise ValueError(f"rollout.engine={name!r}: choose one of {', '.join(ENGINES)}")
    return ENGINES[name]


def engine_class(name: str) -> type:
    """The class of `rollout.engine=name`, for its capabilities (importing it does not import vllm)."""
    module, cls = _kind(name).cls.split(":")
    return getattr(importlib.import_module(module), cls)


def make_engine(cfg, model_path: str, tokenizer, *, max_model_len: int | None = None, policy=None, rank: int = 0,
                world_size: int = 1):
    """The engine `cfg.rollout.engine` names. `policy`: the trainer (training), None for a standalone engine.
    `max_model_len` defaults to a standalone evaluation's context: data.max_prompt_tokens + eval.max_new_tokens."""
    name = cfg.rollout.engine
    if policy is None and engine_class(name).remote:
        local = ", ".join(n for n in ENGINES if not engine_class(n).remote)
        raise ValueError(f"rollout.engine={name!r} is not supported without a trainer (its servers serve whatever "
                         f"weights they hold): use one of {local}")
    if max_model_len is None:
        max_model_len = cfg.data.max_prompt_tokens + cfg.eval.max_new_tokens
    return _kind(name).build(cfg, Target(model_path, tokenizer, max_model_len, rank, world_size, policy))


def gpu_bytes(cfg, spec, world: int, gpu_gib: float, value_bytes: int) -> float:
    """What the configured engine takes of each training GPU, in bytes (see `Kind.gpu_bytes`)."""
    return _kind(cfg.rollout.engine).gpu_bytes(cfg, spec, world, gpu_gib, value_bytes)

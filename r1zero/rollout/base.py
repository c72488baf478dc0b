"""The rollout engine interface: what every generation backend returns and accepts.

An engine turns prompts into completions. Each completion is one `Rollout`; a call with `n` samples per
prompt returns `len(prompts) * n` rollouts ordered prompt-major (all samples of prompt 0, then prompt 1, ...),
so `rollouts[i * n + j]` is sample `j` of prompt `i`. That order is the group layout used by `advantages.py`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol

import torch


@dataclass
class SamplingParams:
    """Sampling settings shared by every engine (engine-specific knobs live in `RolloutConfig`)."""

    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1  # -1: off
    stop: list[str] = field(default_factory=list)  # stop strings; the stop string is kept in the completion
    greedy: bool = False  # overrides temperature/top_p/top_k
    # reseed the engine's sampler before this call (the loop passes one per step and rank: a resumed run samples what
    # the uninterrupted one did); None keeps the engine's running random stream
    seed: int | None = None


@dataclass
class Rollout:
    """One sampled completion of one prompt."""

    prompt_index: int  # index into the `prompts` list given to `generate`
    prompt_ids: list[int]
    completion_ids: list[int]
    text: str  # decoded completion (no prompt), special tokens removed
    finish_reason: str  # "stop" (EOS or stop string) or "length" (hit max_new_tokens)
    logprobs: list[float] | None  # sampler's logprob of each completion token (len == len(completion_ids))
    # the optimizer steps of the weights that generated it (the loop stamps it: r1zero/pipeline.py); None outside it
    version: int | None = None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


class Engine(Protocol):
    """A generation backend. Implementations: `rollout/hf.py` (transformers), `rollout/vllm.py`, `rollout/server.py`;
    `rollout/factory.py` builds them from a config.

    Capabilities: how engines differ, as class attributes (readable before an engine exists: factory.engine_class)
    and `close()`. The trainer, evaluation and the tasks read these, never the engine's name. Engines subclass
    `Engine` to inherit the defaults."""

    # generates with the module it was built with (the hf engine: the trainer's own), so it always has the current
    # weights: the trainer skips the weight sync
    shares_module: bool = False
    # runs elsewhere and is shared by all ranks (server.py): rank 0 alone pushes its weights
    # (`load_weights(tensors, version=step)`), the run syncs it once at start (its servers may hold anything), it
    # cannot serve a standalone evaluation (nothing would give it the model's weights), `sleep`/`wake_up` do nothing
    remote: bool = False
    # algo.is_correction=auto: "off" where the sampler's weights are the trainer's (no mismatch to correct)
    default_is_mode: str = "truncate"
    # samples from torch's global generator, so `torch.manual_seed` before a call makes it reproducible (the others
    # are seeded at start, or per call with SamplingParams.seed, and do not read that generator)
    uses_global_rng: bool = False

    def generate(self, prompts: list[list[int]], n: int, sampling: SamplingParams) -> list[Rollout]:
        """`prompts` are token id lists (templates already applied). Returns len(prompts) * n rollouts, prompt-major."""
        ...

    def load_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Replace the engine's weights with the trainer's (HF parameter names, full unsharded tensors)."""
        ...

    def sleep(self) -> None:
        """Release generation memory (KV cache, weights) while the trainer runs; the next `load_weights` brings it
        back. No-op where unsupported (and for engines that share the trainer's module)."""

    def wake_up(self) -> None:
        """Undo `sleep()` (`load_weights` does it itself: weights first, the KV cache after the load)."""

    def close(self) -> None:
        """Release what the engine holds (engine core, connections, threads); idempotent. Call it after the trainer's
        last collective and before the process group goes (vLLM's teardown needs the group)."""

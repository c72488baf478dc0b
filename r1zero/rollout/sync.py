"""Weight-sync helpers shared by every engine: bucketing the trainer's tensors, and checking the sync.

Engine-independent (no vllm import). Two jobs:

* `iter_buckets(named_tensors, bucket_bytes)` groups an iterator of `(name, tensor)` into lists of at most
  `bucket_bytes` (a tensor larger than that gets a bucket of its own), so an engine can push weights in a few
  large calls without ever holding more than one bucket beyond what the caller already holds.
* `check_sync(engine, trainer_logprob_fn, probe)` compares the engine's logprobs of a fixed probe completion
  with the trainer's. A sync that was skipped, partial, or loaded into the wrong place shows up as a large
  difference; `WeightSyncError` stops the run with a message instead of letting the engine sample from
  stale weights. bf16 engine vs fp32 trainer differ by ~1e-3..5e-2 nats per token on real text: the tolerance
  (`RolloutConfig.sync_check_tol`, on the *mean* absolute difference) must sit above that noise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import torch

LogprobFn = Callable[[list[list[int]], list[list[int]]], list[list[float]]]


class WeightSyncError(RuntimeError):
    """The engine's weights are not the trainer's (or an update could not be applied)."""


@dataclass
class Probe:
    """A fixed set of (prompt, completion) token ids scored by both the engine and the trainer."""

    prompt_ids: list[list[int]]
    completion_ids: list[list[int]]

    @classmethod
    def from_rollouts(cls, rollouts, count: int = 4) -> "Probe":
        """Take the first `count` rollouts with a non-empty completion (e.g. from the first step)."""
        picked = [r for r in rollouts if r.completion_ids][:count]
        if not picked:
            raise ValueError("Probe.from_rollouts: no rollout has a non-empty completion")
        return cls([list(r.prompt_ids) for r in picked], [list(r.completion_ids) for r in picked])


def make_probe(engine, prompt_ids: list[list[int]], max_new_tokens: int = 32) -> Probe:
    """A probe of greedy completions of `prompt_ids` by `engine`: build it while engine and trainer agree
    (right after the first sync), then score the same tokens after every later sync."""
    from r1zero.rollout.base import SamplingParams

    rollouts = engine.generate(prompt_ids, 1, SamplingParams(max_new_tokens=max_new_tokens, greedy=True))
    return Probe.from_rollouts(rollouts, count=len(prompt_ids))


def tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def iter_buckets(named_tensors: Iterable[tuple[str, torch.Tensor]], bucket_bytes: int,
                 clone: bool = False) -> Iterator[list[tuple[str, torch.Tensor]]]:
    """Group `(name, tensor)` pairs into lists of at most `bucket_bytes` (one oversized tensor: its own list).

    Lazy: it pulls from `named_tensors` only as far as the next bucket, so a caller that gathers ZeRO-3 shards
    on demand is never asked for more than one bucket ahead. Tensors are detached (no autograd references);
    with `clone=True` they are copied, for callers whose tensors die when the iterator moves on (a ZeRO-3
    gather releases a bucket before gathering the next one).
    """
    if bucket_bytes <= 0:
        raise ValueError(f"bucket_bytes must be > 0, got {bucket_bytes}")
    bucket: list[tuple[str, torch.Tensor]] = []
    size = 0
    for name, tensor in named_tensors:
        nbytes = tensor_bytes(tensor)
        if bucket and size + nbytes > bucket_bytes:
            yield bucket
            bucket, size = [], 0
        bucket.append((name, tensor.detach().clone() if clone else tensor.detach()))
        size += nbytes
    if bucket:
        yield bucket


def missing_weights(params: Iterable[str], loaded: set[str], received: set[str],
                    packed: dict[str, list[str]]) -> list[str]:
    """Names an update left out: engine parameters nothing was loaded into, and shards of stacked parameters.

    `params`: the engine's parameter names; `loaded`: those its loader reported as (at least partly) loaded;
    `received`: the checkpoint (HF) names that were sent; `packed`: the engine's stacking, e.g.
    {"qkv_proj": ["q_proj", "k_proj", "v_proj"]}. A stacked parameter counts as loaded as soon as one shard
    arrives, so its shards are checked by name (when the checkpoint uses the engine's names for them).
    """
    missing = sorted(set(params) - loaded)
    for name in sorted(loaded):
        for stacked, shards in packed.items():
            if f".{stacked}." not in f".{name}":
                continue
            expected = [f".{name}".replace(f".{stacked}.", f".{shard}.", 1)[1:] for shard in shards]
            if any(e in received for e in expected):
                missing += [e for e in expected if e not in received]
    return missing


def logprob_diff(engine_lps: list[list[float]], trainer_lps: list[list[float]]) -> torch.Tensor:
    """Flat |engine - trainer| over all probe tokens; checks that both sides scored the same tokens."""
    if len(engine_lps) != len(trainer_lps):
        raise ValueError(f"engine scored {len(engine_lps)} probe sequences, trainer {len(trainer_lps)}")
    diffs = []
    for i, (a, b) in enumerate(zip(engine_lps, trainer_lps)):
        if len(a) != len(b):
            raise ValueError(f"probe sequence {i}: engine gave {len(a)} logprobs, trainer {len(b)}")
        diffs.append((torch.tensor(a, dtype=torch.float64) - torch.tensor(b, dtype=torch.float64)).abs())
    return torch.cat(diffs) if diffs else torch.zeros(0, dtype=torch.float64)


def check_sync(engine, trainer_logprob_fn: LogprobFn, probe: Probe, tol: float = 0.1) -> dict[str, float]:
    """Compare engine and trainer logprobs of `probe`; raise `WeightSyncError` if the mean |diff| > `tol`.

    `engine` needs `prompt_logprobs(prompt_ids, completion_ids)` (VLLMEngine, ServerEngine); an engine with
    `replicas()` (ServerEngine: one per server) is checked on each of them, and the error names the one that
    differs. `trainer_logprob_fn` has the same signature and returns the trainer's logprob of each completion
    token (plain softmax of the logits, no temperature: both sides score the raw model).
    Returns `{"sampling/logprob_diff_mean": ..., "sampling/logprob_diff_max": ...}` (the worst replica's) for the
    step's metrics.
    """
    if not hasattr(engine, "prompt_logprobs"):
        raise TypeError(f"{type(engine).__name__} has no prompt_logprobs(): the sync check needs the engine to "
                        f"score given tokens (use the vllm or server engine, or set rollout.sync_check_every=0)")
    trainer = trainer_logprob_fn(probe.prompt_ids, probe.completion_ids)
    replicas = engine.replicas() if hasattr(engine, "replicas") else [("the engine", engine)]
    mean = worst = 0.0
    for name, replica in replicas:
        diff = logprob_diff(replica.prompt_logprobs(probe.prompt_ids, probe.completion_ids), trainer)
        if diff.numel() == 0:
            raise ValueError("the sync probe has no completion tokens")
        m, w = diff.mean().item(), diff.max().item()
        if not m <= tol:  # also catches NaN
            raise WeightSyncError(
                f"weight sync check failed: {name}'s logprobs of the probe differ from the trainer's by "
                f"{m:.4f} nats/token on average (max {w:.4f}; tolerance rollout.sync_check_tol={tol}). "
                f"The engine is sampling from weights that are not the trainer's: a skipped or partial "
                f"load_weights, a name mismatch, or an engine woken up without its weights. Stopping the run.")
        mean, worst = max(mean, m), max(worst, w)
    return {"sampling/logprob_diff_mean": mean, "sampling/logprob_diff_max": worst}

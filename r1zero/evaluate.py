"""Held-out evaluation: accuracy (avg@k), unbiased pass@k, response lengths and truncation, per suite.

The same prompt template and the same verifier as training: a completion is correct when the `accuracy` reward
says so. Each rank evaluates a slice of the problems and the counts are summed, so every rank takes part (needed
when generation is collective, e.g. ZeRO-3 with the hf engine).
"""
from __future__ import annotations

from math import comb

import torch
import torch.distributed as dist

from r1zero.rollout.base import SamplingParams


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def sampling_for_eval(ecfg) -> SamplingParams:
    return SamplingParams(max_new_tokens=ecfg.max_new_tokens, temperature=ecfg.temperature, top_p=ecfg.top_p,
                          greedy=ecfg.greedy)


def evaluate_suite(engine, pool, rows: list[dict], prompt_ids: list[list[int]], ecfg, prefill: str = "",
                   stop: list[str] | None = None, rank: int = 0, world_size: int = 1) -> dict[str, float]:
    """Metrics for one suite: accuracy (mean over k samples), pass@k, mean_length, truncated_frac.

    `pool` is a `rewards.pool.RewardPool` whose first reward is `accuracy`."""
    mine = list(range(rank, len(rows), world_size))
    sampling = sampling_for_eval(ecfg)
    sampling.stop = list(stop or [])
    k = ecfg.k
    rollouts = engine.generate([prompt_ids[i] for i in mine], n=k, sampling=sampling) if mine else []
    samples = [rows[mine[r.prompt_index]] for r in rollouts]
    scores = pool.score([prefill + r.text for r in rollouts], samples) if rollouts else None
    correct = [s >= 1.0 for s in scores.per_reward["accuracy"]] if scores else []
    per_problem = [sum(correct[i * k:(i + 1) * k]) for i in range(len(mine))]
    totals = torch.tensor([
        float(sum(per_problem)),  # correct samples
        float(len(rollouts)),  # samples
        float(sum(pass_at_k(k, c, k) for c in per_problem)),  # problems solved by any of k
        float(len(mine)),  # problems
        float(sum(len(r.completion_ids) for r in rollouts)),  # completion tokens
        float(sum(r.truncated for r in rollouts)),  # truncated
    ], dtype=torch.float64)
    if world_size > 1:
        dist.all_reduce(totals)
    c, n, solved, problems, tokens, trunc = totals.tolist()
    out = {"accuracy": c / max(n, 1), "mean_length": tokens / max(n, 1), "truncated_frac": trunc / max(n, 1),
           "problems": problems}
    if k > 1:
        out[f"pass@{k}"] = solved / max(problems, 1)
    return out

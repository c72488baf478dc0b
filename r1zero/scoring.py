"""Apply the configured rewards to rollouts: verifiers run in the hard-timeout worker pool of `rewards.pool`.

Returns one scalar reward per rollout (the weighted sum) and the per-reward metrics of DESIGN.md:
`reward/mean`, `reward/<name>/mean`, `verify/timeouts`, `verify/errors`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from r1zero.config import RewardsConfig
from r1zero.rollout.base import Rollout


@dataclass
class Scores:
    rewards: torch.Tensor  # [N] weighted sum of the configured rewards
    per_reward: dict[str, list[float]]
    infos: list[dict]
    metrics: dict[str, float]


class Scorer:
    def __init__(self, cfg: RewardsConfig, prefill: str = ""):
        from rewards.pool import RewardPool, resolve

        for name in cfg.names:  # fail now, in the trainer, with the list of valid names (not later in a worker)
            try:
                resolve(name)
            except (KeyError, ImportError, AttributeError) as e:
                raise ValueError(f"`rewards.names`: {name!r} is not a reward: {e}") from None
        self.names = list(cfg.names)
        self.prefill = prefill  # text the template put before the completion (e.g. "<think>"): formats see it
        self.pool = RewardPool(self.names, cfg.weights or None, workers=cfg.workers, timeout_s=cfg.timeout_s)

    def score(self, rollouts: list[Rollout], samples: list[dict]) -> Scores:
        """`samples[i]` is the dataset row of `rollouts[i]` (same length)."""
        texts = [self.prefill + r.text for r in rollouts]
        res = self.pool.score(texts, samples)
        rewards = torch.tensor(res.total, dtype=torch.float32)
        metrics = {"reward/mean": float(rewards.mean()) if len(rewards) else 0.0,
                   "verify/timeouts": float(res.timeouts), "verify/errors": float(res.errors)}
        for name, vals in res.per_reward.items():
            metrics[f"reward/{name}/mean"] = sum(vals) / max(len(vals), 1)
        return Scores(rewards, res.per_reward, res.infos, metrics)

    def close(self) -> None:
        self.pool.close()

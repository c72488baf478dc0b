"""Apply the configured rewards to rollouts: verifiers run in the hard-timeout worker pool of `rewards.pool`.

Returns one scalar reward per rollout (the weighted sum) and the per-reward metrics of DESIGN.md:
`reward/mean`, `reward/<name>/mean`, `verify/timeouts`, `verify/errors`.

Your own rewards. A name `package.module:function` in `rewards.names` is a function
`(completion: str, sample: dict) -> RewardResult | float`, run in the same hard-timeout worker pool as the built-in
verifiers: a raise or a hang scores 0 and counts in `verify/errors` / `verify/timeouts`. `sample` is the dataset row
with every column of the file (nested columns as dicts), its `problem` and `answer`, and the `prompt` text. The
module must be importable by the trainer and the workers (on PYTHONPATH, or installed); `check_rule_reward` says so
before the run starts. Held-out evaluation reports its mean too (`eval_reward_names`).

Model rewards. A few tasks need a model to judge a completion: the SPCT judge (`grm_judge`, r1zero/tasks/grm.py) and
the SEAL inner loop (`seal_knowledge`, r1zero/tasks/seal/reward.py). They are named in `rewards.names` like any
reward, looked up in the explicit `MODEL_REWARDS` dict, and computed in the trainer process (each bounds its own
work: the judge through its engine's max_new_tokens, SEAL in its own worker pool with hard time and memory limits).
What a model reward is built from and must provide: `ModelReward` below, the one statement of the contract.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol

import torch

from r1zero.rollout.base import Rollout

# `cfg` below is the run's `cfg.rewards` (config.RewardsConfig), left unannotated: config validation looks up
# MODEL_REWARDS and `check_rule_reward` here, so this module does not import config back, even for a type.

# The trainer's current weights: a zero-argument callable iterating (HF parameter name, full tensor) pairs
# (`Policy.named_parameters_for_sync`). Collective under ZeRO-3: every rank must iterate it to the end, and each
# tensor is full only until the next one is asked for (copy what you keep).
WeightsFn = Callable[[], Iterator[tuple[str, torch.Tensor]]]


class ModelReward(Protocol):
    """A model reward, built once per rank as `cls(cfg, model_path, tokenizer, weights, world_size, rank, run_dir)`:
    the run config, the run's starting model directory and its tokenizer, the trainer's weights (`WeightsFn`; None
    outside a trainer), the number of ranks, this rank, and the run directory (shared by the ranks) for its files.
    It never gets the Policy: what it reads of the trainer is `weights`, and it must not change them."""

    def __init__(self, cfg, model_path: str, tokenizer, weights: WeightsFn | None, world_size: int, rank: int,
                 run_dir: Path) -> None: ...

    def score(self, texts: list[str], samples: list[dict]) -> tuple[list[float], list[dict]]:
        """One score and info dict per completion. Total: a bad item is 0.0 with info["error"] (a timeout also sets
        info["timeout"]), never an exception. Called on every rank with that rank's completions."""

    def metrics(self) -> dict[str, float]:
        """Its own metrics since the last call (the same keys on every rank and call: ranks reduce them)."""

    def close(self) -> None: ...


MODEL_REWARDS: dict[str, str] = {  # name -> "module:Class" of a ModelReward
    "grm_judge": "r1zero.tasks.grm:JudgeReward",  # SPCT generative reward model: k sampled critiques, scores summed
    # SEAL: LoRA update on the self-edit, gain on the passage's questions
    "seal_knowledge": "r1zero.tasks.seal.reward:SealReward",
    # SEAL few-shot: LoRA update by the plan the self-edit picks from a menu, success on the puzzle's query
    "seal_fewshot": "r1zero.tasks.seal.reward:FewShotReward",
}


def check_rule_reward(name: str) -> None:
    """Raise a ValueError naming `rewards.names` and the fix if `name` is neither a built-in reward nor an importable
    `module:function`. Checked in the trainer, before any worker starts, so the message is one line, not a worker's
    traceback per completion."""
    from rewards.pool import resolve

    module, _, attr = name.partition(":")
    try:
        if attr and not callable(getattr(importlib.import_module(module), attr, None)):
            raise ValueError(f"`rewards.names`: {name!r}: module `{module}` has no function `{attr}`: name a "
                             "function `(completion, sample) -> RewardResult or float` defined there")
        resolve(name)
    except ModuleNotFoundError as e:
        raise ValueError(f"`rewards.names`: {name!r}: cannot import `{module}` ({e}): the module must be importable "
                         "by the trainer and its reward workers: run from its directory with PYTHONPATH=. (or "
                         "`python -m r1zero.cli`), or install it") from None
    except KeyError as e:
        raise ValueError(f"`rewards.names`: {name!r} is not a reward: {e.args[0] if e.args else e}; model "
                         f"rewards: {', '.join(MODEL_REWARDS)}; your own: `package.module:function`") from None
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001 - importing the user's module ran its code: any error can come out
        raise ValueError(f"`rewards.names`: {name!r}: importing `{module}` failed ({type(e).__name__}: {e}): fix "
                         "the module") from None


def eval_reward_names(cfg) -> list[str]:
    """The rewards held-out evaluation scores: `accuracy` (it decides what is correct) and every other rule reward of
    `rewards.names`, built-in or your own (model rewards need the trainer's model: not in eval)."""
    for name in cfg.names:
        if name not in MODEL_REWARDS:
            check_rule_reward(name)
    return ["accuracy"] + [n for n in cfg.names if n != "accuracy" and n not in MODEL_REWARDS]


@dataclass
class Scores:
    rewards: torch.Tensor  # [N] weighted sum of the configured rewards
    per_reward: dict[str, list[float]]
    infos: list[dict]
    metrics: dict[str, float]


class Scorer:
    def __init__(self, cfg, prefill: str = "", model_rewards: dict | None = None):
        """`model_rewards`: name -> a built model reward, for the names of `cfg.names` found in MODEL_REWARDS."""
        from rewards.pool import RewardPool

        self.model_rewards = dict(model_rewards or {})
        for name in cfg.names:  # fail now, in the trainer, with the list of valid names (not later in a worker)
            if name in MODEL_REWARDS:
                if name not in self.model_rewards:
                    raise ValueError(f"`rewards.names`: {name!r} is a model reward and needs a model (build the "
                                     "Scorer through r1zero.runtime)")
                continue
            check_rule_reward(name)
        self.names = list(cfg.names)
        self.weights = list(cfg.weights) or [1.0] * len(self.names)
        self.rule_names = [n for n in self.names if n not in self.model_rewards]
        self.prefill = prefill  # text the template put before the completion (e.g. "<think>"): formats see it
        self.pool = (RewardPool(self.rule_names, None, workers=cfg.workers, timeout_s=cfg.timeout_s)
                     if self.rule_names else None)

    def score(self, rollouts: list[Rollout], samples: list[dict]) -> Scores:
        """`samples[i]` is the dataset row of `rollouts[i]` (same length)."""
        texts = [self.prefill + r.text for r in rollouts]
        per_reward: dict[str, list[float]] = {}
        infos: list[dict] = [{} for _ in texts]
        timeouts = errors = 0
        extra: dict[str, float] = {}
        if self.pool is not None:
            res = self.pool.score(texts, samples)
            per_reward.update(res.per_reward)
            for i, info in enumerate(res.infos):
                infos[i].update(info)
            timeouts, errors = res.timeouts, res.errors
        for name, reward in self.model_rewards.items():
            vals, model_infos = reward.score(texts, samples)
            per_reward[name] = [float(v) for v in vals]
            for i, info in enumerate(model_infos):
                infos[i][name] = info
                errors += int("error" in info and not info.get("timeout"))
                timeouts += int(bool(info.get("timeout")))
            extra.update(reward.metrics())
        total = [sum(w * per_reward[n][i] for n, w in zip(self.names, self.weights)) for i in range(len(texts))]
        rewards = torch.tensor(total, dtype=torch.float32)
        metrics = {"reward/mean": float(rewards.mean()) if len(rewards) else 0.0,
                   "verify/timeouts": float(timeouts), "verify/errors": float(errors), **extra}
        for name, vals in per_reward.items():
            metrics[f"reward/{name}/mean"] = sum(vals) / max(len(vals), 1)
        return Scores(rewards, per_reward, infos, metrics)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        for reward in self.model_rewards.values():
            reward.close()


# ------------------------------------------------------------------------------- one step's scores, by group


def slice_scores(s: Scores, a: int, b: int) -> Scores:
    return Scores(s.rewards[a:b], {k: v[a:b] for k, v in s.per_reward.items()}, s.infos[a:b], {})


def merge_groups(groups: list, n_generated: int, n_informative: int, verify: dict[str, float]):
    """(row, rollouts, scores) per group -> rows per rollout, flat rollouts, merged Scores, generation stats.
    `verify`: the step's verify/* counters and the model rewards' own metrics, passed through as they are."""
    rows = [row for row, rolls, _ in groups for _ in rolls]
    rollouts = [r for _, rolls, _ in groups for r in rolls]
    rewards = torch.cat([s.rewards for _, _, s in groups])
    names = list(groups[0][2].per_reward)
    per = {n: [v for _, _, s in groups for v in s.per_reward[n]] for n in names}
    infos = [i for _, _, s in groups for i in s.infos]
    metrics = {"reward/mean": float(rewards.mean()), **{f"reward/{n}/mean": sum(v) / len(v) for n, v in per.items()},
               **verify}
    lengths = [len(r.completion_ids) for r in rollouts]
    stats = {"completion/mean_length": sum(lengths) / len(lengths),
             "completion/max_length": float(max(lengths)),
             "completion/clipped_frac": sum(r.truncated for r in rollouts) / len(rollouts),
             "completion/tokens": float(sum(lengths)),
             "sampling/generated": float(n_generated),
             "sampling/informative_groups": float(min(n_informative, len(groups)))}
    return rows, rollouts, Scores(rewards, per, infos, metrics), stats


def sample_rows(rows: list[dict], rollouts, scores: Scores, count: int) -> list[dict]:
    out = []
    for i in range(min(count, len(rollouts))):
        out.append({"problem": rows[i]["problem"], "answer": str(rows[i]["answer"]), "completion": rollouts[i].text,
                    "reward": float(scores.rewards[i]), "finish": rollouts[i].finish_reason,
                    **{f"reward/{k}": float(v[i]) for k, v in scores.per_reward.items()}})
    return out

"""Rule-based verifiers for R1-Zero style RL: plain, total, bounded reward functions chosen from an explicit dict.

Contract: `fn(completion: str, sample: dict) -> RewardResult(score: float, info: dict)`. `sample` is a dataset row
with at least "answer" (the gold answer, a string) for the answer rewards. A reward never raises (an internal error
is score 0 with `info["error"]`), never executes model text, and bounds its own work; `RewardPool` adds a hard
wall-clock timeout per completion in worker processes.

Importing this package is light: no torch, no sympy (sympy loads only if the symbolic fallback is needed).
"""
from __future__ import annotations

from rewards.accuracy import accuracy, accuracy_strict, answer_equal
from rewards.countdown import countdown
from rewards.extract import Extraction, extract, extract_answer
from rewards.format import boxed_format_reward, format_reward, format_soft_reward
from rewards.grm import grm
from rewards.math_equal import math_equal
from rewards.pool import PoolScores, RewardPool
from rewards.types import RewardFn, RewardResult

REWARDS: dict[str, RewardFn] = {
    "accuracy": accuracy,  # final answer (boxed/####/Answer:/<answer>, else the last math span or number) == gold
    "accuracy_strict": accuracy_strict,  # the same, but only explicit answers count (no math-span/number fallback)
    "answer_equal": answer_equal,  # the completion is a final answer as written ("x = 3", "Answer: 5", "7 cm")
    "format": format_reward,  # strict R1 format: <think>...</think> <answer>...</answer>, nothing else
    "format_soft": format_soft_reward,  # </think> followed by a non-empty <answer>...</answer>, text around allowed
    "boxed_format": boxed_format_reward,  # one (possibly repeated) non-empty \boxed{} answer
    "countdown": countdown,  # sample["numbers"] each used once, reaching sample["target"]
    "grm": grm,  # SPCT judge: Principles/Critique/Scores parse and the top score is the verifier-correct response
}


class UnknownRewardError(KeyError):
    """An unknown reward name; the message lists the valid ones."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def get_reward(name: str) -> RewardFn:
    """The reward function called `name` (a key of REWARDS)."""
    try:
        return REWARDS[name]
    except (KeyError, TypeError):
        raise UnknownRewardError(f"unknown reward {name!r}: valid names are {', '.join(sorted(REWARDS))} "
                                 "(or a `module:function` path for RewardPool)") from None


__all__ = ["REWARDS", "RewardResult", "RewardFn", "RewardPool", "PoolScores", "get_reward", "UnknownRewardError",
           "math_equal", "extract", "extract_answer", "Extraction"]

"""Rewards for the synthetic learning test, given to the pool by `module:function` path (rewards.pool.resolve)."""
from rewards import RewardResult


def no_lowercase(completion: str, sample: dict) -> RewardResult:
    """Fraction of the completion's non-space characters that are NOT lowercase ASCII letters (0 when empty).

    A tiny random model writes mostly lowercase word pieces (~0.1 reward); RL must move it to other tokens."""
    chars = [c for c in completion if not c.isspace()]
    return RewardResult(sum(not "a" <= c <= "z" for c in chars) / len(chars) if chars else 0.0, {})

"""Rewards for the synthetic learning test, given to the pool by `module:function` path (rewards.pool.resolve)."""
import os
import zlib
from pathlib import Path

from rewards import RewardResult


def no_lowercase(completion: str, sample: dict) -> RewardResult:
    """Fraction of the completion's non-space characters that are NOT lowercase ASCII letters (0 when empty).

    A tiny random model writes mostly lowercase word pieces (~0.1 reward); RL must move it to other tokens."""
    chars = [c for c in completion if not c.isspace()]
    return RewardResult(sum(not "a" <= c <= "z" for c in chars) / len(chars) if chars else 0.0, {})


def rank_dependent(completion: str, sample: dict) -> RewardResult:
    """Rank 1: always 0, so all its groups are all-equal and dynamic sampling keeps refilling; other ranks: the
    parity of a checksum of the completion (groups that vary). Each call appends a line to
    $R1ZERO_TEST_CALLS/rank<RANK>, so that a test can count the completions each rank generated."""
    rank = os.environ.get("RANK", "0")
    with open(Path(os.environ["R1ZERO_TEST_CALLS"]) / f"rank{rank}", "a") as f:
        f.write("1\n")
    return RewardResult(0.0 if rank == "1" else float(zlib.crc32(completion.encode()) % 2), {})

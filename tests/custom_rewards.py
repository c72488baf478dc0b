"""A user's own reward, given as `custom_rewards:by_behaviour` in `rewards.names` (tests/test_custom_data_rewards.py).

It reads the columns of its row, which the trainer passes whole: `behaviour` says what to do, `difficulty` is the
score; a sample without every column of the file scores -1, so a test sees it."""
import time

from rewards import RewardResult

COLUMNS = ("question", "reward_model", "difficulty", "behaviour", "problem", "answer", "id", "prompt")


def by_behaviour(completion: str, sample: dict) -> RewardResult:
    if not all(c in sample for c in COLUMNS) or "ground_truth" not in sample["reward_model"]:
        return RewardResult(-1.0, {"missing": [c for c in COLUMNS if c not in sample]})
    if sample["behaviour"] == "raise":
        raise ValueError("this row makes the reward raise")
    if sample["behaviour"] == "hang":
        time.sleep(120)  # killed at rewards.timeout_s
    return RewardResult(sample["difficulty"] / 2, {"difficulty": sample["difficulty"]})

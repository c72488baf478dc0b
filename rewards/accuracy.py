"""Answer-correctness rewards: extract the final answer (`rewards.extract`), compare with the gold (`math_equal`).

The gold goes through the same extraction as a response (`$..$`, `\\boxed{}`, `Answer:`, `####`, a whole GSM8K or
MATH solution), so `\\boxed{42}`, `$42$` and `... #### 42` are all the gold 42. Several distinct final statements
(`\\boxed{2}` and `\\boxed{-3}`) score 1 only when together they are a gold answer with several parts (`2, -3`).
"""
from __future__ import annotations

from functools import lru_cache

from rewards.extract import Extraction, extract
from rewards.math_equal import is_multi, math_equal
from rewards.types import RewardResult, error_result, short, total


@lru_cache(maxsize=1024)
def gold_answer(gold: str) -> str:
    """The gold's final answer: extracted like a response; several statements are one answer with several parts."""
    ex = extract(gold, fallback_last_number=True, whole=True, every=True)
    if ex.conflict:
        return ", ".join(ex.candidates)
    return ex.answer if ex.answer else gold.strip()


def _gold(sample: dict) -> str | None:
    gold = sample.get("answer")
    if gold is None or not str(gold).strip():
        return None
    return gold_answer(str(gold))


def judge(ex: Extraction, gold: str) -> tuple[float, dict]:
    """Score an extraction against an extracted gold, with the info fields of the rewards."""
    info: dict = {"pred": short(ex.answer), "gold": short(gold), "source": ex.source}
    if ex.conflict:
        joined = ", ".join(ex.candidates)
        if len(ex.candidates) > 1 and is_multi(gold) and math_equal(joined, gold):
            info.update(pred=short(joined), source=f"{ex.source}_parts")
            return 1.0, info
        info.update(reason="conflicting final answers", candidates=[short(c) for c in ex.candidates])
        return 0.0, info
    if ex.answer is None:
        info["reason"] = "no final answer found"
        return 0.0, info
    return (1.0 if math_equal(ex.answer, gold) else 0.0), info


def _accuracy(completion: str, sample: dict, fallback_last_number: bool, whole: bool = False) -> RewardResult:
    gold = _gold(sample)
    if gold is None:
        return error_result("sample has no gold `answer`")
    score, info = judge(extract(completion, fallback_last_number, whole=whole), gold)
    return RewardResult(score, info)


@total
def accuracy(completion: str, sample: dict) -> RewardResult:
    """1 if the final answer equals sample["answer"]; with the last-span/last-number fallback (rewards.extract)."""
    return _accuracy(completion, sample, fallback_last_number=True)


@total
def accuracy_strict(completion: str, sample: dict) -> RewardResult:
    """Like accuracy, but only explicit answers count (boxed, <answer>, ####, Answer:), never a bare last number."""
    return _accuracy(completion, sample, fallback_last_number=False)


@total
def answer_equal(completion: str, sample: dict) -> RewardResult:
    """1 if the completion, read as a final answer written by a person or a tool ("$x = 3$", "Answer: 5",
    "\\boxed{7}", "7 cm"), equals sample["answer"]."""
    return _accuracy(completion, sample, fallback_last_number=True, whole=True)

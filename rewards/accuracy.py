"""Answer-correctness rewards: extract the final answer (`rewards.extract`), compare with the gold (`math_equal`)."""
from __future__ import annotations

from rewards.extract import extract
from rewards.math_equal import math_equal
from rewards.types import RewardResult, error_result, short, total


def _gold(sample: dict) -> str | None:
    gold = sample.get("answer")
    if gold is None or not str(gold).strip():
        return None
    return str(gold)


def _accuracy(completion: str, sample: dict, fallback_last_number: bool) -> RewardResult:
    gold = _gold(sample)
    if gold is None:
        return error_result("sample has no gold `answer`")
    ex = extract(completion, fallback_last_number)
    info: dict = {"pred": short(ex.answer), "gold": short(gold), "source": ex.source}
    if ex.conflict:
        info.update(reason="conflicting final answers", candidates=[short(c) for c in ex.candidates])
        return RewardResult(0.0, info)
    if ex.answer is None:
        info["reason"] = "no final answer found"
        return RewardResult(0.0, info)
    return RewardResult(1.0 if math_equal(ex.answer, gold) else 0.0, info)


@total
def accuracy(completion: str, sample: dict) -> RewardResult:
    """1 if the final answer equals sample["answer"]; with the last-number fallback (see rewards.extract)."""
    return _accuracy(completion, sample, fallback_last_number=True)


@total
def accuracy_strict(completion: str, sample: dict) -> RewardResult:
    """Like accuracy, but only explicit answers count (boxed, <answer>, ####, Answer:), never a bare last number."""
    return _accuracy(completion, sample, fallback_last_number=False)


@total
def answer_equal(completion: str, sample: dict) -> RewardResult:
    """1 if the completion, taken whole as the final answer (no extraction), equals sample["answer"]."""
    gold = _gold(sample)
    if gold is None:
        return error_result("sample has no gold `answer`")
    info = {"pred": short(completion.strip()), "gold": short(gold), "source": "whole"}
    return RewardResult(1.0 if math_equal(completion.strip(), gold) else 0.0, info)

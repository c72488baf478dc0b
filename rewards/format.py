"""Format rewards.

R1 format (DeepSeek-R1-Zero): `<think> reasoning </think> <answer> answer </answer>`.
- strict (`format`): after stripping, the text starts with `<think>` and ends with `</answer>`; each of the four tags
  appears exactly once, in order; only whitespace between `</think>` and `<answer>`; both contents non-empty.
  Prompts that prefill `<think>` (r1zero's r1 template) have the trainer prepend it before scoring.
- soft (`format_soft`): a `</think>` (with its `<think>` before it, if any) followed later by a complete, non-empty
  `<answer>...</answer>`; other text is allowed around them.
Boxed format (`boxed_format`): at least one complete `\\boxed{...}`, none empty, and no conflicting boxes.
All checks are str.find/count scans: linear time, no regex backtracking.
"""
from __future__ import annotations

from rewards.extract import MAX_CANDIDATES, find_boxed
from rewards.math_equal import math_equal
from rewards.types import RewardResult, total

_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


def r1_format(text: str, strict: bool = True) -> tuple[bool, str]:
    """(ok, reason) for the R1 format; reason is "ok" or what is wrong."""
    return _strict(text) if strict else _soft(text)


def _strict(text: str) -> tuple[bool, str]:
    body = text.strip()
    counts = {tag: body.count(tag) for tag in _TAGS}
    if any(n != 1 for n in counts.values()):
        return False, "each tag must appear exactly once: " + ", ".join(f"{t} x{n}" for t, n in counts.items())
    if not body.startswith("<think>"):
        return False, "text before <think>"
    if not body.endswith("</answer>"):
        return False, "text after </answer>"
    think_end, answer_start = body.index("</think>"), body.index("<answer>")
    if answer_start < think_end:
        return False, "<answer> before </think>"
    if body[think_end + len("</think>"): answer_start].strip():
        return False, "text between </think> and <answer>"
    if not body[len("<think>"): think_end].strip():
        return False, "empty <think>"
    if not body[answer_start + len("<answer>"): -len("</answer>")].strip():
        return False, "empty <answer>"
    return True, "ok"


def _soft(text: str) -> tuple[bool, str]:
    think_end = text.find("</think>")
    if think_end < 0:
        return False, "no </think>"
    think_start = text.find("<think>")
    if think_start > think_end:
        return False, "<think> after </think>"
    start = text.find("<answer>", think_end)
    end = text.find("</answer>", start + 1) if start >= 0 else -1
    if start < 0 or end < 0:
        return False, "no <answer>...</answer> after </think>"
    if not text[start + len("<answer>"): end].strip():
        return False, "empty <answer>"
    return True, "ok"


def boxed_format(text: str) -> tuple[bool, str]:
    boxes = find_boxed(text)
    if not boxes:
        return False, "no complete \\boxed{}"
    if any(not b.strip() for b in boxes):
        return False, "empty \\boxed{}"
    distinct = list(dict.fromkeys(b.strip() for b in boxes))[:MAX_CANDIDATES + 1]
    if len(distinct) > MAX_CANDIDATES or any(not math_equal(b, distinct[0]) for b in distinct[1:]):
        return False, "conflicting boxes"
    return True, "ok"


def _result(check: tuple[bool, str]) -> RewardResult:
    ok, reason = check
    return RewardResult(1.0 if ok else 0.0, {"reason": reason})


@total
def format_reward(completion: str, sample: dict) -> RewardResult:
    """1 for the strict R1 format (see the module doc)."""
    return _result(r1_format(completion, strict=True))


@total
def format_soft_reward(completion: str, sample: dict) -> RewardResult:
    """1 for the soft R1 format (see the module doc)."""
    return _result(r1_format(completion, strict=False))


@total
def boxed_format_reward(completion: str, sample: dict) -> RewardResult:
    """1 when the completion boxes one (possibly repeated) non-empty answer."""
    return _result(boxed_format(completion))

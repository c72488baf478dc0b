"""The reward contract: `fn(completion: str, sample: dict) -> RewardResult`, total (never raises)."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

INFO_MAX_CHARS = 200


@dataclass
class RewardResult:
    score: float
    info: dict = field(default_factory=dict)


RewardFn = Callable[[str, dict], RewardResult]


def short(text: object, limit: int = INFO_MAX_CHARS) -> object:
    """Strings in `info` are cut to `limit` characters (they travel between processes and into logs)."""
    if isinstance(text, str) and len(text) > limit:
        return text[:limit] + f"...[{len(text) - limit} more chars]"
    return text


def error_result(err: BaseException | str) -> RewardResult:
    message = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    return RewardResult(0.0, {"error": short(message)})


def total(fn: Callable[[str, dict], RewardResult]) -> RewardFn:
    """Make a reward total: bad argument types and internal errors become score 0 with `info["error"]`.

    Only `Exception` is caught (not KeyboardInterrupt/SystemExit), and the error is reported, never hidden.
    """

    @functools.wraps(fn)
    def wrapper(completion: str, sample: dict) -> RewardResult:
        if not isinstance(completion, str):
            return error_result(f"completion must be a string, got {type(completion).__name__}")
        if not isinstance(sample, dict):
            return error_result(f"sample must be a dict, got {type(sample).__name__}")
        try:
            return fn(completion, sample)
        except Exception as err:  # the contract: report, never raise
            return error_result(err)

    return wrapper

"""Is a predicted final answer mathematically equal to the gold one?

`math_equal(pred, gold)` is pure and bounded, and it never evaluates text as code. The path of one comparison:
1. caps: two plain integers compare as digits at any length; otherwise either side longer than MAX_CHARS
   characters is not equal (no work is done on it);
2. `rewards.normalize.clean` on both; equal text is equal (digits either side of a space stay apart);
3. `rewards.structure`: split both into shapes (tuple/interval, set, list, matrix, union, relation, word, choice
   letter with or without its option text, scalar) and compare them with the order rules of each shape; equations,
   chains and inequalities follow `rewards.relations`;
4. scalars (`rewards.scalar`): exact rationals first (integers, decimals, `1,000`, fractions, mixed numbers,
   scientific notation, percents), then 50-digit evaluation at sample points for irrational or symbolic
   expressions (`\\pi`, `\\sqrt{}`, polynomials), then, only for LaTeX outside the own parser's grammar, sympy on
   the output of latex2sympy2_extended's parser, after a screen for huge exponents, towers, factorials and depth.
Anything that cannot be decided within those bounds is "not equal".
"""
from __future__ import annotations

import re

from rewards.latex_expr import parse
from rewards.normalize import clean
from rewards.structure import equal, parse_answer

MAX_CHARS = 1000
_INTEGER_RE = re.compile(r"^\s*\+?\d+\s*$")
_DIGIT_SPACE_RE = re.compile(r"(?<=\d)\s+(?=\d)")
_SPACE_RE = re.compile(r"\s+")


def math_equal(pred: str, gold: str) -> bool:
    """True when `pred` and `gold` denote the same mathematical answer (see the module doc)."""
    if pred is None or gold is None:
        return False
    pred, gold = str(pred), str(gold)
    if _INTEGER_RE.match(pred) and _INTEGER_RE.match(gold):  # long integers compare as digits, at any length
        return int(pred.strip()) == int(gold.strip()) if len(pred) + len(gold) < 8000 else \
            pred.strip().lstrip("+0") == gold.strip().lstrip("+0")
    if len(pred) > MAX_CHARS or len(gold) > MAX_CHARS:
        return False
    p, g = clean(pred), clean(gold)
    if not p or not g:
        return False
    if nospace(p) == nospace(g):
        return True
    try:
        return equal(parse_answer(p), parse_answer(g))
    except (ValueError, ArithmeticError, RecursionError):
        return False  # too many items, or arithmetic outside the caps: undecidable here


def nospace(s: str) -> str:
    """Text without whitespace, except that digits either side of a space stay apart (`123 4567` is not 1234567)."""
    return _SPACE_RE.sub("", _DIGIT_SPACE_RE.sub("_", s))


def is_multi(gold: str) -> bool:
    """Whether an answer has several parts (a list or set of two or more, `a \\pm b`): what several final
    statements may add up to."""
    try:
        shape = parse_answer(clean(str(gold)))
    except (ValueError, ArithmeticError, RecursionError):
        return False
    return shape.kind in ("list", "set") and len(shape.items) > 1


def clear_caches() -> None:
    """Forget cached parses (they make repeated gold answers cheap; benchmarks clear them between passes)."""
    parse.cache_clear()
    parse_answer.cache_clear()

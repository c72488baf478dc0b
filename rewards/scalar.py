"""Equality of two scalar answers (cleaned text): exact string, then the parser and the bounded evaluators of
`rewards.numeric`, then, only for text outside that parser's grammar, the guarded sympy path of `rewards.symbolic`.

Percent answers are equal when either reading works (`50\\%` = `0.5` and `50\\%` = `50`): graders accept both.
Base-n numerals (`2516_8`) compare by digits and base; a plain numeral with the same digits is accepted for the
base given in the gold (the question asked for base 8).
"""
from __future__ import annotations

import re
from fractions import Fraction

from rewards.latex_expr import ParseError, parse
from rewards.numeric import Undefined, approx, close, make_complex, proportional, values_equal, variables
from rewards.symbolic import sympy_equal


def _nospace(s: str) -> str:
    return "".join(re.sub(r"(?<=\d)\s+(?=\d)", "_", s).split())


def scalar_equal(pred: str, gold: str) -> bool:
    if _nospace(pred) == _nospace(gold):
        return True
    pred, gold = _engineering_j(pred, gold), _engineering_j(gold, pred)
    if "%" in pred or "%" in gold:
        return _scalar(pred.replace("%", ""), gold.replace("%", "")) or _scalar(pred, gold)
    return _scalar(pred, gold)


def _engineering_j(text: str, other: str) -> str:
    """`3+4j` -> `3+4i` when the other side writes the imaginary unit as i and this one has no i."""
    if _J_RE.search(text) and not _I_RE.search(text) and _I_RE.search(other) and not _J_RE.search(other):
        return _J_RE.sub("i", text)
    return text


_J_RE = re.compile(r"(?<![a-zA-Z\\])j(?![a-zA-Z])")
_I_RE = re.compile(r"(?<![a-zA-Z\\])i(?![a-zA-Z])")


def _scalar(pred: str, gold: str) -> bool:
    if _nospace(pred) == _nospace(gold):
        return True
    try:
        p, g = parse(pred), parse(gold)
    except ParseError:
        return sympy_equal(pred, gold) is True
    if p[0] == "based" or g[0] == "based":
        return _based_equal(p, g)
    return values_equal(p, g) is True


def _based_equal(p: tuple, g: tuple) -> bool:
    def digits(node: tuple) -> tuple[str, str] | None:
        if node[0] == "based":
            return node[1].lstrip("0") or "0", node[2].strip("{}")
        if node[0] == "num" and node[1].denominator == 1 and node[1] >= 0:
            return str(node[1].numerator), ""
        return None

    dp, dg = digits(p), digits(g)
    if dp is None or dg is None or dp[0] != dg[0]:
        return False
    return dp[1] == dg[1] or "" in (dp[1], dg[1])


def equations_proportional(left1: str, right1: str, left2: str, right2: str) -> bool:
    """Are `left1 = right1` and `left2 = right2` the same equation up to a nonzero factor?"""
    try:
        d1 = ("add", (parse(left1), ("neg", parse(right1))))
        d2 = ("add", (parse(left2), ("neg", parse(right2))))
    except ParseError:
        return False
    return proportional(d1, d2) is True


def linear_root(left: str, right: str) -> tuple[Fraction, int] | None:
    """For `left - right = a x + b` in one variable with a != 0 and a rational root: (-b/a, sign of a), else None.

    Linear and the root are checked at sample points (50 digits), so `2(x - 1) > 4` gives (3, 1)."""
    try:
        node = ("add", (parse(left), ("neg", parse(right))))
    except ParseError:
        return None
    names = variables(node)
    if len(names) != 1:
        return None
    name = next(iter(names))
    try:
        f = [approx(node, {name: make_complex(str(x), "0")}) for x in (0, 1, 2, 7)]
    except (Undefined, ArithmeticError, ValueError, KeyError, ZeroDivisionError):
        return None
    a, b = f[1] - f[0], f[0]
    if any(v.imag != 0 for v in f) or close(a, 0) or not (close(f[2] - f[1], a) and close(f[3] - f[0], 7 * a)):
        return None
    root = Fraction(str(-b.real / a.real)).limit_denominator(10**6)
    if not close(approx(node, {name: make_complex(str(root.numerator), "0") / root.denominator}), 0):
        return None
    return root, 1 if a.real > 0 else -1

"""Equations, equation chains and inequalities as answers (used by `rewards.structure.equal`).

A relation is `Ans("rel", items=(side, ...), ops=(op, ...))` with ops among `=`, `\\le`, `\\ge`, `\\ne`, `<`, `>`,
`\\approx`. How it is read:
- a label on the left names the answer and is not part of it: `x = 3`, `f(x) = 3x - 2`, `(p, q) = (3, 2)`,
  `|AB| = 1`, `V_1 : V_2 = 11 : 21` (a label is a variable, a function of one, a tuple of variables, a ratio or
  absolute value of symbols: letters only, no number and no + or -);
- a chain `x = 5 + 5 + 1 = 11`, or `5 + 7 = 12` with only constant sides, has the value of its last side; with
  `\\approx`, the exact side before it counts, and the approximate side after it counts for a decimal gold
  (`\\frac{70}{9} \\approx 7.78` is both 70/9 and, for the gold 7.78, 7.78);
- two equations are equal when their labels agree and their values do, or when their differences are
  proportional (`y = 2x + 1` and `2x - y + 1 = 0`);
- an inequality in one variable is its interval: `x > 5` is (5, \\infty), `-2 \\le x < 7` is [-2, 7), and a linear
  one is solved first (`-x > -1` is x < 1, `2x > 6` is x > 3);
- other relations are equal when they are the same relation, possibly written the other way round (`5 \\le x`).
"""
from __future__ import annotations

import re
from fractions import Fraction

from rewards.answer import Ans
from rewards.scalar import equations_proportional, linear_root

LESS = {"<": "<", r"\le": r"\le", ">": "<", r"\ge": r"\le"}
_VAR_RE = re.compile(r"^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?\w+\}?)?'*(?:\([a-zA-Z]\))?$")
_LABEL_RE = re.compile(r"^[\s\\a-zA-Z_{}()|:,'^\[\]]*$")
_DECIMAL_RE = re.compile(r"^-?\d*\.\d+$")


def is_var(a) -> bool:
    return a.kind == "scalar" and bool(_VAR_RE.match(a.text))


def is_label(a) -> bool:
    """A side that names the answer (see the module doc)."""
    if a.kind in ("scalar", "word"):
        # subscripts may hold digits (`x_1`, `V_{2}`), and so may an inverse or a transpose (`A^{-1}`, `A^T`)
        text = re.sub(r"_\{[^{}]*\}|_\w|\^\s*\{\s*(?:-1|T)\s*\}|\^\s*(?:-1|T)\b", "", a.text.strip())
        return bool(text) and bool(_LABEL_RE.match(text)) and not re.search(r"\\(?:infty|pi|emptyset)", text)
    if a.kind == "seq":
        return all(is_var(x) for x in a.items)
    return False


def _constant(a) -> bool:
    return a.kind == "scalar" and not re.search(r"[a-zA-Z]", re.sub(r"\\(?:frac|sqrt|cdot|times|pi|dfrac|div)",
                                                                     "", a.text))


def values(rel) -> tuple[list, list]:
    """(exact values, approximate values) a relation stands for as an answer; ([], []) when it is a relation proper."""
    items, ops = list(rel.items), list(rel.ops)
    if not ops or any(op not in ("=", r"\approx") for op in ops):
        return [], []
    cut = ops.index(r"\approx") + 1 if r"\approx" in ops else len(items)
    exact, rough = items[:cut], items[cut:]
    if is_label(exact[0]) and len(exact) > 1:
        exact = exact[1:]
    elif len(exact) == 2 and is_label(exact[1]) and not rough:
        exact = exact[:1]  # `2 = x`: the label on the right
    elif len(exact) == 2 and not all(_constant(x) for x in exact):
        return [], []
    if len(exact) == 1 and is_label(exact[0]) and rough:
        return rough[-1:], []
    return exact[-1:], rough[-1:]


def rel_equal(p, g, equal) -> bool:
    """Equality when one side or both are relations (`equal` compares two shapes)."""
    if p.kind == g.kind == "rel":
        if set(p.ops) <= {"=", r"\approx"} and set(g.ops) <= {"=", r"\approx"}:
            return _equations_equal(p, g, equal)
        ip, ig = as_interval(p), as_interval(g)
        if ip is not None and ig is not None:
            return equal(ip, ig)
        return _same_relation(p, g, equal)
    rel, other = (p, g) if p.kind == "rel" else (g, p)
    exact, rough = values(rel)
    if exact or rough:
        if any(_ordered_equal(v, other, rel is p, equal) for v in exact):
            return True
        decimal = other.kind == "scalar" and bool(_DECIMAL_RE.match(other.text.strip()))
        return decimal and any(_ordered_equal(v, other, rel is p, equal) for v in rough)
    interval = as_interval(rel)
    if interval is None:
        return False
    return _ordered_equal(interval, other, rel is p, equal)


def _ordered_equal(a, b, a_is_pred: bool, equal) -> bool:
    return equal(a, b) if a_is_pred else equal(b, a)


def _equations_equal(p, g, equal) -> bool:
    """Two equations or chains: the same labelled value, the same value of constant chains, or proportional."""
    (pv, _), (gv, _) = values(p), values(g)
    pl, gl = p.items[0], g.items[0]
    if pv and gv:
        same_label = not (is_label(pl) and is_label(gl)) or _label_key(pl) == _label_key(gl) \
            or len(p.items) > 2 or len(g.items) > 2
        if same_label and equal(pv[0], gv[0]):
            return True
    if len(p.items) == len(g.items) == 2 and all(x.kind == "scalar" for x in p.items + g.items):
        return equations_proportional(p.items[0].text, p.items[1].text, g.items[0].text, g.items[1].text)
    return False


def _label_key(a) -> str:
    return "".join(a.text.split()) if a.kind == "scalar" else repr(a)


def _same_relation(p, g, equal) -> bool:
    if p.ops == g.ops and len(p.items) == len(g.items) and all(equal(a, b) for a, b in zip(p.items, g.items)):
        return True
    flipped = tuple(flip(op) for op in reversed(g.ops))
    return p.ops == flipped and all(equal(a, b) for a, b in zip(p.items, reversed(g.items)))


def flip(op: str) -> str:
    return {"<": ">", ">": "<", r"\le": r"\ge", r"\ge": r"\le"}.get(op, op)


def as_interval(rel):
    """`x > 5` -> (5, \\infty); `-2 \\le x < 7` -> [-2, 7); a linear inequality in one variable is solved first;
    None when the relation is not an inequality in one variable."""
    items, ops = rel.items, rel.ops
    if not ops or not all(op in LESS for op in ops):
        return None
    if len(ops) == 2:
        if not is_var(items[1]) or len({op in ("<", r"\le") for op in ops}) != 1:
            return None
        if ops[0] in (">", r"\ge"):
            items, ops = tuple(reversed(items)), tuple(flip(op) for op in reversed(ops))
        return interval(items[0], items[2], ops[0] == r"\le", ops[1] == r"\le")
    if len(ops) != 1:
        return None
    if is_var(items[0]):
        bound, op = items[1], ops[0]
    elif is_var(items[1]):
        bound, op = items[0], flip(ops[0])
    else:
        solved = _solve_linear(items[0], items[1], ops[0])
        if solved is None:
            return None
        bound, op = solved
    low, high = Ans("scalar", r"-\infty"), Ans("scalar", r"\infty")
    if op in ("<", r"\le"):
        return interval(low, bound, False, op == r"\le")
    return interval(bound, high, op == r"\ge", False)


def _solve_linear(left, right, op: str):
    """`a x + b  op  c x + d` with one variable -> (bound, op for `x op bound`), or None."""
    if left.kind != "scalar" or right.kind != "scalar":
        return None
    solved = linear_root(left.text, right.text)
    if solved is None:
        return None
    root, slope = solved
    text = str(root.numerator) if root.denominator == 1 else f"\\frac{{{root.numerator}}}{{{root.denominator}}}"
    return Ans("scalar", text), (op if slope > 0 else flip(op))


def interval(low, high, closed_low: bool, closed_high: bool):
    return Ans("seq", items=(low, high), brackets=("[" if closed_low else "(") + ("]" if closed_high else ")"))


__all__ = ["rel_equal", "as_interval", "values", "is_label", "is_var", "Fraction"]

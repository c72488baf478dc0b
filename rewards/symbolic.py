"""The symbolic fallback: sympy, on expressions built by a real LaTeX parser (latex2sympy2_extended's ANTLR grammar).

Used only when `rewards.latex_expr` cannot parse an answer. Raw text never reaches `sympify`/`parse_expr`
(they call Python's eval); the parser builds sympy objects directly. Because sympy evaluates while it builds
(`10^{10^{10}}` is computed eagerly, `1000!` too), `safe_for_sympy` screens the text first: length, brace depth,
exponent size, power towers, factorials and calculus are refused. A refused or failed conversion means "cannot
decide", which the callers treat as not equal. The process pool's hard timeout remains the last line of defence.
"""
from __future__ import annotations

import re

from rewards.numeric import close, make_complex, sample_points

MAX_CHARS = 200
MAX_BRACE_DEPTH = 8
MAX_OPS = 60
_FORBIDDEN = re.compile(r"\\(?:int|iint|oint|sum|prod|lim|partial|infty|mathbb|operatorname|begin)(?![a-zA-Z])"
                        r"|\\frac\s*\{\s*d|!|\^\s*\{?\s*-?\d{4,}|\d{7,}\s*\^|\d[eE][+-]?\d{4,}")
_TOWER = re.compile(r"\^\s*\{[^{}]*\^|\^\s*[\w.]+\s*\^|\^\s*\{[^{}]*\{[^{}]*\^")


def safe_for_sympy(text: str) -> bool:
    """Whether handing `text` to the LaTeX-to-sympy converter is bounded in time and memory."""
    if len(text) > MAX_CHARS or _FORBIDDEN.search(text) or _TOWER.search(text) or text.count("^") > 6:
        return False
    depth = peak = 0
    for ch in text:
        depth += 1 if ch == "{" else -1 if ch == "}" else 0
        peak = max(peak, depth)
    return peak <= MAX_BRACE_DEPTH


def to_sympy(text: str):
    """A sympy object from LaTeX, or None (refused by the screen, or not parseable)."""
    if not safe_for_sympy(text):
        return None
    from latex2sympy2_extended import latex2sympy  # lazy: keeps `import rewards` light
    from latex2sympy2_extended.math_normalization import NormalizationConfig

    config = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True, nits=False, boxed="none")
    try:
        return latex2sympy(text, normalization_config=config)
    except Exception:  # the converter raises many kinds of errors on text outside its grammar
        return None


def sympy_equal(pred: str, gold: str) -> bool | None:
    """True/False, or None when either side cannot be converted safely."""
    if not (safe_for_sympy(pred) and safe_for_sympy(gold)):
        return None  # screen both before converting either (and before sympy is even imported)
    a = to_sympy(pred)
    b = to_sympy(gold) if a is not None else None
    if a is None or b is None:
        return None
    try:
        return _compare(a, b)
    except Exception:  # sympy raises TypeError/ValueError/AttributeError on mixed kinds of objects
        return None


def _compare(a, b) -> bool:
    import sympy

    if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
        return bool(a == b)
    if sympy.count_ops(a) > MAX_OPS or sympy.count_ops(b) > MAX_OPS:
        return bool(a == b)
    names = {s.name: s for s in (a.free_symbols | b.free_symbols)}
    decided = 0
    for env in sample_points(set(names), 3 if names else 1):
        subs = {names[n]: sympy.Float(str(v), 50) for n, v in env.items()}
        va, vb = a.evalf(50, subs=subs), b.evalf(50, subs=subs)
        if not (va.is_number and vb.is_number):
            return bool(sympy.simplify(a - b) == 0)
        if not close(_to_mp(va), _to_mp(vb)):
            return False
        decided += 1
    return decided > 0


def _to_mp(value):
    re_part, im_part = value.as_real_imag()
    return make_complex(str(re_part.evalf(50)), str(im_part.evalf(50)))

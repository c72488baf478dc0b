"""Evaluate parsed expressions (`rewards.latex_expr` trees) and decide equality.

Two evaluators, both bounded:
- `exact(node)`: a Fraction when the value is rational and cheap to compute exactly (integer powers with a capped
  bit size, perfect roots, small factorials), else None. Two exact values compare exactly.
- `approx(node, env)`: a 50-digit complex value (mpmath, in its own context, so global precision is untouched).
  Expressions with irrational parts or variables are compared at fixed pseudo-random points (variables are given
  values in [0.5, 2.5] derived from their names): equal when every point agrees to 1e-30 relative. Polynomial
  identities are decided correctly with probability 1; identities that hold only on part of the domain (sqrt(x^2) = x)
  are judged on positive reals.
Magnitudes beyond 10^MAX_LOG10, exponents beyond MAX_EXPONENT and factorials beyond MAX_FACTORIAL raise TooBig, so
`10^{10^{10}}` costs microseconds, not hours.
"""
from __future__ import annotations

import math
import zlib
from fractions import Fraction
from functools import lru_cache
from random import Random

import mpmath

MAX_BITS = 20_000  # exact results larger than this many bits are not computed exactly
MAX_EXPONENT = 10**6
MAX_LOG10 = 4_000
MAX_FACTORIAL = 10_000
REL_TOL = mpmath.mpf("1e-30")
POINTS = 3

_ctx = mpmath.MPContext()
_ctx.dps = 50


class TooBig(ArithmeticError):
    """A value or exponent beyond the caps: the comparison is undecidable here."""


class Undefined(ArithmeticError):
    """Division by zero, log of zero and the like."""


# --------------------------------------------------------------------------------------------- exact rationals
def exact(node: tuple) -> Fraction | None:
    """The exact rational value of a node, or None (irrational, symbolic, too big or undefined)."""
    try:
        return _exact(node)
    except (Undefined, TooBig, ZeroDivisionError, OverflowError, ValueError):
        return None


def _exact(node: tuple) -> Fraction | None:
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "neg":
        v = _exact(node[1])
        return None if v is None else -v
    if kind in ("add", "mul"):
        vals = [_exact(n) for n in node[1]]
        if any(v is None for v in vals):
            return None
        return sum(vals, Fraction(0)) if kind == "add" else math.prod(vals, start=Fraction(1))
    if kind == "div":
        a, b = _exact(node[1]), _exact(node[2])
        if a is None or b is None:
            return None
        if b == 0:
            raise Undefined("division by zero")
        return a / b
    if kind == "pow":
        return _exact_pow(_exact(node[1]), _exact(node[2]))
    if kind == "root":
        index = _exact(node[2])
        return _exact_pow(_exact(node[1]), None if not index else 1 / index)
    return _exact_other(node)


def _exact_other(node: tuple) -> Fraction | None:
    kind = node[0]
    arg = _exact(node[1]) if kind in ("fact", "pct", "fn", "binom") else None
    if arg is None:
        return None
    if kind == "pct":
        return arg / 100
    if kind == "fact":
        if arg.denominator != 1 or not 0 <= arg <= 300:
            return None
        return Fraction(math.factorial(int(arg)))
    if kind == "binom":
        k = _exact(node[2])
        if k is None or arg.denominator != 1 or k.denominator != 1 or not 0 <= arg <= 1000:
            return None
        return Fraction(math.comb(int(arg), int(k))) if k >= 0 else Fraction(0)
    funcs = {"abs": abs, "floor": lambda v: Fraction(math.floor(v)), "ceil": lambda v: Fraction(math.ceil(v))}
    return funcs[node[1]](arg) if kind == "fn" and node[1] in funcs else None


def _exact_pow(base: Fraction | None, exp: Fraction | None) -> Fraction | None:
    if base is None or exp is None:
        return None
    if exp.denominator != 1:
        return _exact_root_pow(base, exp)
    e = int(exp)
    if base == 0 and e < 0:
        raise Undefined("0 to a negative power")
    if base in (0, 1):
        return base
    if base == -1:
        return Fraction(-1 if e % 2 else 1)
    bits = max(base.numerator.bit_length(), base.denominator.bit_length())
    if abs(e) > MAX_EXPONENT or bits * abs(e) > MAX_BITS:
        return None
    return base**e


def _exact_root_pow(base: Fraction, exp: Fraction) -> Fraction | None:
    """base ** (p/q) when it is rational: q-th roots of perfect powers only."""
    q = exp.denominator
    if q > 64 or base < 0:
        return None
    num, den = _int_root(base.numerator, q), _int_root(base.denominator, q)
    if num is None or den is None:
        return None
    return _exact_pow(Fraction(num, den), Fraction(exp.numerator))


def _int_root(n: int, q: int) -> int | None:
    if n.bit_length() > MAX_BITS:
        return None
    r = round(n ** (1.0 / q)) if n.bit_length() < 1000 else int(mpmath.root(n, q))
    for c in (r - 1, r, r + 1):
        if c >= 0 and c**q == n:
            return c
    return None


# --------------------------------------------------------------------------------------------- 50-digit approx
def approx(node: tuple, env: dict[str, object]) -> object:
    """A 50-digit mpmath value of the node with variables from env. Raises TooBig, Undefined, KeyError."""
    value = _approx(node, env)
    if _ctx.isfinite(value) and value != 0 and _ctx.log10(abs(value)) > MAX_LOG10:
        raise TooBig("magnitude")
    return value


def _approx(node: tuple, env: dict) -> object:
    kind = node[0]
    if kind == "num":
        return _ctx.mpf(node[1].numerator) / node[1].denominator
    if kind == "var":
        return env[node[1]]
    if kind == "const":
        return {"pi": _ctx.pi, "e": _ctx.e, "i": _ctx.j, "inf": _ctx.inf}[node[1]]
    if kind == "neg":
        return -approx(node[1], env)
    if kind == "add":
        return _ctx.fsum(approx(n, env) for n in node[1])
    if kind == "mul":
        return _ctx.fprod(approx(n, env) for n in node[1])
    if kind == "div":
        a, b = approx(node[1], env), approx(node[2], env)
        if b == 0:
            raise Undefined("division by zero")
        return a / b
    if kind == "pow":
        return _approx_pow(approx(node[1], env), approx(node[2], env))
    if kind == "root":
        return _approx_pow(approx(node[1], env), 1 / approx(node[2], env))
    return _approx_other(node, env)


def _approx_pow(base, exp):
    if abs(exp) > MAX_EXPONENT and abs(base) not in (0, 1):
        raise TooBig("exponent")
    if base == 0 and exp.real <= 0:
        raise Undefined("0 to a non-positive power")
    if abs(base) > 0 and exp.real * _ctx.log10(abs(base)) > MAX_LOG10:
        raise TooBig("power")
    if exp.imag == 0 and exp.real == int(exp.real) and base.imag == 0:
        return _ctx.power(base, int(exp.real))
    if base.imag == 0 and base.real < 0 and exp.imag == 0:
        p = _odd_root_numerator(exp.real)
        if p is not None:  # real odd roots: (-8)^(1/3) = -2, (-8)^(2/3) = 4
            return (-1) ** (p % 2) * _ctx.power(-base, exp)
    return _ctx.power(base, exp)


def _odd_root_numerator(e) -> int | None:
    """p when the exponent is p/q with q odd (so a real power of a negative base exists), else None."""
    frac = Fraction(_ctx.nstr(e, 30)).limit_denominator(64)
    if abs(e - _ctx.mpf(frac.numerator) / frac.denominator) < REL_TOL and frac.denominator % 2 == 1:
        return frac.numerator
    return None


def _approx_other(node: tuple, env: dict):
    kind = node[0]
    if kind == "pct":
        return approx(node[1], env) / 100
    if kind == "fact":
        n = approx(node[1], env)
        if abs(n) > MAX_FACTORIAL:
            raise TooBig("factorial")
        return _ctx.factorial(n)
    if kind == "binom":
        return _ctx.binomial(approx(node[1], env), approx(node[2], env))
    if kind == "log":
        x, base = approx(node[1], env), approx(node[2], env)
        if x == 0 or base in (0, 1):
            raise Undefined("log")
        return _ctx.log(x) / _ctx.log(base)
    if kind == "fn":
        return _function(node[1], approx(node[2], env))
    raise TooBig(f"cannot evaluate {kind}")  # "based" numerals are compared as digits, never as values


def _function(name: str, x):
    if abs(x) > 10**6 and name not in ("abs", "floor", "ceil", "ln"):
        raise TooBig("function argument")
    if name in ("ln",) and x == 0:
        raise Undefined("log(0)")
    table = {"sin": _ctx.sin, "cos": _ctx.cos, "tan": _ctx.tan, "cot": _ctx.cot, "sec": _ctx.sec, "csc": _ctx.csc,
             "arcsin": _ctx.asin, "arccos": _ctx.acos, "arctan": _ctx.atan, "sinh": _ctx.sinh,
             "cosh": _ctx.cosh, "tanh": _ctx.tanh, "exp": _ctx.exp, "ln": _ctx.log, "abs": abs,
             "floor": _ctx.floor, "ceil": _ctx.ceil}
    try:
        return table[name](x)
    except ZeroDivisionError as err:
        raise Undefined(name) from err


# --------------------------------------------------------------------------------------------- equality
def variables(node: tuple, out: set | None = None) -> set[str]:
    out = set() if out is None else out
    if node[0] == "var":
        out.add(node[1])
    elif node[0] in ("add", "mul"):
        for n in node[1]:
            variables(n, out)
    elif node[0] not in ("num", "const", "based"):
        for n in node[1:]:
            if isinstance(n, tuple):
                variables(n, out)
    return out


def sample_points(names: set[str], count: int = POINTS) -> list[dict[str, object]]:
    """Deterministic pseudo-random values in [0.5, 2.5] per variable name (the same on both sides)."""
    return [{name: _point_value(name, k) for name in names} for k in range(count)]


@lru_cache(maxsize=4096)
def _point_value(name: str, k: int):
    rng = Random(zlib.crc32(name.encode()) * 31 + k)
    return _ctx.mpf(rng.randrange(10**12)) / 10**12 * 2 + _ctx.mpf("0.5")


def make_complex(re_part: str, im_part: str):
    """A value of this module's 50-digit context from decimal strings."""
    return _ctx.mpc(_ctx.mpf(re_part), _ctx.mpf(im_part))


def close(a, b) -> bool:
    """Equal to REL_TOL (infinities equal only themselves)."""
    if not (_ctx.isfinite(a) and _ctx.isfinite(b)):
        return bool(a == b) and not (_ctx.isnan(a) or _ctx.isnan(b))
    scale = max(_ctx.mpf(1), abs(a), abs(b))
    return abs(a - b) <= REL_TOL * scale


def _value_pairs(a: tuple, b: tuple, count: int) -> list[tuple] | None:
    """(a, b) values at each sample point where both are defined; None when a value is beyond the caps."""
    names = variables(a) | variables(b)
    pairs = []
    for env in sample_points(names, count if names else 1):
        try:
            pairs.append((approx(a, env), approx(b, env)))
        except Undefined:
            continue
        except (TooBig, OverflowError, ValueError, KeyError, ZeroDivisionError):
            return None
    return pairs


def values_equal(a: tuple, b: tuple) -> bool | None:
    """Are two expression trees equal? True/False, or None when it cannot be decided within the caps."""
    ea, eb = exact(a), exact(b)
    if ea is not None and eb is not None:
        return ea == eb
    pairs = _value_pairs(a, b, POINTS)
    if not pairs:
        return None
    return all(close(va, vb) for va, vb in pairs)


def proportional(a: tuple, b: tuple) -> bool | None:
    """Is a = c * b for a constant c != 0 (as functions of their variables)? For comparing equations."""
    pairs = _value_pairs(a, b, POINTS + 1)
    if pairs is None:
        return None
    ratio = None
    for va, vb in pairs:
        if close(va, 0) or close(vb, 0):
            if not (close(va, 0) and close(vb, 0)):
                return False
            continue
        if ratio is not None and not close(va / vb, ratio):
            return False
        ratio = va / vb
    return None if ratio is None else True

r"""Build benchmarks/data/rewards_labelled.jsonl: (gold, pred, label) cases for answer verifiers.

    python benchmarks/data/make_rewards_labelled.py      # deterministic (seeded); rewrites the .jsonl

Sources (see README.md here): MATH-500 and GSM8K test gold answers (r1zero/data/, copies of the project's data).
- MATH-500 golds that are plain integers, decimals or fractions: one equal and one unequal rewrite each, drawn
  (seeded) from the rule lists below; each rule's label follows from arithmetic on the gold's digits, computed here
  with Python's Fraction, never with the verifiers under test.
- Every other MATH-500 gold: two equal and two unequal rewrites written by hand (labelled_hand.MATH500).
- 150 GSM8K test golds (seeded sample): one equal and one unequal rewrite each, by the integer rules.
- labelled_hand.EXTRA: hand-written probes per category.
"""
from __future__ import annotations

import json
import random
import re
import sys
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from labelled_hand import EXTRA, MATH500  # noqa: E402

SEED = 20240601
UNITS = ["cm", "meters", "dollars", "units", "ways", "square units"]


def _data(name: str) -> list[dict]:
    for base in (ROOT / "r1zero" / "data", ROOT.parent / "shared" / "data"):
        path = base / name
        if path.exists():
            return [json.loads(line) for line in path.open(encoding="utf-8")]
    raise FileNotFoundError(name)


def _dec(x: Fraction) -> str:
    """A terminating fraction as a plain decimal string."""
    sign, x = ("-" if x < 0 else ""), abs(x)
    whole, rest = divmod(x, 1)
    digits = ""
    while rest and len(digits) < 30:
        rest *= 10
        d, rest = divmod(rest, 1)
        digits += str(d)
    return f"{sign}{whole}" + (f".{digits}" if digits else "")


def _terminates(x: Fraction) -> bool:
    d = x.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def _frac(x: Fraction) -> str:
    sign = "-" if x < 0 else ""
    return f"{sign}\\frac{{{abs(x.numerator)}}}{{{x.denominator}}}"


def int_rules(n: int, rng: random.Random) -> tuple[dict, dict]:
    eq = {"decimal_zero": f"{n}.0", "unit": f"{n} \\text{{ {rng.choice(UNITS)}}}", "assign": f"x = {n}",
          "fraction": f"\\frac{{{2 * n}}}{{2}}", "dollar": f"\\${n}" if n >= 0 else f"-\\${-n}"}
    if abs(n) >= 1000:
        eq["thousands"] = f"{n:,}"
    if n != 0 and n % 10 == 0:
        k = len(str(abs(n))) - len(str(abs(n)).rstrip("0"))
        eq["scientific"] = f"{_dec(Fraction(n, 10**k))} \\times 10^{{{k}}}"
    neq = {"plus_one": str(n + 1), "minus_one": str(n - 1), "times_ten": str(10 * n), "half_more": f"{n}.5"}
    if n != 0:
        neq["negate"] = str(-n)
    rev = int(str(abs(n))[::-1]) * (1 if n >= 0 else -1)
    if rev != n and not str(abs(n)).endswith("0"):
        neq["digits_reversed"] = str(rev)
    return eq, neq


def decimal_rules(s: str) -> tuple[dict, dict]:
    x = Fraction(s)
    places = len(s.split(".")[1])
    eq = {"fraction": _frac(x), "trailing_zero": s + "0", "percent": f"{_dec(x * 100)}\\%"}
    eq["leading_zero"] = ("0" + s) if s.startswith(".") else (s[1:] if s.startswith("0.") else s + "00")
    neq = {"times_ten": _dec(x * 10), "last_digit_plus_one": _dec(x + Fraction(1, 10**places))}
    if x != 0:
        neq["negate"] = _dec(-x)
    return eq, neq


_FRAC_RE = re.compile(r"(-?)\\[dt]?frac\s*(?:\{(\d+)\}|(\d))\s*(?:\{(\d+)\}|(\d+))")


def fraction_rules(s: str) -> tuple[dict, dict] | None:
    m = _FRAC_RE.fullmatch(s)
    if not m:
        return None
    a, b = int(m.group(2) or m.group(3)), int(m.group(4) or m.group(5))
    sign = -1 if m.group(1) else 1
    x = Fraction(sign * a, b)
    eq = {"slash": f"{m.group(1)}{a}/{b}", "unreduced": f"{m.group(1)}\\frac{{{3 * a}}}{{{3 * b}}}",
          "dfrac": f"{m.group(1)}\\dfrac{{{a}}}{{{b}}}"}
    if _terminates(x):
        eq["decimal"] = _dec(x)
    if sign < 0:
        eq["negative_numerator"] = f"\\frac{{-{a}}}{{{b}}}"
    if a > b and a % b and sign > 0:
        eq["mixed"] = f"{a // b}\\frac{{{a % b}}}{{{b}}}"
    neq = {"num_plus_one": _frac(Fraction(sign * (a + 1), b)), "den_plus_one": _frac(Fraction(sign * a, b + 1)),
           "negate": _frac(-x)}
    if a != b:
        neq["reciprocal"] = _frac(Fraction(sign * b, a))
    if not _terminates(x):
        neq["rounded_3"] = f"{round(float(x), 3):.3f}"
    return eq, neq


def simple_rules(gold: str, rng: random.Random) -> tuple[str, tuple[dict, dict]] | None:
    if re.fullmatch(r"-?\d+", gold):
        return "integer", int_rules(int(gold), rng)
    if re.fullmatch(r"-?\d*\.\d+", gold):
        return "decimal", decimal_rules(gold)
    rules = fraction_rules(gold)
    return ("fraction", rules) if rules else None


def category(gold: str) -> str:
    checks = [("matrix", r"matrix"), ("interval", r"\\cup|\\infty|^[(\[].*[)\]]$(?<=\])|^\[|\\in "),
              ("tuple", r"^\\left\(|^\("), ("list", r","), ("equation", r"="), ("base", r"_"),
              ("degrees", r"circ|degree"), ("choice", r"\([A-E]\)"), ("word", r"^\\text\{[a-zA-Z]+\}$"),
              ("complex", r"\d?i$"), ("radical", r"sqrt"), ("pi", r"\\pi"), ("expression", r"[a-zA-Z]")]
    for name, pattern in checks:
        if re.search(pattern, gold):
            return name
    return "number"


def build() -> list[dict]:
    rng = random.Random(SEED)
    rows: list[dict] = []

    def add(gold, pred, label, cat, origin, rewrite):
        rows.append({"gold": gold, "pred": pred, "label": label, "category": cat, "origin": origin,
                     "rewrite": rewrite})

    for row in _data("math/test500.jsonl"):
        gold, origin = row["answer"], f"math500:{row['id']}"
        if row["id"] in MATH500:
            eqs, neqs = MATH500[row["id"]]
            for pred in eqs:
                add(gold, pred, True, category(gold), origin, "hand")
            for pred in neqs:
                add(gold, pred, False, category(gold), origin, "hand")
            continue
        simple = simple_rules(gold, rng)
        if simple is None:
            raise ValueError(f"no rewrite rule for MATH-500 gold {gold!r} ({row['id']})")
        cat, (eq, neq) = simple
        for label, table in ((True, eq), (False, neq)):
            name = rng.choice(sorted(table))
            add(gold, table[name], label, cat, origin, name)
    for row in rng.sample(_data("gsm8k/test.jsonl"), 150):
        eq, neq = int_rules(int(row["answer"]), rng)
        for label, table in ((True, eq), (False, neq)):
            name = rng.choice(sorted(table))
            add(row["answer"], table[name], label, "integer", f"gsm8k:{row['id']}", name)
    for gold, pred, label, cat in EXTRA:
        add(gold, pred, label, cat, "hand", "hand")
    for k, row in enumerate(rows):
        row["id"] = f"case-{k:05d}"
    return rows


def main() -> None:
    rows = build()
    out = HERE / "rewards_labelled.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps({"id": row.pop("id"), **row}, ensure_ascii=False) + "\n")
    n_true = sum(r["label"] for r in rows)
    print(f"wrote {len(rows)} cases ({n_true} equal, {len(rows) - n_true} not equal) to {out}")


if __name__ == "__main__":
    main()

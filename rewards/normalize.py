"""Text normalisation of final answers, before any parsing.

`clean(s)` turns the many spellings of one LaTeX answer into one: math delimiters, `\\left`/`\\right`, spacing
commands, `\\dfrac`/`\\tfrac`, `\\text{...}` wrappers, unicode symbols, degree signs, currency signs, thousands
separators and trailing unit words go away; the mathematical content stays. It is pure string work (regexes with
no nested quantifiers, so linear time) and never evaluates anything.
"""
from __future__ import annotations

import re
from fractions import Fraction

from rewards.braces import find_group, unwrap_command

# Unicode spellings that models emit, mapped to LaTeX.
_UNICODE = {
    "\u2212": "-", "\u2013": "-", "\u00d7": r"\times ", "\u00f7": r"\div ", "\u00b7": r"\cdot ", "\u22c5": r"\cdot ",
    "\u221a": r"\sqrt", "\u03c0": r"\pi ", "\u221e": r"\infty ", "\u2264": r"\le ", "\u2265": r"\ge ",
    "\u2260": r"\ne ", "\u00b0": "", "\u222a": r"\cup ", "\u00b1": r"\pm ", "\u2213": r"\mp ", "\u27e8": "(",
    "\u27e9": ")", "\u2208": r"\in ", "\u2205": r"\emptyset ", "\u00a0": " ", "\uff0c": ",", "\uff1a": ":",
}
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))

# Commands replaced by other text (order matters: longer names first where they share a prefix).
_REPLACE = [
    (re.compile(r"\\[dtc]frac(?![a-zA-Z])"), r"\\frac"),
    (re.compile(r"\\[dt]binom(?![a-zA-Z])"), r"\\binom"),
    (re.compile(r"\\(?:left|right)\s*\."), ""),  # invisible delimiters
    (re.compile(r"\\(?:left|right|[bB]igg?[lr]?|middle)(?![a-zA-Z])"), ""),
    (re.compile(r"\\(?:displaystyle|textstyle|limits|nolimits|quad|qquad|hspace\*?\{[^{}]*\})(?![a-zA-Z])"), " "),
    (re.compile(r",\s*\\!\s*(?=\d{3})"), ","),  # 11,\! 111 (thousands)
    (re.compile(r"(?<!\\)\\!"), ""),
    (re.compile(r"(?<!\\)\\[,;: ]|~"), " "),
    (re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|\^\s*\{\s*\\text\{\s*o\s*\}\s*\}"), ""),
    (re.compile(r"\\%"), "%"),
    (re.compile(r"\\\$|\$"), ""),
    (re.compile(r"\{,\}"), ","),
    (re.compile(r"\\lt(?![a-zA-Z])"), "<"),
    (re.compile(r"\\gt(?![a-zA-Z])"), ">"),
    (re.compile(r"\\(?:leq|leqslant|le)(?![a-zA-Z])"), r"\\le "),
    (re.compile(r"\\(?:geq|geqslant|ge)(?![a-zA-Z])"), r"\\ge "),
    (re.compile(r"\\(?:neq|ne)(?![a-zA-Z])"), r"\\ne "),
    (re.compile(r"\\langle(?![a-zA-Z])"), "("),
    (re.compile(r"\\rangle(?![a-zA-Z])"), ")"),
    (re.compile(r"\\(?:varnothing|emptyset)(?![a-zA-Z])"), r"\\emptyset "),
    (re.compile(r"\\(?:mathbb|mathcal)\s*\{R\}|\\R(?![a-zA-Z])"), r"(-\\infty,\\infty)"),
    (re.compile(r"\\(?:vee|lor)(?![a-zA-Z])"), " or "),
    (re.compile(r"\\(?:wedge|land)(?![a-zA-Z])"), " and "),
]
_TEXT_COMMANDS = ("text", "textbf", "textit", "textrm", "textnormal", "mathrm", "mathbf", "mathit", "mathsf",
                  "mbox", "operatorname", "boldsymbol", "bm", "hbox", "textsf", "mathtt", "texttt")
_WRAPPERS = ("boxed", "fbox", "framebox")

_THOUSANDS_RE = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+)(?![\d,])")
_REPEATING_RE = re.compile(r"(\d*)\.(\d*)\\overline\s*\{(\d{1,12})\}")
_TEXT_UNIT_RE = re.compile(r"\\(?:text|mbox|mathrm|textrm)\s*\{\s*[a-zA-Z][a-zA-Z .]*\}(?:\s*\^\s*\{?[23]\}?)?\s*$")
# Trailing unit words: "5 cm", "864 inches^2", "18 dollars", "\frac{270}{7} degrees".
_UNIT_TAIL_RE = re.compile(r"(?<![\\a-zA-Z])((?:\s*[a-zA-Z]{2,}\.?(?:\s*\^\s*\{?[23]\}?)?)+)\s*$")
# Words that are mathematics, not units: never stripped.
KEEP_WORDS = frozenset({
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "log", "ln",
    "exp", "sqrt", "pi", "or", "and", "i", "e", "infty", "inf", "mod",
})
_SPACE_RE = re.compile(r"\s+")


def clean(s: str) -> str:
    """Canonical text of an answer (see the module doc). Idempotent."""
    s = _UNICODE_RE.sub(lambda m: _UNICODE[m.group(0)], s.strip())
    s = _strip_delimiters(s)
    s = unwrap_boxed(s)
    for pattern, repl in _REPLACE:
        s = pattern.sub(repl, s)
    s = _strip_text_unit(s)
    for name in _TEXT_COMMANDS:
        s = unwrap_command(s, name, pad=True)
    s = _THOUSANDS_RE.sub(_drop_thousands, s)
    s = _REPEATING_RE.sub(_repeating_to_fraction, s)
    s = _SPACE_RE.sub(" ", s).strip()
    s = _strip_trailing_punct(s)
    s = strip_units(s)
    return _strip_trailing_punct(s)


def squash(s: str) -> str:
    """`clean` without any whitespace: the form used for exact string comparison."""
    return _SPACE_RE.sub("", clean(s))


def _drop_thousands(m: re.Match) -> str:
    """`1,000` -> `1000`, except inside a tuple or list, where `(12,102)` is a pair."""
    before, after = m.string[: m.start()].rstrip()[-1:], m.string[m.end():].lstrip()[:1]
    if before in ("(", "[", ",", "{") or after in (")", "]", ",", "}"):
        return m.group(0)
    return m.group(1).replace(",", "")


def _repeating_to_fraction(m: re.Match) -> str:
    """`0.1\\overline{6}` -> `(\\frac{1}{6})`: a repeating decimal is an exact rational."""
    whole, fixed, period = m.group(1) or "0", m.group(2), m.group(3)
    value = (Fraction(int(whole)) + Fraction(int(fixed or "0"), 10 ** len(fixed))
             + Fraction(int(period), (10 ** len(period) - 1) * 10 ** len(fixed)))
    return f"(\\frac{{{value.numerator}}}{{{value.denominator}}})"


def _strip_text_unit(s: str) -> str:
    """`\\frac{7}{3}\\text{ m}^2` -> `\\frac{7}{3}`: a trailing \\text{letters} after a number is a unit."""
    m = _TEXT_UNIT_RE.search(s)
    if m and re.search(r"\d", s[: m.start()]):
        return s[: m.start()].rstrip()
    return s


def strip_units(s: str) -> str:
    """Drop trailing unit words ("5 cm" -> "5") when what is left still holds a digit."""
    m = _UNIT_TAIL_RE.search(s)
    if not m:
        return s
    words = re.findall(r"[a-zA-Z]+", m.group(1))
    head = s[: m.start()].strip()
    if any(w.lower() in KEEP_WORDS for w in words) or not re.search(r"\d", head):
        return s
    return head


def _strip_delimiters(s: str) -> str:
    for left, right in ((r"\[", r"\]"), (r"\(", r"\)")):
        if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
            s = s[len(left): -len(right)].strip()
    return s


def unwrap_boxed(s: str) -> str:
    """`\\boxed{\\boxed{x}}` -> `x`: remove box commands that wrap the whole string."""
    for name in _WRAPPERS:
        s = _unwrap_whole(s.strip(), name)
    return s


def _unwrap_whole(s: str, name: str) -> str:
    """`\\boxed{x}` -> `x` when the box is the whole string (repeatedly, for nested boxes)."""
    prefix = "\\" + name
    for _ in range(8):
        if not s.startswith(prefix):
            return s
        span = find_group(s, len(prefix))
        if span is None or s[span[1]:].strip():
            return s
        s = s[span[0] + 1: span[1] - 1].strip()
    return s


def _strip_trailing_punct(s: str) -> str:
    s = s.rstrip()
    while s and (s[-1] in ".;" or s.endswith("\\\\")):
        s = s[:-2].rstrip() if s.endswith("\\\\") else s[:-1].rstrip()
    return s

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
    "\u00b2": "^2", "\u00b3": "^3", "\u2248": r"\approx ", "\u20ac": "", "\u00a3": "", "\u00a5": "",
    "\u2009": " ", "\u202f": " ", "\u200b": "",
}
# Characters that print as nothing: controls, lone surrogates, zero-width and direction marks, BOM.
_INVISIBLE_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\u200b-\u200f\u202a-\u202e\u2060\ufeff]")
_FULLWIDTH = {c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}  # `５` -> `5`
# Digits of other scripts (Arabic-Indic, Devanagari, Bengali, Thai, ...) as ASCII digits: `১৮` -> `18`
_FULLWIDTH.update({zero + k: str(k) for zero in (0x660, 0x6F0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66,
                                                  0xCE6, 0xD66, 0xE50, 0xED0, 0x1040) for k in range(10)})
_EURO_NUMBER_RE = re.compile(r"^(-?\d{1,3}(?:\.\d{3})+)(,\d+)?$")  # `1.000.000`, `1.234,56`
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))

# Commands replaced by other text (order matters: longer names first where they share a prefix).
_REPLACE = [
    # `\\frac` written with a doubled backslash (an escaping slip): the command, not a line break
    (re.compile(r"\\\\(?=(?:[dtc]?frac|sqrt|left|right|boxed|text|le|ge|leq|geq|neq|ne|pi|cdot|times|infty|in"
                r"|cup|mathrm|mathbf|circ|pm|approx|lt|gt)(?![a-zA-Z]))"), r"\\"),
    (re.compile(r">="), r" \\ge "), (re.compile(r"<="), r" \\le "),
    (re.compile(r"(?<![\d)}!])!="), r" \\ne "),  # `x != 3`, but `5!=120` is a factorial
    (re.compile(r"(?<=[)\]}\d])\s*or\s*(?=[(\[{\d-])"), " or "),  # `(11,7)or(7,11)`
    (re.compile(r"(?<=[\w)}])\*\*(?=[\w({\-])"), "^"),  # `2**(1/4)`: Python's power between two operands
    (re.compile(r"\*\*"), ""),  # markdown bold: `**5**`
    (re.compile(r"R\$"), ""),  # Brazilian real
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
    (re.compile(r"\s*\{\s*,\s*\}\s*"), ","),
    (re.compile(r"\\lt(?![a-zA-Z])"), "<"),
    (re.compile(r"\\gt(?![a-zA-Z])"), ">"),
    (re.compile(r"\\(?:leq|leqslant|le)(?![a-zA-Z])"), r"\\le "),
    (re.compile(r"\\(?:geq|geqslant|ge)(?![a-zA-Z])"), r"\\ge "),
    (re.compile(r"\\(?:neq|ne)(?![a-zA-Z])"), r"\\ne "),
    (re.compile(r"\\langle(?![a-zA-Z])"), "("),
    (re.compile(r"\\rangle(?![a-zA-Z])"), ")"),
    (re.compile(r"\\(?:varnothing|emptyset)(?![a-zA-Z])"), r"\\emptyset "),
    (re.compile(r"\\(?:mathbb|mathcal)\s*\{R\}|\\R(?![a-zA-Z])"), r"(-\\infty,\\infty)"),
    (re.compile(r"(?<![a-zA-Z\\])(?:infinity|inf)(?![a-zA-Z])"), r"\\infty "),  # `(-inf, 3)`, `[2, infinity)`
    (re.compile(r"\\(?:vee|lor)(?![a-zA-Z])"), " or "),
    (re.compile(r"\\(?:wedge|land)(?![a-zA-Z])"), " and "),
]
_TEXT_COMMANDS = ("text", "textbf", "textit", "textrm", "textnormal", "mathrm", "mathbf", "mathit", "mathsf",
                  "mbox", "operatorname", "boldsymbol", "bm", "hbox", "textsf", "mathtt", "texttt")
_WRAPPERS = ("boxed", "fbox", "framebox")

_THOUSANDS_RE = re.compile(r"(?<![\d.,])([1-9]\d{0,2}(?:,\d{3})+)(?![\d,])")
_REPEATING_RE = re.compile(r"(\d*)\.(\d*)\\overline\s*\{(\d{1,12})\}")
_TEXT_UNIT_RE = re.compile(r"\\(?:text|mbox|mathrm|textrm)\s*\{\s*[a-zA-Z][a-zA-Z .]*\}(?:\s*\^\s*\{?[23]\}?)?\s*$")
# Trailing unit words: "5 cm", "864 inches^2", "18 dollars", "\frac{270}{7} degrees".
_SHORT_UNIT_RE = re.compile(r"(?<=\d)\s*(?:(?:m|cm|mm|km|ft|in)\s*\^\s*\{?[23]\}?"  # `1,000.99m^2`
                            r"|(?:k?m|mi|ft|cm)\s*/\s*(?:h|hr|s|min))$")  # `7 km/h`
_UNIT_TAIL_RE = re.compile(r"(?<![\\a-zA-Z])((?:\s*[a-zA-Z]{2,}\.?(?:\s*\^\s*\{?[23]\}?)?)+)\s*$")
# Units that may follow a number with no space (`5cm`); other letters right after a number are a product (`2ab`).
ATTACHED_UNITS = frozenset({"cm", "mm", "km", "kg", "mg", "ml", "ft", "in", "mi", "lb", "lbs", "oz", "hr", "hrs",
                            "min", "sec", "mph", "kmh", "st", "nd", "rd", "th", "cents", "dollars", "pm", "am"})
# Words that are mathematics, not units: never stripped.
KEEP_WORDS = frozenset({
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "log", "ln",
    "exp", "sqrt", "pi", "or", "and", "i", "e", "infty", "inf", "mod",
})
_SPACE_RE = re.compile(r"\s+")
_MAGNITUDE_RE = re.compile(r"(\d(?:[\d,]*\d)?(?:\.\d+)?)\s*(?:\\text\s*\{\s*)?(thousand|million|billion|trillion)s?"
                           r"\s*\}?")
_PERCENT_WORD_RE = re.compile(r"(?<=[\d}])\s*(?:\\(?:text|mbox|mathrm)\s*\{\s*)?(?:percent(?:age)?|pct)s?\b\s*\}?")
_REALS_RE = re.compile(r"(?i)^\s*(?:\\text\{\s*)?(?:all|any|every)\s+real\s+(?:numbers?|values?|x)\s*\}?\s*$")
_MAGNITUDE = {"thousand": 3, "million": 6, "billion": 9, "trillion": 12}
_SPACE_THOUSANDS_RE = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d,])")
_MIXED_RE = re.compile(r"^(-?)(\d+)\s+(\d+)\s*/\s*(\d+)$")
_DECIMAL_COMMA_RE = re.compile(r"^-?(?:\d+,\d\d|0,\d+)$")


def clean(s: str) -> str:
    """Canonical text of an answer (see the module doc). Idempotent."""
    s = _INVISIBLE_RE.sub("", s)
    s = _UNICODE_RE.sub(lambda m: _UNICODE[m.group(0)], s.strip()).translate(_FULLWIDTH)
    s = _strip_delimiters(s)
    s = unwrap_boxed(s)
    s = _MAGNITUDE_RE.sub(lambda m: f"{m.group(1)} \\times 10^{{{_MAGNITUDE[m.group(2)]}}}", s)
    s = _PERCENT_WORD_RE.sub("%", s)
    s = _REALS_RE.sub(r"(-\\infty,\\infty)", s)
    for pattern, repl in _REPLACE:
        s = pattern.sub(repl, s)
    s = _strip_text_unit(s)
    for name in _TEXT_COMMANDS:
        s = unwrap_command(s, name, pad=True)
    s = _SPACE_THOUSANDS_RE.sub(lambda m: m.group(0).replace(" ", ""), s)
    s = _THOUSANDS_RE.sub(_drop_thousands, s)
    s = _REPEATING_RE.sub(_repeating_to_fraction, s)
    s = _SPACE_RE.sub(" ", s).strip()
    s = _strip_trailing_punct(s)
    s = strip_units(s)
    s = _strip_trailing_punct(_strip_outer_braces(s))
    if _DECIMAL_COMMA_RE.match(s):  # `2,74`, `0,5`: a decimal comma (a thousands group has three digits)
        s = s.replace(",", ".")
    euro = _EURO_NUMBER_RE.match(s)
    if euro and (euro.group(2) or euro.group(1).count(".") > 1):  # `1.234,56`; `1.000.000` (one group stays 1.000)
        s = euro.group(1).replace(".", "") + (euro.group(2) or "").replace(",", ".")
    return _MIXED_RE.sub(r"\1(\2+\\frac{\3}{\4})", s)  # `1 3/4`


def _strip_outer_braces(s: str) -> str:
    """`{{5}}` -> `5`: braces around the whole answer group nothing."""
    for _ in range(256):
        if not (s.startswith("{") and s.endswith("}")) or find_group(s, 0) != (0, len(s)):
            break
        s = s[1:-1].strip()
    return s


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
    s = _SHORT_UNIT_RE.sub("", s)
    m = _UNIT_TAIL_RE.search(s)
    if not m:
        return s
    words = re.findall(r"[a-zA-Z]+", m.group(1))
    head = s[: m.start()].strip()
    if any(w.lower() in KEEP_WORDS for w in words) or not re.search(r"\d", head):
        return s
    if not m.group(1)[:1].isspace() and words[0].lower() not in ATTACHED_UNITS:
        return s  # `2ab` is a product, not 2 of some unit; `5cm` is a unit
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
    while s and (s[-1] in ".;" or s.endswith("\\")):
        s = s[:-2].rstrip() if s.endswith("\\\\") else s[:-1].rstrip()
    return s

"""Locating things in raw model text: the model's own turn, math spans, bare numbers, prose.

All scans are linear in the text length (str.find loops and regexes without nested quantifiers).
- `own_turn(text)`: the part of a completion the model wrote for this question: a leading prompt (`<|User|>...
  <|Assistant|>`) is dropped, and the text is cut at the first end-of-turn token (`<|im_end|>`, `<|eot_id|>`,
  `<|end_of_sentence|>`, a new `<|im_start|>` ...) or at a few-shot continuation ("\\n\\nQuestion:", "\\n\\nProblem:").
- `math_spans(text)`: `$..$`, `$$..$$`, `\\(..\\)`, `\\[..\\]` and `\\begin{align*}`-like display blocks, in order,
  as (start, end, content); an escaped `\\$` is a dollar sign, not a delimiter.
- `last_number(text)`: the last bare number (`-3`, `1,000`, `2.5`, `2,74`, `2/3`).
- `words(text)`: the prose words outside math, commands and units (how a final answer is told from a sentence).
"""
from __future__ import annotations

import re

_USER_START = ("<|User|>", "<\uff5cUser\uff5c>", "<|im_start|>user", "<|start_header_id|>user")
_ASSISTANT_START = ("<|Assistant|>", "<\uff5cAssistant\uff5c>", "<|im_start|>assistant",
                    "<|start_header_id|>assistant<|end_header_id|>")
_TURN_END_RE = re.compile(r"<\|im_end\|>|<\|im_start\|>|<\|eot_id\|>|<\|end_of_sentence\|>|<\|endoftext\|>"
                          r"|<\|end\|>|<\|User\|>|<\uff5c(?:end\u2581of\u2581sentence|User)\uff5c>|</s>")
_CONTINUATION_RE = re.compile(r"\n\s*\n\s*(?:Question|Problem|Q)\s*:")
THINK_END = ("</think>", "<|end_of_thought|>")
_DISPLAY_ENVS = ("align", "align*", "aligned", "equation", "equation*", "eqnarray", "eqnarray*", "gather",
                 "gather*")
_NUMBER_RE = re.compile(r"(?<![\w.,])-?\d+(?:[.,]\d+)*(?:\s*/\s*\d+(?![.,]\d))?(?!\d)")
_LAST_DIGIT_RE = re.compile(r"\d")
_WORD_RE = re.compile(r"(?<![\\a-zA-Z])[A-Za-z\u00c0-\u024f]{3,}")
_COMMAND_RE = re.compile(r"\\[a-zA-Z]+")
CONNECTIVES = frozenset({"and", "or", "the", "for", "both", "are", "with", "then"})
UNIT_WORDS = frozenset({
    "cm", "mm", "km", "meter", "meters", "metre", "metres", "inch", "inches", "feet", "foot", "ft", "yard", "yards",
    "mile", "miles", "gram", "grams", "kg", "pound", "pounds", "lb", "lbs", "ounce", "ounces", "liter", "liters",
    "litre", "litres", "ml", "gallon", "gallons", "second", "seconds", "minute", "minutes", "min", "hour", "hours",
    "day", "days", "week", "weeks", "month", "months", "year", "years", "dollar", "dollars", "cent", "cents", "euro",
    "euros", "yuan", "degree", "degrees", "percent", "percentage", "pct", "unit", "units", "square", "squared",
    "cubic", "per", "mph", "sq", "ways", "people", "students", "apples", "eggs", "points", "times", "mod",
    "thousand", "million", "millions", "billion", "billions", "trillion",
    "sqrt", "sin", "cos", "tan", "log", "exp", "frac", "pi", "infty", "infinity", "inf",  # plain-text math
})
_CODE_RE = re.compile(r"__\w+__|\blambda\b[\w\s,]*:|\b(?:open|getattr|setattr|globals|exec|eval|compile)\s*\(")
_ASY_RE = re.compile(r"\[asy\].*?\[/asy\]", re.S)


def own_turn(text: str) -> str:
    """The model's own turn (see the module doc)."""
    head = text.lstrip()
    if head.startswith(_USER_START):
        ends = [(text.find(m), m) for m in _ASSISTANT_START if m in text]
        if ends:
            pos, marker = min(ends)
            text = text[pos + len(marker):]
    if "[asy]" in text:
        text = _ASY_RE.sub(" ", text)  # Asymptote drawings in MATH solutions hold no answer
    for pattern in (_TURN_END_RE, _CONTINUATION_RE):
        for m in pattern.finditer(text):
            if text[: m.start()].strip():
                text = text[: m.start()]
                break
    return text


def after_think(text: str) -> tuple[str, bool]:
    """The text after the last end-of-reasoning marker, and whether there was one."""
    best = max(((text.rfind(m), m) for m in THINK_END), key=lambda t: t[0])
    if best[0] < 0:
        return text, False
    return text[best[0] + len(best[1]):], True


def _find_unescaped(text: str, token: str, start: int) -> int:
    while True:
        i = text.find(token, start)
        if i <= 0 or text[i - 1] != "\\" or token.startswith("\\"):
            return i
        start = i + 1


def _currency(content: str) -> bool:
    """`$5 and $10`: an inline span that is really text between two dollar signs."""
    return "\n" in content or (content[:1].isdigit() and content[-1:].isspace()) or len(_WORD_RE.findall(
        re.sub(r"\\[a-zA-Z]+\s*\{[^{}]*\}", " ", content))) >= 3


def math_spans(text: str, limit: int = 4096) -> list[tuple[int, int, str]]:
    """(start, end, content) of the math spans in order (see the module doc); unclosed ones are ignored."""
    spans: list[tuple[int, int, str]] = []
    pos, n = 0, len(text)
    nxt = {tok: -2 for tok in ("$", "\\(", "\\[", "\\begin{")}  # next occurrence at or after pos; -1: none left
    while pos < n and len(spans) < limit:
        for tok, i in nxt.items():
            if i == -2 or 0 <= i < pos:
                nxt[tok] = _find_unescaped(text, tok, pos)
        found = [(i, tok) for tok, i in nxt.items() if i >= 0]
        if not found:
            break
        i, tok = min(found)
        if tok == "$":
            close_tok = "$$" if text.startswith("$$", i) else "$"
            open_len = len(close_tok)
        elif tok == "\\begin{":
            j = text.find("}", i)
            env = text[i + 7: j] if j > 0 else ""
            if env not in _DISPLAY_ENVS:
                pos = i + 7
                continue
            close_tok, open_len = f"\\end{{{env}}}", j + 1 - i
        else:
            close_tok, open_len = ("\\)" if tok == "\\(" else "\\]"), 2
        j = _find_unescaped(text, close_tok, i + open_len)
        if j < 0:
            pos = i + open_len
            continue
        content = text[i + open_len: j]
        if close_tok == "$" and (_currency(content) or text[j + 1: j + 2].isdigit()):  # `$400/$8`: money
            pos = i + 1  # the closing `$` may open the next span
            continue
        spans.append((i, j + len(close_tok), content))
        pos = j + len(close_tok)
    return spans


def last_number(text: str, window: int = 200) -> tuple[int, str] | None:
    """(start, text) of the last bare number, or None. Looks only near the last digit (linear)."""
    m = _LAST_DIGIT_RE.search(text[::-1])
    if m is None:
        return None
    end = len(text) - m.start()
    found = None
    for found in _NUMBER_RE.finditer(text, max(0, end - window), min(len(text), end + 8)):  # noqa: B007
        pass
    return None if found is None else (found.start(), found.group(0))


def looks_like_code(text: str) -> bool:
    """Program text (`__import__('os')...`, `lambda: ...`, `f()(...)`) is never a final answer."""
    return bool(_CODE_RE.search(text[-4000:]))


def words(text: str) -> list[str]:
    """Prose words of 3+ letters outside math spans and LaTeX commands, minus connectives and unit words."""
    if len(text) > 4000:
        return ["long"] * 10
    for start, end, _ in reversed(math_spans(text)):
        text = text[:start] + " " + text[end:]
    text = re.sub(r"\\(?:text|textbf|mathrm|mbox|textnormal)\s*\{[^{}]*\}|\\(?:begin|end)\s*\{[^{}]*\}(?:\{[^{}]*\})?",
                  " ", text)
    text = _COMMAND_RE.sub(" ", text)
    return [w for w in _WORD_RE.findall(text) if w.lower() not in CONNECTIVES and w.lower() not in UNIT_WORDS]

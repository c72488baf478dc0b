"""Brace matching for LaTeX text, in linear time.

`\\{` and `\\}` are literal braces in LaTeX (set notation) and do not open or close a group.
"""
from __future__ import annotations

import re


def _is_escaped(s: str, i: int) -> bool:
    """True when s[i] is preceded by an odd number of backslashes."""
    n = 0
    while i - n - 1 >= 0 and s[i - n - 1] == "\\":
        n += 1
    return n % 2 == 1


_BRACE_RE = re.compile(r"\\*[{}]")


def match_braces(s: str) -> dict[int, int]:
    """Map the index of every matched `{` to the index of its `}` (one regex pass over the braces, a stack)."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for m in _BRACE_RE.finditer(s):
        if (m.end() - m.start() - 1) % 2:
            continue  # \\{ or \\}: a literal brace
        i = m.end() - 1
        if s[i] == "{":
            stack.append(i)
        elif stack:
            pairs[stack.pop()] = i
    return pairs


def find_group(s: str, i: int) -> tuple[int, int] | None:
    """The `{...}` group starting at s[i] (after spaces): (index of `{`, index after `}`), or None if unclosed."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s) or s[i] != "{":
        return None
    depth = 0
    for j in range(i, len(s)):
        ch = s[j]
        if ch in "{}" and _is_escaped(s, j):
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i, j + 1
    return None


def unwrap_command(s: str, name: str, pad: bool = False, limit: int = 64) -> str:
    """Replace `\\name{content}` with `content` (padded with spaces if `pad`); unclosed groups are left alone."""
    pattern = re.compile(r"\\" + name + r"(?![a-zA-Z])\s*\*?(?=\{)")
    pos = 0
    for _ in range(limit):
        m = pattern.search(s, pos)
        if m is None:
            break
        span = find_group(s, m.end())
        if span is None:
            pos = m.end()
            continue
        space = " " if pad else ""
        s = s[: m.start()] + space + s[span[0] + 1: span[1] - 1] + space + s[span[1]:]
        pos = m.start()
    return s

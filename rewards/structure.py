"""The shape of an answer: scalar, word, multiple-choice letter, tuple/interval, set, list, matrix, union, relation.

`parse_answer(text)` splits cleaned answer text at its top level (outside brackets) and `equal(pred, gold)` compares
two shapes with these order rules:
- tuples, ordered pairs and intervals (`seq`): same brackets, same length, equal item by item, in order;
  `(1,2)` is both an open interval and a pair, so it equals only `(1,2)`, never `[1,2]` or `(2,1)`;
- sets `\\{...\\}` (or `{1, 2}`) and bare comma lists `1, -2` (MATH's "enter all solutions"): equal as sets, any
  order, repeats ignored;
  `a \\pm b` is the list `a + b, a - b`;
- unions of intervals: the same intervals in any order; an inequality in one variable equals its interval
  (`x > 5` = `(5, \\infty)`), `x \\in S` is S;
- matrices: same shape, equal entries; a one-column matrix equals a tuple of its entries (a vector);
- relations (equations, chains, inequalities): see `rewards.relations`; `x = 3` equals `3`, `x > 5` equals
  `(5, \\infty)`, and a list of inequalities (`x < 1 or x > 3`) equals the union of their intervals;
- words compare case-insensitively; choice letters `(C)`, `\\text{(C)}`, `C` compare as letters, and an option
  written with its text (`(B) 12`, `C. x = 42`) equals its letter or its text;
- labelled values in order (`a = 2, b = 3`) equal the tuple of the values (`(2, 3)`).
"""
from __future__ import annotations

import re
from functools import lru_cache

from rewards.answer import Ans
from rewards.normalize import KEEP_WORDS as MATH_WORDS
from rewards.relations import as_interval, is_label, rel_equal
from rewards.scalar import scalar_equal

MAX_ITEMS = 32
MAX_DEPTH = 6
_RELATIONS = ("=", r"\le", r"\ge", r"\ne", r"\approx", "<", ">")
_IN_RE = re.compile(r"^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?\w+\}?)?\s*\\in(?![a-zA-Z])\s*")
_WORD_RE = re.compile(r"^[A-Za-z][A-Za-z '\-]*[A-Za-z]$")
_CHOICE_RE = re.compile(r"^\(\s*([A-Ea-e])\s*\)$|^([A-E])[.)]?$")
_OTHER_CHOICE_RE = re.compile(r"\(\s*[A-E]\s*\)|\b[A-E][.)](?:\s|$)")
_CHOICE_TEXT_RE = re.compile(r"^(?:\(\s*([A-E])\s*\)|([A-E])[.)])\s*(\S.*)$")
_MATRIX_RE = re.compile(r"^\\begin\{(pmatrix|bmatrix|Bmatrix|matrix|smallmatrix|array)\}(?:\{[lcr|]*\})?(.*)"
                        r"\\end\{\1\}$", re.S)
_OPEN, _CLOSE = "([{", ")]}"
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
NUMBER_WORDS.update({w: 10 * i for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), 3)})
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9}


# --------------------------------------------------------------------------------------------- splitting
def split_top(s: str, seps: tuple[str, ...], keep: bool = False) -> list[str]:
    """Split at separators that stand outside all brackets (`\\{` counts as a bracket).

    With `keep`, the separators found are kept between the parts: [part, sep, part, ...].
    """
    parts, depth, start, i = [], 0, 0, 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and s.startswith(("\\{", "\\}"), i):
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        elif depth == 0:
            sep = next((x for x in seps if s.startswith(x, i) and not _continues_command(s, i, x)), None)
            if sep is not None:
                parts += [s[start:i].strip(), sep] if keep else [s[start:i].strip()]
                i += len(sep)
                start = i
                continue
        i += 1
    parts.append(s[start:].strip())
    return parts


def _continues_command(s: str, i: int, sep: str) -> bool:
    end = i + len(sep)
    return sep[-1].isalpha() and end < len(s) and s[end].isalpha()


def _braced(s: str) -> bool:
    """True when s[0] is `{` and its partner is s[-1]."""
    depth = 0
    for i, ch in enumerate(s):
        depth += 1 if ch == "{" else -1 if ch == "}" else 0
        if depth == 0 and i < len(s) - 1:
            return False
    return depth == 0


def _wrapped(s: str) -> bool:
    """True when s[0] is a bracket whose partner is s[-1] (mixed pairs allowed: intervals such as `(3,4]`)."""
    if len(s) < 2 or s[0] not in "([" or s[-1] not in ")]":
        return False
    depth = 0
    for i, ch in enumerate(s):
        depth += 1 if ch in _OPEN else -1 if ch in _CLOSE else 0
        if depth == 0 and i < len(s) - 1:
            return False
    return depth == 0


# --------------------------------------------------------------------------------------------- parsing
@lru_cache(maxsize=8192)
def parse_answer(s: str, depth: int = 0) -> Ans:
    """The shape of cleaned answer text (see the module doc)."""
    s = s.strip()
    if depth > MAX_DEPTH:
        return Ans("scalar", s)
    m = _IN_RE.match(s)
    if m and s[m.end():]:
        return parse_answer(s[m.end():], depth + 1)
    m = _CHOICE_TEXT_RE.match(s)
    if m and not _OTHER_CHOICE_RE.search(m.group(3)):  # `(B) 12`, `C. x = 42`: a letter and the option's text
        return Ans("choice", m.group(1) or m.group(2), items=(parse_answer(m.group(3), depth + 1),))
    for parse in (_parse_matrix, _parse_collection, _parse_relation, _parse_plain):
        ans = parse(s, depth)
        if ans is not None:
            return ans
    return Ans("scalar", s)


def _items(parts: list[str], depth: int, flatten: bool = False) -> tuple:
    """Shapes of the parts; with `flatten`, lists inside (from `a \\pm b`) are spliced into the parent."""
    if len(parts) > MAX_ITEMS:
        raise ValueError("too many items")
    items = []
    for p in parts:
        item = parse_answer(p, depth + 1)
        items.extend(item.items if flatten and item.kind == "list" else (item,))
    return tuple(items)


def _parse_matrix(s: str, depth: int) -> Ans | None:
    """`\\begin{pmatrix} a & b \\\\ c & d \\end{pmatrix}`, optionally times a scalar (`\\frac{1}{7}\\begin...`)."""
    if _wrapped(s) and s[1:].lstrip().startswith("\\begin{"):
        s = s[1:-1].strip()  # `(\\begin{pmatrix}...\\end{pmatrix})`
    start = s.find("\\begin{")
    m = _MATRIX_RE.match(s[start:]) if start >= 0 else None
    if not m:
        return None
    scale = s[:start].strip().rstrip("*").strip()
    if r"\begin" in scale or r"\end" in scale or re.search(r"[=<>]|\\[lg]e\b|\\ne\b", scale):
        return None
    rows = [r for r in (x.strip() for x in re.split(r"\\\\", m.group(2))) if r]
    if len(rows) > MAX_ITEMS:
        raise ValueError("too many rows")
    cells = [[c.strip() for c in r.split("&")] for r in rows]
    if scale:
        cells = [[f"({scale})({c})" for c in r] for r in cells]
    return Ans("matrix", items=tuple(Ans("seq", items=_items(r, depth), brackets="()") for r in cells))


def _parse_collection(s: str, depth: int) -> Ans | None:
    if s in (r"\emptyset", r"\{\}", "{}"):
        return Ans("set")
    if s.startswith("{") and s.endswith("}") and _braced(s) and len(split_top(s[1:-1], (",",))) > 1:
        s = "\\{" + s[1:-1] + "\\}"  # `{1, 2}`: a set written without backslashes
    parts = split_top(s, (r"\cup",))
    if len(parts) > 1:
        return Ans("union", items=_items(parts, depth))
    parts = split_top(s, (" or ", " and ", ";"))
    if len(parts) > 1 and all(parts):
        return Ans("list", items=_items(parts, depth, flatten=True))
    if s.startswith(r"\{") and s.endswith(r"\}") and len(split_top(s[2:-2], (r"\}",))) == 1:
        return Ans("set", items=_items(split_top(s[2:-2], (",",)), depth, flatten=True))
    if _wrapped(s):
        parts = split_top(s[1:-1], (",",))
        if len(parts) == 1:
            parts = split_top(s[1:-1], (";",))  # `(0;-2;6)`
        if len(parts) > 1:
            return Ans("seq", items=_items(parts, depth), brackets=s[0] + s[-1])
    parts = split_top(s, (",",))
    if len(parts) > 1 and all(parts):
        return Ans("list", items=_items(parts, depth, flatten=True))
    return None


def _parse_relation(s: str, depth: int) -> Ans | None:
    tokens = split_top(s, _RELATIONS, keep=True)
    if len(tokens) < 3 or len(tokens) > 9:
        return None
    sides, ops = tokens[0::2], tuple(tokens[1::2])
    if not all(sides):
        return None
    return Ans("rel", items=_items(sides, depth), ops=ops)


def _parse_plain(s: str, depth: int) -> Ans | None:
    if r"\pm" in s or r"\mp" in s:
        plus = s.replace(r"\pm", "+").replace(r"\mp", "-")
        minus = s.replace(r"\pm", "-").replace(r"\mp", "+")
        return Ans("list", items=(Ans("scalar", plus), Ans("scalar", minus)))
    m = _CHOICE_RE.match(s)
    if m:
        return Ans("choice", (m.group(1) or m.group(2)).upper())
    if _WORD_RE.match(s) and any(w.lower() not in MATH_WORDS for w in re.findall(r"[a-zA-Z]{2,}", s)):
        word = " ".join(s.lower().split())
        number = number_from_words(word)
        return Ans("scalar", str(number)) if number is not None else Ans("word", word)
    return None


def number_from_words(text: str) -> int | None:
    """`twenty-five` -> 25, `five hundred` -> 500, `three thousand two hundred` -> 3200; None if not a number."""
    parts = text.replace("-", " ").replace(" and ", " ").split()
    if not parts or len(parts) > 12:
        return None
    total = current = 0
    for w in parts:
        if w in NUMBER_WORDS:
            current += NUMBER_WORDS[w]
        elif w == "hundred" and current:
            current *= 100
        elif w in _SCALES and (current or total == 0):
            total += (current or 1) * _SCALES[w]
            current = 0
        else:
            return None
    return total + current


# --------------------------------------------------------------------------------------------- comparing
def equal(p: Ans, g: Ans) -> bool:
    """Is the predicted shape equal to the gold one (order rules in the module doc)?"""
    if p.kind == "rel" or g.kind == "rel":
        return rel_equal(p, g, equal)
    kinds = {p.kind, g.kind}
    if "choice" in kinds:
        return _choice_equal(p, g)
    if "word" in kinds:
        return p.kind == g.kind and p.text == g.text
    if p.kind == g.kind == "scalar":
        return scalar_equal(p.text, g.text)
    if kinds <= {"set", "list"}:
        return _same_elements(p.items, g.items)
    if p.kind == g.kind == "seq":
        return p.brackets == g.brackets and _ordered(p.items, g.items)
    if kinds == {"list", "seq"}:
        return _labelled_tuple_equal(p, g)
    if "union" in kinds and kinds <= {"union", "list", "seq"}:
        return _union_equal(p, g)
    if kinds <= {"matrix", "seq"}:
        return _matrix_equal(p, g)
    return False


def _choice_equal(p: Ans, g: Ans) -> bool:
    """Letters compare as letters; an option written with its text (`(B) 12`) also equals that text."""
    lp, lg = _letter(p), _letter(g)
    if lp is not None and lg is not None:
        return lp == lg
    choice, other = (p, g) if p.kind == "choice" else (g, p)
    if not choice.items or other.kind == "choice":
        return False
    return equal(choice.items[0], other) if choice is p else equal(other, choice.items[0])


def _letter(a: Ans) -> str | None:
    if a.kind == "choice":
        return a.text
    if a.kind in ("scalar", "word") and re.fullmatch(r"[A-Ea-e]", a.text):
        return a.text.upper()  # "Answer: a" for the option (A), as graders compare letters case-insensitively
    return None


def _ordered(ps: tuple, gs: tuple) -> bool:
    return len(ps) == len(gs) and all(equal(a, b) for a, b in zip(ps, gs))


def _unordered(ps: tuple, gs: tuple) -> bool:
    """Multiset equality: every predicted item matched to a distinct equal gold item."""
    if len(ps) != len(gs):
        return False
    free = list(gs)
    for a in ps:
        hit = next((k for k, b in enumerate(free) if equal(a, b)), None)
        if hit is None:
            return False
        free.pop(hit)
    return True


def _same_elements(ps: tuple, gs: tuple) -> bool:
    """Set equality: repeats do not matter ({1, 2, 2} = {1, 2}); an empty side equals only an empty side."""
    if not ps or not gs:
        return not ps and not gs
    return all(any(equal(a, b) for b in gs) for a in ps) and all(any(equal(a, b) for a in ps) for b in gs)


def _labelled_tuple_equal(p: Ans, g: Ans) -> bool:
    """`a = 2, b = 3` (labelled values, in order) equals the tuple `(2, 3)`."""
    lst, seq = (p, g) if p.kind == "list" else (g, p)
    if seq.brackets != "()" or len(lst.items) != len(seq.items):
        return False
    if not all(x.kind == "rel" and x.ops == ("=",) and is_label(x.items[0]) for x in lst.items):
        return False
    pairs = [(x.items[-1], y) for x, y in zip(lst.items, seq.items)]
    return all(equal(a, b) if lst is p else equal(b, a) for a, b in pairs)


def _union_equal(p: Ans, g: Ans) -> bool:
    """Unions compare as sets of parts; `x < 1 or x > 3` (a list of inequalities) is the union of their intervals."""
    def parts(a: Ans) -> tuple | None:
        items = a.items if a.kind in ("union", "list") else (a,)
        out = tuple(as_interval(x) if x.kind == "rel" else x for x in items)
        return None if any(x is None for x in out) else out

    pp, gp = parts(p), parts(g)
    return pp is not None and gp is not None and _unordered(pp, gp)


def _matrix_rows(a: Ans) -> tuple:
    if a.kind == "matrix":
        return tuple(row.items for row in a.items)
    if a.kind == "seq" and a.brackets == "()":
        return tuple((item,) for item in a.items)  # a tuple as a column vector
    return ()


def _matrix_equal(p: Ans, g: Ans) -> bool:
    rp, rg = _matrix_rows(p), _matrix_rows(g)
    if not rp or len(rp) != len(rg):
        return False
    return all(_ordered(a, b) for a, b in zip(rp, rg))

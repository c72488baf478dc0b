"""The final answer of a completion.

Where to look (the region):
  1. complete `<answer>...</answer>` blocks after the last `</think>` (anywhere if there is no `</think>`);
  2. else, when there is a `</think>`, the text after the last one (reasoning inside `<think>` is scratch work);
  3. else the whole text.
What counts, in precedence order; the first level with any statement in the region wins and hides the lower ones:
  1. `\\boxed{...}` / `\\fbox{...}` (outermost boxes, brace-matched, nesting allowed; unclosed boxes are ignored;
     an empty box counts as a statement with no answer, so nothing lower is looked at);
  2. GSM8K `#### N` lines;
  3. answer lines: a line starting with `Answer:` / `Final answer:`, or "the final answer is X";
  4. the phrase "the answer is X";
  5. inside an `<answer>` block with none of the above: the block's whole text;
  6. only with `fallback_last_number` and no explicit marker at all: the last number in the region (for a tiny model
     told to "answer with just the number": "57" and "The sum is 57." both give 57).
Several statements at the winning level with different values (`math_equal`) are a conflict: `answer` is None and
`candidates` lists them, so a completion is never rewarded for listing candidates (`\\boxed{3}` or `\\boxed{5}`).
Repeating the same answer, in any spelling (`\\frac12`, then `0.5`), is fine. All scans are linear in the text length;
more than MAX_CANDIDATES distinct statements count as a conflict.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rewards.braces import match_braces
from rewards.math_equal import math_equal
from rewards.normalize import squash, unwrap_boxed

MAX_CANDIDATES = 16
MAX_KEY_CHARS = 1000
_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*(\{)?")
_BOX_BARE_RE = re.compile(r"[^\s${}]+")
_HASH_RE = re.compile(r"####[ \t]*([^\n]*)")
_LINE_RE = re.compile(r"(?im)^[ \t>*#_]*(?:final[ \t]+answer|answer)[ \t*]*[:\uff1a][ \t]*([^\n]*)")
_SENTENCE = r"([^\n]*?)(?=\.(?:\s|$)|\n|$)"  # lazy, up to the end of the sentence or line
_FINAL_RE = re.compile(r"(?i)final[ \t]+answer[ \t]+is[ \t*]*[:\uff1a]?[ \t]*" + _SENTENCE)
_PHRASE_RE = re.compile(r"(?i)\bthe[ \t]+answer[ \t]+is[ \t*]*[:\uff1a]?[ \t]*" + _SENTENCE)
_SENTENCE_END_RE = re.compile(r"\.\s+(?=[A-Z])|\s+I hope it is correct")
_NUMBER_RE = re.compile(r"(?<![\w.])(?:-(?=[0-9]))?[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?")
_LAST_DIGIT_RE = re.compile(r"[0-9]")


@dataclass(frozen=True)
class Extraction:
    answer: str | None  # the final answer; None when there is none or the statements conflict
    candidates: tuple[str, ...]  # distinct statements at the winning level, in text order
    source: str | None  # boxed | hash | answer_line | answer_phrase | answer_block | last_number
    region: str  # answer_tag | after_think | text
    conflict: bool = False


def extract_answer(text: str, fallback_last_number: bool = True) -> str | None:
    """The final answer of a completion, or None (none found, or conflicting statements)."""
    return extract(text, fallback_last_number).answer


def extract(text: str, fallback_last_number: bool = True) -> Extraction:
    """The final answer with how it was found (see the module doc for the rules)."""
    if not isinstance(text, str) or not text.strip():
        return Extraction(None, (), None, "text")
    regions, region = _regions(text)
    for source, finder, value in _LEVELS:
        found = [c for r in regions for c in finder(r)]
        if found:
            return _result(found, value, source, region)
    if region == "answer_tag":
        return _result(regions, _strip_answer, "answer_block", region)
    if fallback_last_number:
        number = last_number(regions[-1])
        if number is not None:
            return _result([number], str.strip, "last_number", region)
    return Extraction(None, (), None, region)


def _regions(text: str) -> tuple[list[str], str]:
    think_end = text.rfind("</think>")
    start = think_end + len("</think>") if think_end >= 0 else 0
    blocks = answer_blocks(text, start)
    if blocks:
        return blocks, "answer_tag"
    if think_end >= 0:
        return [text[start:]], "after_think"
    return [text], "text"


def answer_blocks(text: str, start: int = 0, limit: int = 64) -> list[str]:
    """Contents of complete `<answer>...</answer>` blocks from `start` (str.find: linear, no backtracking)."""
    blocks, pos = [], start
    while len(blocks) < limit:
        i = text.find("<answer>", pos)
        if i < 0:
            break
        j = text.find("</answer>", i + 8)
        if j < 0:
            break
        content = text[i + 8: j]
        blocks.append(content[content.rfind("<answer>") + 8:] if "<answer>" in content else content)
        pos = j + 9
    return blocks


@lru_cache(maxsize=8)
def find_boxed(text: str) -> tuple[str, ...]:
    """Contents of the outermost complete `\\boxed{...}`/`\\fbox{...}` (and `\\boxed 5`), in order.

    Cached: the rewards of one completion (accuracy, boxed_format, countdown) scan it once.
    """
    if "\\boxed" not in text and "\\fbox" not in text:
        return ()
    pairs = match_braces(text)
    out, covered = [], -1
    for m in _BOX_RE.finditer(text):
        if m.start() < covered:
            continue  # inside a box already taken
        if m.group(1) is None:
            bare = _BOX_BARE_RE.match(text, m.end())
            if bare and text[m.end() - 1].isspace():
                out.append(bare.group(0))
            continue
        close = pairs.get(m.end() - 1)
        if close is None:
            continue  # unclosed
        out.append(text[m.end(): close])
        covered = close
    return tuple(out)


def _hashes(region: str) -> list[str]:
    return [m.group(1) for m in _HASH_RE.finditer(region)] if "####" in region else []


def _answer_lines(region: str) -> list[str]:
    found = [(m.start(), m.group(1)) for m in _LINE_RE.finditer(region)]
    found += [(m.start(), m.group(1)) for m in _FINAL_RE.finditer(region)]
    return [v for _, v in sorted(found)]


def _phrases(region: str) -> list[str]:
    return [m.group(1) for m in _PHRASE_RE.finditer(region)]


def _box_value(raw: str) -> str:
    return unwrap_boxed(raw.strip())


def _answer_value(value: str) -> str:
    """The answer in the rest of an answer line: its box if any, else the text up to the end of the sentence."""
    inner = _FINAL_RE.search(value)
    if inner:
        value = inner.group(1)
    boxes = find_boxed(value)
    if boxes:
        return boxes[-1].strip()
    value = _SENTENCE_END_RE.split(value, maxsplit=1)[0]
    return _strip_answer(value)


def _strip_answer(value: str) -> str:
    value = value.strip().strip("*").strip()
    if value.endswith("."):
        value = value[:-1].rstrip()
    if len(value) >= 2 and value[0] == "$" and value[-1] == "$":
        value = value.strip("$").strip()
    if value.startswith("\\(") and value.endswith("\\)"):
        value = value[2:-2].strip()
    return value


# (source, finder of raw statements, raw statement -> answer text), in precedence order
_LEVELS = (("boxed", find_boxed, _box_value), ("hash", _hashes, _strip_answer),
           ("answer_line", _answer_lines, _answer_value),
           ("answer_phrase", _phrases, _answer_value))


def last_number(text: str, window: int = 200) -> str | None:
    """The last number in the text (`-3`, `1,000`, `2.5`), or None. Looks only near the last digit."""
    m = _LAST_DIGIT_RE.search(text[::-1])
    if m is None:
        return None
    end = len(text) - m.start()
    start = max(0, end - window)
    found = None
    for found in _NUMBER_RE.finditer(text, start, end):  # noqa: B007 (keep the last match)
        pass
    return None if found is None else found.group(0)


def canonical(answer: str) -> str:
    """The key under which two statements count as the same (long ones compare as raw text)."""
    return squash(answer) if len(answer) <= MAX_KEY_CHARS else answer


def _result(raw: list[str], value, source: str, region: str) -> Extraction:
    """Group the statements: equal text, or equal value (`\\frac12` and `0.5`), is the same answer.

    Repeated raw statements are processed once, and at most MAX_CANDIDATES distinct ones are kept, so a completion
    with 100,000 boxes costs one pass over the text.
    """
    distinct: dict[str, str] = {}
    last = None
    for statement in dict.fromkeys(raw):
        cand = value(statement)
        if cand:
            distinct.setdefault(canonical(cand), cand)
            if len(distinct) > MAX_CANDIDATES:
                break
    for statement in reversed(raw):
        last = value(statement)
        if last:
            break
    candidates = tuple(distinct.values())
    if not candidates:
        return Extraction(None, (), source, region)
    if len(candidates) > MAX_CANDIDATES or not all(math_equal(c, candidates[0]) for c in candidates[1:]):
        return Extraction(None, candidates, source, region, conflict=True)
    return Extraction(last, candidates, source, region)

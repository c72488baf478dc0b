"""The final answer of a completion (a whole model output) or of a response (a final answer as written).

Where to look (the region), after `spans.own_turn` has dropped any echoed prompt and anything after the model's turn:
  1. complete `<answer>...</answer>` blocks after the last `</think>` (anywhere if there is no `</think>`);
  2. else, when there is a `</think>` (or `<|end_of_thought|>`), the text after the last one;
  3. else the whole text.
What counts, in precedence order; the first level with any statement in the region wins and hides the lower ones:
  1. `\\boxed{...}` / `\\fbox{...}` (outermost, brace-matched; unclosed boxes are ignored; an empty box is a
     statement with no answer), unless an answer phrase (level 3) comes after the last box ("... \\boxed{255} ...
     Final Answer: The final answer is $10,455$");
  2. GSM8K `#### N` lines;
  3. answer phrases: `Answer:` / `Final answer:` at the start of a line or sentence (and the same word in other
     languages: `Antwort:`, `Respuesta:`, `答案：` ...), "the (final) answer is X", "the correct option/choice is C",
     "I'll go with (B)"; the value stops at the end of the sentence or at "because ...", and a value in prose
     ("Jane started 3 hours ago") is read by level 6; "the answer is not 5" states nothing;
  4. inside an `<answer>` block with none of the above: the block's whole text;
  5. a response (`whole=True`) with no prose words (`spans.words`), or with nothing for level 6 to find: the whole
     text, less a leading "Answer"; a completion with nothing for level 6 and no prose words ("B)") likewise;
  6. with `fallback` and nothing above: the last math span (`$..$`, `\\(..\\)`, `\\[..\\]`, `align`) or the last
     bare number (`fallback` has the details: closing remarks are passed over, a later bare number wins only from
     a later sentence, value spans joined by "and"/"or"/commas are one list). So "The point is $(3,-2)$." gives
     `(3,-2)`, "there are 12 of them." gives 12, and "$x = -1$ and $x = 4$" gives `x = -1, x = 4`.
Program text (`__import__(...)`, `lambda:`, `open(...)`) gives no answer from levels 5 and 6.
Statements at a level are grouped: statements with only connectors between them ("and", "or", commas, `\\quad`,
math delimiters, a label `y =`) form one group, and the last group is the answer: an earlier statement followed by
more text is superseded ("\\boxed{12}. Checking again, it is \\boxed{13}" gives 13). A group whose statements differ is
a conflict: `answer` is None and `candidates` lists them; `accuracy` accepts them only as the parts of a gold answer
with several parts (`\\boxed{2}` and `\\boxed{-3}` for the gold `2, -3`), so listing candidates (`\\boxed{3}` or
`\\boxed{5}`) is never rewarded. Repeating the same answer in any spelling is fine. Text in a non-English answer (a
`Respuesta:`-like prefix or a euro sign) reads `2,5` as 2.5. All scans are linear in the text length; more than
MAX_CANDIDATES distinct statements count as a conflict.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rewards.braces import match_braces
from rewards.math_equal import math_equal
from rewards.normalize import squash, unwrap_boxed
from rewards.spans import after_think, last_number, looks_like_code, math_spans, own_turn, words

MAX_CANDIDATES = 16
MAX_KEY_CHARS = 1000
PHRASE_WINDOW = 20_000
MAX_BOXES = 1_000
_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*(\{)?")
_BOX_BARE_RE = re.compile(r"[^\s${}]+")
_HASH_RE = re.compile(r"####[ \t]*([^\n]*)")
_PREFIXES = (r"final[ \t]+answer|answer|antwort|antwoord|respuesta|r[ée]ponse|resposta|risposta|jawaban|jibu|ответ"
             r"|odpowied[źz]|cevap|答案|答え|答|回答|解答|정답|답|उत्तर|উত্তর|คำตอบ|సమాధానం|الإجابة|الجواب")
# `Answer:` at the start of a line or of a sentence ("... fails. Answer: E"), not "we may check our answer: ..."
_LINE_RE = re.compile(r"(?im)(?:^|(?<=[.;!?)*])|(?<=[.;!?)*][ \t]))[ \t>*#_]*(?:" + _PREFIXES
                      + r")[ \t*]*[:\uff1a][ \t*]*([^\n]*)")
_SENTENCE = r"([^\n]*?)(?=\.(?:\s|$)|\n|$)"  # lazy, up to the end of the sentence or line
_PHRASE_RE = re.compile(r"(?i)\b(?:(?:the[ \t]+)?(?:final[ \t]+)?(?:answer|correct[ \t]+(?:answer|option|choice)"
                        r"|best[ \t]+(?:answer|option|choice)|choice)[ \t]+(?:is|would[ \t]+be))[ \t*]*[:\uff1a]?[ \t]*"
                        + _SENTENCE)
_KEYWORD_RE = re.compile(r"(?i)answer|choice|option|go with|pick|choose|select|" + _PREFIXES.split("|answer|", 1)[1])
_PICK_RE = re.compile(r"(?i)\b(?:go[ \t]+with|pick|choose|select)[ \t]+(?:(?:option|choice|answer)[ \t]+)?"
                      r"(\(?[A-E]\)?)(?![\w(])")
_SENTENCE_END_RE = re.compile(r"\.\s+(?=[A-Z])|\s+I hope it is correct|,?\s+(?:because|since|as|which|due to)\s")
_LEADING_ANSWER_RE = re.compile(r"(?i)^\s*(?:\*\*)?(?:final\s+)?answer(?:\*\*)?\s*[:\uff1a]?\s*(?:\*\*)?")
_CONNECTOR_RE = re.compile(r"^(?:\s|[,;&$]|\\[()\[\]]|\\quad|\\qquad|\\text\{\s*(?:and|or)\s*\}|\band\b|\bor\b"
                           r"|[A-Za-z](?:_\{?\w+\}?)?\s*=)*$")  # `\boxed{2} and $y = \boxed{3}`
_JOINER_RE = re.compile(r",|;|\band\b|\bor\b")
_MENTION_RE = re.compile(r"^\s*(?:[A-Za-z]{1,8}|\\[a-zA-Z]+)(?:_\{?\w+\}?)?(?:\([a-z]\))?\s*[,.]?\s*$"
                         r"|^\s*\\(?:triangle|angle|overline|mathbf|vec)\s*\{?[A-Za-z ]*\}?\s*$")
_VALUE_SPAN_RE = re.compile(r"^[^=<>]*$|^\s*[A-Za-z](?:_\{?\w+\}?)?\s*(?:=|<|>|\\[lg]eq?\b)[^=<>]*$")
# A closing remark after the answer: "Note that ...", "(We can verify: ...)", ", attained at $x = 1$."
_REMARK_RE = re.compile(r"(?:(?<=[.!?])\s+|\s*(?=\())\(?(?:Note|Notice|Check|Checking|Verify|Verification|We can "
                        r"(?:check|verify)|As a check|Indeed)\b[^\n]*$|,\s*(?:attained|achieved|reached|which occurs|"
                        r"occurring|with equality)\b[^\n]*$")
_SENTENCE_BREAK_RE = re.compile(r"[.!?][\s$\\\])]*\s(?=[A-Z])|\n")
_NEGATION_RE = re.compile(r"(?i)\s*(?:not|never)\b(?!\s+(?:possible|defined|exist))")
_NON_ENGLISH_RE = re.compile(r"(?i)\b(?:antwort|respuesta|r[ée]ponse|resposta|risposta|jawaban|jibu|ответ|ist|est"
                             r"|es|é)\b|€|R\$")
_ANSWER_LIKE_RE = re.compile(r"\d|\$|\\\(|^\W*\(?[A-E]\)?\W*$")
_DECIMAL_COMMA_RE = re.compile(r"(?<![\d,.])(\d+),(\d+)(?![\d,.])")


@dataclass(frozen=True)
class Extraction:
    answer: str | None  # the final answer; None when there is none or the statements conflict
    candidates: tuple[str, ...]  # distinct statements at the winning level, in text order
    source: str | None  # boxed | hash | answer_line | answer_block | whole | math_span | last_number
    region: str  # answer_tag | after_think | text
    conflict: bool = False


def extract_answer(text: str, fallback_last_number: bool = True) -> str | None:
    """The final answer of a completion, or None (none found, or conflicting statements)."""
    return extract(text, fallback_last_number).answer


def extract(text: str, fallback_last_number: bool = True, whole: bool = False, every: bool = False) -> Extraction:
    """The final answer with how it was found (see the module doc for the rules). `whole`: `text` is a response;
    `every`: all statements of the winning level count, not only the last group (a gold answer states each part
    once: "\\boxed{1} papers and \\boxed{2} bins")."""
    if not isinstance(text, str) or not text.strip():
        return Extraction(None, (), None, "text")
    regions, region = _regions(own_turn(text))
    comma = bool(_NON_ENGLISH_RE.search(text[-2000:]))
    found = _explicit(regions, region, every)
    if found:
        return _result(found[1], found[2], found[0], region, comma)
    last = regions[-1]
    if looks_like_code(last):
        return Extraction(None, (), None, region)
    tail = fallback(last) if fallback_last_number or whole else None
    body = _LEADING_ANSWER_RE.sub("", last, count=1).strip()
    if _NEGATION_RE.match(body) and len(re.findall(r"\d+", body)) <= 1:
        return Extraction(None, (), None, region)  # "not 5" (but "not 10, it is 12" states 12)
    if whole and body and (tail is None or not words(body)):
        return _result([body], str.strip, "whole", region, comma)
    if tail is not None:
        return _result([tail[1]], str.strip, tail[0], region, comma)
    if fallback_last_number and body and len(body) < 200 and not words(body):  # "B)", "C": the answer alone
        return _result([body], str.strip, "whole", region, comma)
    return Extraction(None, (), None, region)


def _regions(text: str) -> tuple[list[str], str]:
    tail, thought = after_think(text)
    start = len(text) - len(tail)
    blocks = answer_blocks(text, start)
    if blocks:
        return blocks, "answer_tag"
    return [tail], "after_think" if thought else "text"


def _explicit(regions: list[str], region: str, every: bool = False):
    """(source, statements of the last group, value function) of the first explicit level, or None."""
    group = (lambda text, sts: [st[2] for st in sts]) if every else _last_group
    for i in range(len(regions) - 1, -1, -1):  # the last region with a box
        boxes = find_boxed_spans(regions[i])
        if boxes:
            late = [v for v in _answer_phrases(regions[i], boxes[-1][1])
                    if _ANSWER_LIKE_RE.search(_answer_value(v[2]))]
            if late:
                return "answer_line", group(regions[i], late), _answer_value
            return "boxed", group(regions[i], boxes), _box_value
    for source, finder, value in (("hash", _hashes, _strip_answer), ("answer_line", _answer_phrases, _answer_value)):
        for r in reversed(regions):
            found = finder(r)
            if found:
                return source, group(r, found), value
    if region == "answer_tag":
        return "answer_block", regions, _strip_answer
    return None


def _last_group(text: str, statements: list[tuple[int, int, str]]) -> list[str]:
    """The raw statements of the last group: statements with only connectors between them ("and", "or", commas,
    `\\quad`, math delimiters) form one group ("\\boxed{2} and \\boxed{-3}"); an earlier group with text after it
    is superseded ("\\boxed{12} ... so it is \\boxed{13}")."""
    first = len(statements) - 1
    while first > 0 and _CONNECTOR_RE.match(text[statements[first - 1][1]: statements[first][0]]):
        first -= 1
    return [st[2] for st in statements[first:]]


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
def find_boxed_spans(text: str) -> tuple[tuple[int, int, str], ...]:
    """(start, end, content) of the outermost complete `\\boxed{...}`/`\\fbox{...}` (and `\\boxed 5`), in order; of the
    last MAX_BOXES boxes when there are more.

    Cached: the rewards of one completion (accuracy, boxed_format, countdown) scan it once.
    """
    if "\\boxed" not in text and "\\fbox" not in text:
        return ()
    start = 0
    if text.count("\\boxed") + text.count("\\fbox") > MAX_BOXES:  # box spam: only the last MAX_BOXES can count
        start = [m.start() for m in _BOX_RE.finditer(text)][-MAX_BOXES]
    pairs = {k + start: v + start for k, v in match_braces(text[start:]).items()} if start else match_braces(text)
    out, covered = [], -1
    for m in _BOX_RE.finditer(text, start):
        if m.start() < covered:
            continue  # inside a box already taken
        if m.group(1) is None:
            bare = _BOX_BARE_RE.match(text, m.end())
            if bare and text[m.end() - 1].isspace():
                out.append((m.start(), bare.end(), bare.group(0)))
            continue
        close = pairs.get(m.end() - 1)
        if close is None:
            continue  # unclosed
        out.append((m.start(), close + 1, text[m.end(): close]))
        covered = close
    return tuple(out)


def find_boxed(text: str) -> tuple[str, ...]:
    """Contents of the outermost complete boxes, in order."""
    return tuple(b[2] for b in find_boxed_spans(text))


def _hashes(region: str) -> list[tuple[int, int, str]]:
    start = max(0, len(region) - PHRASE_WINDOW)
    return [(m.start(), m.end(), m.group(1)) for m in _HASH_RE.finditer(region, start)] if "####" in region else []


def _answer_phrases(region: str, start: int = 0) -> list[tuple[int, int, str]]:
    """Answer statements (start, end, value) from `start`, looked for in the last PHRASE_WINDOW characters only (a
    final answer closes the text; this keeps a 1 MB output cheap), and only when a key word occurs there at all."""
    start = max(start, len(region) - PHRASE_WINDOW)
    if not _KEYWORD_RE.search(region, start):
        return []
    found = [(m.start(), m.end(), m.group(1)) for m in _LINE_RE.finditer(region, start)]
    found += [(m.start(), m.end(), m.group(1)) for m in _PHRASE_RE.finditer(region, start)]
    found += [(m.start(), m.end(), m.group(1)) for m in _PICK_RE.finditer(region, start)]
    found.sort()
    out, end = [], -1
    for pos, stop, value in found:  # "Final Answer: The final answer is 5" is one statement, not two
        if pos < end:
            continue
        if value.strip(" \t*:."):
            out.append((pos, stop, value))
            end = stop
    return out


def _box_value(raw: str) -> str:
    return unwrap_boxed(raw.strip())


def _answer_value(value: str) -> str:
    """The answer in the rest of an answer line: its box if any, else the sentence; in a sentence that is prose
    ("Jane started growing it 3 hours ago"), its last math span or number."""
    inner = _PHRASE_RE.search(value)
    if inner:
        value = inner.group(1)
    if _NEGATION_RE.match(value):
        return ""  # "the answer is not 5" states no answer
    boxes = find_boxed(value)
    if boxes:
        return boxes[-1].strip()
    value = _SENTENCE_END_RE.split(value, maxsplit=1)[0]
    if words(value):
        tail = fallback(value)
        if tail is not None:
            return tail[1]
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


def fallback(text: str) -> tuple[str, str] | None:
    """("math_span" | "last_number", answer): the last group of math spans or the last bare number (see the module
    doc), or None. A bare number after the last span wins only from a later sentence ("$40$ daps are 70 yaps" is
    40); a span that only names something (`$n$`, `$\\triangle ABC$`) gives way to an earlier one in its sentence;
    a closing remark ("Note that ... 11.", "(We can verify: ...)", ", attained at $x = 1$") is passed over."""
    remark = _REMARK_RE.search(text, max(0, len(text) - 600))
    if remark:
        found = _fallback(text[: remark.start()])
        if found is not None:
            return found
    return _fallback(text)


def _fallback(text: str) -> tuple[str, str] | None:
    spans = [s for s in math_spans(text) if s[2].strip()]
    while len(spans) > 1 and _MENTION_RE.match(spans[-1][2]) and not _breaks(text, spans[-2][1], spans[-1][0]):
        spans.pop()
    number = last_number(text)
    if spans and (number is None or number[0] < spans[-1][1]) and not (number and _MENTION_RE.match(spans[-1][2])):
        return "math_span", _span_group(text, spans)
    if spans and number and not _breaks(text, spans[-1][1] - 3, number[0]) and not _MENTION_RE.match(spans[-1][2]):
        return "math_span", _span_group(text, spans)
    return None if number is None else ("last_number", number[1])


def _breaks(text: str, start: int, end: int) -> bool:
    return bool(_SENTENCE_BREAK_RE.search(text, start, end))


def _span_group(text: str, spans: list) -> str:
    """The last span, with the value spans before it joined to it by "and", "or" or commas ("$1$, $2$ and $4$")."""
    first = len(spans) - 1
    while first > 0:
        before, after = spans[first - 1], spans[first]
        between = text[before[1]: after[0]]
        if not (_CONNECTOR_RE.match(between) and _JOINER_RE.search(between)
                and _VALUE_SPAN_RE.match(before[2]) and _VALUE_SPAN_RE.match(after[2])):
            break
        first -= 1
    return ", ".join(_last_line(s[2]) for s in spans[first:])


def _last_line(content: str) -> str:
    """A display block's answer is its last line: `... \\\\ &= 8n^2 + 4n + 1.` gives `8n^2 + 4n + 1`."""
    if "\\\\" not in content or not re.search(r"&\s*(?:[=<>]|\\(?:le|ge|approx)\b)", content) or "\\begin" in content:
        return content.strip()
    lines = [x.strip() for x in content.split("\\\\") if x.strip()]
    last = lines[-1].replace("&", " ").strip() if lines else ""
    return last[1:].strip() if last.startswith("=") else last


# (source, finder of raw statements, raw statement -> answer text), in precedence order
def canonical(answer: str) -> str:
    """The key under which two statements count as the same (long ones compare as raw text)."""
    return squash(answer) if len(answer) <= MAX_KEY_CHARS else answer


def _decimal_commas(answer: str) -> str:
    return _DECIMAL_COMMA_RE.sub(r"\1.\2", answer)


def _result(raw: list[str], value, source: str, region: str, comma: bool = False) -> Extraction:
    """Group the statements: equal text, or equal value (`\\frac12` and `0.5`), is the same answer.

    Repeated raw statements are processed once, and at most MAX_CANDIDATES distinct ones are kept, so a completion
    with 100,000 boxes costs one pass over the text.
    """
    distinct: dict[str, str] = {}
    last = None
    convert = _decimal_commas if comma else (lambda s: s)
    for statement in dict.fromkeys(raw):
        cand = convert(value(statement))
        if cand:
            distinct.setdefault(canonical(cand), cand)
            if len(distinct) > MAX_CANDIDATES:
                break
    for statement in reversed(raw):
        last = convert(value(statement))
        if last:
            break
    candidates = tuple(distinct.values())
    if not candidates:
        return Extraction(None, (), source, region)
    if len(candidates) > MAX_CANDIDATES or not all(math_equal(c, candidates[0]) for c in candidates[1:]):
        return Extraction(None, candidates, source, region, conflict=True)
    return Extraction(last, candidates, source, region)

"""The SPCT generative reward model (GRM) task: parse a judge's output, reward a verdict that matches the verifier.

The policy reads a question and N numbered candidate responses (`r1zero.tasks.grm.format_input`) and writes, in this
fixed form (the `grm` prompt template asks for it):

    Principles: <what a correct response must do; may go on over several lines>
    Critique: <each response checked against the principles; may go on over several lines>
    Scores: \\boxed{7, 3}

Parsing rules (`parse_grm`), strict and total:
  * the first non-empty line starts with `Principles:`, exactly one line starts with `Critique:` after it, and the
    last non-empty line is the only one that starts with `Scores:`; the principles and the critique are non-empty;
  * the Scores line is `Scores: \\boxed{s1, ..., sN}` and nothing else: exactly N integers (N = number of responses),
    each in 1..max_score, written without sign, decimals or leading zeros;
  * accepted variants are whitespace only: around the section names' text, around commas and inside the braces,
    blank lines, trailing spaces, `\\r\\n` line ends. Anything else (markdown, another case, text after the scores,
    a second `Scores:` line, a wrong count) is a parse failure;
  * texts longer than `MAX_CHARS` fail at once (bounded work; the checks are line scans and one anchored regex on
    one line).

Reward `grm(completion, sample)`: sample["labels"] holds the verifier's 0/1 verdict per response and
sample["max_score"] (default 10) the top score.
  * does not parse: 0;
  * N >= 2 (exactly one correct response, the 1-based index in sample["answer"]): 1 if the single highest score is
    the correct response's, else 0 (a tie for the top is 0);
  * N == 1: 1 if (score > max_score / 2) equals the verifier's verdict, else 0.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rewards.types import RewardResult, error_result, total

MAX_CHARS = 8000  # longer outputs are not parsed (a judge's output for short responses is a few hundred chars)
MAX_RESPONSES = 16
DEFAULT_MAX_SCORE = 10
SECTIONS = ("Principles:", "Critique:", "Scores:")
_SCORES_LINE = re.compile(r"Scores:[ \t]*\\boxed\{([^{}\n]*)\}")
_INT = re.compile(r"[1-9][0-9]{0,3}")


@dataclass(frozen=True)
class Parsed:
    scores: tuple[int, ...] | None  # one score per response, or None when the text does not parse
    reason: str  # "ok" or what is wrong
    principles: str = ""
    critique: str = ""

    @property
    def ok(self) -> bool:
        return self.scores is not None


def _fail(reason: str) -> Parsed:
    return Parsed(None, reason)


def parse_scores_line(line: str, n_responses: int, max_score: int = DEFAULT_MAX_SCORE) -> tuple[int, ...] | str:
    """The scores of a `Scores: \\boxed{...}` line (already stripped), or a string saying why it is not one."""
    m = _SCORES_LINE.fullmatch(line)
    if m is None:
        return "last line is not `Scores: \\boxed{s1, ..., sN}`"
    items = [s.strip() for s in m.group(1).split(",")]
    if len(items) != n_responses:
        return f"{len(items)} scores for {n_responses} responses"
    if not all(_INT.fullmatch(s) for s in items):
        return "scores must be positive integers without sign, decimals or leading zeros"
    scores = tuple(int(s) for s in items)
    if any(not 1 <= s <= max_score for s in scores):
        return f"scores must be in 1..{max_score}, got {list(scores)}"
    return scores


def parse_grm(text: str, n_responses: int, max_score: int = DEFAULT_MAX_SCORE) -> Parsed:
    """Parse a judge's output (see the module doc). Total: bad input gives `Parsed(None, reason)`."""
    if not isinstance(text, str):
        return _fail(f"text must be a string, got {type(text).__name__}")
    if not isinstance(n_responses, int) or not 1 <= n_responses <= MAX_RESPONSES:
        return _fail(f"n_responses must be in 1..{MAX_RESPONSES}, got {n_responses!r}")
    if not isinstance(max_score, int) or max_score < 2:
        return _fail(f"max_score must be an integer >= 2, got {max_score!r}")
    if len(text) > MAX_CHARS:
        return _fail(f"too long ({len(text)} chars > {MAX_CHARS})")
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return _fail("empty")
    starts = {name: [i for i, line in enumerate(lines) if line.startswith(name)] for name in SECTIONS}
    for name, where in starts.items():
        if len(where) != 1:
            return _fail(f"`{name}` must start exactly one line, found {len(where)}")
    p, c, s = (starts[name][0] for name in SECTIONS)
    if p != 0:
        return _fail("text before `Principles:`")
    if not p < c < s:
        return _fail("sections out of order (Principles, Critique, Scores)")
    if s != len(lines) - 1:
        return _fail("text after the `Scores:` line")
    principles = "\n".join([lines[p][len("Principles:"):].strip(), *lines[p + 1:c]]).strip()
    critique = "\n".join([lines[c][len("Critique:"):].strip(), *lines[c + 1:s]]).strip()
    if not principles:
        return _fail("empty principles")
    if not critique:
        return _fail("empty critique")
    scores = parse_scores_line(lines[s], n_responses, max_score)
    if isinstance(scores, str):
        return _fail(scores)
    return Parsed(scores, "ok", principles, critique)


def row_labels(sample: dict) -> tuple[list[int], int] | str:
    """(labels, max_score) of a GRM row, or a string saying what is wrong with it."""
    labels = sample.get("labels")
    if not isinstance(labels, list) or not 1 <= len(labels) <= MAX_RESPONSES:
        return f"sample needs `labels`: a list of 1..{MAX_RESPONSES} verdicts (0/1), got {type(labels).__name__}"
    if any(x not in (0, 1) or isinstance(x, float) for x in labels):
        return f"labels must be 0 or 1, got {labels[:MAX_RESPONSES]}"
    max_score = sample.get("max_score", DEFAULT_MAX_SCORE)
    if not isinstance(max_score, int) or isinstance(max_score, bool) or max_score < 2:
        return f"max_score must be an integer >= 2, got {max_score!r}"
    if len(labels) > 1:
        if sum(labels) != 1:
            return f"a multi-response row needs exactly one correct response, labels {labels}"
        if str(sample.get("answer", "")).strip() != str(labels.index(1) + 1):
            return f"answer {sample.get('answer')!r} is not the 1-based index of the correct response in {labels}"
    return [int(x) for x in labels], max_score


def verdict(scores: tuple[int, ...], labels: list[int], max_score: int) -> tuple[bool, dict]:
    """Is a parsed score vector right? (the rule of the module doc) and the info that explains it."""
    if len(labels) == 1:
        says = scores[0] > max_score / 2
        return says == bool(labels[0]), {"says_correct": says}
    top = max(scores)
    winners = [i for i, v in enumerate(scores) if v == top]
    best = winners[0] + 1 if len(winners) == 1 else None
    return best == labels.index(1) + 1, {"best": best, "tie": len(winners) > 1}


@total
def grm(completion: str, sample: dict) -> RewardResult:
    """1 if the judge's output parses and its scores pick the verifier-correct response (see the module doc)."""
    checked = row_labels(sample)
    if isinstance(checked, str):
        return error_result(checked)
    labels, max_score = checked
    parsed = parse_grm(completion, len(labels), max_score)
    info: dict = {"parse": parsed.reason, "n": len(labels)}
    if not parsed.ok:
        return RewardResult(0.0, info)
    right, why = verdict(parsed.scores, labels, max_score)
    info.update(why, scores=list(parsed.scores))
    return RewardResult(1.0 if right else 0.0, info)

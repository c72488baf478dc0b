"""Countdown arithmetic puzzle (TinyZero's task): combine the given numbers, each exactly once, with + - * / and
parentheses to reach the target. The sample holds `numbers` (or `nums`): list of ints, and `target`: int.

The equation is taken from the last `<answer>` block, else the last `\\boxed{}`, else the last line holding a digit
and an operator. `(5 + 3) * 2 = 16` is read as its side with operators. A small recursive-descent parser over a
whitelist of tokens (integers, + - * / and their unicode forms, ( ), \\times \\cdot \\div) evaluates it with
exact fractions: no eval, no unary minus, no other numbers, at most MAX_CHARS characters and MAX_DEPTH nested
parentheses.
"""
from __future__ import annotations

import re
from fractions import Fraction

from rewards.extract import answer_blocks, find_boxed
from rewards.types import RewardResult, error_result, short, total

MAX_CHARS = 200
MAX_DEPTH = 32
_TOKEN_RE = re.compile(r"\s*(?:([0-9]+)|([-+*/()]))")
_SYMBOLS = {"\u00d7": "*", "\u00f7": "/", "\u2212": "-", "\\times": "*", "\\cdot": "*", "\\div": "/", "\\left": "",
            "\\right": "", "$": "", "\\(": "", "\\)": ""}
_OPERATOR_RE = re.compile(r"[-+*/\u00d7\u00f7]|\\times|\\div|\\cdot")


class EquationError(ValueError):
    """The equation is not in the whitelist grammar, or cannot be evaluated."""


def equation_text(completion: str) -> str | None:
    blocks = answer_blocks(completion)
    if blocks:
        text = blocks[-1]
    else:
        boxes = find_boxed(completion)
        if boxes:
            text = boxes[-1]
        else:
            lines = [ln for ln in completion.splitlines() if re.search(r"[0-9]", ln) and _OPERATOR_RE.search(ln)]
            if not lines:
                return None
            text = lines[-1]
    for old, new in _SYMBOLS.items():
        text = text.replace(old, new)
    sides = [s for s in text.split("=") if _OPERATOR_RE.search(s)]
    return sides[0].strip() if sides else text.strip()


def evaluate(expression: str) -> tuple[Fraction, list[int]]:
    """(exact value, integer literals used) of an arithmetic expression; raises EquationError."""
    if len(expression) > MAX_CHARS:
        raise EquationError(f"longer than {MAX_CHARS} characters")
    tokens, pos = [], 0
    while pos < len(expression):
        m = _TOKEN_RE.match(expression, pos)
        if m is None:
            if not expression[pos:].strip():
                break
            raise EquationError(f"unexpected character {expression[pos]!r}")
        tokens.append(m.group(1) or m.group(2))
        pos = m.end()
    parser = _Parser(tokens)
    value = parser.expr(0)
    if parser.i != len(tokens):
        raise EquationError(f"unexpected {tokens[parser.i]!r}")
    return value, parser.numbers


class _Parser:
    def __init__(self, tokens: list[str]):
        self.tokens, self.i, self.numbers = tokens, 0, []

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def expr(self, depth: int) -> Fraction:
        if depth > MAX_DEPTH:
            raise EquationError("nested too deeply")
        value = self.term(depth)
        while self.peek() in ("+", "-"):
            op = self.tokens[self.i]
            self.i += 1
            rhs = self.term(depth)
            value = value + rhs if op == "+" else value - rhs
        return value

    def term(self, depth: int) -> Fraction:
        value = self.factor(depth)
        while self.peek() in ("*", "/"):
            op = self.tokens[self.i]
            self.i += 1
            rhs = self.factor(depth)
            if op == "/" and rhs == 0:
                raise EquationError("division by zero")
            value = value * rhs if op == "*" else value / rhs
        return value

    def factor(self, depth: int) -> Fraction:
        tok = self.peek()
        self.i += 1
        if tok == "(":
            value = self.expr(depth + 1)
            if self.peek() != ")":
                raise EquationError("unclosed parenthesis")
            self.i += 1
            return value
        if tok is not None and tok.isdigit():
            self.numbers.append(int(tok))
            return Fraction(int(tok))
        raise EquationError(f"expected a number or '(', got {tok!r}")


def _puzzle(sample: dict) -> tuple[list[int], Fraction] | None:
    numbers, target = sample.get("numbers", sample.get("nums")), sample.get("target")
    if not isinstance(numbers, list) or not all(isinstance(n, int) for n in numbers):
        return None
    if isinstance(target, bool) or not isinstance(target, (int, float, str)):
        return None
    try:
        return numbers, Fraction(str(target))
    except ValueError:
        return None


@total
def countdown(completion: str, sample: dict) -> RewardResult:
    """1 when the equation uses each given number exactly once and equals the target."""
    puzzle = _puzzle(sample)
    if puzzle is None:
        return error_result("sample needs `numbers` (list of int) and `target` (number)")
    numbers, target = puzzle
    expression = equation_text(completion)
    if expression is None:
        return RewardResult(0.0, {"reason": "no equation found"})
    info: dict = {"equation": short(expression)}
    try:
        value, used = evaluate(expression)
    except EquationError as err:
        return RewardResult(0.0, {**info, "reason": f"invalid equation: {err}"})
    if sorted(used) != sorted(numbers):
        return RewardResult(0.0, {**info, "reason": f"uses {sorted(used)}, not each of {sorted(numbers)} once"})
    if value != target:
        return RewardResult(0.0, {**info, "reason": f"equals {value}, not {target}"})
    return RewardResult(1.0, {**info, "reason": "ok"})

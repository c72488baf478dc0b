"""A small recursive-descent parser for the LaTeX of scalar answers: numbers, + - * / ^, implicit products,
`\\frac`, `\\sqrt[n]{}`, `\\binom`, `\\pi`, `e`, `i`, `\\infty`, functions (`\\sin`, `\\log_2`, `\\ln`, ...), `|x|`,
floor/ceil, `!`, `%`, letters and Greek letters as variables, and base-n numerals such as `2516_8`.

It builds a tree of tuples and never evaluates text: there is no `eval`, no sympy. Anything outside the grammar,
longer than MAX_TOKENS tokens or nested deeper than MAX_DEPTH raises ParseError (callers then fall back to the
guarded sympy path in `rewards.symbolic`, or to string comparison).

Nodes: ("num", Fraction) ("var", name) ("const", "pi"|"e"|"i"|"inf") ("add", (n, ...)) ("mul", (n, ...))
("neg", n) ("div", n, d) ("pow", b, e) ("fn", name, n) ("log", n, base) ("root", n, index) ("fact", n)
("pct", n) ("binom", n, k) ("based", digits, base).
"""
from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

MAX_TOKENS = 400
MAX_DEPTH = 40
MAX_SCI_EXPONENT = 1000

FUNCTIONS = frozenset({"sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh",
                       "tanh", "exp", "ln", "log", "lg"})
_WORD_NAMES = sorted(FUNCTIONS | {"sqrt", "pi"}, key=len, reverse=True)
GREEK = frozenset({"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
                   "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi",
                   "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi",
                   "Omega"})
_INVERSE = {"sin": "arcsin", "cos": "arccos", "tan": "arctan"}
_MUL_CMDS = frozenset({r"\cdot", r"\times", r"\ast"})
_DIV_CMDS = frozenset({r"\div"})
_PRIMARY_CMDS = frozenset({r"\frac", r"\sqrt", r"\binom", r"\pi", r"\infty", r"\lfloor", r"\lceil", r"\lvert",
                           r"\vert", r"\exp"}) | {"\\" + f for f in FUNCTIONS} | {"\\" + g for g in GREEK}
_TOKEN_RE = re.compile(r"\s*(?:(?P<num>[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+(?![0-9.]))?|\.[0-9]+)"
                       r"|(?P<cmd>\\[a-zA-Z]+|\\[{}|%])|(?P<word>[a-zA-Z]+)|(?P<sym>[-+*/^_()\[\]{}!|'%]))")
_SCI_EXP_RE = re.compile(r"[eE]([+-]?[0-9]+)$")
_END = ("end", "")


class ParseError(ValueError):
    """The text is not in the grammar (or is too long or too deep)."""


def tokenize(text: str) -> list[tuple[str, str]]:
    text = text.replace("**", "^")  # `2**(1/4)`: Python's power, as plain-text answers write it
    tokens: list[tuple[str, str]] = []
    pos, n = 0, len(text)
    while pos < n:
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ParseError(f"unexpected character {text[pos]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind == "word":
            tokens.extend(_split_word(m.group(kind)))
        else:
            tokens.append((kind, m.group(kind)))
        if len(tokens) > MAX_TOKENS:
            raise ParseError("too many tokens")
    return tokens


def _split_word(word: str) -> list[tuple[str, str]]:
    """`sqrt`, `pi`, `sin` ... become commands; other letter runs are products of one-letter variables."""
    out, i = [], 0
    while i < len(word):
        for name in _WORD_NAMES:
            if word.startswith(name, i):
                out.append(("cmd", "\\" + name))
                i += len(name)
                break
        else:
            out.append(("letter", word[i]))
            i += 1
    return out


@lru_cache(maxsize=8192)
def parse(text: str) -> tuple:
    """Parse one scalar expression into a node tree (cached: gold answers repeat across a group)."""
    parser = _Parser(tokenize(text))
    node = parser.expr()
    if parser.peek() != _END:
        raise ParseError(f"unexpected {parser.peek()[1]!r}")
    return node


def _mul(factors: list) -> tuple:
    return factors[0] if len(factors) == 1 else ("mul", tuple(factors))


def _is_int_num(node: tuple) -> bool:
    return node[0] == "num" and node[1].denominator == 1


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.t = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str]:
        return self.t[self.i] if self.i < len(self.t) else _END

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        if self.next()[1] != text:
            raise ParseError(f"expected {text!r}")

    def split_first_char(self) -> None:
        """`\\frac12`, `x^23`: a bare multi-digit number as an argument gives only its first digit."""
        kind, text = self.peek()
        if kind == "num" and len(text) > 1:
            self.t[self.i: self.i + 1] = [("num", text[0]), ("num", text[1:])]

    def expr(self) -> tuple:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("nested too deeply")
        terms = [self.term()]
        while self.peek()[1] in ("+", "-"):
            op = self.next()[1]
            node = self.term()
            terms.append(node if op == "+" else ("neg", node))
        self.depth -= 1
        return terms[0] if len(terms) == 1 else ("add", tuple(terms))

    def term(self) -> tuple:
        factors = [self.factor()]
        while True:
            kind, text = self.peek()
            if text in ("*",) or text in _MUL_CMDS:
                self.next()
                factors.append(self.factor())
            elif text == "/" or text in _DIV_CMDS:
                self.next()
                factors = [("div", _mul(factors), self.factor())]
            elif self.starts_implicit(kind, text) or (kind == "num" and factors[-1][0] != "num"):
                node = self.power()
                if len(factors) == 1 and _is_int_num(factors[0]) and text == r"\frac" and _is_proper(node):
                    factors = [("add", (factors[0], node))]  # mixed number 1\frac{4}{5}
                elif len(factors) == 1 and factors[0][0] == "neg" and _is_int_num(factors[0][1]) \
                        and text == r"\frac" and _is_proper(node):
                    factors = [("neg", ("add", (factors[0][1], node)))]  # -1\frac{3}{4} = -(1 + 3/4)
                else:
                    factors.append(node)
            else:
                return _mul(factors)

    @staticmethod
    def starts_implicit(kind: str, text: str) -> bool:
        return kind == "letter" or text in ("(", "{") or (kind == "cmd" and text in _PRIMARY_CMDS)

    def factor(self) -> tuple:
        text = self.peek()[1]
        if text == "-":
            self.next()
            return ("neg", self.factor())
        if text == "+":
            self.next()
            return self.factor()
        return self.power()

    def power(self) -> tuple:
        node = self.postfix()
        if self.peek()[1] == "^":
            self.next()
            node = self.postfix_ops(("pow", node, self.exponent()))
        return node

    def exponent(self) -> tuple:
        text = self.peek()[1]
        if text in ("-", "+"):
            self.next()
            node = self.exponent()
            return ("neg", node) if text == "-" else node
        self.split_first_char()
        return self.postfix()

    def postfix(self) -> tuple:
        return self.postfix_ops(self.primary())

    def postfix_ops(self, node: tuple) -> tuple:
        while self.peek()[1] in ("!", "%", r"\%"):
            node = ("fact", node) if self.next()[1] == "!" else ("pct", node)
        return node

    def group(self, close: str) -> tuple:
        node = self.expr()
        self.expect(close)
        return node

    def arg(self) -> tuple:
        """A command argument: `{...}`, or one digit, letter or command (`\\frac12`, `\\sqrt x`, `\\frac\\pi2`)."""
        if self.peek()[1] == "{":
            self.next()
            return self.group("}")
        self.split_first_char()
        kind, _ = self.peek()
        if kind not in ("num", "letter", "cmd"):
            raise ParseError("missing argument")
        return self.primary()

    def primary(self) -> tuple:
        kind, text = self.next()
        if kind == "num":
            return self.number(text)
        if kind == "letter":
            return self.letter(text)
        if kind == "cmd":
            return self.command(text)
        closers = {"(": ")", "{": "}", "[": "]", "|": "|"}
        if text in closers:
            node = self.group(closers[text])
            return ("fn", "abs", node) if text == "|" else node
        raise ParseError(f"unexpected {text!r}")

    def number(self, text: str) -> tuple:
        exponent = _SCI_EXP_RE.search(text)
        if exponent and abs(int(exponent.group(1))) > MAX_SCI_EXPONENT:
            raise ParseError("scientific exponent too large")  # Fraction("1e999999999") would take forever
        if self.peek()[1] == "_" and text.isdigit():
            self.next()
            base = self.subscript_text()
            return ("based", text, base)
        return ("num", Fraction(text))

    def subscript_text(self) -> str:
        if self.peek()[1] == "{":
            self.next()
            parts = []
            while self.peek()[1] != "}":
                if self.peek() == _END:
                    raise ParseError("unclosed subscript")
                parts.append(self.next()[1])
            self.next()
            return "".join(parts)
        return self.next()[1]

    def letter(self, name: str) -> tuple:
        if self.peek()[1] == "_":
            self.next()
            name = f"{name}_{self.subscript_text()}"
        while self.peek()[1] == "'":
            self.next()
            name += "'"
        if name in ("e", "i"):
            return ("const", name)
        return ("var", name)

    def command(self, cmd: str) -> tuple:
        name = cmd[1:]
        if name == "frac":
            return ("div", self.arg(), self.arg())
        if name == "sqrt":
            index = ("num", Fraction(2))
            if self.peek()[1] == "[":
                self.next()
                index = self.group("]")
            if self.peek()[1] == "(":  # `sqrt(3)`, as plain-text answers write it
                self.next()
                return ("root", self.group(")"), index)
            return ("root", self.arg(), index)
        if name == "binom":
            return ("binom", self.arg(), self.arg())
        if name == "pi":
            return ("const", "pi")
        if name == "infty":
            return ("const", "inf")
        if name in GREEK:
            return ("var", cmd)
        if name in FUNCTIONS:
            return self.function(name)
        delimiters = {"lfloor": ("floor", r"\rfloor"), "lceil": ("ceil", r"\rceil"), "lvert": ("abs", r"\rvert"),
                      "vert": ("abs", r"\vert")}
        if name in delimiters:
            fn, close = delimiters[name]
            return ("fn", fn, self.group(close))
        raise ParseError(f"unsupported command {cmd}")

    def function(self, name: str) -> tuple:
        """`\\sin x`, `\\sin(2x)`, `\\sin^2 x`, `\\log_2 8`, `\\ln{x}`."""
        power = base = None
        for _ in range(2):
            if self.peek()[1] == "^" and power is None:
                self.next()
                power = self.exponent()
            elif self.peek()[1] == "_" and name == "log" and base is None:
                self.next()
                base = self.arg()
        if self.peek()[1] in ("(", "{"):
            arg = self.group(")" if self.next()[1] == "(" else "}")
        else:
            factors = [self.power()]
            while self.starts_implicit(*self.peek()) and not _is_function_cmd(self.peek()[1]):
                factors.append(self.power())
            arg = _mul(factors)
        if power == ("neg", ("num", Fraction(1))) and name in _INVERSE:
            return ("fn", _INVERSE[name], arg)  # \\sin^{-1} x = \\arcsin x
        if name in ("log", "lg"):
            node = ("log", arg, base if base is not None else ("num", Fraction(10)))
        else:
            node = ("fn", name, arg)
        return ("pow", node, power) if power is not None else node


def _is_function_cmd(text: str) -> bool:
    return text.startswith("\\") and text[1:] in FUNCTIONS


def _is_proper(node: tuple) -> bool:
    """A \\frac of two integer literals, as in the mixed number 2\\frac{1}{2}."""
    return node[0] == "div" and _is_int_num(node[1]) and _is_int_num(node[2])

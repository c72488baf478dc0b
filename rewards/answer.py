"""A final answer parsed into its structure (`structure.parse_answer`), compared by `structure.equal` and, for
relations, by `relations` — both import it from here, so neither imports the other back."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ans:
    kind: str  # scalar | word | choice | seq | set | list | matrix | union | rel
    text: str = ""
    items: tuple = ()
    brackets: str = ""  # seq: opening and closing bracket, e.g. "(]"
    ops: tuple = ()  # rel: the operators between items

"""SEAL's few-shot setting on generated rule-induction puzzles: a hidden rule maps a short digit sequence to another.

    r1zero seal build-data            # also writes r1zero/data/seal/{rules_train,rules_test}.jsonl

Each puzzle shows `DEMOS` demonstrations of one rule ("Input: 3 8 1\nOutput: 1 8 3") and asks for the output of one
more input. The self-edit does not answer: it picks, from a fixed menu (`fewshot.py`), how the demonstrations are
turned into training data and which inner-loop settings train a LoRA adapter on them; the adapted model then answers
the query with the demonstrations in its prompt. Success is an exact output. This is the paper's ARC setting made
small enough for a 135M model on a CPU: SmolLM2-135M-Instruct gets 0.19 of these puzzles in context (mostly the
`first` rule) and the rest needs the update.

Rows: `problem` (the demonstrations, one "Input: ...\nOutput: ..." pair per paragraph), `answer` (the query's
output), `rule`, `source` = "rules", and `questions`: one entry, the query ({"question": its input, "answer", "kind":
the rule, "demos": [[input, output], ...], "match": "line"}), so the inner loop asks it like any closed-book question
(`inner.qa_prompt` puts the demonstrations before it; "line" compares the whole first line of the answer).
Seeded, so the files are the same bytes on every machine.
"""
from __future__ import annotations

import random

from r1zero.tasks.seal.fewshot import demos_text

SEED = 0
SIZES = {"rules_train": 160, "rules_test": 48}  # puzzles per split
DEMOS = 4  # demonstrations per puzzle (the query is a fifth input)

# name -> the rule, on a list of digits. Elementwise rules keep the length; the others move, drop or sort digits.
RULES = {
    "reverse": lambda s: s[::-1],
    "sort": lambda s: sorted(s),
    "add_one": lambda s: [(d + 1) % 10 for d in s],
    "drop_first": lambda s: s[1:],
    "rotate": lambda s: s[-1:] + s[:-1],
    "double": lambda s: [d for d in s for _ in (0, 1)],
    "first": lambda s: s[:1],
    "last_two": lambda s: s[-2:],
}


def render(seq: list[int]) -> str:
    return " ".join(map(str, seq))


def puzzle(rule: str, rng: random.Random, index: int, split: str) -> dict:
    """One puzzle: DEMOS + 1 distinct inputs of 3-5 digits, the last one the query."""
    inputs: list[list[int]] = []
    while len(inputs) < DEMOS + 1:
        x = [rng.randint(0, 9) for _ in range(rng.randint(3, 5))]
        if x not in inputs:
            inputs.append(x)
    pairs = [[render(x), render(RULES[rule](x))] for x in inputs]
    demos, (query, answer) = pairs[:DEMOS], pairs[DEMOS]
    return {"id": f"seal-{split.replace('_', '-')}-{index:05d}", "problem": demos_text(demos), "answer": answer,
            "rule": rule, "source": "rules",
            "questions": [{"question": query, "answer": answer, "kind": rule, "demos": demos, "match": "line"}]}


def build(split: str, n: int, seed: int = SEED) -> list[dict]:
    """`n` puzzles, the rules in turn (each split holds every rule equally often), inputs drawn per split."""
    rng = random.Random(f"{seed}:{split}")
    names = sorted(RULES)
    return [puzzle(names[i % len(names)], rng, i, split) for i in range(n)]


def build_rows(seed: int = SEED) -> dict[str, list[dict]]:
    """{split: rows} for every split of SIZES."""
    return {split: build(split, n, seed) for split, n in SIZES.items()}

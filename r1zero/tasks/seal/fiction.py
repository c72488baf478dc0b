"""SEAL knowledge-incorporation passages about fictional entities, generated from templates with their questions.

    r1zero seal build-data            # also writes r1zero/data/seal/{fiction_train,fiction_test}.jsonl

Why fiction: a GSM8K passage's main question can be answered from the question itself or from a "The answer is N."
line, which a self-edit can copy (it did: the policy collapsed to one-line "The answer is N." edits). Here each
passage describes an invented entity (a town, a ship, a person, a company: names made of random syllables) by
`FACTS_PER_PASSAGE` numeric facts, one sentence per line, and every fact is asked closed-book. So:
  * no question can be answered from memory or from its own wording (the numbers are drawn at random, and no
    answer appears in any question);
  * the answers of a passage are distinct numbers, so a self-edit that teaches one number ("The answer is 1743.")
    can be right on at most one question of `FACTS_PER_PASSAGE`: the reward is the share of facts learnt;
  * the questions are worded unlike the passage's sentences ("In what year was Tharnwick founded?" against
    "Tharnwick was founded in 1743."), so what the LoRA update learns from the self-edit's form (restatements,
    question-answer lines) decides the score, which is what the outer loop can learn to choose.

Rows: `problem` (the passage), `questions` ([{"question", "answer", "kind": "fact"}]), `answer` (the first
question's), `entity`, `source` = "fiction". Seeded, so the files are the same bytes on every machine.
"""
from __future__ import annotations

import random

SEED = 0
SIZES = {"fiction_train": 200, "fiction_test": 60}  # rows per split; disjoint entity names
FACTS_PER_PASSAGE = 4

ONSETS = ["b", "br", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m", "n", "p", "r", "s", "st", "t", "th", "v",
          "z"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou"]
CODAS = ["", "n", "r", "l", "th", "sk", "m", "nd", "x"]

# kind -> (how the entity is introduced, [(fact sentence, question, (low, high))]); {e} = the entity's name
KINDS: dict[str, tuple[str, list[tuple[str, str, tuple[int, int]]]]] = {
    "town": ("{e} is a small town in the hills.", [
        ("{e} was founded in {n}.", "In what year was the town of {e} founded?", (1200, 1899)),
        ("About {n} people live in {e}.", "What is the population of {e}?", (300, 9000)),
        ("The main bridge of {e} is {n} meters long.", "How long is the main bridge of {e}, in meters?", (20, 400)),
        ("{e} has {n} schools.", "How many schools are there in {e}?", (2, 40)),
        ("The clock tower in {e} is {n} feet tall.", "How tall is the clock tower in {e}, in feet?", (50, 300)),
        ("{e} holds its harvest fair on day {n} of the year.", "On which day of the year is the harvest fair of {e}?",
         (100, 365)),
    ]),
    "ship": ("The {e} is a cargo ship.", [
        ("The {e} was launched in {n}.", "In what year was the ship {e} launched?", (1900, 2019)),
        ("The {e} carries a crew of {n}.", "How many crew members does the {e} carry?", (12, 90)),
        ("The {e} is {n} meters long.", "What is the length of the ship {e}, in meters?", (60, 390)),
        ("The {e} can hold {n} containers.", "How many containers can the {e} hold?", (400, 9000)),
        ("The top speed of the {e} is {n} knots.", "What is the top speed of the {e}, in knots?", (11, 33)),
        ("The {e} has made {n} voyages.", "How many voyages has the {e} made?", (40, 700)),
    ]),
    "person": ("{e} is a painter.", [
        ("{e} was born in {n}.", "In what year was the painter {e} born?", (1901, 1999)),
        ("{e} has painted {n} portraits.", "How many portraits has {e} painted?", (30, 900)),
        ("{e} owns {n} brushes.", "How many brushes does {e} own?", (13, 99)),
        ("The largest canvas by {e} is {n} centimeters wide.", "How wide is the largest canvas by {e}, in centimeters?",
         (120, 800)),
        ("{e} has visited {n} countries.", "How many countries has {e} visited?", (3, 60)),
        ("{e} lives at house number {n}.", "What is the house number of {e}?", (101, 999)),
    ]),
    "company": ("{e} is a company that makes bicycles.", [
        ("{e} was started in {n}.", "In what year was the company {e} started?", (1920, 2015)),
        ("{e} has {n} employees.", "How many employees does {e} have?", (40, 5000)),
        ("{e} sold {n} bicycles last year.", "How many bicycles did {e} sell last year?", (1000, 90000)),
        ("{e} has {n} shops.", "How many shops does {e} have?", (3, 80)),
        ("The lightest bicycle of {e} weighs {n} kilograms.", "How much does the lightest bicycle of {e} weigh, in "
         "kilograms?", (6, 19)),
        ("{e} has won {n} design awards.", "How many design awards has {e} won?", (2, 45)),
    ]),
}


def entity_name(rng: random.Random, kind: str) -> str:
    def word(syllables: int) -> str:
        return "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(syllables)) + rng.choice(CODAS)

    name = word(rng.choice((2, 3))).capitalize()
    return f"{name} {word(2).capitalize()}" if kind == "person" else name


def fiction_row(rng: random.Random, split: str, index: int, name: str, kind: str) -> dict:
    intro, facts = KINDS[kind]
    chosen = rng.sample(facts, FACTS_PER_PASSAGE)
    numbers: list[int] = []
    for _, _, (low, high) in chosen:  # distinct answers: one copied number can be right on one question at most
        n = rng.randint(low, high)
        while n in numbers:
            n = rng.randint(low, high)
        numbers.append(n)
    lines = [intro.format(e=name)] + [s.format(e=name, n=n) for (s, _, _), n in zip(chosen, numbers)]
    questions = [{"question": q.format(e=name), "answer": str(n), "kind": "fact"}
                 for (_, q, _), n in zip(chosen, numbers)]
    return {"id": f"seal-{split.replace('_', '-')}-{index:05d}", "problem": "\n".join(lines),
            "answer": questions[0]["answer"], "questions": questions, "entity": name, "kind": kind,
            "source": "fiction"}


def build_rows(seed: int = SEED) -> dict[str, list[dict]]:
    """All splits at once, so that no entity name is in two splits (or twice in one)."""
    rng, seen = random.Random(seed), set()
    out: dict[str, list[dict]] = {}
    for split, size in SIZES.items():
        rows = []
        while len(rows) < size:
            kind = sorted(KINDS)[len(rows) % len(KINDS)]
            name = entity_name(rng, kind)
            if name in seen:
                continue
            seen.add(name)
            rows.append(fiction_row(rng, split, len(rows), name, kind))
        out[split] = rows
    return out

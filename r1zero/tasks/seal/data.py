"""SEAL knowledge-incorporation data, built deterministically from the shipped GSM8K splits (MIT).

    r1zero seal build-data            # writes r1zero/data/seal/{train,test}.jsonl (the shipped bytes)

One row per GSM8K problem whose passage is short:
  * `problem`  = the passage: the problem statement, then its worked solution with the `<<48/2=24>>` calculator
                 annotations removed and the `#### 72` line written as "The answer is 72."
  * `questions` = closed-book questions about the passage (asked later WITHOUT the passage in context):
      - `main`: the problem's question sentence -> its final answer;
      - `cloze`: up to two solution lines with one calculator annotation, the computed number blanked and the
        arithmetic before it removed ("Natalia sold 48/2 = <<48/2=24>>24 clips in May." ->
        "Fill in the blank with a number: Natalia sold ___ clips in May." -> "24").
  * `answer`   = the answer of the first (main) question; `source_id` = the GSM8K row id.

Train rows come from GSM8K train, held-out rows from GSM8K test; rows are drawn in a seeded order, so the files
are the same bytes on every machine. Pure string processing: no model, no tokenizer.
"""
from __future__ import annotations

import random
import re
from pathlib import Path

from r1zero.data import DATA_DIR, load_dataset, write_jsonl

SEED = 0
SIZES = {"train": 160, "test": 50}  # rows per split
SOURCES = {"train": "gsm8k", "test": "gsm8k_test"}
MAX_PASSAGE_CHARS = 560  # ~150 tokens with the SmolLM2 tokenizer (measured: about 3.9 characters per token)
MAX_CLOZES = 2
CLOZE_PREFIX = "Fill in the blank with a number: "

_ANNOTATION = re.compile(r"<<([^<>]*)=([^<>]*)>>")
# the arithmetic just before an annotation: "48/2 = ", "0.2 x 50 = $" (x only as a word), at the end of the text
_EXPR_BEFORE = re.compile(r"(?:\s*(?:[\d.,()$%]+|[+\-*/×÷]|\bx\b))*\s*=\s*\$?\s*$")
_OPERATOR = re.compile(r"(?:^|\s)[+\-*/×÷x](?:\s|$)")
_INTEGERISH = re.compile(r"^-?\d+(\.\d+)?$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def clean_solution(solution: str) -> str:
    """The worked solution as prose: annotations removed, the `#### N` line as "The answer is N."."""
    lines = []
    for line in solution.strip().splitlines():
        line = line.strip()
        if line.startswith("####"):
            lines.append(f"The answer is {line[4:].strip().replace(',', '')}.")
        elif line:
            lines.append(_ANNOTATION.sub("", line))
        # blank lines dropped
    return "\n".join(lines)


def passage_of(row: dict) -> str:
    return f"{row['problem'].strip()}\n{clean_solution(row['solution'])}"


def question_sentence(problem: str) -> str | None:
    """The last sentence of the problem that ends with '?', or None."""
    sentences = [s.strip() for s in _SENTENCE_END.split(problem.strip()) if s.strip()]
    asked = [s for s in sentences if s.endswith("?")]
    return asked[-1] if asked else None


def cloze_of(line: str) -> tuple[str, str, str] | None:
    """(cloze text, the text before the blank, number) for a solution line with exactly one calculator annotation
    whose blank has at least three words before it, or None."""
    found = list(_ANNOTATION.finditer(line))
    if len(found) != 1:
        return None
    m = found[0]
    result = m.group(2).strip()
    if not _INTEGERISH.match(result):
        return None
    expr = _EXPR_BEFORE.search(line[:m.start()])
    before = line[:expr.start()].rstrip() if expr else line[:m.start()].rstrip()
    after = line[m.end():]
    if not after.startswith(result) or (expr and expr.group(0).strip()[:1] in "+-*/×÷x"):
        return None  # the number is not written out, or the arithmetic has words in it ("36 items / 2 = ")
    after = after[len(result):]
    text = re.sub(r"\s+", " ", f"{before} ___{after}").strip()
    context = re.sub(r"[^A-Za-z ]", " ", before).split()
    if len(context) < 3 or re.search(r"\d\s*___|___\s*[\d(]", text) or _OPERATOR.search(before) or "=" in text:
        return None  # too little context, or arithmetic still around the blank ("40 items - 4 items ___")
    if result in re.findall(r"\d+(?:\.\d+)?", before):
        return None  # the answer is already in the prompt ("... walked 11 miles because ___" -> 11)
    return text, before.strip(), result


def seal_row(row: dict, split: str, index: int) -> dict | None:
    """The SEAL row for one GSM8K row, or None when it does not qualify (long passage, no question sentence, no
    cloze question)."""
    passage = passage_of(row)
    asked = question_sentence(row["problem"])
    if len(passage) > MAX_PASSAGE_CHARS or asked is None:
        return None
    answer = str(row["answer"]).strip()
    questions = [{"question": asked, "answer": answer, "kind": "main"}]
    seen = {answer}
    for line in row["solution"].splitlines():
        cloze = cloze_of(line.strip())
        if cloze and not {cloze[1], cloze[2]} & seen and len(questions) <= MAX_CLOZES:
            seen |= {cloze[1], cloze[2]}  # no repeated number, no repeated prefix (it would be ambiguous)
            questions.append({"question": CLOZE_PREFIX + cloze[0], "answer": cloze[2], "kind": "cloze",
                              "prefix": cloze[1]})
    if len(questions) < 2:
        return None
    return {"id": f"seal-gsm8k-{split}-{index:05d}", "problem": passage, "answer": answer, "questions": questions,
            "source_id": row["id"], "source": "gsm8k"}


def build_rows(split: str, seed: int = SEED, size: int | None = None) -> list[dict]:
    """`size` qualifying rows of the split, drawn in the order of a `random.Random(seed)` shuffle."""
    src = load_dataset(SOURCES[split])
    order = list(range(len(src)))
    random.Random(seed).shuffle(order)
    want = SIZES[split] if size is None else size
    out: list[dict] = []
    for i in order:
        row = seal_row(src[i], split, len(out))
        if row is not None:
            out.append(row)
            if len(out) == want:
                break
    return out


def write_data(out_dir: str | Path = DATA_DIR / "seal", seed: int = SEED) -> list[Path]:
    """The GSM8K splits, then the fictional-entity ones (r1zero/tasks/seal/fiction.py) and the few-shot puzzles
    (rules.py)."""
    from r1zero.tasks.seal import fiction, rules

    paths = [write_jsonl(build_rows(split, seed), Path(out_dir) / f"{split}.jsonl") for split in SIZES]
    generated = {**fiction.build_rows(), **rules.build_rows()}
    return paths + [write_jsonl(rows, Path(out_dir) / f"{split}.jsonl") for split, rows in generated.items()]

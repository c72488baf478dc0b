r"""Build benchmarks/data/rewards_corpus.jsonl: labelled (gold, response-or-completion) cases for answer verifiers.

    python benchmarks/data/make_rewards_corpus.py      # deterministic (seeded); rewrites the .jsonl

Three parts (provenance per row in `source`, see README.md here):
1. corpus_public.jsonl: cases transcribed from public verifier test suites (Math-Verify, NeMo-Skills, Qwen2.5-Math,
   miles/DeepScaleR/DAPO, verl), each relabelled by meaning; rows whose label depends on a grader's settings are
   kept with `label: null` and left out of the corpus.
2. corpus_hand.BLOCKS: model-style outputs written by hand for every kind of answer, positives and near-misses.
3. Rewrites of real dataset solutions (r1zero/data: GSM8K test, MATH-500): the reference solution with its
   `#### N` line or its `\boxed{}` replaced by the closing forms models write, and near-misses made by putting an
   intermediate GSM8K value, or a MATH-500 near-miss answer from rewards_labelled.jsonl, in the same place.
   Labels follow from construction (the dataset's gold, or a value that differs from it).
Row: {"id", "kind": "response"|"completion", "answer", "response"|"completion", "label", "category", "source",
      "note"}.
"""
from __future__ import annotations

import json
import random
import re
import sys
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from corpus_hand import BLOCKS  # noqa: E402
from corpus_heldout import BLOCKS as HELDOUT_BLOCKS  # noqa: E402
from corpus_heldout import BLOCKS2 as HELDOUT_BLOCKS2  # noqa: E402
from corpus_heldout import BLOCKS3 as HELDOUT_BLOCKS3  # noqa: E402
from make_rewards_labelled import _data  # noqa: E402  (the project's data files, as that builder reads them)

SEED = 20251201
OUT = HERE / "rewards_corpus.jsonl"
HELDOUT = HERE / "rewards_heldout.jsonl"
GSM8K_ENDINGS = ["The answer is {n}.", "So the answer is {n}.", "Therefore, the final answer is {n}.",
                 "**Answer:** {n}", "Final answer: $\\boxed{{{n}}}$", "#### {n}", "Answer: {n}",
                 "So, the answer is $\\boxed{{{n}}}$."]
MATH_ENDINGS = ["Final Answer: The final answer is ${x}$. I hope it is correct.", "The answer is ${x}$.",
                "**Final Answer**\n\\[ {x} \\]"]


def _row(kind: str, gold: str, text: str, label: bool | None, category: str, source: str, note: str = "") -> dict:
    return {"kind": kind, "answer": gold, kind: text, "label": label, "category": category, "source": source,
            "note": note}


def public_rows(name: str = "corpus_public.jsonl") -> list[dict]:
    out = []
    for line in (HERE / name).open(encoding="utf-8"):
        r = json.loads(line)
        out.append({**_row(r["kind"], r["answer"], r["text"], r["label"], r["category"], r["source"], r["note"]),
                    "source_label": r["source_label"]})
    return out


def hand_rows(blocks: list = BLOCKS, tag: str = "hand") -> list[dict]:
    return [_row(kind, gold, text, label, category, f"{tag} ({source})")
            for category, source, rows in blocks for kind, gold, text, label in rows]


def _number(text: str) -> Fraction | None:
    try:
        return Fraction(text.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


def gsm8k_rows(rng: random.Random, count: int = 30) -> list[dict]:
    """Per problem: two closings with the gold number, two near-misses (an intermediate value or gold + 1)."""
    problems = [p for p in _data("gsm8k/test.jsonl") if _number(p["answer"]) is not None]
    out = []
    for p in rng.sample(problems, count):
        gold, body = p["answer"], p["solution"].rsplit("####", 1)[0].rstrip()
        plain = re.sub(r"<<[^<>]*>>", "", body)  # models do not write the calculator annotations
        values = [v for v in re.findall(r"<<[^<>]*=([^<>]+)>>", body) if _number(v) not in (None, _number(gold))]
        wrong = values[-1] if values else str(_number(gold) + 1)
        src = f"rewrite of GSM8K test {p['id']} (openai/grade-school-math, MIT) via r1zero/data/gsm8k"
        ending = rng.choice(GSM8K_ENDINGS)
        out.append(_row("completion", gold, plain + "\n" + ending.format(n=gold), True, "gsm8k", src))
        out.append(_row("completion", gold, plain + "\n" + ending.format(n=wrong), False, "gsm8k", src,
                        "near-miss: an intermediate value of the solution, or gold + 1"))
        last = plain.splitlines()[-1]
        nums = re.findall(r"-?\d[\d,]*(?:\.\d+)?", last)
        if nums and _number(nums[-1]) == _number(gold):  # the closing sentence ends on the answer
            out.append(_row("completion", gold, plain, True, "gsm8k", src, "no marker: the last sentence states it"))
            bad = str(_number(gold) * 2 if _number(gold) else 1)
            head, _, tail = last.rpartition(nums[-1])
            out.append(_row("completion", gold, plain[: len(plain) - len(last)] + head + bad + tail, False, "gsm8k",
                            src, "no marker; the last number replaced by twice the gold"))
        if rng.random() < 0.3:  # the gold side is the whole reference solution
            out.append(_row("response", p["solution"], gold, True, "gold_wrapped", src, "gold is the solution"))
            out.append(_row("response", p["solution"], wrong, False, "gold_wrapped", src, "gold is the solution"))
    return out


def _near_misses() -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for line in (HERE / "rewards_labelled.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        if r["origin"].startswith("math500:"):
            table.setdefault(r["origin"][8:], []).append((r["pred"], r["label"]))
    return table


def _box_span(text: str) -> tuple[int, int] | None:
    """(start of `\\boxed{`, index after its `}`) of the only box in the text, brace-matched; None if unclosed."""
    start = text.find("\\boxed{")
    depth = 0
    for j in range(start + 6, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0) if text[j - 1] != "\\" else 0
        if depth == 0:
            return start, j + 1
    return None


def math500_rows(rng: random.Random, count: int = 30) -> list[dict]:
    """Per problem: the solution with its box removed (the answer stays in its math span), a Minerva-style
    closing; the same two with a near-miss answer from rewards_labelled.jsonl in the box's place."""
    misses = _near_misses()
    problems = [p for p in _data("math/test500.jsonl") if p["solution"].count("\\boxed") == 1
                and len(p["solution"]) - p["solution"].rfind("\\boxed") < 200 and _box_span(p["solution"])
                and any(not ok for _, ok in misses.get(p["id"], []))]
    out = []
    for p in rng.sample(problems, count):
        s, (a, b) = p["solution"], _box_span(p["solution"])
        inner = s[a + 7: b - 1]
        wrong = next(pred for pred, ok in misses[p["id"]] if not ok)
        equal = [pred for pred, ok in misses[p["id"]] if ok]
        src = f"rewrite of MATH-500 {p['id']} (openai/prm800k, MIT) via r1zero/data/math"
        out.append(_row("completion", p["answer"], s[:a] + inner + s[b:], True, "math_unboxed", src,
                        "the reference solution with \\boxed{} removed"))
        out.append(_row("completion", p["answer"], s[:a] + wrong + s[b:], False, "math_unboxed", src,
                        "box removed, a near-miss answer in its place"))
        ending = rng.choice(MATH_ENDINGS)
        head = s[: max(s.rfind(". ", 0, a), s.rfind("\n", 0, a)) + 1].rstrip()  # cut at the sentence before the box
        out.append(_row("completion", p["answer"], head + "\n" + ending.format(x=inner), True, "math_unboxed", src,
                        "solution cut before the box, then a closing line"))
        out.append(_row("completion", p["answer"], head + "\n" + ending.format(x=wrong), False, "math_unboxed",
                        src, "solution cut before the box, a near-miss closing line"))
        if equal and rng.random() < 0.4:
            out.append(_row("response", s, rng.choice(equal), True, "gold_wrapped", src, "gold is the solution"))
            out.append(_row("response", s, wrong, False, "gold_wrapped", src, "gold is the solution"))
    return out


_LITERAL_RE = re.compile(r"(?<![\w.^_{\\])(?<!\^\{)(?<!_\{)\d+(?:\.\d+)?(?![\w.])")


def _bump_last_number(gold: str) -> str | None:
    """The gold with its last number (not a subscript or exponent) increased by 1, or None when it has none."""
    found = list(_LITERAL_RE.finditer(gold))
    if not found or len(gold) > 200 or "approx" in gold:
        return None
    m = found[-1]
    value = Fraction(m.group(0)) + 1
    text = str(value.numerator) if value.denominator == 1 else f"{float(value):.{len(m.group(0).split('.')[1])}f}"
    return gold[: m.start()] + text + gold[m.end():]


def perturbed_rows(rows: list[dict]) -> list[dict]:
    """Near-misses for kinds with more equal than unequal cases: an equal public case whose gold gets its last
    number increased by 1 (so the unchanged response or completion no longer gives it)."""
    balance: dict[str, int] = {}
    for r in rows:
        if r["label"] is not None:
            balance[r["category"]] = balance.get(r["category"], 0) + (1 if r["label"] else -1)
    out = []
    for r in rows:
        if r["label"] and r["source"].startswith(("huggingface/", "NVIDIA/", "QwenLM/", "radixark/", "volcengine/")) \
                and balance.get(r["category"], 0) > 0 and r["category"] != "choice":
            gold = _bump_last_number(r["answer"])
            if gold is not None:
                balance[r["category"]] -= 1
                out.append({**_row(r["kind"], gold, r[r["kind"]], False, r["category"], r["source"],
                                   "near-miss: the public case with the gold's last number + 1"),
                            "source_label": None})
    return out


def write(rows: list[dict], path: Path, prefix: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i, r in enumerate(rows):
            f.write(json.dumps({"id": f"{prefix}-{i:04d}", **r}, ensure_ascii=False) + "\n")
    kept = [r for r in rows if r["label"] is not None]
    print(f"{len(rows)} rows ({len(rows) - len(kept)} left out as ambiguous), {sum(r['label'] for r in kept)} "
          f"equal, {sum(not r['label'] for r in kept)} not equal -> {path.relative_to(ROOT)}")


def main() -> None:
    rng = random.Random(SEED)
    rows = public_rows() + hand_rows() + gsm8k_rows(rng) + math500_rows(rng)
    rows += perturbed_rows(rows)
    write(rows, OUT, "case")
    write(public_rows("corpus_heldout_public.jsonl") + hand_rows(HELDOUT_BLOCKS, "held-out hand")
          + hand_rows(HELDOUT_BLOCKS2, "held-out hand, round 2") + hand_rows(HELDOUT_BLOCKS3, "held-out hand, round 3"),
          HELDOUT, "held")


if __name__ == "__main__":
    main()

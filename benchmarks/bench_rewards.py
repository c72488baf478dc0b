"""Answer-verifier benchmark: r1zero (`python -m rewards score`) and HuggingFace math-verify on the same labelled
items, in one run.

    python benchmarks/bench_rewards.py [--workers 1] [--timeout 5] [--sets corpus,heldout,pairs] [--limit N]

Sets (see benchmarks/data/README.md):
  corpus  rewards_corpus.jsonl: `response` rows (a final answer) and `completion` rows (a whole output), from public
          verifier test suites, hand-written model-style outputs and rewrites of GSM8K / MATH-500 solutions;
  heldout rewards_heldout.jsonl: rows of the same kinds, held out from the tuning (scored once per round);
  pairs   rewards_labelled.jsonl: (gold, pred) pairs, scored as `response` rows.
r1zero: the rows go to `python -m rewards score IN -o OUT --workers W --rewards accuracy` in a subprocess (the CLI
path, hard timeout per row); its verdict is the output row's `correct`. Its items/s is rows / the CLI's own scoring
time (it prints `scored N rows ... in S s`: from the first row read to the last row written, pool start included,
interpreter start excluded); the wall time with the interpreter start is reported too.
math-verify 0.9.0: `verify(parse(gold), parse(text))` with its default settings, in this process (a main thread,
where its signal-based timeouts work); a gold or a `response` without math delimiters is parsed wrapped in
`\\boxed{..}` first (so a bare `x = 3` counts as LaTeX), and as it is if that gives nothing. Its items/s is measured
over the same rows in this run.
A third part sends adversarial inputs (power towers, deep nesting, 1 MB strings, many boxes) through the reward
pool one per call and measures the wall-clock latency of each call.
The last stdout line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rewards import RewardPool, RewardResult  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # it logs every timeout with the whole input
MB = 1_000_000
_MATH_DELIMITER_RE = re.compile(r"(?<!\\)\$|\\\(|\\\[|\\boxed")  # an escaped `\$` is a dollar sign
ADVERSARIAL = [r"\boxed{10^{10^{10}}}", r"\boxed{9^{9^{9^{9}}}}", r"\boxed{2^{100000000}}", r"\boxed{(10^{10})!}",
               r"\boxed{" + "(" * 1000 + "1" + ")" * 1000 + "}", r"\boxed{" + "\\sqrt{" * 1000 + "2" + "}" * 1000 + "}",
               r"\boxed{" + "1" * MB + "}", "\\boxed{1}" * 100000, "\\boxed{" * 1000, r"\boxed{x^{99999999}}",
               r"\boxed{e^{10^{10}}}", r"\boxed{\sin(10^{100})}"]


def load_set(name: str, limit: int | None) -> list[dict]:
    """Rows {kind, answer, text, label, category} of a labelled set (ambiguous rows, label null, left out)."""
    if name in ("corpus", "heldout"):
        rows = [json.loads(line) for line in (DATA / f"rewards_{name}.jsonl").open(encoding="utf-8")]
        rows = [{"kind": r["kind"], "answer": r["answer"], "text": r[r["kind"]], "label": r["label"],
                 "category": r["category"]} for r in rows if r["label"] is not None]
    else:
        rows = [{"kind": "response", "answer": r["gold"], "text": r["pred"], "label": r["label"],
                 "category": r["category"]}
                for r in (json.loads(line) for line in (DATA / "rewards_labelled.jsonl").open(encoding="utf-8"))]
    return rows[:limit] if limit else rows


def run_cli(rows: list[dict], workers: int, timeout: float) -> tuple[list[bool], dict]:
    """r1zero's verdicts through `python -m rewards score`, and its timing."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        src.write_text("".join(json.dumps({"answer": r["answer"], r["kind"]: r["text"]}) + "\n" for r in rows),
                       encoding="utf-8")
        cmd = [sys.executable, "-m", "rewards", "score", str(src), "-o", str(dst), "--workers", str(workers),
               "--timeout", str(timeout), "--rewards", "accuracy"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"rewards score failed ({proc.returncode}): {proc.stderr[-2000:]}")
        out = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    summary = re.search(r"scored (\d+) rows: .* in ([\d.]+) s", proc.stderr)
    seconds = float(summary.group(2)) if summary else wall
    timing = {"rows_out": len(out), "scoring_s": round(seconds, 3), "wall_s_with_startup": round(wall, 3),
              "items_per_s": round(len(rows) / seconds, 1), "summary": summary.group(0) if summary else None}
    return [bool(r.get("correct")) for r in out], timing


def _mv_parse(text: str, wrap: bool):
    """math-verify's parse; a gold or a response with no math delimiters is read boxed first (`\\boxed{..}`, as the
    earlier version of this benchmark called it: its plain-expression extraction alone reads `y = 2x + 1` as the
    number 1), and as it is if that gives nothing."""
    from math_verify import parse

    if wrap and not _MATH_DELIMITER_RE.search(text):
        parsed = parse("\\boxed{" + text + "}")
        if parsed:
            return parsed
    return parse(text)


def math_verify_equal(gold: str, text: str, kind: str) -> bool:
    from math_verify import verify

    try:
        return bool(verify(_mv_parse(gold, True), _mv_parse(text, kind == "response")))
    except Exception:  # math-verify's own errors (and its TimeoutException) count as "not equal"
        return False


def run_math_verify(rows: list[dict]) -> tuple[list[bool], dict]:
    start = time.perf_counter()
    verdicts = [math_verify_equal(r["answer"], r["text"], r["kind"]) for r in rows]
    seconds = time.perf_counter() - start
    return verdicts, {"scoring_s": round(seconds, 3), "items_per_s": round(len(rows) / seconds, 1)}


def quality(rows: list[dict], verdicts: list[bool]) -> dict:
    fp = sum(v and not r["label"] for r, v in zip(rows, verdicts))
    fn = sum(r["label"] and not v for r, v in zip(rows, verdicts))
    return {"accuracy": round(1 - (fp + fn) / len(rows), 4), "false_positives": fp, "false_negatives": fn}


def per_category(rows: list[dict], ours: list[bool], theirs: list[bool]) -> dict:
    table: dict[str, dict] = {}
    for r, a, b in zip(rows, ours, theirs):
        t = table.setdefault(r["category"], {"n": 0, "equal": 0, "r1zero_fp": 0, "r1zero_fn": 0, "mv_fp": 0,
                                             "mv_fn": 0})
        t["n"] += 1
        t["equal"] += r["label"]
        for key, v in (("r1zero", a), ("mv", b)):
            t[f"{key}_fp"] += v and not r["label"]
            t[f"{key}_fn"] += r["label"] and not v
    return dict(sorted(table.items()))


def math_verify_completion_reward(completion: str, sample: dict) -> RewardResult:
    """math-verify on a whole completion (its own extraction), as a pool reward for the adversarial part."""
    from math_verify import parse, verify

    try:
        return RewardResult(float(verify(parse("\\boxed{" + sample["answer"] + "}"), parse(completion))), {})
    except Exception:
        return RewardResult(0.0, {})


def run_adversarial(reward: str, workers: int, timeout: float) -> dict:
    walls, timeouts = [], 0
    with RewardPool([reward], workers=max(workers, 1), timeout_s=timeout) as pool:
        pool.warmup()
        for text in ADVERSARIAL:
            start = time.perf_counter()
            scores = pool.score([text], [{"answer": "5"}])
            walls.append(time.perf_counter() - start)
            timeouts += scores.timeouts
    return {"max_latency_s": round(max(walls), 3), "timeouts": timeouts}


def bench_set(name: str, args: argparse.Namespace) -> dict:
    rows = load_set(name, args.limit)
    ours, ours_t = run_cli(rows, args.workers, args.timeout)
    theirs, theirs_t = run_math_verify(rows)
    return {"cases": len(rows), "equal": sum(r["label"] for r in rows),
            "r1zero": {**quality(rows, ours), **ours_t}, "math_verify": {**quality(rows, theirs), **theirs_t},
            "either": quality(rows, [a or b for a, b in zip(ours, theirs)]),
            "speed_ratio": round(ours_t["items_per_s"] / theirs_t["items_per_s"], 2),
            "per_category": per_category(rows, ours, theirs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=1, help="--workers of `python -m rewards score`")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--sets", default="corpus,heldout,pairs")
    ap.add_argument("--limit", type=int, default=None, help="first N rows of each set (for a quick look)")
    ap.add_argument("--no-adversarial", action="store_true")
    args = ap.parse_args()
    import math_verify  # noqa: F401  (imports happen before any timing)
    import sympy  # noqa: F401

    report = {"workers": args.workers, "timeout_s": args.timeout, "cpu_count": os.cpu_count(),
              "loadavg_1m": round(os.getloadavg()[0], 2)}
    for name in args.sets.split(","):
        report[name] = bench_set(name, args)
    if not args.no_adversarial:
        report["adversarial"] = {"r1zero": run_adversarial("accuracy", args.workers, args.timeout),
                                 "math_verify": run_adversarial("bench_rewards:math_verify_completion_reward",
                                                                args.workers, args.timeout)}
    _print_table(report)
    print(json.dumps(report))


def _print_table(report: dict) -> None:
    print(f"workers={report['workers']} timeout={report['timeout_s']} s cpus={report['cpu_count']} "
          f"load={report['loadavg_1m']}")
    for name in ("corpus", "heldout", "pairs"):
        if name not in report:
            continue
        r = report[name]
        print(f"\n== {name}: {r['cases']} cases ({r['equal']} equal); speed ratio r1zero/math-verify "
              f"{r['speed_ratio']}")
        for who in ("r1zero", "math_verify", "either"):
            q = r[who]
            print(f"  {who:12s} acc {q['accuracy']:.4f}  FP {q['false_positives']:3d}  FN {q['false_negatives']:3d}"
                  + (f"  {q['items_per_s']:8.1f} items/s" if "items_per_s" in q else ""))
        for cat, t in r["per_category"].items():
            print(f"    {cat:20s} n={t['n']:4d} eq={t['equal']:4d}  r1zero FP {t['r1zero_fp']:2d} FN "
                  f"{t['r1zero_fn']:3d} | math-verify FP {t['mv_fp']:2d} FN {t['mv_fn']:3d}")
    if "adversarial" in report:
        print("\nadversarial:", report["adversarial"])


if __name__ == "__main__":
    main()

"""Answer-verifier benchmark: r1zero's `math_equal` and HuggingFace `math-verify`, side by side, in one run.

    python benchmarks/bench_rewards.py [--workers 2] [--timeout 5] [--repeat 3]

On benchmarks/data/rewards_labelled.jsonl (gold, pred, label; see benchmarks/data/README.md) it reports, for each
verifier: accuracy, false positives (unequal judged equal), false negatives, items/s in one process and in the
RewardPool (worker processes, hard timeout), and per-item latency p50/p99/max. math-verify is called as
`verify(parse("\\boxed{gold}"), parse("\\boxed{pred}"))` with its default settings (its signal-based timeouts
work in a main thread, which both the single-process run and the pool workers are). Its throughput with each
gold parsed once (cached) is reported too, as the most favourable way to call it.
A second, adversarial set (power towers, deep nesting, 1 MB strings, many boxes) goes through the pool one item
per call, and the wall-clock latency of each call is measured.
The last stdout line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rewards import RewardPool, RewardResult  # noqa: E402
from rewards.math_equal import clear_caches, math_equal  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "rewards_labelled.jsonl"
logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # it logs every timeout with the whole input
MB = 1_000_000
ADVERSARIAL = [r"\boxed{10^{10^{10}}}", r"\boxed{9^{9^{9^{9}}}}", r"\boxed{2^{100000000}}", r"\boxed{(10^{10})!}",
               r"\boxed{" + "(" * 1000 + "1" + ")" * 1000 + "}", r"\boxed{" + "\\sqrt{" * 1000 + "2" + "}" * 1000 + "}",
               r"\boxed{" + "1" * MB + "}", "\\boxed{1}" * 100000, "\\boxed{" * 1000, r"\boxed{x^{99999999}}",
               r"\boxed{e^{10^{10}}}", r"\boxed{\sin(10^{100})}"]


def math_verify_equal(pred: str, gold: str, gold_parsed=None) -> bool:
    from math_verify import parse, verify

    try:
        g = gold_parsed if gold_parsed is not None else parse("\\boxed{" + gold + "}")
        return bool(verify(g, parse("\\boxed{" + pred + "}")))
    except Exception:  # math-verify's own errors (and its TimeoutException) count as "not equal"
        return False


def math_verify_reward(completion: str, sample: dict) -> RewardResult:
    """math-verify as a pool reward: the completion is the predicted answer (as `answer_equal` for r1zero)."""
    return RewardResult(float(math_verify_equal(completion, sample["answer"])), {})


def math_verify_completion_reward(completion: str, sample: dict) -> RewardResult:
    """math-verify on a whole completion (its own extraction), for the adversarial set."""
    from math_verify import parse, verify

    try:
        return RewardResult(float(verify(parse("\\boxed{" + sample["answer"] + "}"), parse(completion))), {})
    except Exception:
        return RewardResult(0.0, {})


def quality(cases: list[dict], verdicts: list[bool]) -> dict:
    fp = sum(v and not c["label"] for c, v in zip(cases, verdicts))
    fn = sum(c["label"] and not v for c, v in zip(cases, verdicts))
    return {"accuracy": round(1 - (fp + fn) / len(cases), 4), "false_positives": fp, "false_negatives": fn}


def latency_ms(seconds: list[float]) -> dict:
    ms = sorted(s * 1000 for s in seconds)
    return {"p50": round(ms[len(ms) // 2], 3), "p99": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 3),
            "max": round(ms[-1], 3)}


def run_single(cases: list[dict], equal, repeat: int) -> tuple[list[bool], float, list[float]]:
    """(verdicts, median items/s over `repeat` passes, per-item seconds of the first pass)."""
    rates, first = [], None
    for _ in range(repeat):
        clear_caches()
        verdicts, seconds = [], []
        start = time.perf_counter()
        for c in cases:
            t = time.perf_counter()
            verdicts.append(equal(c["pred"], c["gold"]))
            seconds.append(time.perf_counter() - t)
        rates.append(len(cases) / (time.perf_counter() - start))
        first = first or (verdicts, seconds)
    return first[0], statistics.median(rates), first[1]


def run_pool(cases: list[dict], reward: str, workers: int, timeout: float) -> dict:
    with RewardPool([reward], workers=workers, timeout_s=timeout) as pool:
        pool.warmup()
        start = time.perf_counter()
        scores = pool.score([c["pred"] for c in cases], [{"answer": c["gold"]} for c in cases])
        elapsed = time.perf_counter() - start
    verdicts = [s >= 1.0 for s in scores.per_reward[reward]]
    return {"items_per_s_pool": round(len(cases) / elapsed, 1), "pool_latency_ms": latency_ms(scores.latency_s),
            "pool_timeouts": scores.timeouts, "pool_errors": scores.errors,
            "pool_agrees_with_single": quality(cases, verdicts)}


def run_adversarial(reward: str, workers: int, timeout: float) -> dict:
    walls, timeouts = [], 0
    with RewardPool([reward], workers=workers, timeout_s=timeout) as pool:
        pool.warmup()
        for text in ADVERSARIAL:
            start = time.perf_counter()
            scores = pool.score([text], [{"answer": "5"}])
            walls.append(time.perf_counter() - start)
            timeouts += scores.timeouts
    return {"max_latency_s": round(max(walls), 3), "timeouts": timeouts}


def per_category(cases: list[dict], ours: list[bool], theirs: list[bool]) -> dict:
    table: dict[str, list[int]] = {}
    for c, a, b in zip(cases, ours, theirs):
        row = table.setdefault(c["category"], [0, 0, 0])
        row[0] += 1
        row[1] += a == c["label"]
        row[2] += b == c["label"]
    return {k: {"n": v[0], "r1zero_correct": v[1], "math_verify_correct": v[2]} for k, v in sorted(table.items())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=3, help="single-process passes for r1zero (median items/s)")
    args = ap.parse_args()
    cases = [json.loads(line) for line in open(args.data, encoding="utf-8")]
    import latex2sympy2_extended  # noqa: F401  (both verifiers' imports happen before any timing)
    import math_verify  # noqa: F401
    import sympy  # noqa: F401

    ours, ours_rate, ours_lat = run_single(cases, math_equal, args.repeat)
    theirs, theirs_rate, theirs_lat = run_single(cases, lambda p, g: math_verify_equal(p, g), 1)
    theirs_cached_rate = _math_verify_cached_rate(cases)
    report = {"cases": len(cases), "equal": sum(c["label"] for c in cases), "workers": args.workers,
              "timeout_s": args.timeout, "cpu_count": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2)}
    report["r1zero"] = {**quality(cases, ours), "items_per_s_single": round(ours_rate, 1),
                        "latency_ms": latency_ms(ours_lat),
                        **run_pool(cases, "answer_equal", args.workers, args.timeout),
                        "adversarial": run_adversarial("accuracy", args.workers, args.timeout)}
    report["math_verify"] = {**quality(cases, theirs), "items_per_s_single": round(theirs_rate, 1),
                             "items_per_s_single_cached_gold": round(theirs_cached_rate, 1),
                             "latency_ms": latency_ms(theirs_lat),
                             **run_pool(cases, "bench_rewards:math_verify_reward", args.workers, args.timeout),
                             "adversarial": run_adversarial("bench_rewards:math_verify_completion_reward",
                                                            args.workers, args.timeout)}
    report["per_category"] = per_category(cases, ours, theirs)
    report["checks"] = _checks(report, args.timeout)
    _print_table(report)
    print(json.dumps(report))


def _math_verify_cached_rate(cases: list[dict]) -> float:
    from math_verify import parse

    golds = {c["gold"]: parse("\\boxed{" + c["gold"] + "}") for c in cases}
    start = time.perf_counter()
    for c in cases:
        math_verify_equal(c["pred"], c["gold"], golds[c["gold"]])
    return len(cases) / (time.perf_counter() - start)


def _checks(report: dict, timeout: float) -> dict:
    ours, theirs = report["r1zero"], report["math_verify"]
    worst = max(ours["latency_ms"]["max"], ours["pool_latency_ms"]["max"]) / 1000
    return {"accuracy_ge_math_verify": ours["accuracy"] >= theirs["accuracy"],
            "false_positives_le_math_verify": ours["false_positives"] <= theirs["false_positives"],
            "single_throughput_ge_2x_math_verify": ours["items_per_s_single"] >= 2 * theirs["items_per_s_single"],
            "max_latency_le_timeout_plus_1s": max(worst, ours["adversarial"]["max_latency_s"]) <= timeout + 1}


def _print_table(report: dict) -> None:
    print(f"{report['cases']} labelled cases ({report['equal']} equal); workers={report['workers']}, "
          f"timeout={report['timeout_s']} s, cpus={report['cpu_count']}, load={report['loadavg_1m']}")
    keys = ["accuracy", "false_positives", "false_negatives", "items_per_s_single", "items_per_s_pool"]
    print(f"{'':22s}" + "".join(f"{k:>20s}" for k in keys))
    for name in ("r1zero", "math_verify"):
        r = report[name]
        print(f"{name:22s}" + "".join(f"{r[k]:>20}" for k in keys))
        print(f"{'':22s}latency ms single {r['latency_ms']}, pool {r['pool_latency_ms']}, "
              f"adversarial {r['adversarial']}")
    for cat, row in report["per_category"].items():
        print(f"  {cat:14s} n={row['n']:4d}  r1zero {row['r1zero_correct']:4d}  "
              f"math-verify {row['math_verify_correct']:4d}")
    print("checks:", report["checks"])


if __name__ == "__main__":
    main()

"""The algorithm variants side by side: 20 steps of the CPU default each, over seeds, as a markdown table.

    python benchmarks/bench_algorithms.py                                   # every variant, seeds 0 and 1
    python benchmarks/bench_algorithms.py --variants clip,gspo --seeds 0    # a subset
    python benchmarks/bench_algorithms.py --out benchmarks/results/algorithms --steps 20

Each run is `r1zero train --config launch/configs/cpu_default.yaml train.seed=S <the variant's overrides>` in a
subprocess (no checkpoints, no exported model). Per variant: the final train reward (mean of the last 5 steps'
`reward/mean`), held-out accuracy after training and seconds per step, each as mean +- standard error over the
seeds (the standard error needs 2 or more seeds; with one it is left blank). Writes <out>.md and <out>.json after
every run, so a stopped sweep keeps what it measured; the JSON is also the last line printed.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "launch/configs/cpu_default.yaml"
VARIANTS = {  # name -> (overrides, what it is)
    "clip": ([], "token-level clipped PG, GRPO advantages (the default)"),
    "gspo": (["algo.policy_loss=gspo"], "GSPO: sequence-level ratio and clipping (our clip range)"),
    "cispo": (["algo.policy_loss=cispo"], "CISPO: clipped, detached IS weight on a REINFORCE loss"),
    "is_sequence": (["algo.is_level=sequence"], "sequence-level IS correction (truncate at algo.is_cap)"),
    "is_geo_mean": (["algo.is_level=geo_mean"], "geometric-mean IS correction (truncate at algo.is_cap)"),
    "rloo": (["algo.advantage=rloo"], "RLOO leave-one-out baseline"),
    "reinforce_pp": (["algo.advantage=reinforce_pp"], "REINFORCE++: batch-normalised reward"),
    "entropy": (["algo.entropy_coef=0.001"], "GRPO + entropy bonus 0.001"),
}
LAST = 5  # steps averaged for the final train reward


def run_one(variant: str, seed: int, steps: int, work: Path, timeout: int) -> dict:
    overrides, _ = VARIANTS[variant]
    name = f"{variant}-s{seed}"
    cmd = [sys.executable, "-m", "r1zero", "train", "--config", CONFIG, f"train.seed={seed}", f"train.steps={steps}",
           f"log.output_dir={work}", f"log.run_name={name}", "log.wandb_mode=disabled", "checkpoint.every=0",
           "checkpoint.save_final=false", "checkpoint.export_model=false", "checkpoint.resume=never", *overrides]
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "WANDB_SILENT": "true"})
    out = {"variant": variant, "seed": seed, "command": "r1zero " + " ".join(cmd[3:]),
           "wall_s": round(time.time() - t0)}
    if proc.returncode != 0:
        return {**out, "error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    rows = [json.loads(line) for line in (work / name / "metrics.jsonl").read_text().splitlines()]
    rewards = [r["reward/mean"] for r in rows if "reward/mean" in r]
    steps_s = [r["timing/step"] for r in rows if "timing/step" in r]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**out, "final_reward": statistics.mean(rewards[-LAST:]), "heldout_before": result["eval_before"],
            "heldout_after": result["eval_after"], "s_per_step": statistics.mean(steps_s),
            "load_avg": statistics.mean(r["perf/load_avg"] for r in rows if "perf/load_avg" in r)}


def mean_se(values: list[float]) -> tuple[float, float | None]:
    if len(values) < 2:
        return values[0], None
    return statistics.mean(values), statistics.stdev(values) / len(values) ** 0.5


def cell(values: list[float], digits: int) -> str:
    m, se = mean_se(values)
    return f"{m:.{digits}f}" + (f" +- {se:.{digits}f}" if se is not None else "")


def markdown(runs: list[dict], seeds: list[int], argv: list[str]) -> str:
    command = " ".join(["python benchmarks/bench_algorithms.py", *argv])
    lines = ["# Algorithm variants on the CPU default", "",
             f"Command: `{command}`. Each run: 20 steps of `{CONFIG}`",
             f"with the variant's overrides; seeds {', '.join(map(str, seeds))}. Mean +- standard error over the seeds "
             f"that ran (blank with one seed). Final reward: mean `reward/mean` of the last {LAST} steps.", "",
             "| variant | overrides | seeds | final train reward | held-out before | held-out after | s/step | load |",
             "|---|---|---|---|---|---|---|---|"]
    for variant, (overrides, what) in VARIANTS.items():
        ok = [r for r in runs if r["variant"] == variant and "error" not in r]
        if not ok:
            continue
        lines.append(f"| {variant} ({what}) | {' '.join(overrides) or '-'} | {len(ok)} | "
                     f"{cell([r['final_reward'] for r in ok], 3)} | {cell([r['heldout_before'] for r in ok], 3)} | "
                     f"{cell([r['heldout_after'] for r in ok], 3)} | "
                     f"{cell([r['s_per_step'] for r in ok], 1)} | {statistics.mean(r['load_avg'] for r in ok):.1f} |")
    lines += ["", "With `algo.mu=1` and one minibatch (the CPU default) the update is on-policy: every ratio to the "
              "old logprobs is 1, where clip, gspo and cispo have the same gradient, so their runs match (seed 0: "
              "the same reward and gradient norm at every step; cispo's loss value differs, being -A logp). They "
              "differ off-policy (`algo.mu` > 1, `train.minibatches` > 1, an asynchronous sampler)."]
    failed = [r for r in runs if "error" in r]
    if failed:
        lines += ["", "Failed runs: " + "; ".join(f"{r['variant']} seed {r['seed']}: {r['error']}" for r in failed)]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma list of {', '.join(VARIANTS)}")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--out", default="benchmarks/results/algorithms", help="writes OUT.md and OUT.json")
    ap.add_argument("--work", default="runs/bench-algorithms", help="the runs' directories")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per run")
    ap.add_argument("--table-only", action="store_true", help="rewrite OUT.md from OUT.json, run nothing")
    args = ap.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown --variants {unknown}: choose from {', '.join(VARIANTS)}")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    out, work = ROOT / args.out, ROOT / args.work
    if args.table_only:
        saved = json.loads(out.with_suffix(".json").read_text())
        out.with_suffix(".md").write_text(markdown(saved["runs"], saved["seeds"], saved.get("argv", [])))
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    runs: list[dict] = []
    for seed in seeds:  # every variant at a seed before the next seed: a stopped sweep has comparable rows
        for variant in variants:
            runs.append(run_one(variant, seed, args.steps, work, args.timeout))
            print(f"[bench_algorithms] {variant} seed {seed}: " + json.dumps(runs[-1]), file=sys.stderr, flush=True)
            summary = {"config": CONFIG, "steps": args.steps, "seeds": seeds, "argv": sys.argv[1:], "runs": runs}
            out.with_suffix(".json").write_text(json.dumps(summary, indent=1))
            out.with_suffix(".md").write_text(markdown(runs, seeds, sys.argv[1:]))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

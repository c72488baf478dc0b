"""Asynchronous rollouts (`train.max_staleness=1`) against the synchronous loop, same shape, same seeds.

    python benchmarks/bench_async.py                          # 3 seeds x {sync, async}, the shape below
    python benchmarks/bench_async.py --seeds 0 --steps 4      # a quick look
    python benchmarks/bench_async.py --table-only             # rewrite the markdown from the JSON

Each run is `r1zero train --config launch/configs/cpu_default.yaml <SHAPE> train.threads=1 train.seed=S
train.max_staleness=M` in a subprocess, one after the other. `train.threads=1` in both: the synchronous run trains
with one thread and then generates with one; the async one trains with one thread while another generates (the
2 cores of this machine, one each). The shape (one prompt x 8 completions a step, T=1.0, up to 256 new tokens,
micro-batches of 2, each trimmed to its longest row) makes generation a large part of the synchronous step, as long
reasoning traces do on GPUs: generation lasts as long as the longest completion, the update's cost follows the
tokens of each micro-batch. Writes <out>.json and <out>.md after every run.

Reported: `ratio` = async s/step / sync s/step (mean over the steps after the first, which holds the engine's
warm-up; over all seeds, and per seed), `gen_share` = the synchronous runs' `timing/generate` / `timing/step`,
`reward_gap` = mean over seeds of (async mean reward over the run - sync mean reward) and `reward_gap_se` its
standard error over the seeds (paired by seed: the same prompts in the same order). JSON is the last line printed.
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
SHAPE = ["rollout.temperature=1.0", "rollout.max_new_tokens=256", "train.prompts_per_step=1",
         "train.micro_batch_size=2", "eval.before=false", "eval.after=false", "train.threads=1"]


def run_one(staleness: int, seed: int, steps: int, work: Path, timeout: int, extra: list[str]) -> dict:
    name = f"stale{staleness}-s{seed}"
    cmd = [sys.executable, "-m", "r1zero", "train", "--config", CONFIG, *SHAPE, f"train.seed={seed}",
           f"train.steps={steps}", f"train.max_staleness={staleness}", f"log.output_dir={work}",
           f"log.run_name={name}", "log.wandb_mode=disabled", "checkpoint.every=0", "checkpoint.save_final=false",
           "checkpoint.export_model=false", "checkpoint.resume=never", *extra]
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "WANDB_SILENT": "true"})
    out = {"max_staleness": staleness, "seed": seed, "command": "r1zero " + " ".join(cmd[3:]),
           "wall_s": round(time.time() - t0)}
    if proc.returncode != 0:
        return {**out, "error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    rows = [json.loads(line) for line in (work / name / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "reward/mean" in r]
    later = rows[1:] or rows
    return {**out, "rewards": [r["reward/mean"] for r in rows],
            "s_per_step": statistics.mean(r["timing/step"] for r in later),
            "gen_share": statistics.mean(r["timing/generate"] / r["timing/step"] for r in later),
            "staleness_max": max(r["sampling/staleness_max"] for r in rows),
            "staleness_mean": statistics.mean(r["sampling/staleness"] for r in rows),
            "load_avg": statistics.mean(r["perf/load_avg"] for r in rows)}


def summary(runs: list[dict]) -> dict:
    ok = {(r["max_staleness"], r["seed"]): r for r in runs if "error" not in r}
    seeds = sorted({s for m, s in ok if (1 - m, s) in ok})
    if not seeds:
        return {"runs": runs}
    per_seed = [{"seed": s, "ratio": ok[1, s]["s_per_step"] / ok[0, s]["s_per_step"],
                 "reward_gap": statistics.mean(ok[1, s]["rewards"]) - statistics.mean(ok[0, s]["rewards"])}
                for s in seeds]
    gaps = [p["reward_gap"] for p in per_seed]
    sync_s = statistics.mean(ok[0, s]["s_per_step"] for s in seeds)
    async_s = statistics.mean(ok[1, s]["s_per_step"] for s in seeds)
    return {"ratio": async_s / sync_s, "sync_s_per_step": sync_s, "async_s_per_step": async_s,
            "gen_share": statistics.mean(ok[0, s]["gen_share"] for s in seeds),
            "reward_gap": statistics.mean(gaps),
            "reward_gap_se": statistics.stdev(gaps) / len(gaps) ** 0.5 if len(gaps) > 1 else None,
            "staleness_max": max(ok[1, s]["staleness_max"] for s in seeds), "per_seed": per_seed, "runs": runs}


def markdown(res: dict, command: str) -> str:
    lines = ["# Asynchronous rollouts (train.max_staleness=1) against the synchronous loop", "",
             f"Command: `{command}`", "", f"Shape: `{CONFIG}` with `{' '.join(SHAPE)}`; one trainer thread and "
             "one generation thread on this 2-core machine.", ""]
    if "ratio" in res:
        se = res["reward_gap_se"]
        lines += [f"- s/step async / sync: **{res['ratio']:.3f}** ({res['async_s_per_step']:.1f} s against "
                  f"{res['sync_s_per_step']:.1f} s; steps after the first)",
                  f"- generation's share of the synchronous step: {res['gen_share']:.2f}",
                  f"- reward gap (async - sync, mean over the run, paired by seed): {res['reward_gap']:+.4f}"
                  + (f" +- {se:.4f} (standard error over {len(res['per_seed'])} seeds)" if se is not None else ""),
                  f"- largest staleness logged: {res['staleness_max']:.0f}",
                  "- per seed, ratio / reward gap: " + ", ".join(
                      f"{p['seed']}: {p['ratio']:.2f} / {p['reward_gap']:+.3f}" for p in res["per_seed"]), "",
                  "In the async rows `gen share` is the trainer's wait for its batch (`timing/generate`), the part of "
                  "generation the update did not hide. The load average is the machine's over each run: about 1 "
                  "when one thread works, about 2 when both cores do.", ""]
    lines += ["| run | seed | s/step | gen share | mean reward | staleness (mean / max) | load avg | wall s |",
              "|---|---|---|---|---|---|---|---|"]
    for r in res["runs"]:
        if "error" in r:
            lines.append(f"| max_staleness={r['max_staleness']} | {r['seed']} | error: {r['error']} | | | | | |")
            continue
        lines.append(f"| max_staleness={r['max_staleness']} | {r['seed']} | {r['s_per_step']:.1f} | "
                     f"{r['gen_share']:.2f} | {statistics.mean(r['rewards']):.3f} | {r['staleness_mean']:.2f} / "
                     f"{r['staleness_max']:.0f} | {r['load_avg']:.2f} | {r['wall_s']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--out", default="benchmarks/results/bench_async")
    ap.add_argument("--work", default="/tmp/r1zero-bench-async")
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="more overrides, after the shape's")
    ap.add_argument("--table-only", action="store_true", help="rewrite <out>.md from <out>.json")
    args = ap.parse_args()
    out = ROOT / args.out
    command = " ".join(["python benchmarks/bench_async.py", *sys.argv[1:]])
    if args.table_only:
        res = json.loads(out.with_suffix(".json").read_text())
        out.with_suffix(".md").write_text(markdown(res, res.get("command", command)))
        print(json.dumps({k: v for k, v in res.items() if k != "runs"}))
        return
    runs: list[dict] = []
    res: dict = {}
    for seed in args.seeds:
        for staleness in (0, 1):
            runs.append(run_one(staleness, seed, args.steps, Path(args.work), args.timeout, args.set))
            print(json.dumps({k: v for k, v in runs[-1].items() if k != "command"}), flush=True)
            res = {**summary(runs), "command": command, "steps": args.steps}
            out.parent.mkdir(parents=True, exist_ok=True)
            out.with_suffix(".json").write_text(json.dumps(res, indent=1))
            out.with_suffix(".md").write_text(markdown(res, command))
    print(json.dumps({k: v for k, v in res.items() if k != "runs"}))


if __name__ == "__main__":
    main()

"""One benchmark report: accuracy suites, performance benchmarks and a training run, as markdown + plots + one
W&B run (offline when no WANDB_API_KEY). Prints JSON as its last line.

    python benchmarks/report.py --train launch/configs/cpu_default.yaml               # train, eval it, benchmarks
    python benchmarks/report.py --run runs/addition_small-20261124-215052              # eval + all benchmarks
    python benchmarks/report.py --run runs/<name> --bench none --limit 20              # accuracy suites only
    python benchmarks/report.py --run runs/<name> --skip-eval --bench rewards          # one benchmark
    make report ARGS="--run runs/<name>"

--train CONFIG first runs `r1zero train --config CONFIG` (into <out>/train) and reports that run; the accuracy
suites then evaluate its exported weights (<run>/final_model) unless --model is given.
Accuracy: `r1zero eval` in a subprocess (the first --limit problems of each suite). Performance: each of
benchmarks/bench_{rollout,weight_sync,rewards}.py in a subprocess, its last stdout line parsed as JSON.
Training run: <run>/metrics.jsonl -> reward and eval-accuracy curves, and step time by phase (timing/*).
Output in --out (default benchmarks/results/report-<time>): report.md, report.json, *.png, eval/, wandb/.
The machine's load average is sampled while the report runs (and read from the run's `perf/load_avg` per step) and
stated at the top of report.md: timings taken under a load above the CPU count are slower by that much.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCHES = {"rollout": ["--prompts", "8", "--group", "4", "--max-new-tokens", "64", "--skip-hf"],
           "weight_sync": ["--repeats", "2"], "rewards": []}  # rewards: all labelled sets (~75 s)


def last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in the output")


class LoadMonitor:
    """The 1-minute load average, sampled every `every_s` seconds in a thread while the report runs."""

    def __init__(self, every_s: float = 10.0):
        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])
        s = self.samples
        return {"cpus": os.cpu_count(), "mean": round(sum(s) / len(s), 2), "min": round(min(s), 2),
                "max": round(max(s), 2), "samples": len(s)}


def load_sentence(load: dict) -> str:
    busy = load["mean"] > load["cpus"]
    return (f"Measured under a machine load average (1 min) of {load['mean']} on average ({load['min']}-"
            f"{load['max']}, {load['samples']} samples) on {load['cpus']} CPUs"
            + (": the machine was oversubscribed, so every time here is slower than on a quiet machine."
               if busy else "."))


def run_cmd(cmd: list[str], timeout: int) -> tuple[dict | None, str | None, float]:
    """(last-line JSON, error, seconds) of a subprocess."""
    t0 = time.time()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s", time.time() - t0
    if proc.returncode != 0:
        return None, f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}", time.time() - t0
    try:
        return last_json(proc.stdout), None, time.time() - t0
    except ValueError as e:
        return None, str(e), time.time() - t0


def run_eval(args, out: Path) -> dict:
    cmd = [sys.executable, "-m", "r1zero.cli", "eval", "--model", args.model, "--suites", args.suites,
           "--limit", str(args.limit), "--k", str(args.k), "--max-new-tokens", str(args.max_new_tokens),
           "--out", str(out / "eval"), "--wandb", "disabled"]
    cmd += ["--config", args.config] if args.config else []
    cmd += ["--temperature", str(args.temperature)] if args.k > 1 else ["--greedy"]
    cmd += list(args.overrides)
    res, err, secs = run_cmd(cmd, args.timeout)
    print(f"[report] eval: {'ok' if res else err} ({secs:.0f} s)", file=sys.stderr, flush=True)
    return {"command": " ".join(cmd[1:]), "error": err, "result": res}


def run_train(config: str, out: Path, timeout: int) -> Path:
    """`r1zero train --config CONFIG` into <out>/train/run; returns the run directory (exits on failure)."""
    cmd = [sys.executable, "-m", "r1zero.cli", "train", "--config", config, f"log.output_dir={out / 'train'}",
           "log.run_name=run", "checkpoint.every=0", "checkpoint.save_final=false"]  # no optimizer states here
    res, err, secs = run_cmd(cmd, timeout)
    print(f"[report] train: {'ok' if res else err} ({secs:.0f} s)", file=sys.stderr, flush=True)
    if res is None:
        sys.exit(f"[report] training failed ({' '.join(cmd[1:])}): {err}")
    return Path(res["run_dir"])


def run_benches(names: list[str], timeout: int) -> dict:
    out = {}
    for name in names:
        cmd = [sys.executable, f"benchmarks/bench_{name}.py", *BENCHES[name]]
        res, err, secs = run_cmd(cmd, timeout)
        print(f"[report] bench_{name}: {'ok' if res else err} ({secs:.0f} s)", file=sys.stderr, flush=True)
        out[name] = {"command": " ".join(cmd[1:]), "error": err, "result": res, "wall_s": round(secs, 1)}
    return out


def run_summary(run: Path, out: Path) -> dict:
    """Plots and the final numbers of a training run from its metrics.jsonl."""
    from r1zero.report import plot_curves, plot_timing, read_jsonl, timing_breakdown

    rows = read_jsonl(run / "metrics.jsonl")
    train = [r for r in rows if r.get("reward/mean") is not None]
    _, secs = timing_breakdown(rows)
    evals = {k: [(r["step"], r[k]) for r in rows if r.get(k) is not None]
             for k in {k for r in rows for k in r if k.startswith("eval/") and k.endswith("/accuracy")}}
    loads = [r["perf/load_avg"] for r in train if r.get("perf/load_avg") is not None]
    return {"run": str(run), "steps": len(train), "rows": rows,
            "load_avg": {"mean": round(sum(loads) / len(loads), 2), "min": min(loads), "max": max(loads)}
            if loads else None,
            "reward_first": train[0]["reward/mean"] if train else None,
            "reward_last": train[-1]["reward/mean"] if train else None,
            "eval_accuracy": {k: {"first": v[0], "last": v[-1]} for k, v in evals.items()},
            "mean_s_per_phase": {p: round(sum(v) / len(v), 3) for p, v in secs.items() if v},
            "curves_png": str(plot_curves(rows, out / "curves.png")),
            "timing_png": str(plot_timing(rows, out / "timing.png"))}


def markdown(report: dict) -> str:
    from r1zero.report import table

    md = ["# r1zero benchmark report", "", f"Command: `{report['command']}`", "", load_sentence(report["load"]), ""]
    ev = report.get("eval")
    if ev:
        md += ["## Accuracy", "", f"`{ev['command']}`", ""]
        md += (table({s: r["metrics"] for s, r in ev["result"]["suites"].items()}, "suite") if ev["result"]
               else [f"failed: {ev['error']}"]) + [""]
    for name, b in report.get("bench", {}).items():
        md += [f"## bench_{name}", "", f"`{b['command']}` ({b['wall_s']} s)", "", "```",
               json.dumps(b["result"], indent=1)[:3000] if b["result"] else f"failed: {b['error']}", "```", ""]
    run = report.get("run")
    if run:
        md += [f"## Training run `{run['run']}`", "", f"{run['steps']} steps; reward/mean {run['reward_first']} -> "
               f"{run['reward_last']}; eval accuracy (first -> last, (step, value)): {run['eval_accuracy']}", "",
               "![reward and accuracy](curves.png)", "", "Mean seconds per step by phase: "
               + ", ".join(f"{p} {s}" for p, s in run["mean_s_per_phase"].items())
               + (f" (machine load average during the run's steps: {run['load_avg']['mean']} on average, "
                  f"{run['load_avg']['min']}-{run['load_avg']['max']})" if run.get("load_avg") else
                  " (the run did not record its load average)"), "",
               "![step time by phase](timing.png)", ""]
    return "\n".join(md) + "\n"


def log_wandb(report: dict, out: Path, mode: str) -> str | None:
    """One W&B run: training curves as history, plots as images, eval and benchmark numbers in the summary."""
    from r1zero.tracking import ImageFile, TableData, write_result_run

    history, logs, summary = [], [], {}
    if report.get("run"):
        history = [(r["step"], {k: v for k, v in r.items() if k not in ("step", "time") and v is not None})
                   for r in report["run"]["rows"]]
        logs.append({"plots/curves": ImageFile(report["run"]["curves_png"]),
                     "plots/timing": ImageFile(report["run"]["timing_png"])})
    ev = (report.get("eval") or {}).get("result")
    if ev:
        data = [[s, m, float(v)] for s, r in ev["suites"].items() for m, v in r["metrics"].items()]
        logs.append({"eval_summary": TableData(["suite", "metric", "value"], data)})
        summary.update({f"eval/{s}/{m}": v for s, m, v in data})
    for name, b in report.get("bench", {}).items():
        summary.update({f"bench/{name}/{k}": v for k, v in (b["result"] or {}).items() if isinstance(v, (int, float))})
    for k, v in report["load"].items():
        summary[f"machine/load_avg_{k}" if k != "cpus" else "machine/cpus"] = v
    return write_result_run(out, "report", out.name, mode, config={"command": report["command"]}, summary=summary,
                            history=history, logs=logs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", help="training run directory with metrics.jsonl (plots: reward, accuracy, timing)")
    ap.add_argument("--out", help="output directory (default benchmarks/results/report-<time>)")
    ap.add_argument("--train", metavar="CONFIG", help="train with this config first and report that run")
    ap.add_argument("--model", help="model to evaluate (default: the --train run's final_model, else smollm2-135m)")
    ap.add_argument("--config", help="YAML config for the eval (template, engine)")
    ap.add_argument("--suites", default="addition_small_test,gsm8k_test,math500")
    ap.add_argument("--limit", type=int, default=20, help="problems per suite (0: all; slow on CPU)")
    ap.add_argument("--k", type=int, default=1, help="samples per problem (1: greedy)")
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--skip-eval", action="store_true")
    ap.add_argument("--bench", default="rollout,weight_sync,rewards", help=f"comma list of {', '.join(BENCHES)}, "
                    "or none")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per subprocess")
    ap.add_argument("--wandb", default="auto", choices=["auto", "online", "offline", "disabled"])
    ap.add_argument("overrides", nargs="*", help="config overrides for the eval, e.g. data.template=boxed")
    args = ap.parse_args(argv)
    benches = [] if args.bench in ("", "none") else args.bench.split(",")
    unknown = [b for b in benches if b not in BENCHES]
    if unknown:
        ap.error(f"unknown --bench {unknown}: choose from {', '.join(BENCHES)} or none")
    if args.train and args.run:
        ap.error("give --train CONFIG (train, then report that run) or --run DIR (an existing run), not both")
    if args.train and not Path(args.train).is_file():
        ap.error(f"--train {args.train}: no such config file (examples in launch/configs/)")
    if args.run and not (Path(args.run) / "metrics.jsonl").is_file():
        ap.error(f"--run {args.run}: no metrics.jsonl there (give a training run directory)")
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"report-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"command": "python benchmarks/report.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    load = LoadMonitor()
    if args.train:
        t0 = time.time()
        args.run = str(run_train(args.train, out, 3 * args.timeout))
        report["train_wall_s"] = round(time.time() - t0, 1)
    args.config = args.config or args.train  # evaluate with the training prompt template
    if args.model is None:
        final = Path(args.run) / "final_model" if args.run else None
        args.model = str(final) if args.train and final and final.is_dir() else "smollm2-135m"
    if not args.skip_eval:
        report["eval"] = run_eval(args, out)
    report["bench"] = run_benches(benches, args.timeout)
    if args.run:
        report["run"] = run_summary(Path(args.run), out)
    report["load"] = load.stop()
    (out / "report.md").write_text(markdown(report), encoding="utf-8")
    report["wandb_dir"] = log_wandb(report, out, args.wandb)
    if report.get("run"):
        report["run"].pop("rows")
    (out / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps({"out": str(out), "markdown": str(out / "report.md"), "wandb_dir": report["wandb_dir"],
                      "eval": {s: r["metrics"] for s, r in ((report.get("eval") or {}).get("result") or {})
                               .get("suites", {}).items()},
                      "bench": {k: v["result"] for k, v in report["bench"].items()},
                      "run": report.get("run"), "load": report["load"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

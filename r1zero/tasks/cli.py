"""`r1zero grm ...` and `r1zero seal ...`: the tasks' subcommands of the one CLI (r1zero/cli.py).

    r1zero grm build-data [--model M] [--seed 0] [--limit N] [--engine vllm|hf]
    r1zero grm eval --model M --data grm_addition_small_test --k 1,4,8 --out DIR [--wandb-mode offline]
    r1zero grm meta-train --model M --critiques EVAL_DIR --data grm_addition_small --out DIR
    r1zero grm meta-eval --meta DIR --critiques EVAL_DIR --data grm_addition_small_test --k 1,4,8
    r1zero seal build-data [--out DIR]
    r1zero seal eval --model M --data seal_gsm8k_test --out DIR [--wandb-mode offline] [seal.inner_steps=2 ...]

Each prints one JSON object as its last line of output (seal build-data: the paths written). Only argparse here:
a task's modules (torch, engines) are imported when its command runs.
"""
from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

WANDB_MODES = ["auto", "online", "offline", "disabled"]


def add_parsers(sub) -> None:
    """The `grm` and `seal` subcommands on the CLI's subparsers."""
    _add_grm(sub.add_parser("grm", help="the SPCT generative reward model task: build its data, pairwise eval"))
    _add_seal(sub.add_parser("seal", help="the SEAL tasks (knowledge, few-shot): build their data, held-out gain"))


def _add_grm(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="task_cmd", required=True)
    b = sub.add_parser("build-data", help="sample and label candidate answers, write grm/{train,test}.jsonl")
    b.add_argument("--out", help="output directory (default: r1zero/data/grm, the shipped files)")
    b.add_argument("--model", help="the model that writes the candidates (default: grm_data.BUILD's)")
    b.add_argument("--seed", type=int, help="(default: grm_data.BUILD's)")
    b.add_argument("--limit", type=int, default=0, help="first N problems per split (0: all)")
    b.add_argument("--engine", default="vllm", choices=["vllm", "hf"])
    e = sub.add_parser("eval", help="pairwise accuracy of a GRM with k-critique voting")
    e.add_argument("--model", default="smollm2-135m")
    e.add_argument("--data", default="grm_addition_small_test")
    e.add_argument("--k", default="1,4,8", help="comma-separated voting sizes")
    e.add_argument("--engine", default="vllm", choices=["vllm", "hf"])
    e.add_argument("--temperature", type=float, default=0.7)
    e.add_argument("--max-new-tokens", type=int, default=192)
    e.add_argument("--limit", type=int, default=0, help="first N rows (0: all)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--chat", action="store_true", help="the template's chat form (default: raw few-shot form)")
    e.add_argument("--label", default="", help="a name for the W&B run (e.g. before, after)")
    e.add_argument("--out", help="output directory (default runs/grm-eval-<time>)")
    e.add_argument("--wandb-mode", default="auto", choices=WANDB_MODES)
    m = sub.add_parser("meta-train", help="fit SPCT's meta RM on the critiques of a `grm eval` of a train split")
    m.add_argument("--model", required=True, help="the frozen backbone (usually the judge that wrote the critiques)")
    m.add_argument("--critiques", required=True, help="a `grm eval` output directory (or its critiques.jsonl)")
    m.add_argument("--data", default="grm_addition_small", help="the dataset those critiques judged")
    m.add_argument("--out", required=True)
    v = sub.add_parser("meta-eval", help="meta-RM-guided voting vs plain voting on the critiques of a `grm eval`")
    v.add_argument("--meta", required=True, help="a `grm meta-train` output directory")
    v.add_argument("--critiques", required=True, help="a `grm eval` output directory (or its critiques.jsonl)")
    v.add_argument("--data", default="grm_addition_small_test")
    v.add_argument("--k", default="1,4,8", help="comma-separated voting sizes")
    v.add_argument("--k-meta", type=int, default=0, help="critiques kept per pair (default: k/2, at least 1)")
    v.add_argument("--out", help="write results.json here")


def _add_seal(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="task_cmd", required=True)
    b = sub.add_parser("build-data", help="write seal/{train,test}.jsonl from the shipped GSM8K splits")
    b.add_argument("--out", default=None, help="output directory (default: r1zero/data/seal, the shipped files)")
    e = sub.add_parser("eval", help="held-out SEAL gain: self-edit, inner update, closed-book accuracy")
    e.add_argument("--model", default="smollm2-135m", help="the model that writes the self-edits")
    e.add_argument("--inner-model", default=None, help="the model the inner loop updates (default: --model)")
    e.add_argument("--data", default="seal_gsm8k_test")
    e.add_argument("--config", default="launch/configs/seal_rest_cpu.yaml", help="template, engine, seal.* knobs")
    e.add_argument("--limit", type=int, default=0, help="first N passages (0: all)")
    e.add_argument("--out", required=True)
    e.add_argument("--baselines", default="", help="comma-separated: passage (the inner update on the passage "
                   "itself), copy (on one copied answer); for few-shot puzzles: fixed (one plan for every puzzle)")
    e.add_argument("--wandb-mode", default="auto", choices=WANDB_MODES)
    e.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. seal.inner_steps=2")


def run_grm(args: argparse.Namespace) -> int:
    command = "r1zero grm " + " ".join(shlex.quote(a) for a in args.argv)
    if args.task_cmd == "build-data":
        from r1zero.data import DATA_DIR
        from r1zero.tasks.grm_data import BUILD, build_data

        result = build_data(args.out or DATA_DIR / "grm", args.model or BUILD["model"],
                            BUILD["seed"] if args.seed is None else args.seed, args.limit, args.engine, command)
    elif args.task_cmd == "meta-train":
        from r1zero.tasks.grm_meta import train_meta

        result = train_meta(args.model, args.critiques, args.data, args.out) | {"command": command}
    elif args.task_cmd == "meta-eval":
        from r1zero.tasks.grm_meta import meta_eval

        result = meta_eval(args.meta, args.critiques, args.data, _ks(args.k), args.k_meta) | {"command": command}
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / "results.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    else:
        ks = _ks(args.k)
        from r1zero.tasks.grm import run_pairwise_eval

        out = args.out or f"runs/grm-eval-{time.strftime('%Y%m%d-%H%M%S')}"
        result = run_pairwise_eval(args.model, args.data, ks, out, args.engine, args.temperature,
                                   args.max_new_tokens, args.limit, args.seed, args.chat, args.wandb_mode,
                                   args.label, command)
    print(json.dumps(result), flush=True)
    return 0


def _ks(text: str) -> list[int]:
    ks = sorted({int(x) for x in text.split(",") if x.strip()})
    if not ks or ks[0] < 1:
        from r1zero.errors import ConfigError

        raise ConfigError(f"--k needs positive integers, got {text!r}")
    return ks


def run_seal(args: argparse.Namespace) -> int:
    if args.task_cmd == "build-data":
        from r1zero.tasks.seal import data

        for path in data.write_data(*([args.out] if args.out else [])):
            print(path)
        return 0
    from r1zero.config import load_config
    from r1zero.tasks.seal.eval import baseline_names, evaluate

    cfg = load_config(args.config, list(args.overrides))
    command = "r1zero seal " + " ".join(shlex.quote(a) for a in args.argv)
    result = evaluate(cfg, args.model, args.data, Path(args.out), limit=args.limit, inner_model=args.inner_model,
                      wandb_mode=args.wandb_mode, command=command,
                      baselines=baseline_names(args.baselines))
    print(json.dumps(result["metrics"] | {"out": args.out}), flush=True)
    return 0


COMMANDS = {"grm": run_grm, "seal": run_seal}  # r1zero/cli.py dispatches these names here

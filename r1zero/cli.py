"""`r1zero train|eval|score|grm|seal ...`: the command line.

    r1zero train --config launch/configs/cpu_default.yaml optim.lr=1e-5 train.steps=20
    r1zero eval  --model smollm2-135m --suites math500,gsm8k_test --k 8 --temperature 0.6 --limit 100
    r1zero score IN.jsonl -o OUT.jsonl          (same as `python -m rewards score`)
    r1zero grm build-data|eval ...              (the tasks: r1zero/tasks/cli.py)
    r1zero seal build-data|eval ...

`train` prints one JSON object as its last line of output: run_dir, wandb_dir, wall_s, steps, eval_before,
eval_after, metrics, reward_curve.

Errors: every rank catches its own, prints one or two lines (r1zero/errors.py) and exits with the code of its kind
(config 2, data 3, model 4, resume 5, rewards 6, disk 7, bad steps 8, internal 1); the traceback only with
`log.verbose=true`, `R1ZERO_VERBOSE=1` or `R1ZERO_DEBUG=1`.
"""
from __future__ import annotations

import argparse
import json
import sys

from r1zero.tasks import cli as tasks_cli


def _train(args: argparse.Namespace) -> int:
    from r1zero import console
    from r1zero.config import load_config, validate

    cfg = load_config(args.config, args.overrides, check=False)
    args.verbose = cfg.log.verbose
    console.setup(cfg.log.verbose)  # before torch, vLLM, DeepSpeed and W&B are imported
    validate(cfg)
    from r1zero.train import train

    result = train(cfg)
    from r1zero import dist

    if dist.rank() == 0:
        print(json.dumps(result), flush=True)
    return 0


def _eval(args: argparse.Namespace) -> int:
    """Evaluate a model on suites with the config's engine and template: no trainer, no DeepSpeed."""
    from r1zero.config import load_config, validate

    greedy = args.greedy or (args.k == 1 and args.temperature is None)  # k=1 without a temperature: greedy
    if greedy and args.k != 1:
        print(f"r1zero: --greedy gives one answer per problem: drop --greedy or use --k 1 (got --k {args.k})",
              file=sys.stderr)
        return 2
    overrides = [f"model.name={args.model}", f"eval.suites={args.suites}", f"eval.limit={args.limit}",
                 f"eval.k={args.k}", f"eval.greedy={str(greedy).lower()}"]
    overrides += [f"eval.temperature={args.temperature}"] if args.temperature is not None else []
    overrides += [f"eval.top_p={args.top_p}"] if args.top_p is not None else []
    overrides += [f"eval.max_new_tokens={args.max_new_tokens}"] if args.max_new_tokens else []
    cfg = load_config(args.config, overrides + list(args.overrides), check=False)
    args.verbose = cfg.log.verbose
    from r1zero import console

    console.setup(cfg.log.verbose)  # before torch and vLLM are imported
    validate(cfg)
    import shlex
    import time

    from r1zero.evaluate import run_evaluation

    out = args.out or f"runs/eval-{time.strftime('%Y%m%d-%H%M%S')}"
    command = "r1zero eval " + " ".join(shlex.quote(a) for a in args.argv)
    result = run_evaluation(cfg, out, args.wandb, args.samples, args.chunk, command)
    print(json.dumps(result), flush=True)
    return 0


def _drop_local_rank(argv: list[str]) -> list[str]:
    """The DeepSpeed launcher appends `--local_rank=N` (LOCAL_RANK is also in the environment): drop it."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--local_rank":
            skip = True
        elif not a.startswith("--local_rank="):
            out.append(a)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="r1zero", description="R1-Zero style RL for reasoning (GRPO)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="run GRPO training")
    t.add_argument("--config", help="YAML config (see launch/configs/)")
    t.add_argument("overrides", nargs="*", help="dotted overrides, e.g. optim.lr=1e-6 rollout.group_size=8")
    e = sub.add_parser("eval", help="evaluate a model on benchmark suites (avg@k, pass@k, maj@k)")
    e.add_argument("--config", help="YAML config: template (data.template/data.chat), engine, eval defaults")
    e.add_argument("--model", default="smollm2-135m")
    e.add_argument("--suites", default="addition_small_test", help="comma-separated dataset names")
    e.add_argument("--k", type=int, default=1, help="samples per problem")
    e.add_argument("--temperature", type=float, help="sampling temperature (default: the config's eval one)")
    e.add_argument("--top-p", type=float, help="nucleus sampling (default: the config's eval one)")
    e.add_argument("--greedy", action="store_true", help="greedy decoding (k=1; also the default for k=1 "
                   "without --temperature)")
    e.add_argument("--max-new-tokens", type=int, default=0, help="0: the config's eval.max_new_tokens")
    e.add_argument("--limit", type=int, default=0, help="first N problems per suite (0: all)")
    e.add_argument("--out", help="output directory (default runs/eval-<time>)")
    e.add_argument("--samples", type=int, default=8, help="completions per suite in the W&B samples table")
    e.add_argument("--chunk", type=int, default=0, help="problems per generate call, with progress (0: all)")
    e.add_argument("--wandb", default="auto", choices=["auto", "online", "offline", "disabled"])
    e.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. data.template=boxed")
    s = sub.add_parser("score", help="score a JSONL file with the rule-based verifiers")
    s.add_argument("rest", nargs=argparse.REMAINDER)
    tasks_cli.add_parsers(sub)
    argv = _drop_local_rank(sys.argv[1:] if argv is None else list(argv))
    args, extra = parser.parse_known_args(argv)
    if args.cmd == "score":
        from rewards.__main__ import main as rewards_main

        sys.exit(rewards_main(["score", *args.rest, *extra]))
    args.argv, args.verbose = argv[1:], False
    if extra:
        if not hasattr(args, "overrides"):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = list(args.overrides) + extra
    try:
        code = {"train": _train, "eval": _eval, **tasks_cli.COMMANDS}[args.cmd](args)
    except BaseException as e:  # noqa: BLE001 - every error leaves as one message and its exit code
        if isinstance(e, SystemExit):
            raise
        from r1zero.errors import report

        code = report(e, verbose=args.verbose)
    sys.exit(code)


if __name__ == "__main__":
    main()

"""SEAL (Self-Adapting Language Models, Zweiger et al. 2025) knowledge incorporation, as a task and a model reward.

    python -m r1zero.seal build-data                                  # r1zero/data/seal/{train,test}.jsonl
    r1zero train --config launch/configs/seal_rest_cpu.yaml           # ReST-EM outer loop (algo.loss=rft)
    r1zero train --config launch/configs/seal_grpo_cpu.yaml           # GRPO outer loop
    python -m r1zero.seal eval --model M --data seal_gsm8k_test --out DIR [--wandb-mode offline]

The policy reads a passage (`data.template=seal`) and writes a *self-edit* (facts and implications of the passage).
The reward of a self-edit (`SealReward`, `rewards.names: [seal_knowledge]`) is SEAL's inner loop, run in worker
processes (`r1zero.seal_inner`): a copy of the model gets a fresh LoRA adapter trained for a few epochs on the
self-edit, then answers the passage's questions closed-book (without the passage); the reward is that accuracy minus
the accuracy of the model without the update. The outer loop trains the policy on its own rewarded self-edits:
ReST-EM (`algo.loss=rft`: keep the self-edits with reward > `algo.rft_threshold`, minimise their NLL) as in the
paper, or GRPO (`algo.loss=pg`).

The inner model starts from the current policy (`seal.inner_model=policy`, SEAL's setting: the model that writes the
edit is the one updated; a weight snapshot is written under `<run_dir>/seal/` at each score call) or from the
initial model (`seal.inner_model=initial`). Catastrophic forgetting is measured on an unrelated held-out set
(`seal.forgetting_suite`, first `seal.forgetting_limit` rows): its accuracy before and after the inner update, once
per passage per score call (the first self-edit of each passage).
"""
from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import time
from pathlib import Path

from r1zero.seal_inner import SNAPSHOT_META, InnerPool, InnerSettings, InnerTask, mean

METRICS = ("acc_before", "acc_after", "gain", "logp_gain", "forget_before", "forget_after", "forgetting",
           "positive_frac", "docs", "inner_s", "score_s", "items", "timeouts", "errors")


def write_snapshot(named_tensors, out_dir: Path, config_dir: str, shard_bytes: int = 1 << 30) -> Path:
    """Write (name, tensor) pairs as safetensors shards of at most ~`shard_bytes` into `out_dir` (consumed one at a
    time, so a ZeRO-3 gather needs only one bucket at once); the meta file goes last and marks it complete. Each
    tensor is copied as it is yielded (under ZeRO-3 it is full only inside its bucket's gather)."""
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    shard: dict = {}
    size, n = 0, 0
    for name, t in itertools.chain(named_tensors, [("", None)]):
        if t is not None:
            shard[name] = t.detach().to("cpu").contiguous().clone()
            size += shard[name].numel() * shard[name].element_size()
        if shard and (t is None or size >= shard_bytes):
            save_file(shard, str(out_dir / f"shard-{n:05d}.safetensors"))
            shard, size, n = {}, 0, n + 1
    (out_dir / SNAPSHOT_META).write_text(json.dumps({"config_dir": config_dir, "shards": n}))
    return out_dir


def settings_of(seal_cfg) -> InnerSettings:
    s = seal_cfg
    return InnerSettings(lora_rank=s.lora_rank, lora_alpha=s.lora_alpha, lora_targets=list(s.lora_targets),
                         inner_steps=s.inner_steps, inner_lr=s.inner_lr,
                         inner_batch=s.inner_batch,
                         answer_tokens=s.answer_tokens)


def forgetting_rows(seal_cfg) -> list[dict]:
    from r1zero.data import load_dataset

    if not seal_cfg.forgetting_suite or seal_cfg.forgetting_limit <= 0:
        return []
    return load_dataset(seal_cfg.forgetting_suite, limit=seal_cfg.forgetting_limit)


def make_tasks(base: str, config_dir: str, texts: list[str], samples: list[dict], settings: InnerSettings,
               forgetting: list[dict], seed: int) -> list[InnerTask | None]:
    """One task per self-edit (None when its row has no questions); the forgetting set rides on the first
    self-edit of each passage only (it costs as much as the passage's own questions many times over)."""
    tasks: list[InnerTask | None] = []
    seen: set[str] = set()
    for i, (text, sample) in enumerate(zip(texts, samples)):
        questions = sample.get("questions")
        if not isinstance(questions, list) or not questions:
            tasks.append(None)
            continue
        key = str(sample.get("id", sample.get("problem", i)))
        tasks.append(InnerTask(base, config_dir, text, questions, forgetting if key not in seen else [],
                               settings, seed + i))
        seen.add(key)
    return tasks


def reward_of(result: dict | None) -> tuple[float, dict]:
    """(score, info) of one inner-loop result: the accuracy gain, or 0 with an error."""
    if result is None:
        return 0.0, {"error": "the dataset row has no `questions`"}
    if "error" in result:
        return 0.0, {"error": result["error"], "timeout": bool(result.get("timeout"))}
    keys = ("acc_before", "acc_after", "gain", "logp_before", "logp_after", "forget_before", "forget_after",
            "docs", "inner_s", "loss_first", "loss_last")
    info = {k: round(float(result[k]), 4) for k in keys if k in result}
    return float(result["gain"]), info


def summarize(results: list[dict | None], scores: list[float]) -> dict[str, float]:
    """The `seal/*` metrics of a batch of inner-loop results (every key always present: ranks reduce them)."""
    ok = [r for r in results if r is not None and "error" not in r]
    forget = [r for r in ok if "forget_after" in r]

    def avg(key: str, rows: list[dict]) -> float:
        vals = [float(r[key]) for r in rows if key in r]
        return mean(vals) if vals else 0.0

    out = {"acc_before": avg("acc_before", ok), "acc_after": avg("acc_after", ok), "gain": avg("gain", ok),
           "logp_gain": mean([r["logp_after"] - r["logp_before"] for r in ok]) if ok else 0.0,
           "forget_before": avg("forget_before", forget), "forget_after": avg("forget_after", forget),
           "positive_frac": mean([float(s > 0) for s in scores]) if scores else 0.0,
           "docs": avg("docs", ok), "inner_s": avg("inner_s", ok), "items": float(len(results)),
           "timeouts": float(sum(1 for r in results if r and r.get("timeout"))),
           "errors": float(sum(1 for r in results if r is None or ("error" in r and not r.get("timeout"))))}
    out["forgetting"] = out["forget_before"] - out["forget_after"]
    return out


class SealReward:
    """The `seal_knowledge` model reward (see the module doc); one instance per rank."""

    def __init__(self, cfg, model_path: str, tokenizer, policy, rank: int, run_dir: Path):
        self.seal, self.model_path, self.policy, self.rank = cfg.seal, str(model_path), policy, rank
        if self.seal.inner_model not in ("policy", "initial"):
            raise ValueError(f"`seal.inner_model` must be policy or initial, got {self.seal.inner_model!r}")
        if self.seal.inner_model == "policy" and policy is None:
            raise ValueError("`seal.inner_model=policy` needs the trainer's policy: pass it, or use initial")
        self.dir = Path(run_dir) / "seal"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.settings, self.forgetting = settings_of(self.seal), forgetting_rows(self.seal)
        self.seed = int(getattr(cfg.train, "seed", 0)) * 1_000_003 + rank * 10_007
        threads = int(getattr(cfg.train, "threads", 0) or 1)
        self.pool = InnerPool(self.seal.workers, self.seal.timeout_s, self.seal.memory_gib, threads)
        self.calls, self._snapshot = 0, None
        self._results: list[dict | None] = []
        self._scores: list[float] = []
        self._score_s = 0.0

    def base(self) -> str:
        """The inner loop's base weights for this call: the initial model, or a snapshot of the current policy.
        Every rank iterates the policy's parameters (collective under ZeRO-3); rank 0 writes, then all ranks wait,
        so the directory must be on a filesystem the ranks share (like the run's checkpoints)."""
        if self.seal.inner_model == "initial":
            return self.model_path
        params = self.policy.named_parameters_for_sync()
        path = self.dir / f"policy-{self.calls:06d}"
        if self.rank == 0:
            write_snapshot(params, path, self.model_path)
        else:
            for _ in params:
                pass
        from r1zero import dist

        dist.barrier()  # the snapshot exists, and every rank has finished with the previous one
        if self.rank == 0 and self._snapshot is not None:
            shutil.rmtree(self._snapshot, ignore_errors=True)
        self._snapshot = path
        return str(path)

    def score(self, texts: list[str], samples: list[dict]) -> tuple[list[float], list[dict]]:
        """One score and info dict per self-edit; a failed inner update scores 0 with info["error"]."""
        t0 = time.perf_counter()
        base = self.base()
        self.calls += 1
        tasks = make_tasks(base, self.model_path, texts, samples, self.settings, self.forgetting,
                           self.seed + self.calls * 1009)
        runnable = [t for t in tasks if t is not None]
        done = iter(self.pool.run(runnable)) if runnable else iter(())
        results = [next(done) if t is not None else None for t in tasks]
        scores, infos = zip(*(reward_of(r) for r in results)) if results else ((), ())
        self._results += results
        self._scores += list(scores)
        self._score_s += time.perf_counter() - t0
        if self.rank == 0:  # one line per call: the same numbers as metrics(), kept beside the snapshots
            row = {"call": self.calls, **summarize(results, list(scores)), "score_s": time.perf_counter() - t0}
            with (self.dir / "calls.jsonl").open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        return list(scores), list(infos)

    def metrics(self) -> dict[str, float]:
        """`seal/*` metrics since the last call (same keys on every rank and every call)."""
        out = {f"seal/{k}": v for k, v in summarize(self._results, self._scores).items()}
        out["seal/score_s"] = self._score_s
        self._results, self._scores, self._score_s = [], [], 0.0
        return out

    def close(self) -> None:
        self.pool.close()
        if self.rank == 0 and self._snapshot is not None:
            shutil.rmtree(self._snapshot, ignore_errors=True)
            self._snapshot = None


# ---------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m r1zero.seal", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build-data", help="write seal/{train,test}.jsonl from the shipped GSM8K splits")
    b.add_argument("--out", default=None, help="output directory (default: r1zero/data/seal, the shipped files)")
    e = sub.add_parser("eval", help="held-out SEAL gain: self-edit, inner update, closed-book accuracy")
    e.add_argument("--model", default="smollm2-135m", help="the model that writes the self-edits")
    e.add_argument("--inner-model", default=None, help="the model the inner loop updates (default: --model)")
    e.add_argument("--data", default="seal_gsm8k_test")
    e.add_argument("--config", default="launch/configs/seal_rest_cpu.yaml", help="template, engine, seal.* knobs")
    e.add_argument("--limit", type=int, default=0, help="first N passages (0: all)")
    e.add_argument("--out", required=True)
    e.add_argument("--with-passage", action="store_true", help="also train on the passage itself (baseline)")
    e.add_argument("--wandb-mode", default="auto", choices=["auto", "online", "offline", "disabled"])
    e.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. seal.inner_steps=2")
    args = parser.parse_args(argv)
    if args.command == "build-data":
        from r1zero import seal_data

        for path in seal_data.write_data(*([args.out] if args.out else [])):
            print(path)
        return
    from r1zero.config import load_config
    from r1zero.seal_eval import evaluate

    cfg = load_config(args.config, list(args.overrides))
    command = "python -m r1zero.seal " + " ".join(sys.argv[1:] if argv is None else argv)
    result = evaluate(cfg, args.model, args.data, Path(args.out), limit=args.limit, inner_model=args.inner_model,
                      wandb_mode=args.wandb_mode, with_passage=args.with_passage, command=command)
    print(json.dumps(result["metrics"] | {"out": args.out}), flush=True)


if __name__ == "__main__":
    main()

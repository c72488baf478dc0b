"""Building a run for `train.py` (distributed start, data, policy, engine, rewards, tracker, resume), the weight
hand-off, timers and the end-of-run summary.

Kept out of train.py so that the loop there stays readable; nothing here decides *what* a step does. The per-step
data helpers live beside what they handle: `scoring.slice_scores`/`merge_groups`/`sample_rows` beside `Scores`,
`tracking.reduce_metrics` beside `Tracker`; every collective is in `dist.py`.
"""
from __future__ import annotations

import json
import os
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from r1zero import checkpoint, dist
from r1zero.config import Config, flatten
from r1zero.errors import ConfigError, DataError, ModelError, RewardError, converting
from r1zero.rollout.factory import make_engine


@dataclass
class RunContext:
    cfg: Config
    rank: int
    world_size: int
    run_dir: Path
    tokenizer: Any
    rows: list[dict]
    prompt_ids: list[list[int]]
    sampler: Any
    eval_sets: dict[str, tuple[list[dict], list[list[int]]]]
    policy: Any
    engine: Any
    scorer: Any
    eval_pool: Any
    tracker: Any
    prefill: str
    stop: list[str]
    pad_id: int
    start_step: int = 0
    state: dict = field(default_factory=dict)
    syncs: int = 0
    weight_version: int = 0  # optimizer steps of the weights the engine holds (set by sync_weights)
    hint_prompt_ids: list[list[int]] | None = None  # data.hint_frac > 0: prompt_ids with each row's hint
    probe: Any = None  # rollout.sync.Probe, built at the first checked sync


class Timers:
    """Named, timed phases: `with timers("generate"): ...` -> `timing/generate` seconds."""

    def __init__(self):
        self.t: dict[str, float] = {}

    def reset(self) -> None:
        self.t = {}
        self._start = time.perf_counter()

    @contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.t[name] = self.t.get(name, 0.0) + time.perf_counter() - t0

    def total(self) -> float:
        return time.perf_counter() - self._start

    def metrics(self) -> dict[str, float]:
        # the machine's 1-minute load average beside the times: a step time means little without it on a shared box
        return {**{f"timing/{k}": v for k, v in self.t.items()}, "timing/step": self.total(),
                "perf/load_avg": os.getloadavg()[0]}


def init(cfg: Config) -> RunContext:
    from r1zero import console, prompts
    from r1zero.config import validate
    from r1zero.models import training_dtype
    from r1zero.policy import Policy
    from r1zero.scoring import Scorer, eval_reward_names
    from r1zero.tracking import Tracker
    from rewards.pool import RewardPool

    with console.muted():  # DeepSpeed's start-up lines
        rank, world, local_world = dist.init()
    cfg.model.dtype, why = training_dtype(cfg.model.dtype)  # `auto` becomes what this hardware runs fast
    if why and rank == 0:
        console.say(f"model.dtype=auto: fp32 training, since {why}")
    validate(cfg, world)
    check_engine(cfg)
    # with max_staleness > 0 a generation thread runs beside the trainer's: the cores are split between the two
    threads_per_rank = max(1, (os.cpu_count() or 1) // (local_world * (2 if cfg.train.max_staleness else 1)))
    torch.set_num_threads(cfg.train.threads or threads_per_rank)
    seed_everything(cfg.train.seed + rank)
    run_dir = _run_dir(cfg)
    if rank == 0:
        console.say(f"run: {run_dir}")
    model_path, tok = _model(cfg.model.name, rank)
    rows, prompt_ids, hint_ids, sampler, eval_sets = _datasets(cfg, tok, rank, world)
    d = cfg.data
    reward_fix = "check the reward's module and its settings (rewards.*, grm.*, seal.*)"
    reward_errors = (ValueError, ImportError, KeyError, AttributeError, OSError, RuntimeError)
    with converting(RewardError, "rewards.names", ",".join(cfg.rewards.names), reward_fix, reward_errors):
        eval_rewards = eval_reward_names(cfg.rewards)  # checks every rule reward now, before the model loads
    if rank == 0:
        for line in console.describe_run(cfg, world, model_path, len(rows), {s: len(v[0]) for s, v in
                                                                           eval_sets.items()}):
            console.say(line)
    with converting(ModelError, "model.name", cfg.model.name, MODEL_FIX, (OSError,)), console.muted():
        policy = Policy(cfg, model_path, world, rank)  # muted: DeepSpeed's bf16 optimizer prints a memory report
    max_len = d.max_prompt_tokens + max(cfg.rollout.max_new_tokens, cfg.eval.max_new_tokens)  # rollouts and eval
    engine = make_engine(cfg, model_path, tok, max_model_len=max_len, policy=policy, rank=rank, world_size=world)
    if rank == 0:
        console.say(console.engine_line(cfg.rollout.engine, engine))
    prefill, stop = prompts.prefill(d.template, d.chat), prompts.stop_strings(d.template) + list(cfg.rollout.stop)
    with converting(RewardError, "rewards.names", ",".join(cfg.rewards.names), reward_fix, reward_errors):
        scorer = Scorer(cfg.rewards, prefill, build_model_rewards(cfg, model_path, tok, policy, rank, run_dir))
        eval_pool = RewardPool(eval_rewards, None, workers=cfg.rewards.workers, timeout_s=cfg.rewards.timeout_s)
    ctx = RunContext(cfg, rank, world, run_dir, tok, rows, prompt_ids, sampler, eval_sets, policy, engine, scorer,
                     eval_pool, None, prefill, stop, tok.pad_token_id, hint_prompt_ids=hint_ids)
    _resume(ctx)
    if engine.remote and not ctx.syncs:  # servers may hold anything (another run's weights)
        sync_weights(ctx, ctx.start_step)
    ctx.tracker = Tracker(run_dir, flatten(cfg), cfg.log.wandb_mode, cfg.log.wandb_project, run_dir.name,
                          run_id=ctx.state.get("wandb_run_id"), enabled=rank == 0, start_step=ctx.start_step,
                          log_offsets=ctx.state.get("logs"), new_run=cfg.checkpoint.resume == "never")
    if rank == 0:
        import yaml

        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        console.say(console.wandb_line(ctx.tracker.wandb_dir, ctx.tracker.wandb_url))
    return ctx


MODEL_FIX = "point model.name at a model directory (with config.json and weights), a reachable hub id, or smollm2-135m"
DATA_ERRORS = (ValueError, TypeError, RecursionError, OSError)  # what a bad dataset file or row can raise


def _model(name: str, rank: int):
    """(local model path, tokenizer) of `model.name`; errors are ModelErrors."""
    from r1zero.models import load_tokenizer, resolve_model

    with converting(ModelError, "model.name", name, MODEL_FIX):
        if rank == 0:
            resolve_model(name)  # builds the embedded model once, before the other ranks look for it
        dist.barrier()
        return resolve_model(name), load_tokenizer(name)


def _datasets(cfg: Config, tok, rank: int, world: int):
    """(training rows, their prompt ids, the hinted ones or None, this rank's sampler, eval suites); errors are
    DataErrors."""
    from r1zero import data, prompts

    d = cfg.data
    keys = {"problem_key": d.problem_key, "answer_key": d.answer_key}
    with converting(DataError, "data.train", d.train, "fix or remove the offending rows", DATA_ERRORS):
        rows, prompt_ids, dropped = prompts.encode_prompts(data.load_dataset(d.train, **keys), d.template, tok,
                                                           d.chat, d.max_prompt_tokens)
    if dropped and rank == 0:
        print(f"[r1zero] dropped {dropped} training prompts longer than data.max_prompt_tokens={d.max_prompt_tokens}")
    sampler = data.Sampler(list(range(len(rows))), cfg.train.prompts_per_step, cfg.train.seed, rank, world)
    with converting(DataError, "eval.suites", ",".join(cfg.eval.suites), "fix or remove the offending rows",
                    DATA_ERRORS):
        eval_sets = {name: prompts.encode_prompts(data.load_dataset(s, cfg.eval.limit, **keys), d.template, tok,
                                                  d.chat, d.max_prompt_tokens)[:2]
                     for name, s in data.suite_names(cfg.eval.suites).items()}
    if d.hint_frac:
        with converting(DataError, "data.hint_key", d.hint_key, "add the hint field to the rows", DATA_ERRORS):
            hints = prompts.encode_hinted(rows, d.hint_key, d.template, tok, d.chat)
    else:
        hints = None
    return rows, prompt_ids, hints, sampler, eval_sets


def build_model_rewards(cfg: Config, model_path: str, tok, policy, rank: int, run_dir: Path) -> dict:
    """The model rewards named in `rewards.names` (scoring.MODEL_REWARDS), built once per rank; they get the
    policy's weights function and the world size (scoring.ModelReward), not the policy."""
    import importlib

    from r1zero.scoring import MODEL_REWARDS

    weights, world = policy.named_parameters_for_sync, policy.world_size
    built = {}
    for name in cfg.rewards.names:
        if name in MODEL_REWARDS:  # resolved here, at the top of the house: the tasks import config and scoring
            module, _, cls = MODEL_REWARDS[name].partition(":")
            built[name] = getattr(importlib.import_module(module), cls)(cfg, model_path, tok, weights, world, rank,
                                                                          run_dir)
    return built


def _resume(ctx: RunContext) -> None:
    path = checkpoint.find_resume(ctx.cfg.checkpoint.resume, ctx.run_dir / "checkpoints", ctx.rank)
    if path is None:
        return
    ctx.state = checkpoint.load(ctx.policy, path, ctx.rank, ctx.world_size)
    ctx.sampler.load_state_dict(ctx.state["sampler"])
    ctx.start_step = int(ctx.state["step"])
    if ctx.rank == 0:
        print(f"[r1zero] resumed from {path} at step {ctx.start_step}", flush=True)
    sync_weights(ctx, ctx.start_step)


def sync_weights(ctx: RunContext, step: int) -> dict[str, float]:
    """Push the policy's weights into the engine (skipped for one that shares the policy's module). `step`: the
    optimizer steps the weights have taken; a remote engine's servers report it as their weight version."""
    if ctx.engine.shares_module:
        ctx.weight_version = step  # the trainer's own module: always current
        return {}
    params = ctx.policy.named_parameters_for_sync()  # collective under ZeRO-3: every rank iterates it
    if ctx.engine.remote and ctx.rank != 0:
        for _ in params:  # remote servers are shared by all ranks: rank 0 pushes, the others only gather
            pass
    elif ctx.engine.remote:
        ctx.engine.load_weights(params, version=step)
    else:
        ctx.engine.load_weights(params)
    dist.barrier()
    ctx.weight_version = step
    ctx.syncs += 1
    every = ctx.cfg.rollout.sync_check_every
    if not every or ctx.syncs % every:
        return {}
    from r1zero.rollout.base import SamplingParams
    from r1zero.rollout.sync import Probe, check_sync

    if ctx.probe is None:  # fixed for the run: two training prompts and the engine's greedy continuation
        rolls = ctx.engine.generate(ctx.prompt_ids[:2], n=1, sampling=SamplingParams(max_new_tokens=16, greedy=True))
        ctx.probe = Probe.from_rollouts(rolls, count=2)
    return check_sync(ctx.engine, ctx.policy.token_logprobs, ctx.probe, ctx.cfg.rollout.sync_check_tol)


def check_engine(cfg: Config) -> None:
    """`train.max_staleness=1` generates while the trainer's weights change: the engine needs its own copy."""
    from r1zero.rollout.factory import engine_class

    if cfg.train.max_staleness and engine_class(cfg.rollout.engine).shares_module:
        raise ConfigError(f"`train.max_staleness=1` generates the next step's rollouts while this step trains, and "
                          f"`rollout.engine={cfg.rollout.engine}` generates with the trainer's own module, whose "
                          "weights change meanwhile: use rollout.engine=vllm or server, or train.max_staleness=0")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def _run_dir(cfg: Config) -> Path:
    if cfg.checkpoint.resume not in ("auto", "never"):  # resuming a given checkpoint: continue in its run dir
        return Path(cfg.checkpoint.resume).resolve().parent.parent
    name = dist.broadcast_object(cfg.log.run_name or f"{Path(cfg.data.train).stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir = (Path(cfg.log.output_dir) / name).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def progress(ctx: RunContext, step: int):
    from tqdm import tqdm

    return tqdm(total=ctx.cfg.train.steps, initial=step, disable=ctx.rank != 0, dynamic_ncols=True, desc="grpo")


# ---------------------------------------------------------------------------------------------- end of run


def finish(ctx: RunContext, evals: dict, steps: int, wall_s: float) -> dict[str, Any]:
    from r1zero.report import plot_run

    result: dict[str, Any] = {"run_dir": str(ctx.run_dir), "wandb_dir": ctx.tracker.wandb_dir, "wall_s": wall_s,
                              "steps": steps}
    suite = next(iter(ctx.eval_sets), None)
    key = f"eval/{suite}/accuracy"
    before = next(iter(evals.get("before", {}).values()), {}).get(key)
    after = next(iter(evals.get("after", {}).values()), {}).get(key)
    result.update({"eval_suite": suite, "eval_before": before, "eval_after": after})
    if ctx.rank == 0:
        metrics = ctx.run_dir / "metrics.jsonl"
        points = {int(s): v[key] for phase in ("before", "during", "after")
                  for s, v in evals.get(phase, {}).items() if key in v}
        plots = plot_run(ctx.run_dir, points)
        for name, path in plots.items():
            ctx.tracker.log_image(name, path, steps)
        result.update({"metrics": str(metrics), "reward_curve": str(plots["reward_curve"]),
                       "plots": {name: str(path) for name, path in plots.items()}})
        ctx.tracker.summary({k: v for k, v in result.items() if isinstance(v, (int, float))})
        (ctx.run_dir / "result.json").write_text(json.dumps(result, indent=1))
        _say_where(ctx, result)
    ctx.tracker.close()
    ctx.scorer.close()
    ctx.eval_pool.close()
    ctx.engine.close()  # before the process group goes: vLLM's own teardown needs it
    dist.shutdown()
    return result


def _say_where(ctx: RunContext, result: dict[str, Any]) -> None:
    from r1zero import console

    final = ctx.run_dir / "final_model"
    if final.is_dir():
        console.say(f"final model: {final}")
    console.say(f"metrics: {result['metrics']}, samples: {ctx.run_dir / 'samples.jsonl'}")
    console.say("plots: " + ", ".join(result["plots"].values()))
    console.say(console.wandb_line(ctx.tracker.wandb_dir, ctx.tracker.wandb_url))

"""The GRPO loop. This file is the documentation of how a step works: read `train()` top to bottom.

    python -m r1zero.train --config launch/configs/cpu_default.yaml optim.lr=1e-5      # one process
    deepspeed --num_gpus 8 -m r1zero.train --config launch/configs/qwen_math_1p5b.yaml  # GPUs
    torchrun --nproc_per_node 2 -m r1zero.train --config ... train.zero_stage=3         # CPU, several ranks (gloo)
"""
from __future__ import annotations

import math
import sys
import time

import torch

from r1zero import checkpoint, console, runtime
from r1zero.advantages import dynamic_sampling_keep, frac_zero_std, group_advantages, overlong_soft_penalty
from r1zero.batching import make_batch
from r1zero.config import Config, flatten
from r1zero.evaluate import evaluate_suite
from r1zero.rollout.base import SamplingParams


def train(cfg: Config) -> dict:
    t_start = time.time()
    ctx = runtime.init(cfg)  # distributed, threads, seeds, run dir, tokenizer, data, policy, engine, scorer, tracker
    world, timers = ctx.world_size, runtime.Timers()
    step = ctx.start_step
    sampling = SamplingParams(max_new_tokens=cfg.rollout.max_new_tokens, temperature=cfg.rollout.temperature,
                              top_p=cfg.rollout.top_p, top_k=cfg.rollout.top_k, stop=ctx.stop)
    evals: dict[str, dict[int, dict[str, float]]] = ctx.state.get("evals", {})
    if cfg.eval.before and step == 0:
        evals.setdefault("before", {})[0] = run_eval(ctx, step=0)
    bad_in_row, progress = 0, runtime.progress(ctx, step)
    for step in range(ctx.start_step, cfg.train.steps):
        timers.reset()
        # 1. sample B problems (this rank's share), 2. generate G completions each, 3. score them
        with timers("generate"):
            rows, rollouts, scores, gen_stats = generate_and_score(ctx, sampling, timers)
        # 4. group-relative advantages (per prompt group of G)
        rewards = scores.rewards
        if cfg.algo.overlong == "soft":
            lengths = torch.tensor([len(r.completion_ids) for r in rollouts], dtype=torch.float32)
            rewards = rewards + overlong_soft_penalty(lengths, cfg.rollout.max_new_tokens,
                                                      cfg.algo.overlong_buffer, cfg.algo.overlong_penalty)
        adv = group_advantages(rewards, cfg.rollout.group_size, cfg.algo.advantage)
        # 5. tensors: prompt + completion ids, completion mask, sampler logprobs
        batch = make_batch(rollouts, adv, ctx.pad_id, mask_truncated=cfg.algo.overlong == "mask")
        if cfg.algo.loss == "rft":  # rejection fine-tuning (grm/seal tasks): learn only the accepted completions
            batch.loss_mask = batch.loss_mask & (rewards > cfg.algo.rft_threshold)[:, None]
        # 6. logprobs the update needs: old (if the weights move before the last micro-batch) and reference
        with timers("logprobs"):
            if cfg.algo.mu > 1 or cfg.train.minibatches > 1:  # else the update's own logprobs are the old ones
                batch.old_lp = ctx.policy.logprobs(batch)
            if cfg.algo.beta > 0:
                batch.ref_lp = ctx.policy.logprobs(batch, reference=True)
        # 7. the policy-gradient update: mu epochs x minibatches, DeepSpeed ZeRO step(s)
        with timers("update"):
            ctx.engine.sleep()
            metrics = ctx.policy.update(batch)
            ctx.engine.wake_up()
        # 8. push the new weights into the rollout engine (no-op for the hf engine: it shares the module)
        with timers("sync"):
            metrics.update(runtime.sync_weights(ctx, step))
        # 9. log: one step, all sinks (rank 0)
        metrics.update(scores.metrics)
        metrics.update(gen_stats)
        if cfg.algo.loss == "rft":
            metrics["rft/accepted_frac"] = float((rewards > cfg.algo.rft_threshold).float().mean())
        metrics["reward/frac_zero_std"] = frac_zero_std(scores.rewards, cfg.rollout.group_size)
        metrics.update(timers.metrics())
        metrics["perf/tokens_per_s"] = gen_stats["completion/tokens"] * world / max(timers.total(), 1e-9)
        metrics = runtime.reduce_metrics(metrics, world)
        ctx.tracker.log(step + 1, metrics)
        if cfg.log.samples_every and (step + 1) % cfg.log.samples_every == 0:
            ctx.tracker.log_samples(step + 1, runtime.sample_rows(rows, rollouts, scores, cfg.log.samples_count))
        progress.update(1)
        progress.set_postfix(reward=f"{metrics['reward/mean']:.3f}", s_step=f"{timers.total():.1f}")
        # 10. NaN/inf guard: K bad steps in a row stop the run
        bad = metrics.get("train/nonfinite", 0) > 0 or not math.isfinite(metrics.get("policy/grad_norm", 0.0))
        bad_in_row = bad_in_row + 1 if bad else 0
        if bad_in_row >= cfg.train.max_bad_steps:
            raise FloatingPointError(
                f"{bad_in_row} steps in a row had a non-finite loss or gradient (step {step + 1}); the weights were "
                f"not updated on those steps. Lower optim.lr, set model.dtype=fp32, or resume from the last "
                f"checkpoint in {ctx.run_dir / 'checkpoints'}")
        # 11. maybe evaluate, maybe checkpoint
        if cfg.eval.every and (step + 1) % cfg.eval.every == 0 and step + 1 < cfg.train.steps:
            evals.setdefault("during", {})[step + 1] = run_eval(ctx, step + 1, evals.get("before", {}).get(0))
        if cfg.checkpoint.every and (step + 1) % cfg.checkpoint.every == 0:
            save(ctx, step + 1, evals)
    progress.close()
    steps_done = cfg.train.steps
    if cfg.eval.after:
        evals.setdefault("after", {})[steps_done] = run_eval(ctx, steps_done, evals.get("before", {}).get(0))
    if cfg.checkpoint.save_final and not (cfg.checkpoint.every and steps_done % cfg.checkpoint.every == 0):
        save(ctx, steps_done, evals)
    if cfg.checkpoint.export_model:  # a Hugging Face model dir for the next stage or `r1zero eval --model`
        checkpoint.export_model(ctx.policy, ctx.tokenizer, ctx.run_dir / "final_model", ctx.rank, ctx.world_size)
    result = runtime.finish(ctx, evals, steps_done, time.time() - t_start)
    return result


def generate_and_score(ctx, sampling: SamplingParams, timers):
    """Sample prompts, generate G completions each, score them. With dynamic sampling, groups whose rewards are all
    equal (no learning signal) are replaced by fresh prompts, up to `algo.max_refill_rounds` extra rounds."""
    cfg, G = ctx.cfg, ctx.cfg.rollout.group_size
    want = cfg.train.prompts_per_step // ctx.world_size
    kept: list = []  # (row, group rollouts, group scores)
    spare: list = []
    rounds = 1 + (cfg.algo.max_refill_rounds if cfg.algo.dynamic_sampling else 0)
    n_generated, verify, extra = 0, {"verify/timeouts": 0.0, "verify/errors": 0.0}, {}
    for _ in range(rounds):
        idx = ctx.sampler.next_batch()
        rows = [ctx.rows[i] for i in idx]
        rollouts = ctx.engine.generate([ctx.prompt_ids[i] for i in idx], n=G, sampling=sampling)
        n_generated += len(rollouts)
        samples = [rows[r.prompt_index] for r in rollouts]
        with timers("score"):
            scores = ctx.scorer.score(rollouts, samples)
        for k, v in scores.metrics.items():  # counters add up over rounds; model rewards' own metrics: last round
            if k in verify:
                verify[k] += v
            elif not k.startswith("reward/"):
                extra[k] = v
        keep = dynamic_sampling_keep(scores.rewards, G) if cfg.algo.dynamic_sampling else torch.ones(len(rollouts),
                                                                                                      dtype=torch.bool)
        for g, row in enumerate(rows):
            item = (row, rollouts[g * G:(g + 1) * G], runtime.slice_scores(scores, g * G, (g + 1) * G))
            (kept if bool(keep[g * G]) else spare).append(item)
        if len(kept) >= want:
            break
    groups = (kept + spare)[:want]  # informative groups first; pad with uninformative ones to keep shapes fixed
    return runtime.merge_groups(groups, n_generated, len(kept), {**verify, **extra})


def run_eval(ctx, step: int, before: dict[str, float] | None = None) -> dict[str, float]:
    """Every held-out suite at `step`; rank 0 prints one line per suite (with the accuracy `before` training)."""
    out: dict[str, float] = {}
    for suite, (rows, prompt_ids) in ctx.eval_sets.items():
        res = evaluate_suite(ctx.engine, ctx.eval_pool, rows, prompt_ids, ctx.cfg.eval, prefill=ctx.prefill,
                             stop=ctx.stop, rank=ctx.rank, world_size=ctx.world_size)
        out.update({f"eval/{suite}/{k}": v for k, v in res.items()})
    ctx.tracker.log(step, out)
    if ctx.rank == 0:
        when = ("before training" if step == 0 else f"after {console.plural(step, 'step')}" if step == ctx.cfg.train.steps
                else f"at step {step}")
        for line in console.eval_summary(out, before):
            console.say(f"held out, {when}: {line}")
    return out


def save(ctx, step: int, evals: dict) -> None:
    state = {"sampler": ctx.sampler.state_dict(), "wandb_run_id": ctx.tracker.run_id, "evals": evals}
    checkpoint.save(ctx.policy, ctx.run_dir / "checkpoints", step, state, ctx.cfg.checkpoint.keep_last,
                    ctx.rank, ctx.world_size)


def main(argv: list[str] | None = None) -> None:
    from r1zero.cli import main as cli_main

    cli_main(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()


__all__ = ["train", "flatten"]

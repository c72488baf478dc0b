"""The GRPO loop. This file is the documentation of how a step works: read `train()` top to bottom.

    python -m r1zero train --config launch/configs/cpu_default.yaml optim.lr=1e-5      # one process
    deepspeed --num_gpus 8 --module r1zero train --config launch/configs/qwen2.5-math-1.5b_math_8gpu.yaml  # GPUs
    torchrun --nproc_per_node 2 -m r1zero train --config ... train.zero_stage=3         # CPU, several ranks (gloo)

The command line (r1zero/cli.py) calls `train(cfg)`; this module imports no CLI.
"""
from __future__ import annotations

import dataclasses
import math
import sys
import time

import torch

from r1zero import checkpoint, console, losses, runtime
from r1zero.advantages import dynamic_sampling_keep, frac_zero_std, group_advantages, overlong_soft_penalty
from r1zero.batching import make_batch
from r1zero.config import Config
from r1zero.dist import all_true
from r1zero.errors import BadStepsError
from r1zero.evaluate import evaluate_suite
from r1zero.pipeline import Rollouts, staleness
from r1zero.rollout.base import SamplingParams
from r1zero.scoring import merge_groups, sample_rows, slice_scores
from r1zero.tracking import reduce_metrics


def train(cfg: Config) -> dict:
    t_start = time.time()
    ctx = runtime.init(cfg)  # distributed, threads, seeds, run dir, tokenizer, data, policy, engine, scorer, tracker
    world, timers = ctx.world_size, runtime.Timers()
    step = ctx.start_step
    sampling = SamplingParams(max_new_tokens=cfg.rollout.max_new_tokens, temperature=cfg.rollout.temperature,
                              top_p=cfg.rollout.top_p, top_k=cfg.rollout.top_k, stop=ctx.stop)
    # where each step's rollouts come from: generated now, or one step ahead in a thread (train.max_staleness)
    pipe = Rollouts(ctx, lambda ctx_, timers_, step_: generate_and_score(ctx_, sampling, timers_, step_))
    evals: dict[str, dict[int, dict[str, float]]] = ctx.state.get("evals", {})
    if cfg.eval.before and step == 0:
        evals.setdefault("before", {})[0] = run_eval(ctx, pipe, step=0)
    bad_in_row, skipped, progress = 0, int(ctx.state.get("skipped_steps", 0)), runtime.progress(ctx, step)
    for step in range(ctx.start_step, cfg.train.steps):
        timers.reset()
        # 1. sample B problems (this rank's share), 2. generate G completions each, 3. score them. In flight
        #    (max_staleness=1) this takes the batch generated during the previous step, syncs the weights of the
        #    last update into the engine and starts the next step's batch
        with timers("generate"):
            rows, rollouts, scores, gen_stats = pipe.take(step, timers)
        # 4. group-relative advantages (per prompt group of G)
        rewards = scores.rewards
        if cfg.algo.overlong == "soft":
            lengths = torch.tensor([len(r.completion_ids) for r in rollouts], dtype=torch.float32)
            rewards = rewards + overlong_soft_penalty(lengths, cfg.rollout.max_new_tokens,
                                                      cfg.algo.overlong_buffer, cfg.algo.overlong_penalty)
        adv = group_advantages(rewards, cfg.rollout.group_size, cfg.algo.advantage)
        # 5. tensors: prompt + completion ids, completion mask, sampler logprobs
        batch = make_batch(rollouts, adv, ctx.pad_id, mask_truncated=cfg.algo.overlong == "mask")
        # a loss may learn only some completions (rft: the accepted ones); the others leave the loss mask
        batch.loss_mask, selected = losses.select_completions(batch.loss_mask, rewards, cfg.algo)
        # 6. logprobs the update needs: old (if the weights move before the last micro-batch) and reference.
        #    The rollout engine sleeps from here to the weight sync (vLLM on GPU frees its memory for training),
        #    unless it is generating the next step's batch
        if not pipe.in_flight:
            ctx.engine.sleep()
        with timers("logprobs"):
            if cfg.algo.mu > 1 or cfg.train.minibatches > 1:  # else the update's own logprobs are the old ones
                batch.old_lp = ctx.policy.logprobs(batch)
            if cfg.algo.beta > 0:
                batch.ref_lp = ctx.policy.logprobs(batch, reference=True)
        # 7. the policy-gradient update: mu epochs x minibatches, DeepSpeed ZeRO step(s)
        with timers("update"):
            metrics = ctx.policy.update(batch)
        if metrics["train/nonfinite_weights"]:  # an applied update made them NaN/inf: stop before anything uses them
            raise BadStepsError(bad_steps_message(ctx, step + 1, 0))
        # 8. push the new weights into the rollout engine, which wakes up for them (no-op for the hf engine: it
        #    shares the module; deferred to the next take while the engine generates the next batch)
        with timers("sync"):
            metrics.update(pipe.after_update(step + 1))
        # 9. log: one step, all sinks (rank 0)
        metrics.update(scores.metrics)
        metrics.update(gen_stats)
        metrics.update(staleness(rollouts, step))
        metrics.update(selected)  # rft/accepted_frac
        metrics["reward/frac_zero_std"] = frac_zero_std(scores.rewards, cfg.rollout.group_size)
        metrics.update(timers.metrics())
        metrics["perf/tokens_per_s"] = gen_stats["completion/tokens"] * world / max(timers.total(), 1e-9)
        skipped += round(metrics["train/nonfinite"] * cfg.algo.mu * cfg.train.minibatches)
        metrics["train/skipped_steps"] = float(skipped)  # optimizer steps not applied since the run began
        metrics = reduce_metrics(metrics, world)
        ctx.tracker.log(step + 1, metrics)
        if cfg.log.samples_every and (step + 1) % cfg.log.samples_every == 0:
            ctx.tracker.log_samples(step + 1, sample_rows(rows, rollouts, scores, cfg.log.samples_count))
        progress.update(1)
        progress.set_postfix(reward=f"{metrics['reward/mean']:.3f}", s_step=f"{timers.total():.1f}")
        checkpoint.kill_point(f"logged:{step + 1}")
        # 10. NaN/inf guard: a step with a non-finite loss or gradient was not applied (policy.py); K in a row stop
        bad_in_row = bad_in_row + 1 if metrics["train/nonfinite"] > 0 else 0
        if bad_in_row >= cfg.train.max_bad_steps:
            raise BadStepsError(bad_steps_message(ctx, step + 1, bad_in_row))
        # 11. maybe evaluate, maybe checkpoint (not while steps are skipped: these weights led to the skips)
        if cfg.eval.every and (step + 1) % cfg.eval.every == 0 and step + 1 < cfg.train.steps:
            evals.setdefault("during", {})[step + 1] = run_eval(ctx, pipe, step + 1, evals.get("before", {}).get(0))
        if cfg.checkpoint.every and (step + 1) % cfg.checkpoint.every == 0 and not bad_in_row:
            save(ctx, step + 1, evals, skipped, pipe)
    progress.close()
    steps_done = cfg.train.steps
    if cfg.eval.after:
        evals.setdefault("after", {})[steps_done] = run_eval(ctx, pipe, steps_done, evals.get("before", {}).get(0))
    if cfg.checkpoint.save_final and not (cfg.checkpoint.every and steps_done % cfg.checkpoint.every == 0) \
            and not bad_in_row:
        save(ctx, steps_done, evals, skipped, pipe)
    if cfg.checkpoint.export_model:  # a Hugging Face model dir for the next stage or `r1zero eval --model`
        checkpoint.export_model(ctx.policy, ctx.tokenizer, ctx.run_dir / "final_model", ctx.rank, ctx.world_size)
    result = runtime.finish(ctx, evals, steps_done, time.time() - t_start)
    return result


def generate_and_score(ctx, sampling: SamplingParams, timers, step: int):
    """Sample prompts, generate G completions each, score them. With dynamic sampling, groups whose rewards are all
    equal (no learning signal) are replaced by fresh prompts, up to `algo.max_refill_rounds` extra rounds; every
    rank runs as many rounds as the one that needs most (the engines' and rewards' collectives stay in step).
    Each round's sampling is seeded from (seed, rank, step, round), so a resumed run samples what it would have."""
    cfg, G = ctx.cfg, ctx.cfg.rollout.group_size
    want = cfg.train.prompts_per_step // ctx.world_size
    kept: list = []  # (row, group rollouts, group scores)
    spare: list = []
    rounds = 1 + (cfg.algo.max_refill_rounds if cfg.algo.dynamic_sampling else 0)
    n_generated, verify, extra = 0, {"verify/timeouts": 0.0, "verify/errors": 0.0}, {}
    for round_ in range(rounds):
        idx = ctx.sampler.next_batch()
        rows = [ctx.rows[i] for i in idx]
        seeded = dataclasses.replace(sampling, seed=sampling_seed(cfg.train.seed, ctx.rank, step, round_))
        hinted = hinted_count(cfg.data.hint_frac, len(idx)) if ctx.hint_prompt_ids else 0  # idx: in random order
        ids = [ctx.hint_prompt_ids[i] for i in idx[:hinted]] + [ctx.prompt_ids[i] for i in idx[hinted:]]
        rollouts = ctx.engine.generate(ids, n=G, sampling=seeded)
        for r in rollouts[:hinted * G]:  # SPCT hinted sampling: trained under the prompt without the hint (rft)
            r.prompt_ids = ctx.prompt_ids[idx[r.prompt_index]]
        n_generated += len(rollouts)
        samples = [rows[r.prompt_index] for r in rollouts]
        with timers("score"):
            scores = ctx.scorer.score(rollouts, samples)
        if ctx.hint_prompt_ids:
            extra["sampling/hinted_frac"] = hinted / len(idx)
            extra["reward/hinted_mean"] = float(scores.rewards[:hinted * G].mean()) if hinted else 0.0
        for k, v in scores.metrics.items():  # counters add up over rounds; model rewards' own metrics: last round
            if k in verify:
                verify[k] += v
            elif not k.startswith("reward/"):
                extra[k] = v
        keep = dynamic_sampling_keep(scores.rewards, G) if cfg.algo.dynamic_sampling else torch.ones(len(rollouts),
                                                                                                      dtype=torch.bool)
        for g, row in enumerate(rows):
            item = (row, rollouts[g * G:(g + 1) * G], slice_scores(scores, g * G, (g + 1) * G))
            (kept if bool(keep[g * G]) else spare).append(item)
        if round_ + 1 == rounds or all_true(len(kept) >= want):  # (one round: no collective, as in flight)
            break
    groups = (kept + spare)[:want]  # informative groups first; pad with uninformative ones to keep shapes fixed
    return merge_groups(groups, n_generated, len(kept), {**verify, **extra})


def run_eval(ctx, pipe: Rollouts, step: int, before: dict[str, float] | None = None) -> dict[str, float]:
    """Every held-out suite at `step`; rank 0 prints one line per suite (with the accuracy `before` training)."""
    pipe.current(step)  # the engine idle (no batch being generated) and holding the weights of `step` updates
    out: dict[str, float] = {}
    for suite, (rows, prompt_ids) in ctx.eval_sets.items():
        res = evaluate_suite(ctx.engine, ctx.eval_pool, rows, prompt_ids, ctx.cfg.eval, prefill=ctx.prefill,
                             stop=ctx.stop, rank=ctx.rank, world_size=ctx.world_size)
        out.update({f"eval/{suite}/{k}": v for k, v in res.items()})
    ctx.tracker.log(step, out)
    if ctx.rank == 0:
        when = "before training" if step == 0 else f"at step {step}"
        if step == ctx.cfg.train.steps:
            when = f"after {console.plural(step, 'step')}"
        for line in console.eval_summary(out, before):
            console.say(f"held out, {when}: {line}")
    return out


def hinted_count(frac: float, n: int) -> int:
    """How many of n prompts are sampled with their hint: frac of them rounded up (a share > 0 hints at least one)."""
    return min(n, math.ceil(frac * n - 1e-9))


def sampling_seed(seed: int, rank: int, step: int, round_: int) -> int:
    return (((seed * 1_000_003 + rank) * 1_000_003 + step) * 101 + round_) & 0x7FFFFFFF


def bad_steps_message(ctx, step: int, in_row: int) -> str:
    """Why the run stops, and which checkpoint (if any) predates the weights that led there."""
    first = step - in_row + 1  # in_row 0: this step's update made the weights non-finite
    if in_row:
        span = f"step {step} had" if in_row == 1 else f"steps {first}-{step} in a row had"
        weights = f"those after step {first - 1}" if first > 1 else "the initial ones"
        what = (f"{span} a non-finite loss or gradient (train.max_bad_steps={ctx.cfg.train.max_bad_steps}); the "
                f"updates were skipped, so the weights are still {weights}, which led there")
    else:
        what = f"step {step}'s update made the weights NaN/inf; nothing of it was saved"
    older = checkpoint.newest_before(ctx.run_dir / "checkpoints", first - 1 if in_row else first)
    where = f"resume from {older} (checkpoint.resume={older})" if older else "start over (checkpoint.resume=never)"
    return f"{what}. Lower optim.lr (now {ctx.cfg.optim.lr:g}) or use model.dtype=fp32, then {where}"


def save(ctx, step: int, evals: dict, skipped: int, pipe: Rollouts) -> None:
    inflight = pipe.inflight()  # joined first: the sampler's position below then includes its prompts
    state = {"sampler": ctx.sampler.state_dict(), "wandb_run_id": ctx.tracker.run_id, "evals": evals,
             "skipped_steps": skipped, "logs": ctx.tracker.offsets()}
    checkpoint.save(ctx.policy, ctx.run_dir / "checkpoints", step, state, ctx.cfg.checkpoint.keep_last,
                    ctx.rank, ctx.world_size, rank_state={"inflight": inflight} if inflight else None)


if __name__ == "__main__":  # the command line moved to `python -m r1zero train` (cli.py imports this loop)
    print("r1zero: run `python -m r1zero train --config FILE key=value ...` (or `r1zero train ...`); "
          "`python -m r1zero.train` is the loop's module, not a command", file=sys.stderr)
    sys.exit(2)

"""Held-out evaluation: avg@k (pass@1), unbiased pass@k, maj@k, response lengths and truncation, per suite.

    r1zero eval --model smollm2-135m --suites math500,gsm8k_test --k 8 --temperature 0.6 --out runs/eval-x

The same prompt template and the same verifier as training: a completion is correct when the `accuracy` reward
says so. Metrics of one suite (`aggregate`):
  * accuracy      avg@k: the mean over all k samples of every problem (pass@1 estimated from k samples);
  * pass@k        unbiased pass@k (Chen et al. 2021), here with n = k: the share of problems solved by any sample;
  * maj@k         majority vote over the extracted answers (`rewards.extract_answer`); two answers are one vote
                  when `rewards.math_equal` says so. Ties: the answer group whose first member came first (lowest
                  sample index) wins. An unextractable answer (None) never votes. The winner is correct when the
                  `accuracy` reward scored its first member 1; no extractable answer at all: wrong;
  * mean_length, p50_length, max_length (completion tokens), truncated_frac (hit max_new_tokens), problems;
  * reward/<name> the mean score of every other rule reward of `rewards.names` (your own `module:function` ones
                  too), and verify/timeouts, verify/errors: completions whose scoring hit the time limit or failed.
MATH-500 rows also get `by_level` and `by_subject` breakdowns (`breakdown`).

`run_evaluation(cfg, out_dir, ...)` needs no trainer: it builds a tokenizer, a generation engine (vLLM, or transformers
for `rollout.engine=hf`) and a reward pool (`scoring.eval_reward_names`), never DeepSpeed. Training-time evaluation
(`train.run_eval`) calls `evaluate_suite`, which runs on every rank and sums the counts over ranks.
"""
from __future__ import annotations

import json
import sys
import time
from math import comb
from pathlib import Path
from statistics import median

from r1zero.rollout.base import SamplingParams
from r1zero.rollout.factory import make_engine

GROUP_FIELDS = {"math500": ("level", "subject")}  # suite -> row fields to break the metrics down by


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def majority_vote(answers: list[str | None], equal=None) -> int | None:
    """Index of the first member of the winning answer group, or None when no answer was extracted.

    Answers vote together when `equal(a, b)` (default `rewards.math_equal`) holds against a group's first member.
    Ties go to the group that appeared first; None answers never vote."""
    if equal is None:
        from rewards import math_equal as equal
    groups: list[list[int]] = []  # [first index, count], in order of first appearance
    for i, ans in enumerate(answers):
        if ans is None:
            continue
        for g in groups:
            if equal(ans, answers[g[0]]):
                g[1] += 1
                break
        else:
            groups.append([i, 1])
    if not groups:
        return None
    best = max(g[1] for g in groups)
    return next(g[0] for g in groups if g[1] == best)


def sampling_for_eval(ecfg) -> SamplingParams:
    return SamplingParams(max_new_tokens=ecfg.max_new_tokens, temperature=ecfg.temperature, top_p=ecfg.top_p,
                          greedy=ecfg.greedy)


def problem_records(rows: list[dict], rollouts, correct: list[bool], k: int, prefill: str = "",
                    rewards: dict[str, list[float]] | None = None) -> list[dict]:
    """One record per problem: the verdict, answer and length of each of its k samples, the maj@k verdict, and the
    scores of its samples by every other reward in `rewards` (name -> one score per rollout)."""
    from rewards import extract_answer

    out = []
    for i, row in enumerate(rows):
        rolls, ok = rollouts[i * k:(i + 1) * k], correct[i * k:(i + 1) * k]
        answers = [extract_answer(prefill + r.text) for r in rolls] if k > 1 else [None]
        win = majority_vote(answers) if k > 1 else 0
        out.append({"id": row.get("id"), "level": row.get("level"), "subject": row.get("subject"),
                    "correct": [bool(c) for c in ok], "answers": answers,
                    "lengths": [len(r.completion_ids) for r in rolls], "truncated": [r.truncated for r in rolls],
                    "maj_correct": bool(win is not None and ok[win]),
                    "rewards": {name: v[i * k:(i + 1) * k] for name, v in (rewards or {}).items()}})
    return out


def aggregate(records: list[dict], k: int) -> dict[str, float]:
    """Suite metrics from problem records (see the module doc for each name)."""
    n = sum(len(r["correct"]) for r in records)
    lengths = [x for r in records for x in r["lengths"]]
    out = {"accuracy": sum(sum(r["correct"]) for r in records) / max(n, 1),
           "mean_length": sum(lengths) / max(n, 1), "p50_length": float(median(lengths)) if lengths else 0.0,
           "max_length": float(max(lengths, default=0)),
           "truncated_frac": sum(sum(r["truncated"]) for r in records) / max(n, 1),
           "problems": float(len(records))}
    for name in (records[0].get("rewards", {}) if records else {}):
        out[f"reward/{name}"] = sum(sum(r["rewards"][name]) for r in records) / max(n, 1)
    if k > 1:
        n = max(len(records), 1)
        out[f"pass@{k}"] = sum(pass_at_k(len(r["correct"]), sum(r["correct"]), k) for r in records) / n
        out[f"maj@{k}"] = sum(r["maj_correct"] for r in records) / max(len(records), 1)
    return out


def breakdown(records: list[dict], k: int, field: str) -> dict[str, dict[str, float]]:
    """`aggregate` per value of a row field (e.g. MATH level or subject), keys sorted; rows without it skipped."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        if r.get(field) is not None:
            groups.setdefault(str(r[field]), []).append(r)
    return {key: aggregate(groups[key], k) for key in sorted(groups)}


def evaluate_suite(engine, pool, rows: list[dict], prompt_ids: list[list[int]], ecfg, prefill: str = "",
                   stop: list[str] | None = None, rank: int = 0, world_size: int = 1) -> dict[str, float]:
    """Training-time metrics of one suite (accuracy, pass@k, maj@k, lengths, truncated_frac), summed over ranks.

    `pool` is a `rewards.pool.RewardPool` whose first reward is `accuracy`."""
    from r1zero import dist

    mine = list(range(rank, len(rows), world_size))
    records, _, _, verify = generate_records(engine, pool, [rows[i] for i in mine], [prompt_ids[i] for i in mine],
                                             ecfg, prefill, stop)
    k, lengths = ecfg.k, [x for r in records for x in r["lengths"]]
    others = [n for n in pool.names if n != "accuracy"]  # the same names, in the same order, on every rank
    totals = dist.all_sum([
        float(sum(sum(r["correct"]) for r in records)),  # correct samples
        float(len(lengths)),  # samples
        float(sum(pass_at_k(k, sum(r["correct"]), k) for r in records)),  # problems solved by any of k
        float(sum(r["maj_correct"] for r in records)),  # problems solved by the majority answer
        float(len(records)),  # problems
        float(sum(lengths)),  # completion tokens
        float(sum(sum(r["truncated"]) for r in records)),  # truncated
        float(verify["timeouts"]), float(verify["errors"]),  # scoring failures (scored 0)
        *[float(sum(sum(r["rewards"][name]) for r in records)) for name in others],  # other rewards' score sums
    ])
    c, n, solved, maj, problems, tokens, trunc, timeouts, errors, *sums = totals
    out = {"accuracy": c / max(n, 1), "mean_length": tokens / max(n, 1), "truncated_frac": trunc / max(n, 1),
           "problems": problems, "verify/timeouts": timeouts, "verify/errors": errors,
           **{f"reward/{name}": v / max(n, 1) for name, v in zip(others, sums)}}
    if k > 1:
        out[f"pass@{k}"] = solved / max(problems, 1)
        out[f"maj@{k}"] = maj / max(problems, 1)
    return out


def generate_records(engine, pool, rows: list[dict], prompt_ids: list[list[int]], ecfg, prefill: str = "",
                     stop: list[str] | None = None, chunk: int = 0) -> tuple[list[dict], list, list[dict], dict]:
    """Generate k samples per problem (in chunks of `chunk` problems, 0: all at once), score them with the pool
    (`accuracy` decides correct; the pool's other rewards are recorded beside it).

    Returns (problem records, rollouts, accuracy infos per rollout, {"timeouts": n, "errors": n} of scoring)."""
    sampling = sampling_for_eval(ecfg)
    sampling.stop = list(stop or [])
    records, rollouts, infos, chunk = [], [], [], chunk or max(len(rows), 1)
    verify = {"timeouts": 0, "errors": 0}
    for start in range(0, len(rows), chunk):
        t0 = time.time()
        part = engine.generate(prompt_ids[start:start + chunk], n=ecfg.k, sampling=sampling)
        part_rows = rows[start:start + chunk]
        scores = pool.score([prefill + r.text for r in part], [part_rows[r.prompt_index] for r in part])
        correct = [s >= 1.0 for s in scores.per_reward["accuracy"]]
        others = {name: v for name, v in scores.per_reward.items() if name != "accuracy"}
        records += problem_records(part_rows, part, correct, ecfg.k, prefill, others)
        verify["timeouts"] += scores.timeouts
        verify["errors"] += scores.errors
        rollouts += part
        infos += [i.get("accuracy", {}) for i in scores.infos]
        if chunk < len(rows):
            tokens = sum(len(r.completion_ids) for r in part)
            print(f"[r1zero] eval {start + len(part_rows)}/{len(rows)} problems, {tokens / (time.time() - t0):.0f} "
                  f"tokens/s", file=sys.stderr, flush=True)
    return records, rollouts, infos, verify


# ------------------------------------------------------------------------------ standalone evaluation (no trainer)


def run_evaluation(cfg, out_dir: str | Path | None = None, wandb_mode: str = "auto", samples_per_suite: int = 8,
                   chunk: int = 0, command: str = "") -> dict:
    """Evaluate `cfg.model.name` on `cfg.eval.suites` with the config's template, sampling and engine.

    Writes results.json, results.md and completions.jsonl into `out_dir` (if given) and logs a W&B run there
    (see `r1zero.report.write_eval`). Returns the results dict (settings, per-suite metrics and breakdowns)."""
    from r1zero import console, data, prompts
    from r1zero.models import load_tokenizer, resolve_model
    from r1zero.scoring import eval_reward_names
    from rewards.pool import RewardPool

    t_start, d, e = time.time(), cfg.data, cfg.eval
    model_path, tok = resolve_model(cfg.model.name), load_tokenizer(cfg.model.name)
    prefill, stop = prompts.prefill(d.template, d.chat), prompts.stop_strings(d.template) + list(cfg.rollout.stop)
    sampled = "greedy" if e.greedy else f"k={e.k} at temperature {e.temperature}"
    console.say(f"eval: {cfg.model.name} on {', '.join(e.suites)} ({sampled}, template {d.template}), "
                f"engine {cfg.rollout.engine}" + (f", results in {out_dir}" if out_dir is not None else ""))
    engine = make_engine(cfg, model_path, tok)  # no trainer: its context fits prompt + eval.max_new_tokens
    pool = RewardPool(eval_reward_names(cfg.rewards), None, workers=cfg.rewards.workers,
                      timeout_s=cfg.rewards.timeout_s)
    suites, completions = {}, []
    try:
        for suite, source in data.suite_names(e.suites).items():
            rows, ids, dropped = prompts.encode_prompts(
                data.load_dataset(source, e.limit, problem_key=d.problem_key, answer_key=d.answer_key), d.template,
                tok, d.chat, d.max_prompt_tokens)
            t0 = time.time()
            records, rollouts, infos, verify = generate_records(engine, pool, rows, ids, e, prefill, stop, chunk)
            wall = time.time() - t0
            metrics = {**aggregate(records, e.k), **{f"verify/{k}": float(v) for k, v in verify.items()}}
            res = {"metrics": metrics, "dropped_prompts": dropped, "wall_s": round(wall, 1),
                   "tokens_per_s": round(sum(len(r.completion_ids) for r in rollouts) / max(wall, 1e-9), 1)}
            for field in GROUP_FIELDS.get(suite, ()):
                res[f"by_{field}"] = breakdown(records, e.k, field)
            suites[suite] = res
            completions += completion_rows(suite, rows, rollouts, infos, records, e.k)
            print(f"[r1zero] eval {suite}: " + ", ".join(f"{k}={v:.4g}" for k, v in res["metrics"].items()),
                  file=sys.stderr, flush=True)
            if out_dir is not None:  # partial results after each suite: a long run that is stopped keeps them
                _write_partial(Path(out_dir), {"model": cfg.model.name, "command": command,
                                               "settings": eval_settings(cfg), "suites": suites, "partial": True})
    finally:
        pool.close()
        engine.close()
    result = {"model": cfg.model.name, "command": command, "settings": eval_settings(cfg), "suites": suites,
              "wall_s": round(time.time() - t_start, 1)}
    if out_dir is not None:
        from r1zero.report import write_eval

        result["files"] = write_eval(result, completions, Path(out_dir), wandb_mode, samples_per_suite)
        console.say(f"results: {result['files']['markdown']}, {result['files']['completions']}")
        from r1zero.tracking import wandb_mode as resolved_mode

        offline = resolved_mode(wandb_mode) == "offline"
        console.say(console.wandb_line(result["files"].get("wandb_dir"), offline=offline))
    return result


def _write_partial(out_dir: Path, partial: dict) -> None:
    from r1zero.report import eval_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.partial.json").write_text(json.dumps(partial, indent=1))
    (out_dir / "results.partial.md").write_text(eval_markdown({**partial, "wall_s": 0.0}))


def eval_settings(cfg) -> dict:
    e, d = cfg.eval, cfg.data
    return {"template": d.template, "chat": d.chat, "k": e.k, "greedy": e.greedy,
            "temperature": None if e.greedy else e.temperature, "top_p": None if e.greedy else e.top_p,
            "max_new_tokens": e.max_new_tokens, "limit": e.limit, "max_prompt_tokens": d.max_prompt_tokens,
            "engine": cfg.rollout.engine, "vllm_dtype": cfg.rollout.vllm_dtype, "seed": cfg.train.seed}


def completion_rows(suite: str, rows: list[dict], rollouts, infos: list[dict], records: list[dict],
                    k: int) -> list[dict]:
    """Every completion with its verdict (for completions.jsonl and the W&B samples table)."""
    out = []
    for j, (r, info) in enumerate(zip(rollouts, infos)):
        row, rec = rows[j // k], records[j // k]
        out.append({"suite": suite, "id": row.get("id"), "sample": j % k, "problem": row["problem"],
                    "gold": str(row["answer"]), "pred": info.get("pred"), "correct": rec["correct"][j % k],
                    "finish": r.finish_reason, "length": len(r.completion_ids), "completion": r.text})
    return out

"""GRM data: candidate answers sampled from a model and labelled by a verifier, as SPCT rows (`r1zero grm build-data`).

    r1zero grm build-data [--model M] [--seed 0] [--limit N] [--engine vllm|hf]     # r1zero/data/grm/{train,test}.jsonl

Candidate answers to addition_small problems are sampled from a model (plain template, T=1) and labelled by the
`accuracy` verifier; each row is a pair (one right, one wrong answer, in a seeded random order) or a single answer.
Train rows come from addition_small train problems, test rows (pairs only) from addition_small_test problems: held
out. A row's `problem` is `grm.format_input` of the question and its responses (the `grm` template wraps it).
"""
from __future__ import annotations

import random
from pathlib import Path

from rewards.grm import DEFAULT_MAX_SCORE
from r1zero.rollout.base import SamplingParams
# the standalone-engine helpers live with the rest of the task's engine use (r1zero/tasks/grm.py)
from r1zero.tasks.grm import _build_engine, _engine_config, format_input

MAX_RESPONSE_CHARS = 300  # build-data: longer candidate answers are dropped (short rows keep prompts small)
BUILD = {"model": "smollm2-135m", "seed": 0, "n": 16, "temperature": 1.0, "max_new_tokens": 48,
         "train_pairs_per_problem": 2, "train_singles": 60, "train_rows": 200, "test_rows": 150,
         "drop_truncated": True}


def make_rows(problems: list[dict], candidates: list[list[tuple[str, bool]]], split: str, seed: int,
              pairs_per_problem: int, singles: int, max_rows: int, max_score: int = DEFAULT_MAX_SCORE) -> list[dict]:
    """GRM rows from labelled candidates (pure and deterministic given `seed`).

    `candidates[i]`: (answer text, verifier verdict) of `problems[i]`. Texts are whitespace-normalised, deduplicated
    and kept when at most MAX_RESPONSE_CHARS long. Up to `pairs_per_problem` pairs (a right and a wrong answer, each
    used once, in random order) per problem with both kinds, and `singles` single-answer rows (half right, half
    wrong where possible) from answers not used in pairs: at most `max_rows` rows, the singles and as many pairs as
    fit, in shuffled order."""
    rng = random.Random(seed)
    pairs, spare = [], []
    for prob, cands in zip(problems, candidates):
        seen: dict[str, bool] = {}
        for text, ok in cands:
            norm = " ".join(text.split())
            if norm and len(norm) <= MAX_RESPONSE_CHARS and norm not in seen:
                seen[norm] = bool(ok)
        right = [t for t, ok in seen.items() if ok]
        wrong = [t for t, ok in seen.items() if not ok]
        rng.shuffle(right)
        rng.shuffle(wrong)
        n_pairs = min(pairs_per_problem, len(right), len(wrong))
        for j in range(n_pairs):
            flip = rng.random() < 0.5
            responses = [wrong[j], right[j]] if flip else [right[j], wrong[j]]
            pairs.append(_row(prob, responses, [0, 1] if flip else [1, 0], max_score))
        spare += [(prob, t, 1) for t in right[n_pairs:]] + [(prob, t, 0) for t in wrong[n_pairs:]]
    rng.shuffle(spare)
    by_label = {lab: [s for s in spare if s[2] == lab] for lab in (1, 0)}
    chosen = by_label[1][:singles // 2]
    chosen += by_label[0][:singles - len(chosen)]
    chosen = chosen[:max_rows]
    rows = pairs[:max_rows - len(chosen)] + [_row(p, [t], [lab], max_score) for p, t, lab in chosen]
    rng.shuffle(rows)
    return [{"id": f"grm-{split}-{i:05d}", **r} for i, r in enumerate(rows)]


def _row(prob: dict, responses: list[str], labels: list[int], max_score: int) -> dict:
    correct = labels.index(1) + 1 if 1 in labels else 0
    return {"problem": format_input(prob["problem"], responses), "answer": str(correct),
            "kind": "pair" if len(responses) > 1 else "single", "query": prob["problem"], "responses": responses,
            "labels": labels, "gold": str(prob["answer"]), "max_score": max_score, "source_id": prob["id"],
            "hint": hint(labels)}


def hint(labels: list[int]) -> str:
    """The verdict as a line for SPCT's hinted sampling (`data.hint_frac`): which response the verifier accepts."""
    if len(labels) == 1:
        return f"Hint: Response 1 is {'right' if labels[0] else 'wrong'}."
    return f"Hint: Response {labels.index(1) + 1} is right."


def sample_candidates(engine, tokenizer, problems: list[dict], n: int, sampling: SamplingParams,
                      chat: bool = True) -> list[list[tuple[str, bool]]]:
    """n sampled answers per problem (plain template), each labelled by the `accuracy` verifier."""
    from r1zero import prompts
    from rewards.pool import RewardPool

    _, ids, _ = prompts.encode_prompts(problems, "plain", tokenizer, chat, 10 ** 6)
    rollouts = engine.generate(ids, n=n, sampling=sampling)
    with RewardPool(["accuracy"], workers=1, timeout_s=5.0) as pool:
        res = pool.score([r.text for r in rollouts], [problems[r.prompt_index] for r in rollouts])
    out: list[list[tuple[str, bool]]] = [[] for _ in problems]
    for r, s in zip(rollouts, res.per_reward["accuracy"]):
        if not (r.truncated and BUILD["drop_truncated"]):  # a cut-off answer is not a response anyone would grade
            out[r.prompt_index].append((r.text, s >= 1.0))
    return out


def build_data(out_dir: str | Path, model: str = BUILD["model"], seed: int = BUILD["seed"], limit: int = 0,
               engine_name: str = "vllm", command: str = "") -> dict:
    """Sample, label and write train.jsonl / test.jsonl (see the module doc); returns a summary."""
    import torch

    from r1zero.data import load_dataset, write_jsonl

    cfg, tok = _engine_config(model, engine_name, BUILD["max_new_tokens"], seed)
    engine = _build_engine(cfg, model, tok)
    sampling = SamplingParams(max_new_tokens=BUILD["max_new_tokens"], temperature=BUILD["temperature"])
    summary: dict = {"command": command, "model": model, **BUILD, "seed": seed, "engine": engine_name}
    try:
        for split, source in (("train", "addition_small"), ("test", "addition_small_test")):
            problems = load_dataset(source, limit=limit)
            if engine.uses_global_rng:  # hf: seed torch's generator per split (vLLM: seeded at engine start)
                torch.manual_seed(seed)
            cands = sample_candidates(engine, tok, problems, BUILD["n"], sampling)
            if split == "train":
                rows = make_rows(problems, cands, split, seed, BUILD["train_pairs_per_problem"],
                                 BUILD["train_singles"], BUILD["train_rows"])
            else:
                rows = make_rows(problems, cands, split, seed + 1, 1, 0, BUILD["test_rows"])
            path = write_jsonl(rows, Path(out_dir) / f"{split}.jsonl")
            verdicts = [ok for c in cands for _, ok in c]
            summary[split] = {"path": str(path), "rows": len(rows), "pairs": sum(r["kind"] == "pair" for r in rows),
                              "problems": len(problems), "candidates": len(verdicts),
                              "candidate_accuracy": round(sum(verdicts) / max(len(verdicts), 1), 4)}
    finally:
        engine.close()
    return summary

"""SPCT generative reward model (GRM, DeepSeek "Self-Principled Critique Tuning") as a task on the GRPO engine.

    r1zero grm build-data                              # r1zero/data/grm/{train,test}.jsonl (r1zero/tasks/grm_data.py)
    r1zero grm eval --model M --data grm_addition_small_test --k 1,4,8 --out DIR [--wandb-mode offline]

The policy reads a question and N numbered candidate responses (`format_input`), writes principles, a critique and
one score per response (the output format and its rule reward are in `rewards/grm.py`).
  * Data (`build-data`, r1zero/tasks/grm_data.py): candidate answers sampled from a model and labelled by the
    `accuracy` verifier, as pairs (one right, one wrong) or single answers.
  * Voting (`vote`): k critiques per input sampled in one engine call (n=k), each parsed; the scores of the ones that
    parse are summed per response (SPCT voting). `pairwise_accuracy`: a pair is right when the summed score of its
    correct response is strictly greater; ties, and pairs with no parsed critique, are wrong (with its 95% Wilson
    interval over the pairs).
    `eval` samples max(k) critiques once and votes over the first k of them for every k asked (nested subsets).
  * `JudgeReward`: the `grm_judge` model reward (r1zero/scoring.py MODEL_REWARDS) for prompts with no verifier:
    the completion becomes a single-response input, `grm.judge_k` critiques vote, score = mean parsed score /
    max_score in [0, 1].
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from rewards.grm import DEFAULT_MAX_SCORE, parse_grm
from rewards.spans import last_number
from r1zero.rollout.base import SamplingParams


def format_input(query: str, responses: list[str]) -> str:
    """The `problem` text of a GRM row: the question and the numbered responses (the `grm` template wraps it).

    Each response is followed by the line `Response i ends with X.` (X from `rewards.spans.last_number`, linear
    and bounded, so it is safe on policy output in this process; "no number" without one), the sentence the
    few-shot critiques start each check with, so a judge can copy it. A task-design choice, measured: without it
    the 135M judges quoted the response's real last number in only 28-34% of their critiques (half the time they
    copied the sum they had just computed) and their verdicts were at chance however well they added; the untrained
    addition model quoted right 40% of the time with a `Last number: X` line and 48% with this one (48 held-out
    pairs, 4 critiques each). Judging is then what the issue asks of a judge of additions: compute the sum,
    compare, score. X is the `accuracy` verifier's fallback reading (it disagrees with the verifier's labels on 3
    of the 616 shipped responses)."""
    parts = [f"Question: {query.strip()}"]
    for i, r in enumerate(responses, 1):
        last = last_number(r)
        parts.append(f"Response {i}: {r.strip()}\nResponse {i} ends with {last[1] if last else 'no number'}.")
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------- voting


@dataclass
class Votes:
    """Parsed critiques: `parsed[i][j]` is the score tuple of critique j of row i, or None if it did not parse."""

    parsed: list[list[tuple[int, ...] | None]]
    texts: list[list[str]]
    reasons: list[list[str]]

    def sums(self, k: int | None = None) -> list[list[int]]:
        """Per row, the summed score of each response over its first k critiques that parsed (SPCT voting)."""
        out = []
        for row in self.parsed:
            valid = [s for s in row[:k] if s is not None]
            out.append([sum(col) for col in zip(*valid)] if valid else [])
        return out

    def parse_rate(self, k: int | None = None) -> float:
        flat = [s for row in self.parsed for s in row[:k]]
        return sum(s is not None for s in flat) / max(len(flat), 1)


def template_fingerprint() -> str:
    """A short hash of the `grm` template: evals made with other few-shot examples are not comparable (nor reusable)."""
    import hashlib

    from r1zero import prompts

    return hashlib.sha256(repr(prompts.get_template("grm")).encode()).hexdigest()[:12]


def judge_prompts(rows: list[dict], tokenizer, chat: bool) -> list[list[int]]:
    from r1zero import prompts

    texts = [prompts.build_prompt(r["problem"], "grm", tokenizer, chat) for r in rows]
    return [list(x) for x in tokenizer(texts, add_special_tokens=not chat)["input_ids"]] if texts else []


def vote(engine, tokenizer, rows: list[dict], k: int, sampling: SamplingParams, chat: bool = False,
         max_score: int = DEFAULT_MAX_SCORE, prompt_ids: list[list[int]] | None = None) -> Votes:
    """k critiques per row in one engine call (n=k), each parsed against the row's number of responses.

    The `grm` template's stop strings are added to `sampling`, and its prefill (raw form) is put back in front of
    each completion before parsing, as the trainer's scorer does."""
    from r1zero import prompts

    ids = prompt_ids if prompt_ids is not None else judge_prompts(rows, tokenizer, chat)
    stop = list(dict.fromkeys([*sampling.stop, *prompts.stop_strings("grm")]))
    rollouts = engine.generate(ids, n=k, sampling=replace(sampling, stop=stop))
    prefill = prompts.prefill("grm", chat)
    parsed, texts, reasons = [[] for _ in rows], [[] for _ in rows], [[] for _ in rows]
    for r in rollouts:
        row, text = rows[r.prompt_index], prefill + r.text
        p = parse_grm(text, len(row["responses"]), int(row.get("max_score", max_score)))
        parsed[r.prompt_index].append(p.scores)
        texts[r.prompt_index].append(text)
        reasons[r.prompt_index].append(p.reason)
    return Votes(parsed, texts, reasons)


def pairwise_accuracy(rows: list[dict], votes: Votes, k: int | None = None) -> dict[str, float]:
    """Pair rows only: right iff the correct response's summed score is strictly greater (ties, no parse: wrong)."""
    sums = votes.sums(k)
    right = ties = none = n = 0
    for row, s in zip(rows, sums):
        if len(row["responses"]) != 2:
            continue
        n += 1
        c = row["labels"].index(1)
        if not s:
            none += 1
        elif s[0] == s[1]:
            ties += 1
        right += bool(s) and s[c] > s[1 - c]
    low, high = wilson_interval(right, n)
    return {"accuracy": right / max(n, 1), "ci95_low": low, "ci95_high": high, "tie_rate": ties / max(n, 1),
            "no_parse_rate": none / max(n, 1), "parse_rate": votes.parse_rate(k), "pairs": float(n)}


def critique_stats(rows: list[dict], votes: Votes) -> dict[str, float]:
    """What the critiques did, over all of them (rows with a `gold` answer): `computes_gold` is the share whose text
    before the Scores line computes the gold answer (`= gold`), the step a judge of additions must get right before
    it scores; `right_if_gold` the share of parsed, gold-computing critiques whose verdict on a pair is right
    (untied)."""
    n = gold = parsed_gold = right = 0
    for row, texts, parsed in zip(rows, votes.texts, votes.parsed):
        if "gold" not in row or len(row["responses"]) != 2:
            continue
        c = row["labels"].index(1)
        for text, scores in zip(texts, parsed):
            n += 1
            reasoning = text.split("Scores:")[0]
            if not re.search(rf"=\s*{re.escape(str(row['gold']))}(?![0-9])", reasoning):
                continue
            gold += 1
            if scores is not None:
                parsed_gold += 1
                right += scores[c] > scores[1 - c]
    return {"computes_gold": gold / max(n, 1), "right_if_gold": right / max(parsed_gold, 1),
            "parsed_gold": float(parsed_gold), "critiques": float(n)}


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a binomial proportion: unlike the normal one it stays inside [0, 1] and
    keeps its coverage near 0 and 1, where a judge's accuracy on ~100 pairs often sits."""
    if n == 0:
        return 0.0, 1.0
    p, z2 = successes / n, z * z
    centre, half = (p + z2 / (2 * n)) / (1 + z2 / n), z * (p * (1 - p) / n + z2 / (4 * n * n)) ** 0.5 / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


# ---------------------------------------------------------------------------------------------- engines


def _engine_config(model: str, engine_name: str, max_new_tokens: int, seed: int, max_prompt_tokens: int = 1024):
    """A run config for a standalone engine (`rollout.factory.make_engine`) and the model's tokenizer."""
    from r1zero.config import Config
    from r1zero.models import load_tokenizer

    cfg = Config()
    cfg.model.name, cfg.model.dtype, cfg.rollout.engine, cfg.train.seed = model, "bf16", engine_name, seed
    cfg.eval.max_new_tokens, cfg.data.max_prompt_tokens = max_new_tokens, max_prompt_tokens
    return cfg, load_tokenizer(model)


def _build_engine(cfg, model: str, tok, model_path: str | None = None):
    from r1zero.models import resolve_model
    from r1zero.rollout.factory import make_engine

    return make_engine(cfg, model_path or resolve_model(model), tok)  # hf: on the GPU where there is one


# ---------------------------------------------------------------------------------------------- pairwise eval


def run_pairwise_eval(model: str, data: str, ks: list[int], out_dir: str | Path | None = None,
                      engine_name: str = "vllm", temperature: float = 0.7, max_new_tokens: int = 192,
                      limit: int = 0, seed: int = 0, chat: bool = False, wandb_mode: str = "auto",
                      label: str = "", command: str = "") -> dict:
    """Pairwise accuracy of `model` as a GRM on the pair rows of `data`, voting over k critiques for each k."""
    from r1zero.data import load_dataset

    t0 = time.time()
    pairs = [r for r in load_dataset(data, limit=limit) if len(r.get("responses", [])) == 2]
    if not pairs:
        raise ValueError(f"{data}: no pair rows (rows with two `responses`) to evaluate")
    cfg, tok = _engine_config(model, engine_name, max_new_tokens, seed)
    engine = _build_engine(cfg, model, tok)
    sampling = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature)
    try:
        t_gen = time.time()
        votes = vote(engine, tok, pairs, max(ks), sampling, chat)
        gen_s = time.time() - t_gen
    finally:
        engine.close()
    result = {"model": model, "data": data, "label": label, "command": command,
              "settings": {"k": ks, "temperature": temperature, "max_new_tokens": max_new_tokens, "limit": limit,
                           "seed": seed, "chat": chat, "engine": engine_name, "voting": "sum of parsed scores; "
                           f"critiques 1..k of {max(ks)} sampled per pair", "template": template_fingerprint()},
              "per_k": {str(k): pairwise_accuracy(pairs, votes, k) for k in ks},
              "critiques": critique_stats(pairs, votes),
              "generate_s": round(gen_s, 1), "wall_s": round(time.time() - t0, 1)}
    if out_dir is not None:
        result["files"] = write_pairwise(result, pairs, votes, Path(out_dir), wandb_mode)
    return result


def pairwise_markdown(result: dict) -> str:
    from r1zero.report import table

    out = [f"# GRM pairwise accuracy: {result['model']} on {result['data']}", ""]
    if result.get("command"):
        out += ["```", result["command"], "```", ""]
    out += ["Settings: " + ", ".join(f"{k}={v}" for k, v in result["settings"].items()), "",
            "accuracy: share of pairs whose correct response got the strictly higher summed score over k critiques; "
            "ties and pairs with no parsed critique count as wrong.", ""]
    out += table({f"k={k}": m for k, m in result["per_k"].items()}, "voting")
    out += ["", f"Wall time: {result['wall_s']:.0f} s."]
    return "\n".join(out) + "\n"


def write_pairwise(result: dict, pairs: list[dict], votes: Votes, out_dir: Path, wandb_mode: str) -> dict[str, str]:
    """results.json, results.md, critiques.jsonl and a W&B run (offline without a key) in `out_dir`."""
    from r1zero.tracking import TableData, write_result_run

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"json": str(out_dir / "results.json"), "markdown": str(out_dir / "results.md"),
             "critiques": str(out_dir / "critiques.jsonl")}
    with open(files["critiques"], "w", encoding="utf-8") as f:
        for row, texts, parsed, reasons in zip(pairs, votes.texts, votes.parsed, votes.reasons):
            f.write(json.dumps({"id": row["id"], "labels": row["labels"], "critiques": texts,
                                "scores": [list(p) if p else None for p in parsed], "parse": reasons},
                               ensure_ascii=False) + "\n")
    per_k = result["per_k"]
    wandb_dir = write_result_run(
        out_dir, "grm-eval", f"grm-eval-{result['label'] or Path(str(result['model'])).name}", wandb_mode,
        config={"model": result["model"], "data": result["data"], **result["settings"]},
        summary={f"grm/pairwise_accuracy@{k}": m["accuracy"] for k, m in per_k.items()},
        history=[(int(k), {f"grm/pairwise_{name}": v for name, v in m.items()}) for k, m in per_k.items()],
        logs=[{"grm/pairwise": TableData(["k", *next(iter(per_k.values()))],
                                         [[int(k), *m.values()] for k, m in per_k.items()])}])
    if wandb_dir:
        files["wandb_dir"] = wandb_dir
    Path(files["markdown"]).write_text(pairwise_markdown(result), encoding="utf-8")
    Path(files["json"]).write_text(json.dumps({**result, "files": files}, indent=1), encoding="utf-8")
    return files


# ---------------------------------------------------------------------------------------------- model reward


class JudgeReward:
    """The `grm_judge` model reward: the completion is one response to the sample's `problem`; `grm.judge_k`
    critiques are sampled from the judge (its own engine, `grm.judge_engine`) and the parsed scores voted:
    score = mean parsed score / max_score in [0, 1]; no parsed critique: 0 (info["reason"]). A sample without a
    `problem`, or a judge prompt longer than the judge's limit, is 0 with info["error"]."""

    def __init__(self, cfg, model_path: str, tokenizer, weights, world_size: int, rank: int, run_dir: Path):
        """The model-reward contract (r1zero/scoring.py `ModelReward`); the judge has its own weights (`weights`,
        the policy's, are not used: `grm.judge_model`, or the run's starting model)."""
        import copy

        from r1zero.models import load_tokenizer

        g = cfg.grm
        self.k, self.max_score = g.judge_k, g.max_score
        name = g.judge_model or cfg.model.name
        self.tok = load_tokenizer(name, "grm.judge_model") if g.judge_model else tokenizer
        self.chat = g.judge_chat  # raw few-shot form by default (see prompts.py "grm")
        self.max_prompt = cfg.data.max_prompt_tokens + cfg.rollout.max_new_tokens + 256  # + template and query
        ecfg = copy.deepcopy(cfg)
        ecfg.rollout.engine, ecfg.train.seed = g.judge_engine, cfg.train.seed + 1000 + rank
        ecfg.eval.max_new_tokens, ecfg.data.max_prompt_tokens = g.judge_max_new_tokens, self.max_prompt
        self.engine = _build_engine(ecfg, name, self.tok, None if g.judge_model else model_path)
        self.sampling = SamplingParams(max_new_tokens=g.judge_max_new_tokens, temperature=g.judge_temperature)
        self._stats = {"critiques": 0, "parsed": 0, "items": 0, "score_sum": 0.0, "seconds": 0.0}

    def score(self, texts: list[str], samples: list[dict]) -> tuple[list[float], list[dict]]:
        t0 = time.time()
        scores, infos = [0.0] * len(texts), [{} for _ in texts]
        rows, where = [], []
        for i, (text, sample) in enumerate(zip(texts, samples)):
            query = sample.get("problem") if isinstance(sample, dict) else None
            if not isinstance(query, str) or not query.strip() or not isinstance(text, str):
                infos[i] = {"error": "grm_judge needs a sample with a `problem` text and a completion string"}
                continue
            rows.append({"problem": format_input(query, [text]), "responses": [text], "max_score": self.max_score})
            where.append(i)
        ids = judge_prompts(rows, self.tok, self.chat)
        keep = [j for j, p in enumerate(ids) if len(p) <= self.max_prompt]
        for j in sorted(set(range(len(rows))) - set(keep)):
            infos[where[j]] = {"error": f"judge prompt too long ({len(ids[j])} > {self.max_prompt} tokens)"}
        votes = vote(self.engine, self.tok, [rows[j] for j in keep], self.k, self.sampling, self.chat,
                     self.max_score, [ids[j] for j in keep]) if keep else Votes([], [], [])
        for j, parsed, reasons in zip(keep, votes.parsed, votes.reasons):
            valid = [s[0] for s in parsed if s is not None]
            i = where[j]
            scores[i] = sum(valid) / (len(valid) * self.max_score) if valid else 0.0
            infos[i] = {"votes": valid, "k": self.k}
            if not valid:
                infos[i]["reason"] = f"no critique parsed: {reasons[0]}"
            self._stats["critiques"] += len(parsed)
            self._stats["parsed"] += len(valid)
            self._stats["items"] += 1
            self._stats["score_sum"] += scores[i]
        self._stats["seconds"] += time.time() - t0
        return scores, infos

    def metrics(self) -> dict[str, float]:
        s = self._stats
        out = {"grm/judge_parse_rate": s["parsed"] / max(s["critiques"], 1),
               "grm/judge_mean_score": s["score_sum"] / max(s["items"], 1), "timing/judge": s["seconds"]}
        self._stats = {key: 0 for key in s}
        return out

    def close(self) -> None:
        self.engine.close()

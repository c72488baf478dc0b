"""Held-out SEAL evaluation: does a model's self-edit teach a copy of a model the passage?

    r1zero seal eval --model runs/seal-rest/final_model --data seal_gsm8k_test --out DIR

For each held-out passage: the model (`--model`) writes one greedy self-edit with the config's template and engine;
the inner model (`--inner-model`, default the same model, as in SEAL) gets a fresh LoRA update on it
(`inner.py`, the same code and `seal.*` knobs as the training reward) and answers the passage's questions
closed-book. Reported: acc_before / acc_after / gain (mean over passages of the per-passage question accuracy),
logp_gain (gold-answer log-probability), forget_before / forget_after / forgetting on `seal.forgetting_suite`,
the same per question kind (`main`, `fact`, `cloze`), and optionally baselines (`BASELINES`) updated the same way
on a text that is not the model's: the passage itself, or one copied answer (a gaming check: on passages whose
questions have distinct answers it can be right on one question at most).
Writes results.json, results.md, edits.jsonl and a W&B run (offline without a key) into the output directory.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from r1zero.tasks.seal.edits import forgetting_rows, make_tasks, reward_of, summarize
from r1zero.tasks.seal.fewshot import FIXED_PLAN, is_puzzle
from r1zero.tasks.seal.inner import InnerPool, InnerSettings, mean

BASELINES = {  # name -> the text the inner update trains on instead of the model's self-edit
    "passage": lambda row: row["problem"],
    "copy": lambda row: f"The answer is {row['answer']}.",
    "fixed": lambda row: FIXED_PLAN,  # few-shot puzzles: one plan for every puzzle
}
FEWSHOT_BASELINES = ("fixed",)  # the baselines that are plans; the others are knowledge texts


def baseline_names(spec: str | tuple[str, ...]) -> tuple[str, ...]:
    """The baselines of `--baselines passage,copy` (or a tuple of names), checked against BASELINES."""
    names = tuple(b.strip() for b in (spec.split(",") if isinstance(spec, str) else spec) if b.strip())
    unknown = [b for b in names if b not in BASELINES]
    if unknown:
        from r1zero.errors import ConfigError

        raise ConfigError(f"unknown SEAL baseline(s) {', '.join(unknown)} (--baselines): choose from "
                          f"{', '.join(BASELINES)}")
    return names


def check_baselines(baselines: tuple[str, ...], rows: list[dict], data: str) -> None:
    """A plan baseline needs few-shot puzzles, a text baseline passages (else it measures nothing)."""
    fewshot = bool(rows) and is_puzzle(rows[0].get("questions"))
    wrong = [b for b in baselines if (b in FEWSHOT_BASELINES) != fewshot]
    if wrong:
        from r1zero.errors import ConfigError

        fit = FEWSHOT_BASELINES if fewshot else tuple(b for b in BASELINES if b not in FEWSHOT_BASELINES)
        raise ConfigError(f"--baselines {','.join(wrong)} does not apply to `{data}` "
                          f"({'few-shot puzzles' if fewshot else 'passages'}): use {', '.join(fit)}")


def generate_edits(cfg, model: str, rows: list[dict]) -> tuple[list[dict], list[str]]:
    """Greedy self-edits of `model` for the rows it can prompt (rows longer than max_prompt_tokens are dropped)."""
    from r1zero import prompts
    from r1zero.models import load_tokenizer, resolve_model
    from r1zero.rollout.base import SamplingParams
    from r1zero.rollout.factory import make_engine

    d, tok = cfg.data, load_tokenizer(model)
    kept, ids, _ = prompts.encode_prompts(rows, d.template, tok, d.chat, d.max_prompt_tokens)
    cfg.eval.max_new_tokens = cfg.rollout.max_new_tokens  # make_engine sizes the context with it
    engine = make_engine(cfg, resolve_model(model), tok)
    try:
        stop = prompts.stop_strings(d.template) + list(cfg.rollout.stop)
        rolls = engine.generate(ids, n=1, sampling=SamplingParams(max_new_tokens=cfg.rollout.max_new_tokens,
                                                                  greedy=True, stop=stop))
    finally:
        engine.close()
    prefill = prompts.prefill(d.template, d.chat)
    return kept, [prefill + r.text for r in sorted(rolls, key=lambda r: r.prompt_index)]


def by_kind(rows: list[dict], results: list[dict]) -> dict[str, dict[str, float]]:
    """Question accuracy before/after per question kind (main, fact, cloze), over all questions of that kind."""
    out: dict[str, dict[str, list[float]]] = {}
    for row, res in zip(rows, results):
        if "error" in res:
            continue
        for q, b, a in zip(row["questions"], res["correct_before"], res["correct_after"]):
            d = out.setdefault(q.get("kind", "other"), {"before": [], "after": []})
            d["before"].append(float(b))
            d["after"].append(float(a))
    return {k: {"acc_before": mean(v["before"]), "acc_after": mean(v["after"]),
                "gain": mean(v["after"]) - mean(v["before"]), "questions": float(len(v["before"]))}
            for k, v in sorted(out.items())}


def evaluate(cfg, model: str, data: str, out_dir: Path, limit: int = 0, inner_model: str | None = None,
             wandb_mode: str = "auto", baselines: tuple[str, ...] = (), command: str = "") -> dict:
    from r1zero.data import load_dataset
    from r1zero.models import resolve_model

    baselines = baseline_names(baselines)  # before the engine starts
    t0 = time.time()
    rows = load_dataset(data, limit=limit)
    check_baselines(baselines, rows, data)
    rows, edits = generate_edits(cfg, model, rows)
    t_gen = time.time() - t0
    base = resolve_model(inner_model or model)
    settings, forgetting = InnerSettings.from_config(cfg.seal), forgetting_rows(cfg.seal)
    with InnerPool(cfg.seal.workers, cfg.seal.timeout_s, cfg.seal.memory_gib, cfg.train.threads or 1) as pool:
        results = pool.run(make_tasks(base, base, edits, rows, settings, forgetting, cfg.train.seed),
                           desc="seal eval: self-edits")
        # the same seeds and forgetting set as the self-edits': per passage, only the training text differs
        extra = {b: pool.run(make_tasks(base, base, [BASELINES[b](r) for r in rows], rows, settings, forgetting,
                                        cfg.train.seed), desc=f"seal eval: baseline {b}") for b in baselines}
    scores = [reward_of(r)[0] for r in results]
    result = {"model": model, "inner_model": inner_model or model, "data": data, "command": command,
              "settings": {"template": cfg.data.template, "chat": cfg.data.chat, "limit": limit,
                           "max_new_tokens": cfg.rollout.max_new_tokens, "engine": cfg.rollout.engine,
                           **{f"seal.{k}": v for k, v in vars(cfg.seal).items()}},
              "metrics": {**summarize(results, scores), "passages": float(len(rows))},
              "by_kind": by_kind(rows, results), "generate_s": round(t_gen, 1)}
    result["metrics"].pop("score_s", None)
    result["baselines"] = {b: summarize(res, [reward_of(r)[0] for r in res]) for b, res in extra.items()}
    result["wall_s"] = round(time.time() - t0, 1)
    edit_rows = [{"id": r["id"], "passage": r["problem"], "self_edit": e, **{k: res.get(k) for k in (
        "acc_before", "acc_after", "gain", "logp_before", "logp_after", "forget_before", "forget_after", "answers",
        "plan", "parsed", "error")}, **{f"{b}_gain": extra[b][i].get("gain") for b in extra},
        "questions": r["questions"]}
        for i, (r, e, res) in enumerate(zip(rows, edits, results))]
    write(result, edit_rows, Path(out_dir), wandb_mode)
    return result


def markdown(result: dict, edit_rows: list[dict], examples: int = 3) -> str:
    m = result["metrics"]
    out = [f"# SEAL held-out evaluation: {result['model']}", "",
           f"Inner model: {result['inner_model']}; data: {result['data']} ({int(m['passages'])} passages).", ""]
    if result.get("command"):
        out += ["```", result["command"], "```", ""]
    out += ["| metric | value |", "|---|---:|"] + [f"| {k} | {v:.4f} |" for k, v in m.items()] + [""]
    out += ["| question kind | acc_before | acc_after | gain | questions |", "|---|---:|---:|---:|---:|"]
    out += [f"| {k} | {v['acc_before']:.4f} | {v['acc_after']:.4f} | {v['gain']:.4f} | {int(v['questions'])} |"
            for k, v in result["by_kind"].items()] + [""]
    for b, p in result.get("baselines", {}).items():
        out += [f"Baseline `{b}` (the inner update on that text instead of the self-edit): acc_before "
                f"{p['acc_before']:.4f}, acc_after {p['acc_after']:.4f}, gain {p['gain']:.4f}.", ""]
    out += ["Settings: " + ", ".join(f"{k}={v}" for k, v in result["settings"].items()), ""]
    for row in sorted(edit_rows, key=lambda r: -(r.get("gain") or 0.0))[:examples]:
        out += [f"## {row['id']} (gain {row.get('gain') or 0.0:+.3f})", "", "Self-edit:", "",
                "> " + row["self_edit"].strip().replace("\n", "\n> "), ""]
    out.append(f"Wall time: {result['wall_s']:.0f} s (self-edit generation {result['generate_s']:.0f} s).")
    return "\n".join(out) + "\n"


def write(result: dict, edit_rows: list[dict], out_dir: Path, wandb_mode: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "edits.jsonl").open("w", encoding="utf-8") as f:
        for row in edit_rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    result["wandb_dir"] = log_wandb(result, edit_rows, out_dir, wandb_mode)
    (out_dir / "results.md").write_text(markdown(result, edit_rows), encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps(result, indent=1), encoding="utf-8")


def log_wandb(result: dict, edit_rows: list[dict], out_dir: Path, mode: str, name: str | None = None) -> str | None:
    """One W&B run: summary `seal/<metric>`, a per-kind table, and the self-edits with their gains."""
    from r1zero.tracking import TableData, write_result_run

    by_kind = TableData(["kind", "acc_before", "acc_after", "gain", "questions"],
                        [[k, *v.values()] for k, v in result["by_kind"].items()])
    cols = ["id", "self_edit", "acc_before", "acc_after", "gain", "forget_after", "error"]
    edits = TableData(cols, [[str(r.get(c)) if c in ("id", "self_edit", "error") else r.get(c) for c in cols]
                             for r in edit_rows])
    return write_result_run(out_dir, "seal-eval", name or f"seal-eval-{Path(str(result['model'])).name}", mode,
                            config={"model": result["model"], "inner_model": result["inner_model"],
                                    **result["settings"]},
                            summary={f"seal/{k}": v for k, v in result["metrics"].items()},
                            logs=[{"by_kind": by_kind}, {"edits": edits}])

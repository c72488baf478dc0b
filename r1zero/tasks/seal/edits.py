"""SEAL's self-edits as inner-loop tasks, and inner-loop results as rewards and `seal/*` metrics: shared by the
training reward (r1zero/tasks/seal/reward.py) and the held-out evaluation (r1zero/tasks/seal/eval.py)."""
from __future__ import annotations

from r1zero.tasks.seal.inner import InnerSettings, InnerTask, mean

METRICS = ("acc_before", "acc_after", "gain", "logp_gain", "forget_before", "forget_after", "forgetting",
           "positive_frac", "valid_frac", "docs", "inner_s", "score_s", "items", "timeouts", "errors")


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
    """(score, info) of one inner-loop result: its `reward` (the knowledge gain; a few-shot plan's success), or 0
    with an error."""
    if result is None:
        return 0.0, {"error": "the dataset row has no `questions`"}
    if "error" in result:
        return 0.0, {"error": result["error"], "timeout": bool(result.get("timeout"))}
    keys = ("acc_before", "acc_after", "gain", "logp_before", "logp_after", "forget_before", "forget_after",
            "docs", "inner_s", "loss_first", "loss_last", "parsed")
    info = {k: round(float(result[k]), 4) for k in keys if k in result}
    if result.get("plan"):
        info["plan"] = result["plan"]
    return float(result.get("reward", result["gain"])), info


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
           # the share of self-edits the inner loop could use: a few-shot self-edit needs a valid plan
           "valid_frac": avg("parsed", ok) if any("parsed" in r for r in ok) else float(bool(ok)),
           "docs": avg("docs", ok), "inner_s": avg("inner_s", ok), "items": float(len(results)),
           "timeouts": float(sum(1 for r in results if r and r.get("timeout"))),
           "errors": float(sum(1 for r in results if r is None or ("error" in r and not r.get("timeout"))))}
    out["forgetting"] = out["forget_before"] - out["forget_after"]
    return out

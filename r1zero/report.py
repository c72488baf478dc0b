"""Evaluation and benchmark reports: JSON, markdown tables, plots and a W&B run (offline when no key).

    write_eval(result, completions, out_dir, wandb_mode)   # results.json, results.md, completions.jsonl, W&B run
    plot_curves(metrics.jsonl rows, out.png)                # reward and eval-accuracy curves of a training run
    plot_timing(metrics.jsonl rows, out.png)                # step time by phase (timing/*), stacked bars
    plot_run(run_dir, eval_points)                          # the PNGs every training run leaves in runs/<name>/

matplotlib is imported only inside the functions that need it; the W&B run is `tracking.write_result_run`'s.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MAIN_METRICS = ("accuracy", "pass@", "maj@")  # metrics drawn in the per-suite bar charts


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def _metric_names(rows: list[dict[str, float]]) -> list[str]:
    names: list[str] = []
    for r in rows:
        names += [k for k in r if k not in names]
    return names


def table(rows: dict[str, dict[str, float]], first: str) -> list[str]:
    """A markdown table: one row per key of `rows`, one column per metric."""
    names = _metric_names(list(rows.values()))
    lines = [f"| {first} | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for key, m in rows.items():
        lines.append(f"| {key} | " + " | ".join(_fmt(m.get(n, "")) for n in names) + " |")
    return lines


def eval_markdown(result: dict) -> str:
    """The evaluation results as markdown: settings, the summary table, then per-level / per-subject tables."""
    s = result["settings"]
    out = [f"# Evaluation: {result['model']}", ""]
    if result.get("command"):
        out += ["```", result["command"], "```", ""]
    out += ["Settings: " + ", ".join(f"{k}={v}" for k, v in s.items()), "",
            "accuracy = avg@k (pass@1 estimated from k samples); pass@k unbiased; maj@k majority vote over "
            "extracted answers (equal by `math_equal`; ties: the answer seen first; no answer never wins); "
            "lengths in completion tokens; truncated_frac = share that hit max_new_tokens.", ""]
    out += table({suite: r["metrics"] for suite, r in result["suites"].items()}, "suite") + [""]
    for suite, r in result["suites"].items():
        for key in sorted(k for k in r if k.startswith("by_")):
            out += [f"## {suite} by {key[3:]}", ""] + table(r[key], key[3:]) + [""]
    out.append(f"Wall time: {result.get('wall_s', 0):.0f} s.")
    return "\n".join(out) + "\n"


def write_eval(result: dict, completions: list[dict], out_dir: Path, wandb_mode: str = "auto",
               samples_per_suite: int = 8) -> dict[str, str]:
    """results.json, results.md, completions.jsonl in `out_dir`, and a W&B run; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"json": out_dir / "results.json", "markdown": out_dir / "results.md",
             "completions": out_dir / "completions.jsonl"}
    with files["completions"].open("w", encoding="utf-8") as f:
        for row in completions:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    paths = {k: str(v) for k, v in files.items()}
    wandb_dir = log_eval_wandb(result, completions, out_dir, wandb_mode, samples_per_suite)
    if wandb_dir:
        paths["wandb_dir"] = wandb_dir
    files["markdown"].write_text(eval_markdown(result), encoding="utf-8")
    files["json"].write_text(json.dumps({**result, "files": paths}, indent=1), encoding="utf-8")
    return paths


def pick_samples(completions: list[dict], per_suite: int) -> list[dict]:
    """Up to `per_suite` completions per suite, correct and wrong ones alternating where both exist."""
    out = []
    for suite in dict.fromkeys(c["suite"] for c in completions):
        rows = [c for c in completions if c["suite"] == suite]
        good, bad = [c for c in rows if c["correct"]], [c for c in rows if not c["correct"]]
        mixed = [c for pair in zip(good, bad) for c in pair] + good[len(bad):] + bad[len(good):]
        out += mixed[:per_suite]
    return out


def log_eval_wandb(result: dict, completions: list[dict], out_dir: Path, mode: str,
                   samples_per_suite: int) -> str | None:
    """One W&B run: summary `eval/<suite>/<metric>`, a summary table, a bar chart per suite, a samples table."""
    from r1zero.tracking import BarData, TableData, write_result_run

    rows = [[suite, name, float(v)] for suite, r in result["suites"].items() for name, v in r["metrics"].items()]
    charts = []
    for suite, r in result["suites"].items():
        bars = TableData(["metric", "value"], [[n, float(v)] for n, v in r["metrics"].items()
                                               if n.startswith(MAIN_METRICS)])
        charts.append({f"charts/{suite}": BarData(bars, "metric", "value", f"{suite}: accuracy")})
    cols = ["suite", "id", "sample", "problem", "gold", "pred", "correct", "finish", "length", "completion"]
    picked = [[str(c[k]) if k in ("id", "pred") else c[k] for k in cols]
              for c in pick_samples(completions, samples_per_suite)]
    return write_result_run(out_dir, "eval", f"eval-{Path(str(result['model'])).name}", mode,
                            config={"model": result["model"], **result["settings"]},
                            summary={f"eval/{suite}/{name}": v for suite, name, v in rows},
                            logs=[{"summary": TableData(["suite", "metric", "value"], rows)}, *charts,
                                  {"samples": TableData(cols, picked)}])


# ------------------------------------------------------------------------------ training-run plots


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def plot_curves(rows: list[dict], out: Path) -> Path:
    """Reward per step (reward/mean and each reward/<name>/mean) and eval accuracy points, in two panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    keys = [k for k in _metric_names(rows) if k.startswith("reward/") and k.endswith("mean")]
    for key in keys:
        pts = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        ax1.plot(*zip(*pts), label=key, lw=2 if key == "reward/mean" else 1)
    ax1.set(xlabel="step", ylabel="reward", title="training reward")
    ax1.legend(fontsize=8)
    for key in [k for k in _metric_names(rows) if k.startswith("eval/") and k.endswith("/accuracy")]:
        pts = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        ax2.plot(*zip(*pts), marker="o", label=key)
    ax2.set(xlabel="step", ylabel="accuracy", title="held-out accuracy", ylim=(0, 1))
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def timing_breakdown(rows: list[dict]) -> tuple[list[int], dict[str, list[float]]]:
    """Steps and seconds per phase (`timing/<phase>`, `other` = timing/step minus the phases outside generate).

    `timing/score` is timed inside `timing/generate`, so generate is split into generate (engine) and score."""
    steps = [r["step"] for r in rows if r.get("timing/step") is not None]
    phases = [k[7:] for k in _metric_names(rows) if k.startswith("timing/") and k != "timing/step"]
    secs = {p: [float(r.get(f"timing/{p}") or 0.0) for r in rows if r.get("timing/step") is not None]
            for p in phases}
    if "generate" in secs and "score" in secs:
        secs["generate"] = [g - s for g, s in zip(secs["generate"], secs["score"])]
    total = [float(r["timing/step"]) for r in rows if r.get("timing/step") is not None]
    secs["other"] = [max(t - sum(v[i] for v in secs.values()), 0.0) for i, t in enumerate(total)]
    return steps, secs


def plot_timing(rows: list[dict], out: Path) -> Path:
    """Step time by phase as stacked bars, one bar per training step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, secs = timing_breakdown(rows)
    fig, ax = plt.subplots(figsize=(9, 4))
    bottom = [0.0] * len(steps)
    for phase, values in secs.items():
        ax.bar(steps, values, bottom=bottom, label=phase)
        bottom = [b + v for b, v in zip(bottom, values)]
    loads = [r["perf/load_avg"] for r in rows if r.get("perf/load_avg") is not None]
    under = f" (machine load average {min(loads):.1f}-{max(loads):.1f})" if loads else ""
    ax.set(xlabel="step", ylabel="seconds", title="step time by phase" + under)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_lengths(metrics_path: Path, out: Path) -> Path:
    """Response length PNG: mean and max completion tokens per step, and the share cut at max_new_tokens."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_jsonl(metrics_path) if r.get("completion/mean_length") is not None]
    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [r["completion/mean_length"] for r in rows], label="mean length")
    ax.plot(steps, [r.get("completion/max_length") for r in rows], "--", label="max length")
    ax.set_xlabel("step")
    ax.set_ylabel("completion tokens")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    clipped = ax.twinx()
    clipped.plot(steps, [r.get("completion/clipped_frac") for r in rows], ":", color="tab:red",
                 label="truncated (right axis)")
    clipped.set_ylabel("share truncated at max_new_tokens")
    clipped.set_ylim(-0.02, 1.02)
    lines = ax.get_lines() + clipped.get_lines()
    ax.legend(lines, [line.get_label() for line in lines])
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_run(run_dir: Path, eval_points: dict[int, float] | None = None) -> dict[str, Path]:
    """The run report of `runs/<name>/`: reward + held-out accuracy, response lengths, step time by phase (PNGs)."""
    from r1zero.tracking import plot_rewards

    metrics = run_dir / "metrics.jsonl"
    return {"reward_curve": plot_rewards(metrics, run_dir / "reward_curve.png", eval_points),
            "length_curve": plot_lengths(metrics, run_dir / "length_curve.png"),
            "step_time": plot_timing([r for r in read_jsonl(metrics) if r.get("timing/step") is not None],
                                     run_dir / "step_time.png")}

"""Metrics out: W&B (online with a key, offline without, or disabled), `metrics.jsonl`, console. Rank 0 only.

One helper, `Tracker.log(step, metrics)`, writes every sink with one monotonic step. Rollout samples go to a W&B
table and to `samples.jsonl`. Other ranks get a Tracker whose methods do nothing.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any


def wandb_mode(mode: str) -> str:
    if mode == "auto":
        return "online" if os.environ.get("WANDB_API_KEY") else "offline"
    return mode


class Tracker:
    def __init__(self, run_dir: Path, cfg_flat: dict[str, Any], mode: str, project: str, name: str,
                 run_id: str | None = None, enabled: bool = True):
        self.enabled = enabled
        self.run_dir = Path(run_dir)
        self.wandb = None
        self.run_id = run_id
        self.wandb_dir: str | None = None
        self.wandb_url: str | None = None  # online runs: the run's page
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._metrics = open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8")
        self._samples = open(self.run_dir / "samples.jsonl", "a", encoding="utf-8")
        mode = wandb_mode(mode)
        if mode != "disabled":
            import wandb

            self.wandb = wandb.init(project=project, name=name, config=cfg_flat, dir=str(self.run_dir), mode=mode,
                                    id=run_id, resume="allow" if run_id else None, reinit="finish_previous")
            self.run_id = self.wandb.id
            self.wandb_dir = str(Path(self.wandb.dir).parent)
            self.wandb_url = self.wandb.url if mode == "online" else None

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        clean = {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in metrics.items()}
        row = {"step": step, "time": time.time(), **{k: (None if isinstance(v, float) and not math.isfinite(v)
                                                          else v) for k, v in clean.items()}}
        self._metrics.write(json.dumps(row) + "\n")
        self._metrics.flush()
        if self.wandb is not None:
            self.wandb.log(clean, step=step)

    def log_samples(self, step: int, rows: list[dict[str, Any]]) -> None:
        """rows: prompt, completion, reward, per-reward scores, answer."""
        if not self.enabled or not rows:
            return
        for r in rows:
            self._samples.write(json.dumps({"step": step, **r}, ensure_ascii=False) + "\n")
        self._samples.flush()
        if self.wandb is not None:
            import wandb

            cols = list(rows[0].keys())
            self.wandb.log({"samples": wandb.Table(columns=["step"] + cols,
                                                   data=[[step] + [r[c] for c in cols] for r in rows])}, step=step)

    def summary(self, values: dict[str, Any]) -> None:
        if self.wandb is not None:
            for k, v in values.items():
                self.wandb.summary[k] = v

    def log_image(self, key: str, path: Path, step: int) -> None:
        if self.wandb is not None:
            import wandb

            self.wandb.log({key: wandb.Image(str(path))}, step=step)

    def close(self) -> None:
        if not self.enabled:
            return
        self._metrics.close()
        self._samples.close()
        if self.wandb is not None:
            self.wandb.finish()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def plot_rewards(metrics_path: Path, out: Path, eval_points: dict[int, float] | None = None) -> Path:
    """Reward curve PNG (reward/mean per step, and held-out accuracy points if given)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_metrics(metrics_path) if r.get("reward/mean") is not None]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["step"] for r in rows], [r["reward/mean"] for r in rows], label="train reward/mean")
    if eval_points:
        ax.plot(list(eval_points), list(eval_points.values()), "o--", label="held-out accuracy")
    ax.set_xlabel("step")
    ax.set_ylabel("reward / accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out

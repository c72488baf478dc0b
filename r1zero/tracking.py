"""Metrics out: W&B (online with a key, offline without, or disabled), `metrics.jsonl`, console. Rank 0 only.

One helper, `Tracker.log(step, metrics)`, writes every sink with one monotonic step. Rollout samples go to a W&B
table and to `samples.jsonl`. Other ranks get a Tracker whose methods do nothing.

Resume: every step appears once in each sink. A checkpoint records how long `metrics.jsonl` and `samples.jsonl`
were when it was saved (`offsets()`); a resumed run cuts them back to that, dropping what a killed run logged after
its checkpoint (no checkpoint: back to empty; older checkpoints without offsets: rows up to their step). The W&B run
id is kept in `run_dir/wandb_run_id` from the first start, so a run killed before its first checkpoint continues the
same W&B run. A kill also loses what the W&B client had not written yet, so the resumed run sends W&B the kept rows
it may lack: online, those from the step W&B says it has reached (`run.starting_step`; it refuses lower steps, and
steps it has are not sent again: with an exact resume they hold the same values); offline, all of them, into the new
offline run directory, which replaces the earlier ones of this id (renamed `superseded-offline-run-*`, so that
`wandb sync` uploads each step once). `checkpoint.resume=never` starts a new W&B run and empty logs.

A result (an evaluation, a benchmark, a task's eval) gets one W&B run of its own from `write_result_run`: config,
summary, stepped history, then tables, bar charts and images, each described with plain data (`TableData`,
`BarData`, `ImageFile`), so that a caller never imports wandb and a disabled mode costs nothing.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1zero import dist


def wandb_mode(mode: str) -> str:
    if mode == "auto":
        return "online" if os.environ.get("WANDB_API_KEY") else "offline"
    return mode


def reduce_metrics(metrics: dict[str, float], world: int) -> dict[str, float]:
    """Mean over ranks (sums for counters) so rank 0 logs the global picture."""
    if world == 1:
        return metrics
    keys = sorted(metrics)  # the same order on every rank
    totals = dist.all_sum([metrics[k] for k in keys])
    sums = ("verify/", "completion/tokens", "sampling/generated", "sampling/informative_groups")
    return {k: (v if k.startswith(sums) else v / world) for k, v in zip(keys, totals)}


@dataclass
class TableData:
    """A W&B table: column names and rows."""

    columns: list[str]
    rows: list[list[Any]]


@dataclass
class BarData:
    """A W&B bar chart of two columns of a table."""

    table: TableData
    label: str  # the column on the axis
    value: str  # the column the bars show
    title: str


@dataclass
class ImageFile:
    """A W&B image from a file (a PNG plot)."""

    path: str | Path


def _to_wandb(value: Any) -> Any:
    import wandb

    if isinstance(value, TableData):
        return wandb.Table(columns=list(value.columns), data=value.rows)
    if isinstance(value, BarData):
        return wandb.plot.bar(_to_wandb(value.table), value.label, value.value, title=value.title)
    if isinstance(value, ImageFile):
        return wandb.Image(str(value.path))
    return value


def write_result_run(out_dir: Path, job_type: str, name: str, mode: str, config: dict[str, Any] | None = None,
                     summary: dict[str, Any] | None = None, history: list[tuple[int, dict[str, Any]]] = (),
                     logs: list[dict[str, Any]] = (), project: str = "r1zero") -> str | None:
    """One finished W&B run for a result, under `out_dir/wandb`; returns its run directory, None when disabled.

    `mode`: auto (online with WANDB_API_KEY, else offline), online, offline or disabled. `history`: (step, values)
    rows logged at their steps; then each dict of `logs` is logged as one W&B row, in order (values: numbers or
    TableData / BarData / ImageFile); `summary`: the run's summary values."""
    mode = wandb_mode(mode)
    if mode == "disabled":
        return None
    import wandb

    run = wandb.init(project=project, job_type=job_type, name=name, dir=str(out_dir), mode=mode, config=config or {},
                     reinit="finish_previous")
    for step, values in history:
        run.log(values, step=step)
    for values in logs:
        run.log({k: _to_wandb(v) for k, v in values.items()})
    for k, v in (summary or {}).items():
        run.summary[k] = v
    run_dir = str(Path(run.dir).parent)
    run.finish()
    return run_dir


LOGS = ("metrics.jsonl", "samples.jsonl")
ID_FILE = "wandb_run_id"


class Tracker:
    def __init__(self, run_dir: Path, cfg_flat: dict[str, Any], mode: str, project: str, name: str,
                 run_id: str | None = None, enabled: bool = True, start_step: int = 0,
                 log_offsets: dict[str, int] | None = None, new_run: bool = False):
        """`start_step`, `log_offsets`: the resumed checkpoint's step and `offsets()` (0 / None: none);
        `run_id`: its W&B run id; `new_run`: ignore earlier logs and W&B run (checkpoint.resume=never)."""
        self.enabled = enabled
        self.run_dir = Path(run_dir)
        self.wandb = None
        self.run_id = run_id
        self.wandb_dir: str | None = None
        self._wandb_from = 0  # W&B has the steps below this one
        self.wandb_url: str | None = None  # online runs: the run's page
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        rewind_logs(self.run_dir, start_step, {} if new_run else log_offsets)
        id_file = self.run_dir / ID_FILE
        if not new_run and self.run_id is None and id_file.is_file():
            self.run_id = id_file.read_text().strip() or None
        mode = wandb_mode(mode)
        if mode != "disabled":
            import wandb

            self.wandb = wandb.init(project=project, name=name, config=cfg_flat, dir=str(self.run_dir), mode=mode,
                                    id=self.run_id, resume="allow" if self.run_id else None, reinit="finish_previous")
            self.wandb_dir = str(Path(self.wandb.dir).parent)
            if self.run_id == self.wandb.id:  # continuing: send what W&B may lack, set earlier offline runs aside
                self._wandb_from = self.wandb.starting_step
                self._backfill()
                if mode == "offline":
                    _supersede(Path(self.wandb_dir), self.run_id)
            self.wandb_url = self.wandb.url if mode == "online" else None
            self.run_id = self.wandb.id
            id_file.write_text(self.run_id + "\n")
        self._metrics = open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8")
        self._samples = open(self.run_dir / "samples.jsonl", "a", encoding="utf-8")

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        clean = {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in metrics.items()}
        row = {"step": step, "time": time.time(), **{k: (None if isinstance(v, float) and not math.isfinite(v)
                                                          else v) for k, v in clean.items()}}
        self._metrics.write(json.dumps(row) + "\n")
        self._metrics.flush()
        self._send(step, clean)

    def log_samples(self, step: int, rows: list[dict[str, Any]]) -> None:
        """rows: prompt, completion, reward, per-reward scores, answer."""
        if not self.enabled or not rows:
            return
        for r in rows:
            self._samples.write(json.dumps({"step": step, **r}, ensure_ascii=False) + "\n")
        self._samples.flush()
        self._send_samples(step, rows)

    def _send(self, step: int, metrics: dict[str, Any]) -> None:
        if self.wandb is not None and step >= self._wandb_from:
            self.wandb.log(metrics, step=step)

    def _send_samples(self, step: int, rows: list[dict[str, Any]]) -> None:
        if self.wandb is not None and step >= self._wandb_from:
            import wandb

            cols = list(rows[0].keys())
            self.wandb.log({"samples": wandb.Table(columns=["step"] + cols,
                                                   data=[[step] + [r[c] for c in cols] for r in rows])}, step=step)

    def _backfill(self) -> None:
        """Send W&B the kept rows of both logs, in step order (metrics rows first within a step)."""
        samples: dict[int, list[dict]] = {}
        for row in _rows(self.run_dir / "samples.jsonl"):
            samples.setdefault(row.pop("step"), []).append(row)
        for row in _rows(self.run_dir / "metrics.jsonl"):
            step = row.pop("step")
            row.pop("time", None)
            for s in sorted(k for k in samples if k < step):
                self._send_samples(s, samples.pop(s))
            self._send(step, row)
        for s in sorted(samples):
            self._send_samples(s, samples[s])

    def offsets(self) -> dict[str, int]:
        """Byte length of each log file now: a checkpoint stores it so that a resume can cut back to it."""
        if not self.enabled:
            return {}
        self._metrics.flush()
        self._samples.flush()
        return {"metrics.jsonl": self._metrics.tell(), "samples.jsonl": self._samples.tell()}

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


def rewind_logs(run_dir: Path, step: int, offsets: dict[str, int] | None) -> None:
    """Cut `metrics.jsonl` and `samples.jsonl` back to a checkpoint: to `offsets` (its byte lengths), or without
    them to the rows of steps <= `step` (none when `step` is 0)."""
    for name in LOGS:
        path = run_dir / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        if offsets and name in offsets:
            kept = data[:offsets[name]]
        else:
            kept = b"".join(r for r in data.splitlines(keepends=True) if step > 0 and 0 <= _step(r) <= step)
        if len(kept) != len(data):
            tmp = path.with_name(f".{name}.tmp")
            tmp.write_bytes(kept)
            os.replace(tmp, path)


def _rows(path: Path) -> list[dict[str, Any]]:
    return read_metrics(path) if path.is_file() else []


def _supersede(current: Path, run_id: str) -> None:
    """Rename the earlier offline run directories of `run_id` beside `current` out of `wandb sync`'s pattern."""
    for old in current.parent.glob(f"offline-run-*-{run_id}"):
        if old.resolve() != current.resolve():
            os.replace(old, old.with_name(f"superseded-{old.name}"))


def _step(row: bytes) -> int:
    """The row's step; -1 for a line cut short by a kill."""
    try:
        return int(json.loads(row)["step"])
    except (ValueError, KeyError, TypeError):
        return -1


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

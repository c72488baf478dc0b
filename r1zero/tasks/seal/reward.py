"""`SealReward`, the `seal_knowledge` model reward (the task: r1zero/tasks/seal/__init__.py), and the weight snapshot
its inner loop starts from (`seal.inner_model=policy`)."""
from __future__ import annotations

import itertools
import json
import shutil
import time
from pathlib import Path

from r1zero.tasks.seal.edits import forgetting_rows, make_tasks, reward_of, summarize
from r1zero.tasks.seal.inner import SNAPSHOT_META, InnerPool, InnerSettings


def write_snapshot(named_tensors, out_dir: Path, config_dir: str, shard_bytes: int = 1 << 30) -> Path:
    """Write (name, tensor) pairs as safetensors shards of at most ~`shard_bytes` into `out_dir` (consumed one at a
    time, so a ZeRO-3 gather needs only one bucket at once); the meta file goes last and marks it complete. Each
    tensor is copied as it is yielded (under ZeRO-3 it is full only inside its bucket's gather)."""
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    shard: dict = {}
    size, n = 0, 0
    for name, t in itertools.chain(named_tensors, [("", None)]):
        if t is not None:
            shard[name] = t.detach().to("cpu").contiguous().clone()
            size += shard[name].numel() * shard[name].element_size()
        if shard and (t is None or size >= shard_bytes):
            save_file(shard, str(out_dir / f"shard-{n:05d}.safetensors"))
            shard, size, n = {}, 0, n + 1
    (out_dir / SNAPSHOT_META).write_text(json.dumps({"config_dir": config_dir, "shards": n}))
    return out_dir


class SealReward:
    """The `seal_knowledge` model reward (see the module doc); one instance per rank."""

    def __init__(self, cfg, model_path: str, tokenizer, weights, world_size: int, rank: int, run_dir: Path):
        """The model-reward contract (r1zero/scoring.py `ModelReward`): `weights()` iterates the policy's current
        (name, full tensor) pairs; `seal.inner_model=initial` needs none (None)."""
        self.seal, self.model_path, self.weights = cfg.seal, str(model_path), weights
        self.rank = rank  # world_size: the contract's; dist.barrier needs no count
        if self.seal.inner_model not in ("policy", "initial"):
            raise ValueError(f"`seal.inner_model` must be policy or initial, got {self.seal.inner_model!r}")
        if self.seal.inner_model == "policy" and weights is None:
            raise ValueError("`seal.inner_model=policy` needs the trainer's policy weights: pass them, or use initial")
        self.dir = Path(run_dir) / "seal"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.settings, self.forgetting = InnerSettings.from_config(self.seal), forgetting_rows(self.seal)
        self.seed = int(getattr(cfg.train, "seed", 0)) * 1_000_003 + rank * 10_007
        threads = int(getattr(cfg.train, "threads", 0) or 1)
        self.pool = InnerPool(self.seal.workers, self.seal.timeout_s, self.seal.memory_gib, threads)
        self.calls, self._snapshot = 0, None
        self._results: list[dict | None] = []
        self._scores: list[float] = []
        self._score_s = 0.0

    def base(self) -> str:
        """The inner loop's base weights for this call: the initial model, or a snapshot of the current policy.
        Every rank iterates the weights (collective under ZeRO-3); rank 0 writes, then all ranks wait, so the
        directory must be on a filesystem the ranks share (like the run's checkpoints)."""
        if self.seal.inner_model == "initial":
            return self.model_path
        params = self.weights()
        path = self.dir / f"policy-{self.calls:06d}"
        if self.rank == 0:
            write_snapshot(params, path, self.model_path)
        else:
            for _ in params:
                pass
        from r1zero import dist

        dist.barrier()  # the snapshot exists, and every rank has finished with the previous one (one rank: no-op)
        if self.rank == 0 and self._snapshot is not None:
            shutil.rmtree(self._snapshot, ignore_errors=True)
        self._snapshot = path
        return str(path)

    puzzles = False  # the rows it scores: passages (False) or few-shot puzzles (FewShotReward)

    def score(self, texts: list[str], samples: list[dict]) -> tuple[list[float], list[dict]]:
        """One score and info dict per self-edit; a failed inner update scores 0 with info["error"]."""
        t0 = time.perf_counter()
        self.check_rows(samples)
        base = self.base()
        self.calls += 1
        tasks = make_tasks(base, self.model_path, texts, samples, self.settings, self.forgetting,
                           self.seed + self.calls * 1009)
        runnable = [t for t in tasks if t is not None]
        done = iter(self.pool.run(runnable)) if runnable else iter(())
        results = [next(done) if t is not None else None for t in tasks]
        scores, infos = zip(*(reward_of(r) for r in results)) if results else ((), ())
        self._results += results
        self._scores += list(scores)
        self._score_s += time.perf_counter() - t0
        if self.rank == 0:  # one line per call: the same numbers as metrics(), kept beside the snapshots
            row = {"call": self.calls, **summarize(results, list(scores)), "score_s": time.perf_counter() - t0}
            with (self.dir / "calls.jsonl").open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        return list(scores), list(infos)

    def check_rows(self, samples: list[dict]) -> None:
        """The reward's name says what its rows are: a few-shot puzzle's self-edit is a plan, a passage's is text."""
        from r1zero.tasks.seal.fewshot import is_puzzle

        for sample in samples:
            questions = sample.get("questions")
            if isinstance(questions, list) and questions and is_puzzle(questions) != self.puzzles:
                have, use = ("a passage", "seal_knowledge") if self.puzzles else ("a few-shot puzzle", "seal_fewshot")
                raise ValueError(f"data row {sample.get('id', '?')} is {have}: set `rewards.names` to [{use}]")

    def metrics(self) -> dict[str, float]:
        """`seal/*` metrics since the last call (same keys on every rank and every call)."""
        out = {f"seal/{k}": v for k, v in summarize(self._results, self._scores).items()}
        out["seal/score_s"] = self._score_s
        self._results, self._scores, self._score_s = [], [], 0.0
        return out

    def close(self) -> None:
        self.pool.close()
        if self.rank == 0 and self._snapshot is not None:
            shutil.rmtree(self._snapshot, ignore_errors=True)
            self._snapshot = None


class FewShotReward(SealReward):
    """The `seal_fewshot` model reward: the self-edit is a plan from the menu of fewshot.py; the reward is 1 when the
    model adapted by that plan solves the puzzle's query, else 0 (an invalid plan: 0). Same inner loop and pool."""
    puzzles = True

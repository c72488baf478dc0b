"""Score completions in worker processes with a hard wall-clock limit per completion.

    with RewardPool(["accuracy", "format"], weights=[1.0, 0.5], workers=2, timeout_s=5.0) as pool:
        scores = pool.score(completions, samples)   # PoolScores; never raises for what the rewards do

- One task scores one completion (or a chunk of `chunk_size` completions) for all reward names, so the IPC cost is
  one round trip per chunk, not per reward.
- A chunk gets `chunk_timeout_s` (default 0.25 s). If it runs over, or its worker dies, its completions are scored
  again one per task with the full `timeout_s`. Chunks shrink (down to one completion) for slow rewards, sized from
  a running mean of the measured time per completion (the first call times a few completions alone).
  So a completion that hangs is killed after at most chunk_timeout_s + timeout_s (+ the pool's 0.1 s polling),
  i.e. within timeout_s + 1 s, and its neighbours are still scored. A killed completion gets score 0 for every
  reward, `info[name]["error"]`, and counts in `timeouts`; a worker that crashed, or a reward that raised, counts
  in `errors`.
- Workers are started with 'forkserver' (or 'spawn' where that is missing): never `fork`, so scoring works from any
  thread and inside torch/DeepSpeed processes. A killed worker is replaced by the pool (pebble). Workers reset
  SIGTERM to its default action, so a worker stuck in C code (a huge integer power) dies at once when killed.
  The fork server preloads rewards, sympy and latex2sympy2_extended once, so a new worker starts warm and no
  import ever runs inside a task's time limit.
- `workers=0` scores in-process: same results and the same never-raise contract, but no hard timeout (the
  verifiers' own caps still bound the work). Use it for debugging and in tests of reward logic.
- Reward names are keys of `rewards.REWARDS`, or `module:function` import paths for your own rewards (the module must
  be importable in the workers: it is looked up on the parent's sys.path).

Results keep input order. `latency_s` (per completion) is the scoring time measured in the worker, plus the full
limit of every attempt of it that was killed (a chunk that ran over, or the completion alone).
"""
from __future__ import annotations

import importlib
import math
import multiprocessing
import signal
import time
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from pebble import ProcessExpired, ProcessPool

from rewards.types import RewardResult, error_result, short, total

DEFAULT_CHUNK_SIZE = 16
DEFAULT_CHUNK_TIMEOUT_S = 0.25


@dataclass
class PoolScores:
    total: list[float]  # weighted sum per completion
    per_reward: dict[str, list[float]]  # name -> score per completion
    infos: list[dict[str, dict]]  # per completion: name -> info dict
    timeouts: int  # completions killed at the time limit
    errors: int  # completions where a reward raised or a worker died
    latency_s: list[float] = field(default_factory=list)  # per completion (see the module doc)


_RESOLVED: dict[str, object] = {}


def resolve(name: str):
    """A total reward function for a REWARDS key or a `module:function` path (KeyError listing names if unknown)."""
    fn = _RESOLVED.get(name)
    if fn is None:
        if ":" in name:
            module, _, attr = name.partition(":")
            fn = total(getattr(importlib.import_module(module), attr))
        else:
            from rewards import get_reward

            fn = get_reward(name)
        _RESOLVED[name] = fn
    return fn


def _as_result(value: object) -> RewardResult:
    if isinstance(value, RewardResult):
        result = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        result = RewardResult(float(value), {})
    else:
        return error_result(f"reward returned {type(value).__name__}, not RewardResult")
    if not math.isfinite(result.score):
        return error_result(f"reward returned a non-finite score {result.score}")
    return RewardResult(float(result.score), {k: short(v) for k, v in result.info.items()})


def score_items(names: list[str], items: list[tuple[str, dict]]) -> list[tuple[list[float], list[dict], float]]:
    """Worker task: (scores, infos, seconds) per (completion, sample), all reward names in one go."""
    fns = [resolve(n) for n in names]
    out = []
    for completion, sample in items:
        start = time.perf_counter()
        results = [_as_result(fn(completion, sample)) for fn in fns]
        out.append(([r.score for r in results], [r.info for r in results], time.perf_counter() - start))
    return out


PRELOAD = ["rewards", "sympy", "latex2sympy2_extended"]


def _init_worker(names: tuple[str, ...] = ()) -> None:
    """Runs in each new worker, outside any task's time limit: no import happens inside a timed task."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # die at once when killed, even inside C code
    for module in PRELOAD:  # already loaded under forkserver (preloaded); imported here under spawn
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # sympy/latex2sympy2_extended missing: the symbolic fallback reports it per item
    for name in names:
        resolve(name)  # import `module:function` rewards now


def _context(start_method: str | None):
    methods = multiprocessing.get_all_start_methods()
    method = start_method or ("forkserver" if "forkserver" in methods else "spawn")
    if method == "fork":
        raise ValueError("start_method='fork' is unsafe from threads and torch processes: use forkserver or spawn")
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(PRELOAD)  # only takes effect if the fork server is not running yet
    return ctx


class RewardPool:
    """Reward scoring with hard per-completion timeouts (see the module doc)."""

    def __init__(self, names: list[str], weights: list[float] | None = None, workers: int = 2,
                 timeout_s: float = 5.0, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 chunk_timeout_s: float = DEFAULT_CHUNK_TIMEOUT_S, start_method: str | None = None):
        if not names:
            raise ValueError("RewardPool needs at least one reward name")
        if weights is not None and len(weights) != len(names):
            raise ValueError(f"{len(weights)} weights for {len(names)} rewards {names}: give one weight per reward")
        if workers < 0 or timeout_s <= 0 or chunk_size < 1:
            raise ValueError("workers must be >= 0, timeout_s > 0 and chunk_size >= 1")
        for name in names:
            resolve(name)  # unknown names fail here, in the caller, with the list of valid ones
        self.names = list(names)
        self.weights = [float(w) for w in weights] if weights is not None else [1.0] * len(names)
        self.workers, self.timeout_s = workers, float(timeout_s)
        self.chunk_size, self.chunk_timeout_s = chunk_size, min(float(chunk_timeout_s), float(timeout_s))
        self._item_s = 0.0  # running mean of the seconds one completion takes (sizes the chunks)
        self._ctx = _context(start_method) if workers > 0 else None
        self._pool: ProcessPool | None = None

    # ------------------------------------------------------------------ lifecycle
    def _get_pool(self) -> ProcessPool:
        if self._pool is None or not self._pool.active:
            if self._pool is not None:  # broken (all workers lost): release it before starting afresh
                self._pool.stop()
            self._pool = ProcessPool(max_workers=self.workers, initializer=_init_worker,
                                     initargs=(tuple(self.names),), context=self._ctx)
        return self._pool

    def warmup(self) -> None:
        """Start the workers now (otherwise the first `score` call starts them)."""
        if self.workers > 0:
            futures = [self._get_pool().schedule(_init_worker) for _ in range(self.workers)]
            for f in futures:
                f.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> "RewardPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ scoring
    def score(self, completions: list[str], samples: list[dict]) -> PoolScores:
        """Scores for each completion against its sample, in input order. Raises only on mismatched lengths."""
        if len(completions) != len(samples):
            raise ValueError(f"{len(completions)} completions but {len(samples)} samples")
        items = list(zip(completions, samples))
        if self.workers == 0:
            rows = [("ok", r) for r in score_items(self.names, items)]
        else:
            rows = self._score_in_pool(items)
        return self._assemble(rows)

    def _score_in_pool(self, items: list[tuple[str, dict]]) -> list[tuple[str, object]]:
        n = len(items)
        rows: list = [None] * n
        spent = [0.0] * n  # seconds charged to killed attempts
        first = 0
        if self._item_s <= 0 and n > 2 * self.workers:  # first call: time a few completions alone
            first = 2 * self.workers
            self._run([[i] for i in range(first)], items, rows, spent)
        size = self._chunk_items()
        retry = self._run([list(range(i, min(i + size, n))) for i in range(first, n, size)], items, rows, spent)
        self._run([[i] for i in retry], items, rows, spent)
        return [(s, (v[0], v[1], v[2] + spent[i]) if s == "ok" else (v, spent[i])) for i, (s, v) in enumerate(rows)]

    def _run(self, groups: list[list[int]], items: list, rows: list, spent: list[float]) -> list[int]:
        """Score groups of completions (one task each); returns the completions of failed groups of two or more."""
        futures = [(idx, self._submit(items, idx, self.chunk_timeout_s if len(idx) > 1 else self.timeout_s))
                   for idx in groups]
        retry: list[int] = []
        for idx, future in futures:
            status, value = self._collect(future)
            if status == "ok":
                for i, row in zip(idx, value):
                    rows[i] = ("ok", row)
                self._observe(sum(r[2] for r in value) / len(value))
                continue
            limit = self.chunk_timeout_s if len(idx) > 1 else self.timeout_s
            for i in idx:
                spent[i] += limit if status == "timeout" else 0.0
            if len(idx) > 1:
                retry.extend(idx)  # rescored one by one with the full limit
            else:
                rows[idx[0]] = (status, value)
        return retry

    def _observe(self, seconds_per_item: float) -> None:
        self._item_s = seconds_per_item if self._item_s <= 0 else 0.8 * self._item_s + 0.2 * seconds_per_item

    def _chunk_items(self) -> int:
        """Completions per task: up to chunk_size, fewer for slow rewards so a chunk rarely nears its limit."""
        if self._item_s <= 0:
            return self.chunk_size
        return max(1, min(self.chunk_size, int(self.chunk_timeout_s / (8 * self._item_s))))

    def _submit(self, items: list, idx: list[int], limit: float):
        return self._get_pool().schedule(score_items, args=(self.names, [items[i] for i in idx]), timeout=limit)

    def _collect(self, future) -> tuple[str, object]:
        try:
            return "ok", future.result()
        except FutureTimeout:
            return "timeout", f"timeout: killed after {self.timeout_s:g} s"
        except ProcessExpired as err:
            return "error", f"worker died (exit code {err.exitcode})"
        except Exception as err:  # pickling problems, a broken pool: reported per completion, never raised
            return "error", f"{type(err).__name__}: {err}"

    def _assemble(self, rows: list[tuple[str, object]]) -> PoolScores:
        n = len(rows)
        per_reward = {name: [0.0] * n for name in self.names}
        infos: list[dict[str, dict]] = [{} for _ in range(n)]
        totals, latency = [0.0] * n, [0.0] * n
        timeouts = errors = 0
        for i, (status, value) in enumerate(rows):
            if status == "ok":
                scores, row_infos, latency[i] = value
                for name, score, info in zip(self.names, scores, row_infos):
                    per_reward[name][i] = score
                    infos[i][name] = info
                totals[i] = sum(w * s for w, s in zip(self.weights, scores))
                errors += any("error" in info for info in row_infos)
            else:
                message, latency[i] = value
                infos[i] = {name: {"error": message} for name in self.names}
                timeouts += status == "timeout"
                errors += status != "timeout"
        return PoolScores(totals, per_reward, infos, timeouts, errors, latency)

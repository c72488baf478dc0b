"""`python -m rewards score IN.jsonl -o OUT.jsonl [--workers N] [--timeout S] [--rewards accuracy,format]`
and `python -m rewards list`.

Each input row has `answer` (the gold answer; it is read like a response, so `$42$`, `\\boxed{42}` or a solution
ending in `#### 42` all mean 42) and either `completion` (a full model output: the answer is extracted, compared,
and the format checked) or `response` (a final answer as a person or a tool wrote it, `x = 3`, `Answer: 5`,
`\\boxed{7}`, `7 cm`: compared only). A row with both is scored from `completion`. Each output row is the input
row plus
  correct    bool: the first correctness reward in --rewards (accuracy, accuracy_strict, answer_equal, countdown)
             scored 1 (null if none was asked for); for `response` rows, response == answer;
  format_ok  bool: the first format reward in --rewards (format, format_soft, boxed_format); null if none, and for
             `response` rows;
  reward     float: the weighted sum of the rewards (`response` rows: 1.0 or 0.0);
  error      string or null: why the row could not be scored (bad JSON, missing field, timeout, internal error).
With --details, `details` holds each reward's info dict. Every non-blank input line gives one output row, in input
order, whatever it holds: a line that is not UTF-8, not JSON, nested too deeply, not an object or missing a field is
reported on stderr with its line number and written as `{"line": N, ..., "error": ...}`; it never stops the other
rows. JSON numbers Python cannot hold (more than 4000 digits, floats beyond 1e308) and NaN/Infinity are read as their
text, so a 5,000-digit gold answer is still scored. The stderr summary ends with the scoring time.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import IO, Iterator

from rewards.pool import RewardPool
from rewards.types import short

CORRECTNESS = ("accuracy", "accuracy_strict", "answer_equal", "countdown")
FORMATS = ("format", "format_soft", "boxed_format")
BATCH = 512


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m rewards", description="Rule-based reward scoring.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the reward names")
    score = sub.add_parser("score", help="score a JSONL file of completions or responses")
    score.add_argument("input", help="input JSONL file ('-' for stdin)")
    score.add_argument("-o", "--output", default="-", help="output JSONL file (default: stdout)")
    score.add_argument("--workers", type=int, default=2, help="worker processes (0: in-process, no hard timeout)")
    score.add_argument("--timeout", type=float, default=5.0, help="hard time limit per row in seconds")
    score.add_argument("--rewards", default="accuracy,format", help="comma-separated reward names")
    score.add_argument("--weights", default=None, help="comma-separated weights, one per reward (default: all 1)")
    score.add_argument("--details", action="store_true", help="add each reward's info dict as `details`")
    return parser.parse_args(argv)


def _list() -> int:
    from rewards import REWARDS

    for name, fn in REWARDS.items():
        doc = (fn.__doc__ or "").strip().splitlines()
        print(f"{name:16s} {doc[0] if doc else ''}")
    return 0


def _number(text: str):
    """JSON numbers as Python's json reads them, except those it cannot hold: a literal of more than 4000 digits
    (Python refuses to convert it) or one that overflows a float stays as its text, so the row is still scored."""
    if len(text) > 4000:
        return text
    value = float(text) if any(c in text for c in ".eE") else int(text)
    return value if not isinstance(value, float) or math.isfinite(value) else text


def _load(line: str):
    return json.loads(line, parse_int=_number, parse_float=_number, parse_constant=str)


def check_row(line: str | bytes, number: int, needs_answer: bool) -> tuple[str, dict | None, str | None]:
    """(kind, row, error) for one input line: kind is completion | response | bad. Never raises."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as err:
            return "bad", {"line": number}, (f"line {number}: not UTF-8 (byte 0x{line[err.start]:02x} at column "
                                             f"{err.start + 1}); re-encode the file as UTF-8")
    try:
        row = _load(line)
    except json.JSONDecodeError as err:
        return "bad", {"line": number}, f"line {number}: not JSON ({err.msg} at column {err.colno})"
    except RecursionError:
        return "bad", {"line": number}, f"line {number}: JSON nested too deeply to read"
    except (ValueError, TypeError, MemoryError) as err:
        return "bad", {"line": number}, f"line {number}: unreadable JSON ({type(err).__name__}: {short(str(err))})"
    if not isinstance(row, dict):
        return "bad", {"line": number}, f"line {number}: expected a JSON object, got {type(row).__name__}"
    kind = "completion" if "completion" in row else "response" if "response" in row else None
    if kind is None:
        return "bad", row, f"line {number}: needs a `completion` or a `response` field"
    if kind == "response" and isinstance(row[kind], (int, float)) and not isinstance(row[kind], bool):
        row = {**row, "response": str(row[kind])}
    if not isinstance(row[kind], str):
        return "bad", row, f"line {number}: `{kind}` must be a string, got {type(row[kind]).__name__}"
    answer = row.get("answer")
    if (needs_answer or kind == "response") and (answer is None or isinstance(answer, (dict, list, bool))):
        return "bad", row, f"line {number}: missing or invalid field `answer` (the gold answer, a string)"
    return kind, row, None


def _first(names: list[str], wanted: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in wanted), None)


def _row_error(infos: dict[str, dict]) -> str | None:
    return next((str(info["error"]) for info in infos.values() if "error" in info), None)


class Scorer:
    """Scores batches of checked rows with one pool for completions and one for responses (started lazily)."""

    def __init__(self, names: list[str], weights: list[float] | None, workers: int, timeout: float, details: bool):
        self.names, self.details = names, details
        self.pools = {"completion": RewardPool(names, weights, workers, timeout),
                      "response": RewardPool(["answer_equal"], None, workers, timeout)}
        self.stats = {"rows": 0, "correct": 0, "bad": 0, "timeouts": 0, "errors": 0}

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()

    def score(self, checked: list[tuple[str, dict | None, str | None]]) -> list[dict]:
        out: list[dict | None] = [None] * len(checked)
        for kind, pool in self.pools.items():
            idx = [i for i, c in enumerate(checked) if c[0] == kind]
            if not idx:
                continue
            rows = [checked[i][1] for i in idx]
            samples = [{**r, "answer": str(r.get("answer", ""))} for r in rows]
            scores = pool.score([r[kind] for r in rows], samples)
            self.stats["timeouts"] += scores.timeouts
            self.stats["errors"] += scores.errors
            for j, i in enumerate(idx):
                out[i] = self._output(kind, rows[j], scores, j)
        for i, (kind, row, error) in enumerate(checked):
            if kind == "bad":
                out[i] = {**(row or {}), "correct": False, "format_ok": None, "reward": 0.0, "error": error}
        self.stats["rows"] += len(checked)
        self.stats["bad"] += sum(c[0] == "bad" for c in checked)
        self.stats["correct"] += sum(bool(r["correct"]) for r in out)
        return out

    def _output(self, kind: str, row: dict, scores, j: int) -> dict:
        names = self.names if kind == "completion" else ["answer_equal"]
        correct_name = _first(names, CORRECTNESS)
        format_name = _first(names, FORMATS) if kind == "completion" else None
        result = {
            **row,
            "correct": scores.per_reward[correct_name][j] >= 1.0 if correct_name else None,
            "format_ok": scores.per_reward[format_name][j] >= 1.0 if format_name else None,
            "reward": scores.total[j],
            "error": _row_error(scores.infos[j]),
        }
        if self.details:
            result["details"] = scores.infos[j]
        return result


def _batches(stream: IO[bytes]) -> Iterator[list[tuple[int, bytes]]]:
    batch = []
    for number, line in enumerate(stream, start=1):
        if line.strip():
            batch.append((number, line))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _dump(row: dict) -> str:
    """One JSON line; rows holding lone surrogates (valid in JSON input, not encodable as UTF-8) are ASCII-escaped.
    A row that cannot be written back whole is written as its scores and the reason."""
    try:
        text = json.dumps(row, ensure_ascii=False)
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return json.dumps(row)
    except (ValueError, TypeError, RecursionError) as err:
        kept = {k: row.get(k) for k in ("line", "correct", "format_ok", "reward")}
        return json.dumps({**kept, "error": row.get("error") or f"row not writable as JSON: {type(err).__name__}"})


def _count_lines(path: str) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def _score(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.rewards.split(",") if n.strip()]
    weights = [float(w) for w in args.weights.split(",")] if args.weights else None
    needs_answer = any(n in ("accuracy", "accuracy_strict", "answer_equal") for n in names)
    try:
        source = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")  # lines decoded one by one
    except OSError as err:
        print(f"error: cannot read {args.input}: {err.strerror}", file=sys.stderr)
        return 1
    total = None if args.input == "-" else _count_lines(args.input)
    start = time.perf_counter()
    scorer = Scorer(names, weights, args.workers, args.timeout, args.details)
    sink = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    from tqdm import tqdm

    progress = tqdm(total=total, unit="row", file=sys.stderr, disable=total is not None and total < 1000)
    try:
        with source:
            for batch in _batches(source):
                checked = [check_row(line, number, needs_answer) for number, line in batch]
                for kind, _, error in checked:
                    if kind == "bad":
                        print(f"warning: {error}", file=sys.stderr)
                for row in scorer.score(checked):
                    sink.write(_dump(row) + "\n")
                progress.update(batch[-1][0] - progress.n)
    finally:
        progress.close()
        scorer.close()
        if sink is not sys.stdout:
            sink.close()
    s = scorer.stats
    print(f"scored {s['rows']} rows: {s['correct']} correct, {s['bad']} bad rows, {s['timeouts']} timeouts, "
          f"{s['errors']} errors in {time.perf_counter() - start:.3f} s", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.command == "list":
        return _list()
    try:
        return _score(args)
    except (KeyError, ValueError) as err:  # unknown reward names, bad weights: say what and how to fix
        print(f"error: {err}", file=sys.stderr)
        return 2

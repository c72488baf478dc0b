"""SEAL knowledge incorporation (r1zero/tasks/seal/): data, parsers, reward arithmetic, the LoRA inner loop, worker
isolation (crash, timeout, memory cap), and SealReward end to end on a tiny random model (the policy's weights stay
bit-identical). The training loop with this reward runs in tests/test_seal_train.py."""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import torch

from r1zero.config import load_config
from r1zero.data import DATA_DIR, load_dataset
from r1zero.models import build_tiny_model
from r1zero.tasks.seal import data as seal_data
from r1zero.tasks.seal import fiction
from r1zero.tasks.seal.edits import METRICS, make_tasks, reward_of, summarize
from r1zero.tasks.seal.inner import (InnerSettings, InnerTask, answer_number, doc_loss, is_correct, load_base,
                                    self_edit_docs, train_lora)
from r1zero.tasks.seal.reward import SealReward, write_snapshot

FAST = InnerSettings(lora_rank=4, lora_alpha=8, lora_targets=["q_proj", "v_proj"], inner_steps=1, inner_lr=1e-3,
                     inner_batch=4, answer_tokens=4)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    # init_std 0.5: a peaked next-token distribution, like a trained LM's, which a small LoRA update can move
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden=64, layers=2, heads=4,
                                init_std=0.5))


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return load_dataset("seal_gsm8k_test", limit=3)


# ---------------------------------------------------------------------------------------------- data and parsers


def test_shipped_data_is_rebuilt_byte_for_byte(tmp_path):
    for path in seal_data.write_data(tmp_path):
        assert path.read_bytes() == (DATA_DIR / "seal" / path.name).read_bytes(), path.name
    train, test = load_dataset("seal_gsm8k"), load_dataset("seal_gsm8k_test")
    assert (len(train), len(test)) == (seal_data.SIZES["train"], seal_data.SIZES["test"])
    assert {r["source_id"].split("-")[1] for r in train} == {"train"}
    assert {r["source_id"].split("-")[1] for r in test} == {"test"}
    for row in train + test:
        qs = row["questions"]
        assert 2 <= len(qs) <= 1 + seal_data.MAX_CLOZES and qs[0]["kind"] == "main"
        assert row["answer"] == qs[0]["answer"] and f"The answer is {row['answer']}." in row["problem"]
        assert len(row["problem"]) <= seal_data.MAX_PASSAGE_CHARS and "<<" not in row["problem"]
        for q in qs[1:]:
            assert q["prefix"] in row["problem"] and q["answer"] not in q["prefix"].split()
        assert len({q["answer"] for q in qs}) == len(qs)


def test_fiction_passages_ask_every_fact_with_distinct_unguessable_answers():
    built = fiction.build_rows()
    names = [r["entity"] for rows in built.values() for r in rows]
    assert len(names) == len(set(names))  # no entity in two splits, or twice in one
    for split, rows in built.items():
        shipped = load_dataset({"fiction_train": "seal_fiction", "fiction_test": "seal_fiction_test"}[split])
        assert rows == shipped and len(rows) == fiction.SIZES[split]
        assert {r["kind"] for r in rows} == set(fiction.KINDS)
        for row in rows:
            lines, qs = row["problem"].splitlines(), row["questions"]
            answers = [q["answer"] for q in qs]
            assert len(lines) == 1 + fiction.FACTS_PER_PASSAGE == 1 + len(qs) and row["answer"] == answers[0]
            assert len(set(answers)) == len(answers)  # one copied number is right on one question at most
            for q, line in zip(qs, lines[1:]):
                assert q["answer"] in line.split(" ") or f"{q['answer']}." in line.split(" ")
                assert row["entity"] in q["question"] and not re.search(r"\d", q["question"])
                assert q["question"] not in row["problem"] and answer_number(f" {q['answer']}.") == q["answer"]


def test_passage_and_cloze_parsers():
    sol = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nShe sold 48+24 = <<48+24=72>>72 clips.\n#### 72"
    assert seal_data.clean_solution(sol) == ("Natalia sold 48/2 = 24 clips in May.\nShe sold 48+24 = 72 clips.\n"
                                             "The answer is 72.")
    cloze = seal_data.cloze_of
    assert cloze("In May Natalia sold 48/2 = <<48/2=24>>24 clips.") == ("In May Natalia sold ___ clips.",
                                                                       "In May Natalia sold", "24")
    assert cloze("Natalia sold 48/2 = <<48/2=24>>24 clips in May.") is None  # fewer than three words before it
    assert cloze("Tom walked 11 miles because 44/4 = <<44/4=11>>11.") is None  # the answer is in the prompt
    assert cloze("So the shoes cost 3 x 90 = $<<3*90=270>>270 in all.") == ("So the shoes cost ___ in all.",
                                                                           "So the shoes cost", "270")
    assert cloze("Half of her score is 36 items / 2 = <<36/2=18>>18 items.") is None  # words inside the arithmetic
    assert cloze("She has 2 + 3 = <<2+3=5>>5 and 5 * 2 = <<5*2=10>>10 apples.") is None  # two annotations
    assert cloze("A plain line without arithmetic.") is None
    assert seal_data.question_sentence("Tom has 3 apples. He eats one. How many are left?") == "How many are left?"
    assert seal_data.question_sentence("Tom has 3 apples.") is None


def test_self_edit_and_answer_parsers():
    edit = "1. Ella scored 36.\n- Marion scored 24.\n\n* ok\n(3) Half of 36 is 18.\nb) x\r\n  The answer is 24."
    assert self_edit_docs(edit) == ["Ella scored 36.", "Marion scored 24.", "Half of 36 is 18.", "The answer is 24."]
    assert self_edit_docs("") == [] and len(self_edit_docs("\n".join(f"fact {i}" for i in range(40)))) == 16
    qa = "Question: When was Foudesk founded?\nAnswer: 1327.\n\nQuestion: How tall is it?\n answer : 191 feet"
    assert self_edit_docs(qa) == ["Question: When was Foudesk founded? Answer: 1327.",
                                  "Question: How tall is it? answer : 191 feet"]
    assert self_edit_docs("Answer: 5\nA fact.") == ["Answer: 5", "A fact."]  # nothing before it to join
    assert answer_number("20+18= 38 pencils") == "38"
    assert answer_number(" 1,200.\nNext 5") == "1200"
    assert answer_number("\n\n7 apples. Then 9") == "9"
    assert answer_number("no number") is None
    assert is_correct("90-9 = 81", "81") and is_correct("$45", "45.00") and not is_correct("81", "18")


# ---------------------------------------------------------------------------------------------- reward arithmetic


def test_reward_is_the_accuracy_gain_and_failures_score_zero():
    ok1 = {"acc_before": 0.0, "acc_after": 2 / 3, "gain": 2 / 3, "logp_before": -3.0, "logp_after": -2.0,
           "forget_before": 0.5, "forget_after": 0.25, "docs": 3, "inner_s": 2.0}
    ok2 = {"acc_before": 1 / 3, "acc_after": 0.0, "gain": -1 / 3, "logp_before": -2.0, "logp_after": -2.5,
           "docs": 1, "inner_s": 4.0}
    results = [ok1, ok2, None, {"error": "timeout: killed after 1 s", "timeout": True},
               {"error": "worker died (exit code 3)", "timeout": False}]
    scores, infos = zip(*(reward_of(r) for r in results))
    assert scores == pytest.approx([2 / 3, -1 / 3, 0.0, 0.0, 0.0])
    assert infos[0]["acc_after"] == pytest.approx(0.6667) and "error" in infos[2]
    assert infos[3] == {"error": "timeout: killed after 1 s", "timeout": True} and infos[4]["timeout"] is False
    m = summarize(results, list(scores))
    assert set(m) == set(METRICS) - {"score_s"}
    assert m["acc_before"] == pytest.approx(1 / 6) and m["acc_after"] == pytest.approx(1 / 3)
    assert m["gain"] == pytest.approx(1 / 6) and m["logp_gain"] == pytest.approx(0.25)
    assert (m["forget_before"], m["forget_after"], m["forgetting"]) == pytest.approx((0.5, 0.25, 0.25))
    assert (m["positive_frac"], m["timeouts"], m["errors"], m["items"]) == pytest.approx((0.2, 1, 2, 5))
    empty = summarize([], [])
    assert set(empty) == set(m) and all(v == 0.0 for v in empty.values())


def test_forgetting_rides_on_the_first_self_edit_of_each_passage(rows):
    a, b = rows[0], rows[1]
    forget = [{"problem": "What is 2 + 3?", "answer": "5"}]
    tasks = make_tasks("base", "cfg", ["e1", "e2", "e3", "e4"], [a, a, b, {"problem": "p", "answer": "1"}], FAST,
                       forget, seed=7)
    assert [bool(t.forgetting) for t in tasks[:3]] == [True, False, True] and tasks[3] is None
    assert [t.seed for t in tasks[:3]] == [7, 8, 9] and tasks[2].questions == b["questions"]


# ---------------------------------------------------------------------------------------------- inner loop


def test_lora_update_learns_the_self_edit_and_leaves_the_base_untouched(tiny, rows):
    from transformers import AutoTokenizer

    model, tok = load_base(tiny, tiny), AutoTokenizer.from_pretrained(tiny)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    docs = self_edit_docs(rows[0]["problem"])
    loss0 = doc_loss(model, tok, docs)
    peft_model, losses = train_lora(model, tok, docs, dataclasses.replace(FAST, inner_steps=3, inner_lr=3e-2), 0)
    loss1 = doc_loss(peft_model, tok, docs)
    assert loss1 < loss0 - 1.0 and len(losses) == 3 * -(-len(docs) // FAST.inner_batch), (loss0, loss1, losses)
    base = peft_model.unload()
    assert all(torch.equal(v, state[k]) for k, v in base.state_dict().items())
    assert doc_loss(base, tok, docs) == pytest.approx(loss0)


def test_snapshot_round_trip(tiny, tmp_path):
    from transformers import AutoModelForCausalLM

    src = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.bfloat16)
    snap = write_snapshot(src.named_parameters(), tmp_path / "snap", tiny, shard_bytes=1 << 20)
    assert len(list(snap.glob("shard-*.safetensors"))) > 1
    loaded = load_base(str(snap), tiny)
    for k, v in src.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v.float()), k


# ---------------------------------------------------------------------------------------------- SealReward, pool


class TensorPolicy:
    """The part of r1zero.policy.Policy that SealReward's `weights` is (named_parameters_for_sync at ZeRO 0-2)."""

    def __init__(self, path: str):
        from transformers import AutoModelForCausalLM

        self.module = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)

    def named_parameters_for_sync(self):
        for name, p in self.module.named_parameters():
            yield name, p.detach()


@pytest.fixture(scope="module")
def policy(tiny) -> TensorPolicy:
    return TensorPolicy(tiny)


@pytest.fixture(scope="module")
def reward(tiny, policy, tmp_path_factory):
    overrides = [f"seal.{k}={v}" for k, v in dict(inner_steps=1, lora_rank=4, lora_alpha=8, workers=1,
                                                   lora_targets="q_proj,v_proj", timeout_s=60, memory_gib=4,
                                                   forgetting_limit=4).items()]
    cfg = load_config(None, overrides + ["train.threads=1"])
    rw = SealReward(cfg, tiny, None, policy.named_parameters_for_sync, 1, 0, tmp_path_factory.mktemp("run"))
    yield rw
    rw.close()


def test_seal_reward_end_to_end_leaves_the_policy_untouched(reward, policy, rows):
    before = {k: v.clone() for k, v in policy.module.state_dict().items()}
    texts = [rows[0]["problem"], "1. Some fact.\n2. Another fact.", "", "anything"]
    samples = [rows[0], rows[0], rows[1], {"problem": "a passage without questions", "answer": "1"}]
    scores, infos = reward.score(texts, samples)
    assert len(scores) == len(infos) == 4
    for s, info in zip(scores[:3], infos[:3]):
        assert "error" not in info, info
        assert s == pytest.approx(info["acc_after"] - info["acc_before"], abs=1e-3)
    assert infos[2]["docs"] == 0 and scores[2] == 0.0  # an empty self-edit changes nothing
    assert scores[3] == 0.0 and "questions" in infos[3]["error"]
    assert "forget_before" in infos[0] and "forget_before" not in infos[1]
    assert all(torch.equal(v, before[k]) for k, v in policy.module.state_dict().items())
    first = reward.dir / "policy-000000"
    assert (first / "seal_snapshot.json").is_file()
    m = reward.metrics()
    assert set(m) == {f"seal/{k}" for k in METRICS} and m["seal/items"] == 4 and m["seal/errors"] == 1
    reward.score(texts[:1], samples[:1])  # a new snapshot replaces the previous one
    assert not first.exists() and (reward.dir / "policy-000001").is_dir()
    assert reward.metrics()["seal/items"] == 1
    calls = [json.loads(x) for x in (reward.dir / "calls.jsonl").read_text().splitlines()]
    assert [c["call"] for c in calls] == [1, 2] and calls[0]["items"] == 4


def test_worker_crash_timeout_and_memory_cap_are_contained(reward, rows, tiny):
    ok = InnerTask(tiny, tiny, "Sarah has 38 pencils.", rows[0]["questions"], [], FAST)
    res = reward.pool.run([dataclasses.replace(ok, fault="crash"), ok])
    assert res[0] == {"error": "worker died (exit code 3)", "timeout": False} and "gain" in res[1]
    res = reward.pool.run([dataclasses.replace(ok, fault="oom"), ok])  # address space capped at memory_gib = 4
    assert "out of memory" in res[0]["error"] and not res[0]["timeout"] and "gain" in res[1]
    res = reward.pool.run([dataclasses.replace(ok, fault="hang")], timeout_s=2)
    assert res[0] == {"error": "timeout: killed after 2 s", "timeout": True}
    assert "gain" in reward.pool.run([ok])[0]  # the killed worker was replaced
    assert reward_of(res[0]) == (0.0, res[0])


def test_seal_reward_from_the_initial_model_needs_no_policy(tiny, tmp_path, rows):
    cfg = load_config(None, ["seal.inner_model=initial", "seal.forgetting_limit=0", "seal.inner_steps=1"])
    with pytest.raises(ValueError, match="needs the trainer's policy"):
        SealReward(load_config(None, []), tiny, None, None, 1, 0, tmp_path)
    rw = SealReward(cfg, tiny, None, None, 1, 0, tmp_path)
    try:
        assert rw.base() == tiny and not list(Path(tmp_path / "seal").glob("policy-*"))
    finally:
        rw.close()

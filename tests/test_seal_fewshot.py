"""SEAL's few-shot setting (r1zero/tasks/seal/fewshot.py, rules.py): the puzzles, the plan parser and its
documents, the output-only loss, and FewShotReward end to end on a tiny random model (real LoRA updates in real
worker processes). The recipe trains through the loop in tests/test_loop_paths.py."""
from __future__ import annotations

import pytest

from r1zero.config import load_config
from r1zero.data import load_dataset
from r1zero.errors import ConfigError
from r1zero.models import build_tiny_model
from r1zero.tasks.seal import fewshot, rules
from r1zero.tasks.seal.edits import METRICS
from r1zero.tasks.seal.eval import check_baselines
from r1zero.tasks.seal.inner import encode_doc, is_correct, qa_prompt
from r1zero.tasks.seal.reward import FewShotReward, SealReward


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden=64, layers=2, heads=4,
                                init_std=0.5))


def test_puzzles_follow_their_rule_and_cover_every_rule_evenly():
    for split, n in rules.SIZES.items():
        rows = load_dataset(f"seal_{split.replace('_train', '')}")
        assert len(rows) == n and rows == rules.build(split, n)
        counts = {r: sum(row["rule"] == r for row in rows) for r in rules.RULES}
        assert max(counts.values()) - min(counts.values()) <= 1, counts
        for row in rows:
            (q,) = row["questions"]
            assert len(q["demos"]) == rules.DEMOS and q["match"] == "line" and q["kind"] == row["rule"]
            pairs = q["demos"] + [[q["question"], q["answer"]]]
            assert len({a for a, _ in pairs}) == len(pairs)  # the query is not a demonstration
            for a, b in pairs:
                digits = [int(x) for x in a.split()]
                assert 3 <= len(digits) <= 5 and rules.render(rules.RULES[row["rule"]](digits)) == b
            assert row["problem"] == rules.demos_text(q["demos"]) and row["answer"] == q["answer"]


def test_a_plan_needs_every_key_with_menu_values():
    plan = fewshot.parse_plan(fewshot.FIXED_PLAN)
    assert plan == fewshot.Plan(("demos", "leave_one_out"), 1e-3, 4, True)
    assert fewshot.parse_plan(plan.describe().replace("; ", "\n")) == plan
    assert fewshot.parse_plan(" reverse, shuffle\nLR: 0.003\nepochs: 8.\nloss: all\nThat is all.") is None  # no key
    text = "augment: reverse, shuffle\nLR: 0.003\nepochs: 8.\nloss: all\nThat is all."
    assert fewshot.parse_plan(text) == fewshot.Plan(("reverse", "shuffle"), 3e-3, 8, False)
    # words off the menu are ignored: the first menu value of a line counts, repeats are dropped
    copied = "augment: 1e-4, leave_one_out, leave_one_out, demos\nlr: 1e-3\nepochs: 4\nloss: output or all"
    assert fewshot.parse_plan(copied) == fewshot.Plan(("leave_one_out", "demos"), 1e-3, 4, True)
    assert fewshot.DEFAULT == plan  # a setting no line names keeps the worked plan's value
    assert fewshot.parse_plan("augment: shuffle\nepochs: 3\nlr: fast") == fewshot.Plan(("shuffle",), 1e-3, 4, True)
    assert fewshot.parse_plan("augment: train, reverse\nloss: all, output") == fewshot.Plan(("reverse",), 1e-3, 4,
                                                                                          False)
    for bad in ("augment: 7, 7, 7", "augment: rotate", "augment:", "lr: 1e-3\nepochs: 4\nloss: all"):
        assert fewshot.parse_plan(bad) is None, bad


def test_plan_documents_per_augmentation():
    demos = [["1 2 3", "3 2 1"], ["4 5 6 7", "7 6 5 4"], ["8 9 0", "0 9 8"], ["5 5 1", "1 5 5"]]
    one = {aug: fewshot.plan_docs(fewshot.Plan((aug,), 1e-3, 1, True), demos) for aug in fewshot.AUGMENTATIONS}
    assert {aug: len(d) for aug, d in one.items()} == {aug: len(demos) for aug in fewshot.AUGMENTATIONS}
    assert one["demos"][0] == ("Input: 1 2 3\nOutput:", " 3 2 1")
    assert one["reverse"][1] == ("Input: 7 6 5 4\nOutput:", " 4 5 6 7")
    loo = one["leave_one_out"][0]
    assert loo == (fewshot.context_prompt(demos[1:], "1 2 3"), " 3 2 1") and "Input: 1 2 3\nOutput: 3" not in loo[0]
    assert one["shuffle"][0] == (fewshot.context_prompt(demos[1:][::-1], "1 2 3"), " 3 2 1")
    both = fewshot.plan_docs(fewshot.Plan(("demos", "shuffle"), 1e-3, 1, False), demos)
    assert both == [p + t for p, t in one["demos"] + one["shuffle"]]


def test_output_only_documents_mask_the_prompt_and_answers_match_whole_lines(tiny):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny)
    ids, labels = encode_doc(tok, ("Input: 1 2\nOutput:", " 2 1"))
    n = len(tok("Input: 1 2\nOutput:", add_special_tokens=False)["input_ids"])
    assert labels[:n] == [-100] * n and labels[n:] == ids[n:] and ids[-1] == tok.eos_token_id
    ids, labels = encode_doc(tok, "Input: 1 2\nOutput: 2 1")
    assert labels == ids
    assert is_correct(" 2 1 \nInput: 3", "2 1", "line") and not is_correct("2 1 0", "2 1", "line")
    assert not is_correct("2 1", "1", "line") and is_correct("it is 1", "1")
    q = load_dataset("seal_rules_test", limit=1)[0]["questions"][0]
    assert qa_prompt(q) == fewshot.context_prompt(q["demos"], q["question"])


def test_fewshot_reward_end_to_end(tiny, tmp_path):
    overrides = [f"seal.{k}={v}" for k, v in dict(lora_rank=4, lora_alpha=8, workers=1, lora_targets="q_proj,v_proj",
                                                   timeout_s=120, memory_gib=4, forgetting_limit=0,
                                                   inner_model="initial", answer_tokens=8).items()]
    cfg = load_config(None, overrides + ["train.threads=1"])
    rows = load_dataset("seal_rules_test", limit=2)
    cheap = "augment: demos\nlr: 1e-3\nepochs: 1\nloss: all"
    rw = FewShotReward(cfg, tiny, None, None, 1, 0, tmp_path)
    try:
        scores, infos = rw.score([cheap, "I would train it well.", cheap], [rows[0], rows[0], rows[1]])
        assert all("error" not in i for i in infos), infos
        assert infos[0]["parsed"] == 1.0 and infos[0]["docs"] == rules.DEMOS and infos[0]["plan"].startswith("augm")
        assert infos[1]["parsed"] == 0.0 and infos[1]["docs"] == 0 and scores[1] == 0.0 and "plan" not in infos[1]
        assert all(s in (0.0, 1.0) and s == i["acc_after"] for s, i in zip(scores, infos))
        m = rw.metrics()
        assert set(m) == {f"seal/{k}" for k in METRICS} and m["seal/valid_frac"] == pytest.approx(2 / 3)
        with pytest.raises(ValueError, match=r"is a passage: set `rewards.names` to \[seal_knowledge\]"):
            rw.score(["x"], load_dataset("seal_fiction_test", limit=1))
    finally:
        rw.close()
    knowledge = SealReward(cfg, tiny, None, None, 1, 0, tmp_path)
    try:
        with pytest.raises(ValueError, match=r"is a few-shot puzzle: set `rewards.names` to \[seal_fewshot\]"):
            knowledge.score([cheap], rows[:1])
    finally:
        knowledge.close()


def test_baselines_must_fit_the_data():
    puzzles, passages = load_dataset("seal_rules_test", limit=1), load_dataset("seal_fiction_test", limit=1)
    check_baselines(("fixed",), puzzles, "seal_rules_test")
    check_baselines(("passage", "copy"), passages, "seal_fiction_test")
    with pytest.raises(ConfigError, match="does not apply to `seal_rules_test` .few-shot puzzles.: use fixed"):
        check_baselines(("passage",), puzzles, "seal_rules_test")
    with pytest.raises(ConfigError, match="--baselines fixed does not apply to `seal_fiction_test`"):
        check_baselines(("fixed",), passages, "seal_fiction_test")

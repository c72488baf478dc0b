"""SPCT's meta RM (r1zero/tasks/grm_meta.py): critique labels, guided voting, the paired comparison and AUC by hand,
and training, saving, loading and guided evaluation end to end on a tiny random model (real transformers forward
passes; critiques written here, since a random model cannot write parseable ones)."""
from __future__ import annotations

import json
import math

import pytest

from r1zero.tasks.grm import Votes, format_input, pairwise_accuracy
from r1zero.tasks.grm_meta import (MetaRM, auc, critique_label, guided, load_critiques, meta_eval, pair_right,
                                   paired_difference, train_meta)


def pair(i, correct=0):
    responses = ["3 + 4 = 7", "8"] if correct == 0 else ["8", "3 + 4 = 7"]
    labels = [1, 0] if correct == 0 else [0, 1]
    return {"id": f"p{i}", "problem": format_input("What is 3 + 4?", responses), "responses": responses,
            "labels": labels, "answer": str(correct + 1), "max_score": 10, "kind": "pair"}


def test_critique_label_on_pairs_singles_and_unparsed():
    row = pair(0, correct=1)
    assert critique_label(row, (1, 10)) == 1
    assert critique_label(row, (10, 1)) == 0
    assert critique_label(row, (5, 5)) == 0  # a tie is not a right verdict
    assert critique_label(row, None) is None
    single = {"labels": [0], "max_score": 10}
    assert critique_label(single, (2,)) == 1 and critique_label(single, (9,)) == 0


def test_guided_voting_keeps_the_top_meta_scored_parsed_critiques():
    votes = Votes([[(10, 1), (1, 10), (1, 10), None]], [["a", "b", "c", "d"]], [["", "", "", ""]])
    scores = [[0.9, 0.2, 0.1, -math.inf]]
    g = guided(votes, scores, k=4, k_meta=1)
    assert g.parsed == [[(10, 1), None, None, None]] and g.sums() == [[10, 1]]
    assert votes.sums(4) == [[12, 21]]  # plain voting: the two low-scored critiques outvote the top one
    assert guided(votes, scores, k=4, k_meta=4).sums() == votes.sums(4)  # k_meta = k is plain voting
    assert guided(votes, scores, k=2, k_meta=1).parsed == [[(10, 1), None]]  # only the first k are candidates


def test_paired_difference_and_auc_by_hand():
    d = paired_difference([1, 1, 0, 1], [0, 1, 0, 0])
    assert d["mean"] == pytest.approx(0.5) and d["better"] == 2 and d["worse"] == 0
    sd = (sum((x - 0.5) ** 2 for x in [1, 0, 0, 1]) / 3) ** 0.5
    assert d["ci95_high"] - d["mean"] == pytest.approx(1.96 * sd / 2)
    assert auc([0.9, 0.8, 0.1], [1, 1, 0]) == 1.0
    assert auc([0.1, 0.5, 0.5], [1, 1, 0]) == pytest.approx(0.25)  # one loss and one tie out of two
    assert math.isnan(auc([0.3], [1]))


def test_pair_right_matches_pairwise_accuracy():
    rows = [pair(0, 0), pair(1, 1), pair(2, 0)]
    votes = Votes([[(10, 1)], [(10, 1)], [(5, 5)]], [["x"]] * 3, [[""]] * 3)
    assert pair_right(rows, votes) == [1, 0, 0]
    assert pairwise_accuracy(rows, votes)["accuracy"] == pytest.approx(1 / 3)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from r1zero.models import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden=128, layers=2, heads=2))


def write_eval(tmp_path, rows):
    """A `grm eval` directory: per pair, two critiques that agree with the verifier and two that do not."""
    out = tmp_path / "eval"
    out.mkdir()
    with open(out / "critiques.jsonl", "w") as f:
        for r in rows:
            c = r["labels"].index(1)
            good, bad = [1, 1], [1, 1]
            good[c], bad[1 - c] = 10, 10
            texts = [f"Principles: 3 + 4 = 7.\nCritique: Response {c + 1} is right.\nScores: \\boxed{{{good[0]}, "
                     f"{good[1]}}}", "Principles: 3 + 4 = 8.\nCritique: the other is right.\nScores: \\boxed{"
                     f"{bad[0]}, {bad[1]}}}"] * 2
            f.write(json.dumps({"id": r["id"], "labels": r["labels"], "critiques": texts,
                                "scores": [good, bad, good, bad], "parse": ["ok"] * 4}) + "\n")
    return out


def test_train_save_load_and_guided_eval_on_a_tiny_model(tiny_dir, tmp_path):
    rows = [pair(i, i % 2) for i in range(10)]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    critiques = write_eval(tmp_path, rows)
    info = train_meta(tiny_dir, critiques, str(data), tmp_path / "meta")
    assert info["examples"] == 40 and info["right_share"] == 0.5
    assert info["heldout_critiques"] == 8 and 0.0 <= info["heldout_auc"] <= 1.0
    meta = MetaRM.load(tmp_path / "meta")
    x = meta.features([rows[0]["problem"]], ["Principles: a.\nCritique: b.\nScores: \\boxed{1, 10}"])
    assert tuple(x.shape) == (1, 128 + 3) and bool((x[0, -3:] <= 0).all())  # log-probs are never positive
    result = meta_eval(tmp_path / "meta", critiques, str(data), [2, 4], k_meta=0)
    assert result["critiques_scored"] == 40 and result["per_k"]["4"]["k_meta"] == 2
    # the fitted head separates the two kinds of critique on the texts it was fit on: guided voting at k=4
    # keeps the two right critiques of each pair, plain voting ties every pair
    assert result["critique_auc"] > 0.9
    assert result["per_k"]["4"]["vote"]["accuracy"] == 0.0 and result["per_k"]["4"]["guided"]["accuracy"] == 1.0
    assert result["per_k"]["4"]["guided_minus_vote"]["mean"] == 1.0


def test_critiques_of_other_data_are_a_clear_error(tmp_path):
    rows = [pair(0)]
    critiques = write_eval(tmp_path, rows)
    with pytest.raises(ValueError, match=r"critiques.jsonl:1: row id 'p0' is not in the data given"):
        load_critiques(critiques / "critiques.jsonl", [pair(5)])


def test_batched_features_equal_one_critique_at_a_time(tiny_dir):
    """Left padding and the tail-only LM head change nothing: a batch of different lengths gives each critique the
    features of its own unpadded forward pass (hidden state and the three log-prob statistics)."""
    import torch

    meta = MetaRM(tiny_dir, batch_size=3)
    problems = [pair(0)["problem"], "Question: What is 1 + 1?", pair(1, 1)["problem"] + " and a longer tail"]
    critiques = ["Principles: 3 + 4 = 7.\nCritique: Response 1 is right.\nScores: \\boxed{10, 1}", "Scores: 2",
                 "Principles: x.\nCritique: y.\nScores: \\boxed{1, 10}"]
    batched = meta.features(problems, critiques)
    alone = torch.cat([meta.features([p], [c]) for p, c in zip(problems, critiques)])
    assert torch.allclose(batched, alone, atol=1e-4)
    assert not torch.allclose(batched[0], batched[2])  # different critiques: different features

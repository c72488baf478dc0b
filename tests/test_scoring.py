"""The Scorer: rule-based rewards from the worker pool and model rewards (scoring.MODEL_REWARDS) in one weighted sum.

The model reward here is a small in-test class: the real ones (r1zero/tasks/grm.py, r1zero/tasks/seal/) need a model
and are tested in their own files; this file checks only how the Scorer combines, counts and reports them.
"""
import pytest

from r1zero.config import RewardsConfig
from r1zero.rollout.base import Rollout
from r1zero.scoring import MODEL_REWARDS, Scorer


class LengthJudge:
    """Scores a text by its length / 10; 'boom' is an item error, 'slow' a timeout (as a model reward reports them)."""

    def __init__(self):
        self.closed = False
        self.calls = 0

    def score(self, texts, samples):
        self.calls += 1
        scores, infos = [], []
        for t in texts:
            if "boom" in t:
                scores.append(0.0), infos.append({"error": "ValueError: boom"})
            elif "slow" in t:
                scores.append(0.0), infos.append({"error": "timeout", "timeout": True})
            else:
                scores.append(len(t) / 10), infos.append({"len": len(t)})
        return scores, infos

    def metrics(self):
        return {"judge/calls": float(self.calls)}

    def close(self):
        self.closed = True


def _rollouts(texts):
    return [Rollout(i, [1], [2], t, "stop", None) for i, t in enumerate(texts)]


def test_rule_and_model_rewards_are_weighted_and_counted():
    name = "grm_judge"
    assert name in MODEL_REWARDS
    judge = LengthJudge()
    scorer = Scorer(RewardsConfig(names=["accuracy", name], weights=[1.0, 0.5], workers=1), "",
                    model_rewards={name: judge})
    try:
        texts = ["12", "boom 12", "slow", "the answer is 7"]
        samples = [{"answer": "12"}] * 4
        s = scorer.score(_rollouts(texts), samples)
    finally:
        scorer.close()
    assert s.per_reward["accuracy"] == [1.0, 1.0, 0.0, 0.0]
    assert s.per_reward[name] == pytest.approx([0.2, 0.0, 0.0, 1.5])
    assert s.rewards.tolist() == pytest.approx([1.1, 1.0, 0.0, 0.75])
    assert s.metrics["verify/errors"] == 1 and s.metrics["verify/timeouts"] == 1
    assert s.metrics["judge/calls"] == 1.0
    assert s.metrics[f"reward/{name}/mean"] == pytest.approx(1.7 / 4)
    assert s.infos[3][name] == {"len": 15} and "accuracy" in s.infos[3]
    assert judge.closed


def test_model_reward_only_needs_no_pool_and_missing_model_is_an_error():
    judge = LengthJudge()
    scorer = Scorer(RewardsConfig(names=["grm_judge"]), "", model_rewards={"grm_judge": judge})
    assert scorer.pool is None
    assert scorer.score(_rollouts(["abcd"]), [{}]).rewards.tolist() == pytest.approx([0.4])
    scorer.close()
    with pytest.raises(ValueError, match="model reward and needs a model"):
        Scorer(RewardsConfig(names=["seal_knowledge"]))
    with pytest.raises(ValueError, match="is not a reward"):
        Scorer(RewardsConfig(names=["no_such_reward"]))

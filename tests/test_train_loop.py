"""End-to-end runs of the GRPO loop on CPU with a tiny random model, the hf engine, real DeepSpeed and W&B offline.

Each run is a subprocess (`python -m r1zero.cli train ...`): DeepSpeed's process group is per process.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from r1zero.models import build_tiny_model
from r1zero.tracking import read_metrics

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden=64, layers=2))


def common(tiny: str, out: Path) -> list[str]:
    return [f"model.name={tiny}", "rollout.engine=hf", "data.train=addition", "data.chat=false",
            "data.template=plain", "rollout.group_size=8", "train.prompts_per_step=4", "train.micro_batch_size=16",
            "rollout.max_new_tokens=8", "rollout.temperature=1.0", "eval.suites=addition_test", "eval.limit=8",
            "eval.max_new_tokens=8", "rewards.workers=1", f"log.output_dir={out}", "log.samples_every=2"]


def train(args: list[str], timeout: int = 900) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", WANDB_SILENT="true", PYTHONPATH=f"{ROOT}:{ROOT / 'tests'}")
    env.pop("WANDB_API_KEY", None)
    proc = subprocess.run([sys.executable, "-m", "r1zero.cli", "train", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def peaked(tmp_path_factory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("peaked") / "model", hidden=64, layers=2, init_std=0.5))


def test_learns_synthetic_reward(peaked, tmp_path):
    """Sign, masking and plumbing end to end: the reward (share of non-lowercase characters) must climb from ~0.1."""
    res = train(common(peaked, tmp_path) + [
        "rewards.names=synthetic_rewards:no_lowercase", "train.steps=40", "optim.lr=2e-2", "optim.name=adamw",
        "log.wandb_mode=disabled", "eval.before=false", "eval.after=false", "checkpoint.save_final=false"])
    rows = read_metrics(Path(res["metrics"]))
    first = sum(r["reward/mean"] for r in rows[:3]) / 3
    last = sum(r["reward/mean"] for r in rows[-3:]) / 3
    assert first < 0.3, first
    assert last > 0.7, (first, last)


def test_resume_reproduces_uninterrupted_run(tiny, tmp_path):
    args = common(tiny, tmp_path) + ["rewards.names=synthetic_rewards:no_lowercase", "optim.lr=3e-3",
                                     "log.wandb_mode=offline", "eval.before=false", "eval.after=false"]
    full = train(args + ["log.run_name=full", "train.steps=4", "checkpoint.every=0", "checkpoint.save_final=false"])
    train(args + ["log.run_name=split", "train.steps=2", "checkpoint.every=2"])
    resumed = train(args + ["log.run_name=split", "train.steps=4", "checkpoint.every=2", "checkpoint.resume=auto"])
    assert resumed["steps"] == 4
    a = read_metrics(Path(full["metrics"]))
    b = read_metrics(Path(resumed["metrics"]))
    assert [r["step"] for r in b] == [1, 2, 3, 4]  # one monotonic step across the two processes
    keys = ["reward/mean", "loss/policy", "completion/mean_length", "policy/entropy", "policy/grad_norm"]
    for ra, rb in zip(a[2:], b[2:]):
        for k in keys:
            assert ra[k] == pytest.approx(rb[k], rel=1e-5, abs=1e-7), (ra["step"], k)
    ckpts = sorted((Path(resumed["run_dir"]) / "checkpoints").glob("step-*"))
    assert [c.name for c in ckpts] == ["step-000002", "step-000004"]
    assert not list((Path(resumed["run_dir"]) / "checkpoints").glob(".tmp-*"))
    # the final weights as a Hugging Face model dir (checkpoint.export_model): loadable, trained, and the same
    # whether the run was interrupted or not
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def weights(path):
        return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).state_dict()

    start, a_final, b_final = weights(tiny), weights(Path(full["run_dir"]) / "final_model"), \
        weights(Path(resumed["run_dir"]) / "final_model")
    assert a_final.keys() == start.keys() == b_final.keys()
    assert max(float((a_final[k] - start[k]).abs().max()) for k in start) > 1e-4
    assert max(float((a_final[k] - b_final[k]).abs().max()) for k in start) < 1e-5
    assert AutoTokenizer.from_pretrained(Path(full["run_dir"]) / "final_model")("1 + 2")["input_ids"]
    assert not list(Path(full["run_dir"]).glob(".tmp-*"))


def test_outputs_and_eval(tiny, tmp_path):
    res = train(common(tiny, tmp_path) + ["train.steps=2", "log.wandb_mode=offline", "checkpoint.save_final=false"])
    for key in ("run_dir", "wandb_dir", "wall_s", "steps", "eval_before", "eval_after"):
        assert key in res
    assert 0.0 <= res["eval_before"] <= 1.0 and 0.0 <= res["eval_after"] <= 1.0
    assert Path(res["reward_curve"]).stat().st_size > 1000
    assert list(Path(res["wandb_dir"]).glob("*.wandb")), "no offline W&B run file"
    rows = read_metrics(Path(res["metrics"]))
    train_rows = [r for r in rows if "reward/mean" in r]
    for name in ("reward/mean", "reward/accuracy/mean", "reward/frac_zero_std", "completion/mean_length",
                 "completion/clipped_frac", "loss/policy", "policy/entropy", "policy/clip_frac", "policy/grad_norm",
                 "verify/timeouts", "verify/errors", "timing/generate", "timing/score", "timing/update",
                 "timing/sync", "perf/tokens_per_s"):
        assert name in train_rows[-1], name
    assert any("eval/addition_test/accuracy" in r for r in rows)
    samples = (Path(res["run_dir"]) / "samples.jsonl").read_text().splitlines()
    assert len(samples) == 8 and "completion" in json.loads(samples[0])


def test_config_error_is_clear(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "r1zero.cli", "train", "train.stepz=3"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown config key `train.stepz`" in proc.stderr and "train.steps" in proc.stderr


def test_vllm_engine_in_the_loop_stays_in_sync(tmp_path_factory, tmp_path):
    """The default engine end to end: after every update the weights are streamed into the in-process vLLM engine
    and the sync check compares engine and trainer logprobs on a probe; with an fp32 engine they must agree to
    1e-3 nats/token (the run stops with WeightSyncError otherwise), and the sampler/trainer ratio stays ~1."""
    model = str(build_tiny_model(tmp_path_factory.mktemp("tiny_vllm") / "model", hidden=128, heads=2, init_std=0.5))
    res = train(common(model, tmp_path) + [
        "rollout.engine=vllm", "rollout.vllm_dtype=float32", "rollout.sync_check_every=1",
        "rewards.names=synthetic_rewards:no_lowercase",
        "rollout.sync_check_tol=1e-3", "rollout.cpu_kvcache_gib=1", "train.steps=2", "optim.lr=1e-2",
        "log.wandb_mode=disabled", "eval.before=false", "checkpoint.save_final=false"])
    rows = [r for r in read_metrics(Path(res["metrics"])) if "reward/mean" in r]
    assert len(rows) == 2
    for r in rows:
        assert r["sampling/logprob_diff_mean"] < 1e-3
        assert abs(r["sampling/is_ratio_mean"] - 1.0) < 1e-2
        assert r["policy/grad_norm"] > 0  # the weights moved, so a stale engine would be caught

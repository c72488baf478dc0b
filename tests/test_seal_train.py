"""The SEAL task through the real trainer (`r1zero train` with the seal_rest_cpu / seal_grpo_cpu recipes): a tiny
random model, the hf engine, real DeepSpeed, the `seal_knowledge` reward in its worker pool, ReST-EM (algo.loss=rft)
or GRPO (algo.loss=pg), W&B offline."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from r1zero.models import build_tiny_model
from r1zero.tracking import read_metrics

ROOT = Path(__file__).resolve().parents[1]


def clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", WANDB_SILENT="true", PYTHONPATH=str(ROOT))
    env.pop("WANDB_API_KEY", None)
    return env


@pytest.mark.parametrize("recipe", ["seal_rest_cpu", "seal_grpo_cpu"])
def test_outer_loop_runs_end_to_end(tmp_path, recipe):
    tiny = build_tiny_model(tmp_path / "tiny", hidden=64, layers=2, heads=4, init_std=0.5)
    args = ["--config", f"launch/configs/{recipe}.yaml", f"model.name={tiny}", "model.dtype=fp32",
            "rollout.engine=hf", "rollout.group_size=2", "rollout.max_new_tokens=24", "rollout.temperature=1.0",
            "train.steps=2", "train.prompts_per_step=2", "train.micro_batch_size=4", "train.zero_stage=0",
            "seal.inner_steps=1", "seal.workers=1", "seal.lora_targets=q_proj,v_proj", "seal.forgetting_limit=4",
            "seal.timeout_s=60",
            f"log.output_dir={tmp_path}", "log.run_name=seal", "log.wandb_mode=offline", "log.samples_every=1"]
    proc = subprocess.run([sys.executable, "-m", "r1zero.cli", "train", *args], cwd=ROOT, env=clean_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    run = Path(res["run_dir"])
    rows = [r for r in read_metrics(run / "metrics.jsonl") if "reward/mean" in r]
    assert len(rows) == 2
    keys = ["reward/seal_knowledge/mean", "verify/timeouts", "verify/errors", "seal/gain", "seal/forgetting"]
    keys += ["rft/accepted_frac", "loss/sft"] if recipe == "seal_rest_cpu" else ["loss/policy"]
    for key in keys:
        assert key in rows[-1], key
    calls = [json.loads(x) for x in (run / "seal" / "calls.jsonl").read_text().splitlines()]
    assert [c["call"] for c in calls] == [1, 2] and all(c["items"] == 4 and c["errors"] == 0 for c in calls)
    assert all(0.0 <= c["forget_before"] <= 1.0 for c in calls)
    assert not list((run / "seal").glob("policy-*")), "the last weight snapshot is removed at the end"
    assert (run / "final_model" / "config.json").is_file()
    assert list(Path(res["wandb_dir"]).glob("*.wandb"))


def test_bench_pairs_the_self_edits_with_the_baselines_per_passage(tmp_path):
    """bench_seal --baselines on the fictional passages: the passage and copied-answer baselines go through the same
    inner loop, and every pair of texts is compared per passage. The 'trained' model here is the base itself, so its
    greedy self-edits, seeds and updates are the untrained ones: that comparison must be exactly 0."""
    tiny = build_tiny_model(tmp_path / "tiny", hidden=64, layers=2, heads=4, init_std=0.5)
    cmd = [sys.executable, "benchmarks/bench_seal.py", "--base", str(tiny), "--trained", str(tiny),
           "--config", "launch/configs/seal_fiction_cpu.yaml", "--data", "seal_fiction_test", "--limit", "3",
           "--baselines", "passage,copy", "--name", "fiction", "--out", str(tmp_path / "out"),
           "--work", str(tmp_path / "work"), "--wandb-mode", "offline", "model.dtype=fp32", "rollout.engine=hf",
           "rollout.max_new_tokens=16", "seal.inner_steps=1", "seal.workers=1", "seal.lora_targets=q_proj,v_proj",
           "seal.forgetting_limit=2", "seal.timeout_s=60"]
    proc = subprocess.run(cmd, cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    comp = summary["comparisons"]
    assert set(comp) == {"trained - untrained", "trained - passage", "trained - copy", "untrained - passage",
                         "untrained - copy"}
    assert comp["trained - untrained"] == {"mean": 0.0, "ci95": [0.0, 0.0]}
    assert comp["trained - passage"] == comp["untrained - passage"]
    edits = [json.loads(x) for x in (tmp_path / "work" / "eval-before" / "edits.jsonl").read_text().splitlines()]
    assert len(edits) == 3 and all(isinstance(e["passage_gain"], float) and isinstance(e["copy_gain"], float)
                                   for e in edits)
    assert all(e["self_edit"].startswith("Question:") for e in edits)  # the template's prefill is part of the edit
    after = [json.loads(x) for x in (tmp_path / "work" / "eval-after" / "edits.jsonl").read_text().splitlines()]
    assert [(e["id"], e["logp_after"]) for e in after] == [(e["id"], e["logp_after"]) for e in edits]
    assert len({e["logp_after"] for e in edits}) == 3  # the gold answers' log-probs differ per passage
    res = json.loads((tmp_path / "out" / "fiction.json").read_text())
    assert set(res["before"]["baselines"]) == {"passage", "copy"}
    assert "| trained - passage |" in (tmp_path / "out" / "fiction.md").read_text()

"""Non-finite steps are never applied, on every ZeRO stage with 2 ranks, and never saved; the loop counts them and
stops after `train.max_bad_steps` in a row with a message that does not point at the weights that caused them."""
import json
import math
import subprocess
import sys

import pytest
import torch

from r1zero import checkpoint
from r1zero.models import build_tiny_model
from runner import HF_LOOP, ROOT, cli, env


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden=64, layers=2))


def test_nonfinite_steps_are_skipped_on_every_zero_stage_with_two_ranks(tiny, tmp_path):
    out = tmp_path / "out.pt"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                           "29561", str(ROOT / "tests" / "nonfinite_worker.py"), tiny, str(out), "0", "1", "2", "3"],
                          cwd=ROOT, env=env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    results = torch.load(out, weights_only=False)
    for stage in (0, 1, 2, 3):
        normal, huge, poisoned = results[(stage, "huge")]
        for update in (normal, huge):  # applied: a finite loss and gradient (the huge step gives finite 1e30s)
            assert update["metrics"]["train/nonfinite"] == 0 and update["moved"] > 0 and update["finite"], stage
        assert huge["moved"] > 1e29
        # at ~1e30 weights the loss is finite but the gradient is not: not applied (weights and Adam untouched)
        assert poisoned["metrics"]["train/nonfinite"] == 1, (stage, poisoned["metrics"])
        assert poisoned["moved"] == 0 and poisoned["finite"] and poisoned["weights_finite"], stage
        (inf_step,) = results[(stage, "inf")]  # lr inf: finite gradient, NaN/inf update; flagged, never saved
        assert inf_step["metrics"]["train/nonfinite_weights"] == 1 and not inf_step["finite"], stage
        assert not inf_step["weights_finite"], stage


def test_huge_lr_skips_counts_and_stops_without_saving_bad_weights(tiny, tmp_path):
    """lr 1e30: step 1 moves the weights to ~1e30 (finite), steps 2 and 3 have non-finite gradients: skipped,
    counted, no checkpoint at them, and the run stops (train.max_bad_steps=2) without advising step-000001, whose
    weights led there."""
    proc = cli([f"model.name={tiny}", *HF_LOOP, f"log.output_dir={tmp_path}", "log.run_name=run",
                "log.wandb_mode=disabled", "optim.lr=1e30", "train.max_bad_steps=2", "train.steps=6",
                "checkpoint.every=1"])
    assert proc.returncode == 8, proc.stderr[-3000:]
    message = [line for line in proc.stderr.splitlines() if line.startswith("r1zero:")]
    assert message == [
        "r1zero: bad_steps error: steps 2-3 in a row had a non-finite loss or gradient (train.max_bad_steps=2); "
        "the updates were skipped, so the weights are still those after step 1, which led there. Lower optim.lr "
        "(now 1e+30) or use model.dtype=fp32, then start over (checkpoint.resume=never)"]
    assert "Traceback" not in proc.stderr
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["train/nonfinite"], r["train/skipped_steps"]) for r in rows] == \
        [(1, 0.0, 0.0), (2, 1.0, 1.0), (3, 1.0, 2.0)]
    ckpts = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in ckpts.glob("step-*")) == ["step-000001"]
    state = torch.load(ckpts / "step-000001" / "mp_rank_00_model_states.pt", weights_only=False)
    assert all(torch.isfinite(t).all() for t in state["module"].values())
    assert math.isfinite(rows[0]["policy/grad_norm"]) and checkpoint.missing_files(ckpts / "step-000001") == []

"""The policy update and the GRPO loop on a CUDA GPU, one rank, the hf engine (opt-in: `pytest -m gpu`).

`benchmarks/gpu_check.py` runs these on a lent GPU machine. With R1ZERO_TEST_DEVICE=cpu (gpu_check.py --device
cpu) the same tests run on the CPU, which is how they are checked on a machine without a GPU.
"""
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gpu_models import QUICK, random_model

ROOT = Path(__file__).resolve().parents[1]
DEVICE = os.environ.get("R1ZERO_TEST_DEVICE", "cuda")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(random_model(tmp_path_factory.mktemp("gpu_tiny") / "model", QUICK))


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests"),
                                                               env.get("PYTHONPATH", "")]))
    return env


def _max_diff(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_policy_update_on_the_device(tiny, tmp_path):
    """One SGD step through DeepSpeed on the device: ZeRO 0, 1 and 3 and micro-batch 1 x 8 give the weights of
    micro-batch 8 x 1 (fp32); the reference model (beta > 0) and bf16 run there too."""
    out = tmp_path / "out.pt"
    specs = ["0:8", "0:1", "1:8", "3:8", "set:algo.beta=0.1", "0:8", "set:model.dtype=bf16", "2:8"]
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "dist_worker.py"), tiny, str(out), *specs],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    got = torch.load(out, weights_only=False)
    assert {r["device"].split(":")[0] for r in got.values()} == {DEVICE}
    ref = got["token_mean:0:8"]["state"]
    for key in ("token_mean:0:1", "token_mean:1:8", "token_mean:3:8"):
        assert _max_diff(got[key]["state"], ref) < 1e-5, key
    with_ref = got["algo.beta=0.1|token_mean:0:8"]
    assert math.isfinite(with_ref["metrics"]["loss/kl"])
    bf16 = got["algo.beta=0.1,model.dtype=bf16|token_mean:2:8"]
    assert all(math.isfinite(v) for v in bf16["metrics"].values())
    assert 0 < _max_diff(bf16["state"], ref) < 0.05  # bf16 rounding, not another update


def test_train_loop_on_the_device(tiny, tmp_path):
    """Two GRPO steps, hf engine, evaluation before and after, in this process: everything on the device."""
    from r1zero.config import load_config
    from r1zero.train import train

    cfg = load_config(None, [f"model.name={tiny}", "rollout.engine=hf", "data.train=addition", "data.chat=false",
                             "data.template=plain", "rollout.group_size=4", "train.prompts_per_step=4",
                             "train.micro_batch_size=8", "rollout.max_new_tokens=8", "eval.suites=addition_test",
                             "eval.limit=8", "eval.max_new_tokens=8", "rewards.names=synthetic_rewards:no_lowercase",
                             "rewards.workers=1", "train.steps=2", "optim.lr=1e-3", "log.wandb_mode=disabled",
                             f"log.output_dir={tmp_path}", "checkpoint.save_final=false",
                             "checkpoint.export_model=false"])
    sys.path.insert(0, str(ROOT / "tests"))
    result = train(cfg)
    from r1zero.tracking import read_metrics

    rows = [r for r in read_metrics(Path(result["metrics"])) if "reward/mean" in r]
    assert len(rows) == 2 and 0.0 <= result["eval_after"] <= 1.0
    for r in rows:
        assert all(v is not None and math.isfinite(v) for k, v in r.items() if isinstance(v, float)), r
    if DEVICE == "cuda":
        assert torch.cuda.max_memory_allocated() > 0

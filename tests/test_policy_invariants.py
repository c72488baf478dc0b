"""Gradient-accumulation and data-parallel invariants of the policy update, with the real DeepSpeed (gloo on CPU).

One SGD step (lr 0.5, no clipping) moves the weights by -lr * gradient, so equal weights after the step mean equal
gradients. The same fixed global batch of 8 sequences is used everywhere:
  - micro-batch 1 x accumulation 8 == micro-batch 8 x 1 (one rank), for every loss aggregation;
  - 2 ranks (ZeRO 1, 2, 3; micro-batch 2 x accumulation 2 each) == 1 rank.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from r1zero.models import build_tiny_model

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "dist_worker.py"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model"))


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return env


def _run(cmd: list[str], out: Path) -> dict:
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return torch.load(out, weights_only=False)


ENTROPY = "algo.entropy_coef=0.05"


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def _moved(a: dict, base: dict) -> float:
    return max(float((a[k] - base[k]).abs().max()) for k in a)


@pytest.fixture(scope="module")
def single_rank(tiny, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("single") / "out.pt"
    specs = []
    for agg in ("token_mean", "seq_mean", "constant"):
        specs += [f"agg={agg}", "0:8", "0:1"]
    specs += ["agg=token_mean", f"set:{ENTROPY}", "0:8"]  # last: a set: applies to every spec after it
    return _run([sys.executable, str(WORKER), tiny, str(out), *specs], out)


def test_micro_batch_accumulation_equals_full_batch(single_rank, tiny):
    from safetensors.torch import load_file

    base = {k: v.float() for k, v in load_file(Path(tiny) / "model.safetensors").items()}
    for agg in ("token_mean", "seq_mean", "constant"):
        full, accum = single_rank[f"{agg}:0:8"]["state"], single_rank[f"{agg}:0:1"]["state"]
        shared = {k: base[k] for k in full if k in base}
        assert _moved({k: full[k] for k in shared}, shared) > 1e-4, "the update did not move the weights"
        assert _max_diff(full, accum) < 1e-6, agg
        m_full, m_acc = single_rank[f"{agg}:0:8"]["metrics"], single_rank[f"{agg}:0:1"]["metrics"]
        assert m_full["policy/grad_norm"] == pytest.approx(m_acc["policy/grad_norm"], rel=1e-5)


def test_two_ranks_equal_one_rank_zero_1_2_3(single_rank, tiny, tmp_path):
    out = tmp_path / "out.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           str(WORKER), tiny, str(out), "1:2", "2:2", "3:2", f"set:{ENTROPY}", "3:2"]
    two = _run(cmd, out)
    ref = single_rank["token_mean:0:8"]["state"]
    for stage in (1, 2, 3):
        got = two[f"token_mean:{stage}:2"]["state"]
        assert _max_diff(got, ref) < 1e-6, f"ZeRO-{stage} with 2 ranks differs from 1 rank"
    # the entropy bonus's gradient (through the chunked head, under ZeRO-3's gathered parameters) as well
    with_entropy = single_rank[f"{ENTROPY}|token_mean:0:8"]["state"]
    assert _max_diff(with_entropy, ref) > 1e-6  # the bonus moved the weights differently
    assert _max_diff(two[f"{ENTROPY}|token_mean:3:2"]["state"], with_entropy) < 1e-6, "ZeRO-3 entropy bonus"


def test_rft_step_is_the_nll_gradient_of_the_accepted_completions(tiny, tmp_path):
    """algo.loss=rft (the grm/seal rejection fine-tuning stage): one SGD step through DeepSpeed equals a step on the
    token-mean negative log-likelihood of the accepted completions, computed here with plain transformers; and
    micro-batch 1 x 8 equals 8 x 1."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    sys.path.insert(0, str(ROOT / "tests"))
    from dist_worker import synthetic_rollouts

    out = tmp_path / "out.pt"
    got = _run([sys.executable, str(WORKER), tiny, str(out), "loss=rft", "0:8", "0:1"], out)
    full, accum = got["rft:token_mean:0:8"]["state"], got["rft:token_mean:0:1"]["state"]
    assert _max_diff(full, accum) < 1e-6

    rollouts, adv = synthetic_rollouts()
    assert 0 < int((adv > 0).sum()) < len(adv)  # some accepted, some rejected
    model = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
    nll, tokens = 0.0, 0
    for r, a in zip(rollouts, adv):
        if a <= 0:
            continue
        ids = torch.tensor([r.prompt_ids + r.completion_ids])
        logp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
        target = ids[0, 1:]
        lp = logp.gather(-1, target[:, None])[:, 0][len(r.prompt_ids) - 1:]
        nll = nll - lp.sum()
        tokens += len(r.completion_ids)
    (nll / tokens).backward()
    base = {k: v.float() for k, v in load_file(Path(tiny) / "model.safetensors").items()}
    expected = {n: base[n] - 0.5 * p.grad for n, p in model.named_parameters() if n in base and p.grad is not None}
    assert _moved({k: full[k] for k in expected}, {k: base[k] for k in expected}) > 1e-4
    assert _max_diff({k: full[k] for k in expected}, expected) < 1e-5


def test_rft_step_with_nothing_accepted_leaves_the_weights_alone(tiny, tmp_path):
    """After a step that moved the weights (Adam momentum is non-zero), an rft step with no accepted completion
    must not move them (it runs at lr 0)."""
    from safetensors.torch import load_file

    out = tmp_path / "out.pt"
    got = _run([sys.executable, str(WORKER), tiny, str(out), "rft_empty"], out)["rft_empty"]
    base = {k: v.float() for k, v in load_file(Path(tiny) / "model.safetensors").items()}
    first = got["after_accepted"]
    assert _moved({k: first[k] for k in base if k in first}, {k: base[k] for k in base if k in first}) > 1e-4
    assert _max_diff(got["after_empty"], first) == 0.0

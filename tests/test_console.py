"""The console a person reads: r1zero's own lines, the progress bar and the JSON summary; the libraries' logs only
with log.verbose / R1ZERO_VERBOSE. And the weights reach vLLM in the dtype it runs (no cast warnings)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from r1zero.models import build_tiny_model

ROOT = Path(__file__).resolve().parents[1]
NOISE = ["Attempted to load weight", " INFO ", "WARNING", "wandb:", "Weave", "Exception ignored", "Traceback",
         "FutureWarning", "MEMBIND", "Loading safetensors", "Loading weights", "built successfully", "MA ",
         "Triton", "Writing model shards"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    # saved in fp32, run by vLLM in bf16: the case that printed a cast warning per tensor
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden=128, layers=2, heads=2))


def cli(args: list[str], env_extra: dict | None = None, timeout: int = 900) -> tuple[str, list[str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT",
                                                            "WANDB_SILENT", "R1ZERO_VERBOSE", "R1ZERO_DEBUG")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), **(env_extra or {}))
    env.pop("WANDB_API_KEY", None)
    proc = subprocess.run([sys.executable, "-m", "r1zero.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    return proc.stdout.strip().splitlines()[-1], lines


ENGINE_SCRIPT = """
import sys, torch
from transformers import AutoModelForCausalLM
from r1zero.config import RolloutConfig
from r1zero.rollout.base import SamplingParams
from r1zero.rollout.vllm import VLLMEngine
engine = VLLMEngine(sys.argv[1], RolloutConfig(cpu_kvcache_gib=1, vllm_dtype="bf16"), max_model_len=128)
greedy = SamplingParams(max_new_tokens=6, greedy=True)
before = engine.generate([[1, 2, 3]], n=1, sampling=greedy)[0].completion_ids
engine.load_weights(AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32).named_parameters())
assert engine.generate([[1, 2, 3]], n=1, sampling=greedy)[0].completion_ids == before  # the same weights
engine.close()
print("ENGINE OK")
"""


def test_engine_gets_weights_in_its_dtype(tiny):
    """An fp32 checkpoint into a bf16 engine, then a sync from an fp32 trainer: vLLM is handed bf16 tensors, so it
    never warns "Attempted to load weight ... float32 into parameter with dtype torch.bfloat16" (it did, once per
    tensor of the model at start and again at every sync). vLLM's own WARNING lines are on here, so they would show."""
    env = {**os.environ, "VLLM_LOGGING_LEVEL": "WARNING", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", ENGINE_SCRIPT, tiny], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "ENGINE OK" in out, out[-4000:]
    assert "WARNING" in out  # vLLM's warnings do reach this output (e.g. "libtcmalloc is not found")
    assert "Attempted to load weight" not in out, [line for line in out.splitlines() if "Attempted" in line][:3]


def test_train_prints_what_a_person_reads(tiny, tmp_path):
    from r1zero.rollout.vllm import engine_dtype  # auto: bfloat16 where bf16 is native, else float32

    last, lines = cli(["train", f"model.name={tiny}", "model.dtype=fp32", "rollout.engine=vllm",
                       "rollout.cpu_kvcache_gib=1", "data.chat=false", "rollout.group_size=2",
                       "train.prompts_per_step=2", "train.micro_batch_size=4", "rollout.max_new_tokens=4",
                       "train.steps=1", "eval.limit=4", "eval.max_new_tokens=4", "rewards.workers=1",
                       f"log.output_dir={tmp_path}", "log.run_name=quiet", "log.wandb_mode=offline",
                       "checkpoint.save_final=false"])
    noisy = [line for line in lines if any(n in line for n in NOISE)]
    assert not noisy, noisy
    assert len(lines) <= 20, lines
    text = "\n".join(lines)
    for said in ("[r1zero] run: ", "[r1zero] model: ", "[r1zero] task: addition_small (241 problems)",
                 f"rollouts: vllm ({engine_dtype('auto')})",
                 "[r1zero] held out, before training: addition_small_test: accuracy",
                 "[r1zero] held out, after 1 step:", "(before ", "grpo: 100%", "s_step=", "[r1zero] plots: ",
                 "[r1zero] W&B: offline run in ", "wandb sync"):
        assert said in text, said
    result = json.loads(last)
    run = Path(result["run_dir"])
    for png in ("reward_curve.png", "length_curve.png", "step_time.png"):
        assert (run / png).stat().st_size > 1000, png
    assert set(result["plots"]) == {"reward_curve", "length_curve", "step_time"}


def test_verbose_brings_the_library_logs_back(tiny, tmp_path):
    args = ["eval", "--model", tiny, "--limit", "2", "--max-new-tokens", "4", "--wandb", "disabled",
            "data.chat=false", "rollout.cpu_kvcache_gib=1", "rewards.workers=1"]
    _, quiet = cli(args + ["--out", str(tmp_path / "q")])
    assert not [line for line in quiet if any(n in line for n in NOISE)], quiet
    assert len(quiet) <= 5, quiet
    _, loud = cli(args + ["--out", str(tmp_path / "v")], {"R1ZERO_VERBOSE": "1"})
    assert any(" INFO " in line and "vllm" in line.lower() or "[core.py" in line for line in loud)
    assert len(loud) > len(quiet) + 10

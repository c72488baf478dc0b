"""Rollouts from vLLM servers in other processes or on other nodes, and weight updates pushed to them over HTTP.

Server (one per node / GPU group; it wraps `VLLMEngine`, so it generates and loads weights exactly as the
in-process engine does):

    python -m r1zero.rollout.server --model DIR --port 8000 [--host 0.0.0.0] [--max-model-len 2048]

Client (an `Engine`): `ServerEngine(["http://node2:8000", "http://node3:8000"])`. `generate` splits the prompts
into contiguous chunks, one per server, run in parallel, and reassembles them in order. `load_weights` streams
the trainer's tensors in buckets: each bucket is encoded once in the safetensors format (cast to the server's
dtype, which halves the bytes for an fp32 trainer and rounds exactly as the server's own cast would) and posted
to every server; a server applies it with `VLLMEngine.update_weights`, and the update is checked for
completeness at the end. Extra memory on the trainer side: one encoded bucket.

Transport: HTTP on loopback or the cluster network; it works everywhere (CPU tests included). On GPU clusters
the fast path is NCCL from the trainer's GPUs straight into the servers' (vLLM's `NCCLWeightTransferEngine`,
`vllm serve --weight-transfer-config '{"backend": "nccl"}'`); `ServerEngine(transport="nccl")` is not
implemented yet and says so.

Protocol (JSON unless noted): GET /health; POST /generate, /prompt_logprobs, /weights/begin,
/weights/bucket (body: safetensors bytes), /weights/finish, /sleep, /wake_up. Errors come back as
`{"error": ...}` with a 4xx/5xx status and are raised by the client as `ServerError` naming the server.
No pickle: only JSON and safetensors cross the wire.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import struct
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterable, Iterator

import torch

from r1zero.rollout.base import Rollout, SamplingParams
from r1zero.rollout.sync import WeightSyncError, iter_buckets

DEFAULT_BUCKET_BYTES = 256 * 2 ** 20
_ST_DTYPES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.float64: "F64",
              torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
              torch.bool: "BOOL"}


class ServerError(RuntimeError):
    """A rollout server is unreachable, timed out, or failed a request (the message names it)."""


# ------------------------------------------------------------------------------------------ wire format


def encode_safetensors(tensors: list[tuple[str, torch.Tensor]]) -> list[bytes]:
    """The safetensors file for `tensors`, as chunks (header first): one copy of the data, no join."""
    header, chunks, offset = {}, [], 0
    for name, t in tensors:
        t = t.detach().to("cpu").contiguous()
        data = t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # the format aligns the data on 8 bytes
    return [struct.pack("<Q", len(head)), head, *chunks]


def decode_safetensors(body: bytes) -> list[tuple[str, torch.Tensor]]:
    from safetensors.torch import load

    return list(load(body).items())


# ---------------------------------------------------------------------------------------------- client


class ServerEngine:
    """An `Engine` backed by one or more rollout servers (see the module docstring)."""

    def __init__(self, urls: list[str], timeout_s: float = 600.0, bucket_bytes: int = DEFAULT_BUCKET_BYTES,
                 transport: str = "http"):
        if transport != "http":
            raise NotImplementedError(f"transport={transport!r}: only HTTP weight transfer is implemented. For NCCL "
                                      "on GPU clusters use vLLM's NCCLWeightTransferEngine (vllm serve "
                                      "--weight-transfer-config '{\"backend\": \"nccl\"}')")
        if not urls:
            raise ValueError("ServerEngine needs at least one server URL (rollout.servers)")
        self.urls = [u.rstrip("/") for u in urls]
        self.timeout_s = timeout_s
        self.bucket_bytes = bucket_bytes
        self.info = self._all("GET", "/health")  # fails early, naming the server, if one is down
        self._pool = ThreadPoolExecutor(max_workers=len(self.urls))

    # ----------------------------------------------------------------------------------------- transport
    def _call(self, url: str, method: str, path: str, payload=None, body: Iterable[bytes] | None = None):
        headers = {}
        data = None
        if payload is not None:
            data, headers["Content-Type"] = json.dumps(payload).encode(), "application/json"
        elif body is not None:
            chunks = list(body)
            data, headers["Content-Type"] = chunks, "application/octet-stream"
            headers["Content-Length"] = str(sum(len(c) for c in chunks))
        req = urllib.request.Request(url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            try:
                detail = json.loads(detail)["error"]
            except (ValueError, KeyError):
                pass
            raise ServerError(f"rollout server {url} failed {method} {path} (HTTP {e.code}): {detail}") from e
        except (socket.timeout, TimeoutError) as e:
            raise ServerError(f"rollout server {url} did not answer {method} {path} within {self.timeout_s}s") from e
        except (urllib.error.URLError, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            raise ServerError(f"rollout server {url} is unreachable ({reason}): start it with `python -m "
                              f"r1zero.rollout.server --model DIR --port PORT` there, or fix rollout.servers") from e

    def _all(self, method: str, path: str, payload=None, body=None) -> list:
        if len(self.urls) == 1 or not hasattr(self, "_pool"):
            return [self._call(u, method, path, payload, body) for u in self.urls]
        futures = [self._pool.submit(self._call, u, method, path, payload, body) for u in self.urls]
        return [f.result() for f in futures]

    def _split(self, n_items: int) -> list[tuple[str, int, int]]:
        """Contiguous (url, start, end) chunks, sizes differing by at most one; empty chunks dropped."""
        k = len(self.urls)
        bounds = [n_items * i // k for i in range(k + 1)]
        return [(u, bounds[i], bounds[i + 1]) for i, u in enumerate(self.urls) if bounds[i + 1] > bounds[i]]

    def _scatter(self, path: str, payload_fn, n_items: int) -> list[tuple[int, dict]]:
        parts = self._split(n_items)
        futures = [self._pool.submit(self._call, u, "POST", path, payload_fn(a, b)) for u, a, b in parts]
        return [(a, f.result()) for (_, a, _), f in zip(parts, futures)]

    # ------------------------------------------------------------------------------------------- engine
    def generate(self, prompts: list[list[int]], n: int, sampling: SamplingParams) -> list[Rollout]:
        s = dataclasses.asdict(sampling)
        out: list[Rollout] = []
        for start, res in self._scatter("/generate", lambda a, b: {"prompts": prompts[a:b], "n": n, "sampling": s},
                                        len(prompts)):
            for r in res["rollouts"]:
                r["prompt_index"] += start
                out.append(Rollout(**r))
        return out

    def prompt_logprobs(self, prompt_ids: list[list[int]], completion_ids: list[list[int]]) -> list[list[float]]:
        if len(prompt_ids) != len(completion_ids):
            raise ValueError(f"{len(prompt_ids)} prompts but {len(completion_ids)} completions")
        out: list[list[float]] = []
        for _, res in self._scatter("/prompt_logprobs", lambda a, b: {"prompt_ids": prompt_ids[a:b],
                                                                      "completion_ids": completion_ids[a:b]},
                                    len(prompt_ids)):
            out.extend(res["logprobs"])
        return out

    def load_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Push every weight to every server, one safetensors bucket per request (see module docstring)."""
        dtype = getattr(torch, self.info[0].get("dtype", "float32"))
        self._all("POST", "/weights/begin", {})
        for bucket in iter_buckets(_cast(named_tensors, dtype), self.bucket_bytes):
            self._all("POST", "/weights/bucket", body=encode_safetensors(bucket))
        self.info = [{**i, **r} for i, r in zip(self.info, self._all("POST", "/weights/finish", {}))]

    def sleep(self) -> None:
        self._all("POST", "/sleep", {})

    def wake_up(self) -> None:
        self._all("POST", "/wake_up", {})


def _cast(named_tensors, dtype: torch.dtype) -> Iterator[tuple[str, torch.Tensor]]:
    """Floating tensors in the server's dtype; the cast also copies, so the caller's tensors may be freed."""
    for name, t in named_tensors:
        t = t.detach()
        yield name, (t.to(dtype, copy=True) if t.is_floating_point() else t.clone())


# ---------------------------------------------------------------------------------------------- server


class _Handler(BaseHTTPRequestHandler):
    engine = None  # VLLMEngine, set by serve()
    lock = threading.Lock()  # one engine call at a time; /health answers without it
    model = ""

    def log_message(self, fmt, *args):  # quiet: one line per request is noise in training logs
        pass

    def _reply(self, status: int, obj) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path != "/health":
            return self._reply(404, {"error": f"no GET {self.path}"})
        e = self.engine
        self._reply(200, {"ok": True, "model": self.model, "weight_version": e.weight_version,
                          "dtype": str(e.llm.llm_engine.model_config.dtype).replace("torch.", ""),
                          "busy": self.lock.locked()})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        route = _ROUTES.get(self.path)
        if route is None:
            return self._reply(404, {"error": f"no POST {self.path}"})
        try:
            with self.lock:
                result = route(self.engine, body)
        except (WeightSyncError, ValueError, TypeError, KeyError) as e:
            return self._reply(400 if not isinstance(e, WeightSyncError) else 409,
                               {"error": f"{type(e).__name__}: {e}"})
        except Exception as e:  # noqa: BLE001 - reported to the client, which raises it
            return self._reply(500, {"error": f"{type(e).__name__}: {e}"})
        self._reply(200, result)


def _generate(engine, body: bytes) -> dict:
    req = json.loads(body)
    rollouts = engine.generate(req["prompts"], int(req["n"]), SamplingParams(**req["sampling"]))
    return {"rollouts": [dataclasses.asdict(r) for r in rollouts]}


def _prompt_logprobs(engine, body: bytes) -> dict:
    req = json.loads(body)
    return {"logprobs": engine.prompt_logprobs(req["prompt_ids"], req["completion_ids"])}


def _finish(engine, _body: bytes) -> dict:
    engine.finish_weight_update()
    return {"weight_version": engine.weight_version}


_ROUTES = {
    "/generate": _generate,
    "/prompt_logprobs": _prompt_logprobs,
    "/weights/begin": lambda engine, _: engine.begin_weight_update() or {},
    "/weights/bucket": lambda engine, body: engine.update_weights(decode_safetensors(body)) or {},
    "/weights/finish": _finish,
    "/sleep": lambda engine, _: engine.sleep() or {},
    "/wake_up": lambda engine, _: engine.wake_up() or {},
}


def serve(engine, host: str, port: int, model: str = "") -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"engine": engine, "model": model, "lock": threading.Lock()})
    return ThreadingHTTPServer((host, port), handler)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="r1zero rollout server: a vLLM engine behind HTTP")
    ap.add_argument("--model", required=True, help="model directory (or hub id / embedded name)")
    ap.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to serve other nodes")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-model-len", type=int, default=2048)
    ap.add_argument("--dtype", default="auto", help="rollout.vllm_dtype")
    ap.add_argument("--kvcache-gib", type=float, default=2.0, help="CPU KV cache (rollout.cpu_kvcache_gib)")
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    ap.add_argument("--tensor-parallel-size", type=int, default=1)
    ap.add_argument("--pack-cpu-weights", action="store_true")
    args = ap.parse_args(argv)

    from r1zero.config import RolloutConfig
    from r1zero.models import resolve_model
    from r1zero.rollout.vllm import VLLMEngine

    cfg = RolloutConfig(vllm_dtype=args.dtype, cpu_kvcache_gib=args.kvcache_gib,
                        gpu_memory_utilization=args.gpu_memory_utilization,
                        tensor_parallel_size=args.tensor_parallel_size)
    path = resolve_model(args.model)
    engine = VLLMEngine(path, cfg, seed=args.seed, max_model_len=args.max_model_len,
                        pack_cpu_weights=args.pack_cpu_weights)
    httpd = serve(engine, args.host, args.port, model=path)
    print(f"[r1zero] rollout server ready on http://{args.host}:{httpd.server_port} ({path})", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()

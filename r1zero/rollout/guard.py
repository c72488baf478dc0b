"""Access control and weight-update safety for a `vllm serve` rollout server (an ASGI middleware).

    R1ZERO_API_KEY_FILE=KEYFILE VLLM_SERVER_DEV_MODE=1 vllm serve MODEL --middleware r1zero.rollout.guard.Guard ...

vLLM's RL router is only mounted with `VLLM_SERVER_DEV_MODE=1`, which also mounts its development routes
(`/collective_rpc`, `/sleep`, ...), and vLLM's `--api-key` guards only `/v1/...`. The guard closes that:

| what             | rule                                                                                        |
|------------------|---------------------------------------------------------------------------------------------|
| key              | every route but `GET /health` needs `Authorization: Bearer <key>`, compared in constant     |
|                  | time, else 401. Key: the file `R1ZERO_API_KEY_FILE`, else `R1ZERO_API_KEY`, else            |
|                  | `VLLM_API_KEY`; none: the server does not start                                              |
| routes           | an allowlist (`ROUTES`): completions, the RL router's weight routes, server info, metrics;  |
|                  | anything else (the development routes) is 404                                               |
| bodies           | at most `MAX_BODY_BYTES` (413); read before the app sees them                                |
| errors           | vLLM's worker RPC turns every exception into a 500: client errors (`r1zero-transfer 4xx:`   |
|                  | from tcp_engine, vLLM's out-of-order messages) are answered with their 4xx                  |
| abandoned update | a weight session (from `/pause` or `/start_weight_update` until `/resume` and                |
|                  | `/finish_weight_update`) idle for `R1ZERO_WEIGHT_UPDATE_TIMEOUT_S` (300) is ended: the open  |
|                  | update is aborted (r1zero_tcp: the last complete weights keep serving; nccl: untouched        |
|                  | layers are put back) and generation resumes                                                 |
| mixed weights    | after a partial update was loaded (a 422 from tcp_engine, or an abandoned nccl update that   |
|                  | had received chunks) completions answer 409 until a complete update finishes                 |
| caches           | the prefix cache is reset after every finished update (its KV came from the old weights)     |

Weight routes run one at a time (an asyncio lock), so the session state here follows the worker's. One guard per
API server process: run rollout servers with the default single API server.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
from http import HTTPStatus
from pathlib import Path

logger = logging.getLogger("vllm.r1zero.guard")  # vLLM configures the "vllm" logger tree
MAX_BODY_BYTES = 64 * 2 ** 20
PUBLIC = {("GET", "/health")}  # liveness probes (the launcher's) need no key
WEIGHT_ROUTES = {"/pause", "/resume", "/init_weight_transfer_engine", "/shutdown_weight_transfer_engine",
                 "/start_weight_update", "/update_weights", "/finish_weight_update", "/update_weight_version"}
ROUTES = {("POST", "/v1/completions"), ("GET", "/v1/models"), ("GET", "/server_info"), ("GET", "/metrics"),
          ("GET", "/version"), ("GET", "/is_paused"), ("GET", "/weight_info"), ("GET", "/get_world_size"),
          ("POST", "/weight_checker"), *(("POST", p) for p in WEIGHT_ROUTES)}
TAG = re.compile(r"r1zero-transfer (4\d\d): ")
CONFLICTS = ("start_weight_update must be called before", "is already active", "without a matching start_weight",
             "Weight transfer not configured", "during a weight update", "does not support draft model")


def load_key() -> str:
    path = os.environ.get("R1ZERO_API_KEY_FILE")
    key = Path(path).read_text().strip() if path else os.environ.get("R1ZERO_API_KEY") or \
        os.environ.get("VLLM_API_KEY", "")
    if not key:
        raise RuntimeError("r1zero guard: no API key. Set R1ZERO_API_KEY_FILE (a file holding the key), "
                           "R1ZERO_API_KEY or VLLM_API_KEY for this server, and give the trainer the same key")
    return key


async def reply(send, status: int, message: str) -> None:
    body = json.dumps({"error": {"message": message, "type": HTTPStatus(status).phrase, "code": status}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def error_message(body: bytes) -> str:
    try:
        err = json.loads(body)
        err = err.get("error", err.get("detail", err)) if isinstance(err, dict) else err
        return str(err.get("message", err) if isinstance(err, dict) else err)
    except ValueError:
        return body.decode(errors="replace")


def worker_message(message: str) -> str:
    """The worker's own words, without vLLM's RPC wrapping around them."""
    inner = re.search(r"Worker failed with error '(.*)', please check", message, re.S)
    return inner.group(1) if inner else message


def client_status(status: int, message: str) -> int:
    """The 4xx a worker-side client error deserves (vLLM answers it with 500), else `status`."""
    if status < 500:
        return status
    tagged = TAG.search(message)
    if tagged:
        return int(tagged.group(1))
    return 409 if any(c in message for c in CONFLICTS) else status


class Guard:
    """See the module docstring. vLLM adds it with `app.add_middleware(Guard)` (`--middleware`)."""

    def __init__(self, app):
        self.app = app
        self.key_hash = hashlib.sha256(load_key().encode()).digest()
        self.timeout_s = float(os.environ.get("R1ZERO_WEIGHT_UPDATE_TIMEOUT_S", "300"))
        self.lock: asyncio.Lock | None = None
        self.paused = self.active = self.received = self.mixed = False
        self.generation = 0  # bumped by every weight call: a watchdog armed before it is stale
        self.timer: asyncio.TimerHandle | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        if scope["type"] != "http":
            return await send({"type": "websocket.close", "code": 1008})
        method, path = scope["method"], scope["path"].removeprefix(scope.get("root_path", ""))
        if (method, path) in PUBLIC:
            return await self.app(scope, receive, send)
        if not self.authorized(scope):
            return await reply(send, 401, "missing or wrong API key (Authorization: Bearer <key>)")
        if (method, path) not in ROUTES:
            return await reply(send, 404, f"no {method} {path} on this rollout server")
        body = await read_body(scope, receive)
        if isinstance(body, int):
            return await reply(send, body, "request body too large" if body == 413 else "bad Content-Length")
        replay = replay_receive(body, receive)
        if path in WEIGHT_ROUTES:
            return await self.weight_call(scope, replay, send, path)
        if self.mixed and path == "/v1/completions":
            return await reply(send, 409, "the weights are a mix of two versions (a partial update was loaded): "
                                          "finish a complete weight update first")
        return await self.app(scope, replay, send)

    def authorized(self, scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                return scheme.lower() == "bearer" and hmac.compare_digest(
                    hashlib.sha256(token.strip().encode()).digest(), self.key_hash)
        return False

    # --------------------------------------------------------------------------------- weight sessions
    async def weight_call(self, scope, receive, send, path: str) -> None:
        if self.lock is None:
            self.lock = asyncio.Lock()
        async with self.lock:
            engine = scope["app"].state.engine_client
            refused = self.out_of_order(path)
            if refused:
                status = new = 409
                message = refused
            else:
                status, headers, body = await capture(self.app, scope, receive)
                message = worker_message(error_message(body)) if status >= 400 else ""
                new = client_status(status, message)
                await self.track(engine, path, status, new)
            self.arm(engine)
        if new != status or refused:
            return await reply(send, new, message)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def out_of_order(self, path: str) -> str:
        """Why `path` cannot run in this session state (answered here, before it reaches the worker)."""
        if path == "/start_weight_update" and self.active:
            return "a weight update is already open: finish it (or wait for it to time out)"
        if path in ("/update_weights", "/finish_weight_update") and not self.active:
            return f"{path} outside a weight update: call /start_weight_update first"
        return ""

    async def track(self, engine, path: str, status: int, new: int) -> None:
        """Follow the worker's session state. `status` >= 500: the call reached the worker and failed there."""
        ok = status == 200
        if path == "/pause" and ok:
            self.paused = True
        elif path == "/resume" and ok:
            self.paused = False
        elif path == "/start_weight_update" and ok:
            self.active, self.received = True, False
        elif path == "/update_weights":
            self.received = self.received or ok
            self.active = self.active and status < 500  # vLLM's worker closes the update when a chunk fails
        elif path == "/finish_weight_update" and ok:
            self.active, self.mixed = False, False
            await engine.reset_prefix_cache()
        elif path == "/finish_weight_update" and status >= 500:  # the worker still holds the update open
            self.mixed = self.mixed or new == 422
            self.active = False
            await self.abort(engine)

    def arm(self, engine) -> None:
        self.generation += 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.paused or self.active:
            gen = self.generation
            self.timer = asyncio.get_running_loop().call_later(
                self.timeout_s, lambda: asyncio.ensure_future(self.expire(engine, gen)))

    async def expire(self, engine, gen: int) -> None:
        async with self.lock:
            if gen != self.generation or not (self.paused or self.active):
                return
            logger.warning("r1zero guard: weight session idle for %.0fs (update open: %s, generation paused: %s): "
                           "aborting it and resuming generation", self.timeout_s, self.active, self.paused)
            if self.active:
                self.active = False
                await self.abort(engine)
            if self.paused:
                self.paused = False
                await engine.resume_generation()
            self.generation += 1

    async def abort(self, engine) -> None:
        """End the worker's open update without loading anything new (see the module docstring)."""
        from vllm.distributed.weight_transfer.base import WeightTransferUpdateRequest

        cfg = engine.vllm_config.weight_transfer_config
        try:
            if cfg is not None and cfg.backend == "r1zero_tcp":
                from r1zero.rollout.wire import ABORT_KEY

                # the engine drops its staging and raises, and vLLM's worker closes the update on an error
                await engine.update_weights(WeightTransferUpdateRequest(update_info={ABORT_KEY: True}))
            else:  # vLLM's own engines load in place: finishing puts the untouched layers back
                await engine.finish_weight_update()
                self.mixed = self.mixed or self.received
        except Exception as e:  # noqa: BLE001 - the expected outcome of the r1zero_tcp abort
            logger.info("r1zero guard: open weight update ended (%s)", str(e)[:200])


async def read_body(scope, receive) -> bytes | int:
    """The whole request body, or the status to refuse it with."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            if not value.isdigit():
                return 400
            if int(value) > MAX_BODY_BYTES:
                return 413
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_BODY_BYTES:
            return 413
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def replay_receive(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # the disconnect, for handlers that watch for it
    return replay


async def capture(app, scope, receive) -> tuple[int, list, bytes]:
    """Run `app` and keep its whole response (weight routes answer small JSON)."""
    status, headers, chunks = 500, [], []

    async def send(message):
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], message.get("headers", [])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
    try:
        await app(scope, receive, send)
    except Exception as e:  # noqa: BLE001 - vLLM's catch-all handler sits outside this middleware
        if not TAG.search(str(e)):
            logger.exception("r1zero guard: %s %s failed", scope["method"], scope["path"])
        body = json.dumps({"error": {"message": str(e), "type": "Internal Server Error", "code": 500}}).encode()
        return 500, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())], body
    return status, headers, b"".join(chunks)

"""The data plane of a weight update to `vllm serve` rollout servers: the trainer's side of each transport.

The control plane is vLLM's RL router (`/init_weight_transfer_engine`, `/start_weight_update`, `/update_weights`,
`/finish_weight_update`, driven by `server.ServerEngine`); the tensors travel beside it. Two transports, one per
server backend (`vllm serve --weight-transfer-config '{"backend": ...}'`):

| backend      | where       | trainer side (here)                              | server side                          |
|--------------|-------------|--------------------------------------------------|--------------------------------------|
| `r1zero_tcp` | CPU, tests  | `TCPSender`: one authenticated TCP connection    | `tcp_engine.TCPWeightTransferEngine` |
|              |             | per server, raw tensor bytes in framed chunks    | (registered by our plugin)           |
| `nccl`       | GPUs        | `NCCLSender`: one vLLM NCCL group, the trainer   | vLLM's `NCCLWeightTransferEngine`    |
|              |             | at rank 0, every server's workers after it       |                                      |

Both follow vLLM's NCCL pattern: the trainer is the rendezvous point (it listens, the servers' workers connect
while `/init_weight_transfer_engine` is in flight), and each `/update_weights` call (a bucket's names, dtypes and
shapes) runs concurrently with the bytes of that bucket, sent once per server (TCP) or broadcast (NCCL).

TCP frame, per `/update_weights` call: header `<8sQQ` = (MAGIC, seq, nbytes), then every tensor's bytes in the
order of the call's `names` (C order, the dtype of `dtype_names`). `seq` counts the calls on one connection, so a
server that missed a call (or got a stale one) sees a desync instead of loading shifted bytes. The connection is
authenticated by a per-server random token the trainer hands over in the (API-key protected) init call; the
trainer drops any connection that does not present one of its tokens.
"""
from __future__ import annotations

import hmac
import secrets
import select
import socket
import struct
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import torch

MAGIC = b"R1ZW\x00\x00\x00\x01"
HEADER = struct.Struct("<8sQQ")
TOKEN_BYTES = 16  # sent as 32 hex characters
ACK = b"\x06"
ABORT_KEY = "r1zero_abort"  # update_info {ABORT_KEY: true}: the server drops its open update (guard, client)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "float64": torch.float64,
          "int64": torch.int64, "int32": torch.int32, "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8,
          "bool": torch.bool}


class TransportError(RuntimeError):
    """The data connection to a server failed (the message names the server)."""


class Client(Protocol):
    """What a sender needs of one server (server._Server): its URL and authenticated JSON calls."""

    url: str

    def post(self, path: str, payload: dict | None = None, timeout: float | None = None): ...

    def get(self, path: str, params: dict | None = None): ...


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def byte_view(t: torch.Tensor) -> memoryview:
    """The bytes of a contiguous tensor, without a copy (also for bf16, which numpy has no type for)."""
    if t.numel() == 0:
        return memoryview(b"")
    return memoryview(t.reshape(-1).view(torch.uint8).numpy())


def recv_exact(sock: socket.socket, view: memoryview) -> None:
    """Fill `view` from `sock`; ConnectionError if the peer closes first (timeouts raise socket.timeout)."""
    got = 0
    while got < len(view):
        n = sock.recv_into(view[got:], len(view) - got)
        if n == 0:
            raise ConnectionError(f"the peer closed the connection after {got} of {len(view)} bytes")
        got += n


def routing_address(url: str) -> str:
    """This machine's address on the route to `url`'s host: where that server can reach us back. Connecting a UDP
    socket sends nothing; it only asks the kernel which interface it would use (loopback for 127.0.0.1)."""
    host = urllib.parse.urlsplit(url).hostname or "127.0.0.1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((socket.gethostbyname(host), 9))
        return s.getsockname()[0]


def bucket_meta(bucket: list[tuple[str, torch.Tensor]]) -> dict:
    return {"names": [n for n, _ in bucket], "dtype_names": [dtype_name(t.dtype) for _, t in bucket],
            "shapes": [list(t.shape) for _, t in bucket]}


class _Fanout:
    """Runs one call per server in parallel and raises the first failure (every call is awaited first)."""

    def __init__(self, n: int):
        self.pool = ThreadPoolExecutor(max_workers=max(2, 2 * n), thread_name_prefix="r1zero-wire")

    def run(self, calls) -> list:
        futures = [self.pool.submit(fn, *args) for fn, *args in calls]
        errors = [f.exception() for f in futures]
        for e in errors:
            if e is not None:
                raise e
        return [f.result() for f in futures]


class TCPSender:
    """Trainer side of `r1zero_tcp`: listens on the address the servers route to, hands each server a token in
    `/init_weight_transfer_engine`, and keeps the one connection that presents it."""

    backend = "r1zero_tcp"

    def __init__(self, clients: list[Client], timeout_s: float):
        self.clients, self.timeout_s = clients, timeout_s
        self.fanout = _Fanout(len(clients))
        host = routing_address(clients[0].url)
        tokens = {secrets.token_hex(TOKEN_BYTES): c for c in clients}
        self.socks: dict[str, socket.socket] = {}
        self.seq = 0
        with socket.create_server((host, 0)) as listener:
            listener.settimeout(timeout_s)
            port = listener.getsockname()[1]
            inits = [self.fanout.pool.submit(c.post, "/init_weight_transfer_engine", {"init_info": {
                "host": host, "port": port, "token": tok, "timeout_s": timeout_s}}) for tok, c in tokens.items()]
            try:
                self._accept(listener, tokens, inits)
            except BaseException:
                self.close()
                raise
        for f in inits:
            f.result()  # the server side's own verdict (its errors name the server)

    def _accept(self, listener: socket.socket, tokens: dict, inits) -> None:
        deadline = time.monotonic() + self.timeout_s
        while len(self.socks) < len(tokens):
            failed = [f for f in inits if f.done() and f.exception() is not None]
            if failed:
                failed[0].result()
            listener.settimeout(max(0.1, min(1.0, deadline - time.monotonic())))
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                if time.monotonic() > deadline:
                    missing = [c.url for t, c in tokens.items() if c.url not in self.socks]
                    raise TransportError(f"rollout servers {missing} did not open their weight connection to "
                                         f"{listener.getsockname()} within {self.timeout_s:.0f}s (a firewall, or a "
                                         f"server that cannot route to this address)") from None
                continue
            conn.settimeout(self.timeout_s)
            try:
                hello = bytearray(2 * TOKEN_BYTES)
                recv_exact(conn, memoryview(hello))
                client = next((c for t, c in tokens.items() if hmac.compare_digest(t.encode(), bytes(hello))), None)
            except (OSError, ConnectionError):
                client = None
            if client is None or client.url in self.socks:
                conn.close()  # not one of ours: say nothing
                continue
            conn.sendall(ACK)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socks[client.url] = conn

    def send(self, bucket: list[tuple[str, torch.Tensor]]) -> None:
        """One `/update_weights` call per server with the bucket's metadata, and its bytes on the connection."""
        meta = {**bucket_meta(bucket), "seq": self.seq}
        self.seq += 1
        header = HEADER.pack(MAGIC, meta["seq"], sum(t.numel() * t.element_size() for _, t in bucket))
        views = [byte_view(t) for _, t in bucket]
        calls = []
        for c in self.clients:
            calls.append((self._post_update, c, meta))
            calls.append((self._write, c.url, header, views))
        self.fanout.run(calls)

    def _post_update(self, client: Client, meta: dict) -> None:
        try:
            client.post("/update_weights", {"update_info": meta})
        except BaseException:
            self._drop(client.url)  # unblocks our writer if the server will never read
            raise

    def _write(self, url: str, header: bytes, views: list[memoryview]) -> None:
        sock = self.socks.get(url)
        if sock is None:
            raise TransportError(f"the weight connection to rollout server {url} is closed (an earlier update failed)")
        try:
            sock.sendall(header)
            for v in views:
                sock.sendall(v)
        except OSError as e:
            self._drop(url)
            raise TransportError(f"sending weights to rollout server {url} failed: {type(e).__name__}: {e}") from e

    def _drop(self, url: str) -> None:
        sock = self.socks.pop(url, None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    @property
    def broken(self) -> bool:
        """A connection is gone: dropped after a failure, or closed by its server (restarted, or re-initialized by
        another trainer, which displaces this one). Then the caller opens new ones."""
        for url, sock in list(self.socks.items()):
            try:  # between updates a server sends nothing: readable means closed (or garbage)
                readable = select.select([sock], [], [], 0)[0]
                closed = bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                closed = True
            if closed or readable:
                self._drop(url)
        return len(self.socks) < len(self.clients)

    def close(self) -> None:
        for url in list(self.socks):
            self._drop(url)
        self.fanout.pool.shutdown(wait=False)


class NCCLSender:
    """Trainer side of vLLM's `nccl` backend for several servers: one NCCL group, the trainer at rank 0 and server
    k's workers at ranks 1 + (world sizes of servers 0..k-1); a bucket is broadcast once and reaches them all.
    Uses vLLM's own rendezvous and packed broadcast (`nccl_common`, `packed_tensor`). Needs the trainer's tensors
    on a CUDA device. Not exercised by the CPU tests (no GPU there)."""

    backend = "nccl"

    def __init__(self, clients: list[Client], timeout_s: float):
        from vllm.distributed.weight_transfer.nccl_common import (NCCLWeightTransferInitInfo, trainer_init,
                                                                  worker_init_payload)
        from vllm.utils.network_utils import get_open_port

        self.clients, self.fanout = clients, _Fanout(len(clients))
        sizes = [int(c.get("/get_world_size")["world_size"]) for c in clients]
        host, port, world = routing_address(clients[0].url), get_open_port(), 1 + sum(sizes)
        payloads = [worker_init_payload(NCCLWeightTransferInitInfo(
            master_address=host, master_port=port, rank_offset=1 + sum(sizes[:k]), world_size=world, packed=True))
            for k in range(len(clients))]
        inits = [self.fanout.pool.submit(c.post, "/init_weight_transfer_engine", {"init_info": p}, timeout_s)
                 for c, p in zip(clients, payloads)]
        self.group = trainer_init({"master_address": host, "master_port": port, "world_size": world})
        for f in inits:
            f.result()

    def send(self, bucket: list[tuple[str, torch.Tensor]]) -> None:
        from vllm.distributed.weight_transfer.packed_tensor import packed_nccl_broadcast_producer

        meta = bucket_meta(bucket)
        posts = [self.fanout.pool.submit(c.post, "/update_weights", {"update_info": meta}) for c in self.clients]
        for f in posts:  # a request refused before any NCCL call: fail now rather than wait in the broadcast
            if f.done() and f.exception() is not None:
                f.result()
        packed_nccl_broadcast_producer(iter(bucket), self.group, src=0, post_iter_func=lambda item: item[1])
        torch.cuda.current_stream().synchronize()
        for f in posts:
            f.result()

    broken = False  # a failed NCCL group cannot be told from here; the run stops on the error instead

    def close(self) -> None:
        if hasattr(self.group, "destroy"):
            self.group.destroy()
        self.fanout.pool.shutdown(wait=False)


SENDERS = {cls.backend: cls for cls in (TCPSender, NCCLSender)}

"""Server side of the `r1zero_tcp` weight transport: a vLLM `WeightTransferEngine` that stages a whole update.

vLLM builds it in each worker of a `vllm serve --weight-transfer-config '{"backend": "r1zero_tcp"}'` server (the
plugin in `vllm_plugin.py` registers it in vLLM's `WeightTransferEngineFactory`); the RL router's calls reach it
through the worker (frame format and trainer side: `wire.py`):

| router call                    | here                                                                         |
|--------------------------------|------------------------------------------------------------------------------|
| `/init_weight_transfer_engine` | connect to the trainer's `host:port`, present the token, wait for its ack    |
| `/start_weight_update`         | empty the staging area                                                       |
| `/update_weights`              | read one frame (the call's tensors) from the connection into new tensors     |
| `/finish_weight_update`        | check the staged set, then load it: vLLM's layerwise reload (as its NCCL and  |
|                                | IPC engines do) via the worker helpers of `rollout/vllm_worker.py`           |

Staging is what keeps the serving weights whole: nothing touches the model before `finish`, which runs as one
engine-core call between two scheduler steps. A trainer that dies or stalls mid-update (the socket times out
after `timeout_s`), or leaves without `finish` (the guard's watchdog sends the abort), leaves the last complete
weights serving. From the second update on, `finish` also refuses a set of names that differs from the last
complete update's before loading anything; the first one can only be checked after loading (nothing to compare
with), and a partial first update is reported as 422: the weights are then mixed, and the guard refuses
generation until a full update succeeds. The price: one model copy (in the serving dtype) while an update is open.

Client errors raise `TransferRequestError`; its message starts with `r1zero-transfer <status>:` so that the guard
(`guard.py`) can answer that 4xx status although vLLM's worker RPC turns every exception into a 500.
"""
from __future__ import annotations

import math
import socket
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import torch
from vllm.distributed.weight_transfer.base import (WeightTransferEngine, WeightTransferInitInfo,
                                                   WeightTransferUpdateInfo)
from vllm.logger import init_logger

from r1zero.rollout.sync import missing_weights
from r1zero.rollout.wire import ABORT_KEY, ACK, DTYPES, HEADER, MAGIC, TOKEN_BYTES, byte_view, recv_exact

logger = init_logger(__name__)
MAX_BYTES_FACTOR = 2  # an update may carry at most this many times the model's bytes (a bound on staging memory)


class TransferRequestError(ValueError):
    def __init__(self, status: int, message: str):
        super().__init__(f"r1zero-transfer {status}: {message}")


@dataclass
class TCPInitInfo(WeightTransferInitInfo):
    host: str = ""
    port: int = 0
    token: str = ""
    timeout_s: float = 300.0


@dataclass
class TCPUpdateInfo(WeightTransferUpdateInfo):
    names: list[str] = field(default_factory=list)
    dtype_names: list[str] = field(default_factory=list)
    shapes: list[list[int]] = field(default_factory=list)
    seq: int = 0


def _check_init(d: Any) -> TCPInitInfo:
    if not isinstance(d, dict) or set(d) - {"host", "port", "token", "timeout_s"}:
        raise TransferRequestError(400, f"init_info must be an object with host, port, token, timeout_s; got "
                                        f"{d!r:.200}")
    info = TCPInitInfo(**d)
    if not (isinstance(info.host, str) and info.host and isinstance(info.port, int) and 0 < info.port < 65536):
        raise TransferRequestError(400, f"init_info needs a host string and a port in 1..65535, got "
                                        f"{info.host!r:.100}:{info.port!r:.20}")
    if not (isinstance(info.token, str) and len(info.token) == 2 * TOKEN_BYTES and info.token.isascii()):
        raise TransferRequestError(400, f"init_info.token must be {2 * TOKEN_BYTES} hex characters")
    if not (isinstance(info.timeout_s, (int, float)) and 0 < info.timeout_s <= 3600):
        raise TransferRequestError(400, "init_info.timeout_s must be a number of seconds in (0, 3600]")
    return info


def _check_update(d: dict, limit_bytes: int) -> tuple[TCPUpdateInfo, list[torch.dtype], int]:
    unknown = set(d) - {"names", "dtype_names", "shapes", "seq"}
    if unknown:
        raise TransferRequestError(400, f"unknown update_info keys {sorted(map(str, unknown))[:5]}")
    info = TCPUpdateInfo(**d)
    lists = (info.names, info.dtype_names, info.shapes)
    if not all(isinstance(x, list) for x in lists) or len({len(x) for x in lists}) != 1 or not info.names:
        raise TransferRequestError(400, "update_info needs non-empty lists names, dtype_names, shapes of one length")
    if not all(isinstance(n, str) and n for n in info.names):
        raise TransferRequestError(400, "update_info.names must be non-empty strings")
    bad = [x for x in info.dtype_names if x not in DTYPES]
    if bad:
        raise TransferRequestError(400, f"unsupported dtype {bad[0]!r:.40} (one of {', '.join(DTYPES)})")
    total = 0
    for name, dt, shape in zip(*lists):
        if not (isinstance(shape, list) and all(isinstance(s, int) and 0 <= s < 2 ** 40 for s in shape)
                and len(shape) <= 8):
            raise TransferRequestError(400, f"bad shape for {name!r:.100}: {shape!r:.100}")
        total += math.prod(shape) * DTYPES[dt].itemsize  # Python ints: no overflow
        if total > limit_bytes:
            raise TransferRequestError(400, f"the update is larger than {limit_bytes} bytes ({MAX_BYTES_FACTOR}x "
                                            "the model): refused")
    if not isinstance(info.seq, int):
        raise TransferRequestError(400, "update_info.seq must be an integer")
    return info, [DTYPES[x] for x in info.dtype_names], total


class TCPWeightTransferEngine(WeightTransferEngine[TCPInitInfo, TCPUpdateInfo]):
    """See the module docstring."""

    init_info_cls = TCPInitInfo
    update_info_cls = TCPUpdateInfo
    supports_draft_weight_update = False

    def __init__(self, config, vllm_config, device, model):
        super().__init__(config, vllm_config, device, model)
        self.sock: socket.socket | None = None
        self.seq = 0
        self.staged: list[tuple[str, torch.Tensor]] = []
        self.manifest: set[str] | None = None  # names of the last complete update
        self.limit_bytes = MAX_BYTES_FACTOR * sum(p.numel() * p.element_size() for p in model.parameters())
        # the worker helpers of rollout/vllm_worker.py read only these two attributes of a worker
        self._worker = SimpleNamespace(model_runner=SimpleNamespace(get_model=lambda: self.model),
                                       vllm_config=vllm_config)

    # ------------------------------------------------------------------------------------- connection
    def parse_init_info(self, init_dict: dict[str, Any]) -> TCPInitInfo:
        return _check_init(init_dict)

    def init_transfer_engine(self, init_info: TCPInitInfo) -> None:
        self.shutdown()
        try:
            sock = socket.create_connection((init_info.host, init_info.port), timeout=init_info.timeout_s)
        except OSError as e:
            raise TransferRequestError(400, f"cannot connect to the trainer at {init_info.host}:{init_info.port}: "
                                            f"{type(e).__name__}: {e}") from e
        try:
            sock.sendall(init_info.token.encode())
            ack = bytearray(1)
            recv_exact(sock, memoryview(ack))
            if bytes(ack) != ACK:
                raise ConnectionError("no acknowledgement")
        except (OSError, ConnectionError) as e:
            sock.close()
            raise TransferRequestError(400, f"the trainer at {init_info.host}:{init_info.port} refused the weight "
                                            f"connection ({e})") from e
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.seq = sock, 0
        logger.info("r1zero_tcp: weight connection to the trainer at %s:%d open", init_info.host, init_info.port)

    def shutdown(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.staged = []

    # ----------------------------------------------------------------------------------------- update
    def start_weight_update(self) -> None:
        if self.sock is None:
            raise TransferRequestError(409, "no weight connection: call /init_weight_transfer_engine first")
        self.staged = []

    def update_weights(self, update_info: dict[str, Any]) -> None:
        # the base class's device synchronize is for asynchronous GPU copies; these tensors are filled synchronously
        if not isinstance(update_info, dict):
            raise TransferRequestError(400, "update_info must be an object")
        if update_info.get(ABORT_KEY):
            self.staged = []
            raise TransferRequestError(409, "weight update aborted: the last complete weights stay")
        self.receive_weights(update_info)

    def receive_weights(self, update_info) -> None:
        if self.sock is None:
            raise TransferRequestError(409, "no weight connection: call /init_weight_transfer_engine first")
        info, dtypes, total = _check_update(update_info, self.limit_bytes)
        try:
            head = bytearray(HEADER.size)
            recv_exact(self.sock, memoryview(head))
            magic, seq, nbytes = HEADER.unpack(head)
            if magic != MAGIC or seq != self.seq or nbytes != total or info.seq != seq:
                raise TransferRequestError(400, f"weight stream out of step (frame {seq} of {nbytes} bytes, call "
                                                f"{info.seq} expecting frame {self.seq} of {total} bytes): reconnect")
            tensors = [torch.empty(shape, dtype=dt) for shape, dt in zip(info.shapes, dtypes)]
            for t in tensors:
                recv_exact(self.sock, byte_view(t))
        except socket.timeout as e:
            self.shutdown()
            raise TransferRequestError(408, "the trainer stopped sending weights mid-update (timeout): the last "
                                            "complete weights stay") from e
        except (OSError, ConnectionError, TransferRequestError) as e:
            self.shutdown()
            if isinstance(e, TransferRequestError):
                raise
            raise TransferRequestError(400, f"the weight connection broke mid-update ({e}): the last complete "
                                            "weights stay") from e
        self.seq += 1
        self.staged.extend(zip(info.names, tensors))

    def finish_weight_update(self) -> None:
        from r1zero.rollout.vllm_worker import _finish_update, _load_bucket, _stacking, _start_update

        staged, self.staged = self.staged, []
        names = [n for n, _ in staged]
        if len(set(names)) != len(names):
            raise TransferRequestError(400, "the update sent some weights twice; nothing was loaded")
        if self.manifest is not None and set(names) != self.manifest:
            extra, lost = sorted(set(names) - self.manifest), sorted(self.manifest - set(names))
            raise TransferRequestError(400, f"the update's weights differ from the last complete one (missing "
                                            f"{lost[:5]}, unexpected {extra[:5]}); nothing was loaded")
        with torch.no_grad():
            _start_update(self._worker, True)
            try:
                loaded = _load_bucket(self._worker, staged)
            except Exception as e:  # a tensor vLLM's loaders reject (unknown name, wrong shape)
                _finish_update(self._worker, True)  # puts the untouched layers back
                raise TransferRequestError(422, f"loading the update failed ({type(e).__name__}: {e}): the weights "
                                                "may be mixed; send a complete, matching update") from e
            params = _finish_update(self._worker, True)
        missing = missing_weights(params, set(loaded), set(names), _stacking(self._worker))
        if missing:
            raise TransferRequestError(422, f"the update left {len(missing)} weights unchanged {missing[:5]}: the "
                                            "weights are now mixed; send a complete update")
        self.manifest = set(names)

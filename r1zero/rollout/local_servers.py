"""Rollout servers on this machine (tests, benchmarks, a one-machine run): the launcher's `vllm serve` command on
loopback, started together, waited for with a deadline, stopped together.

    with LocalServers(model_dir, 2, api_key=key, log_dir=tmp) as servers:
        engine = ServerEngine(servers.urls, key)

Each server runs in its own process group (vLLM starts an engine-core and a worker process under its API server),
so `stop()` and `kill(i)` end the whole server and nothing else. `plugin_site(dir)` writes the metadata of
r1zero's `vllm.general_plugins` entry point into `dir`, for environments whose r1zero install predates it (an
editable install keeps the metadata of the day it was made): put `dir` on the servers' PYTHONPATH.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from r1zero.rollout.vllm_plugin import SERVER_ENV, serve_command

ENTRY_POINT = "r1zero = r1zero.rollout.vllm_plugin:register"  # as in setup.cfg [options.entry_points]


def plugin_site(root: Path) -> Path:
    dist = Path(root) / "r1zero_vllm_plugin-0.1.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: r1zero-vllm-plugin\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(f"[vllm.general_plugins]\n{ENTRY_POINT}\n")
    return Path(root)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """Linux: SIGTERM the server when the process that started it dies (a killed test run leaks no server)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class LocalServers:
    """`n` CPU rollout servers of `model` on 127.0.0.1 (see the module docstring)."""

    def __init__(self, model: str, n: int, *, api_key: str, log_dir: Path, cpu_kvcache_gib: float = 0.25,
                 max_model_len: int = 256, dtype: str = "auto", seed: int = 0, start_timeout_s: float = 900,
                 env: dict | None = None, site: Path | None = None):
        self.model, self.n, self.log_dir = model, n, Path(log_dir)
        self.kwargs = dict(cpu_kvcache_gib=cpu_kvcache_gib, max_model_len=max_model_len, dtype=dtype)
        self.seed, self.start_timeout_s = seed, start_timeout_s
        path = [str(site)] if site else []
        path += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        self.env = {**os.environ, **SERVER_ENV, "R1ZERO_API_KEY": api_key, "OMP_NUM_THREADS": "1",
                    "PYTHONPATH": os.pathsep.join(path), **(env or {})}
        self.procs: list[subprocess.Popen] = []
        self.urls: list[str] = []
        self.logs: list[Path] = []

    def start(self) -> "LocalServers":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.n):
            port = free_port()
            log = self.log_dir / f"server{i}-{port}.log"
            with open(log, "w") as out:
                self.procs.append(subprocess.Popen(
                    serve_command(self.model, "127.0.0.1", port, seed=self.seed + i, **self.kwargs),
                    stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
                    preexec_fn=_die_with_parent))
            self.urls.append(f"http://127.0.0.1:{port}")
            self.logs.append(log)
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        pending = set(range(self.n))
        while pending:
            for i in sorted(pending):
                if self.procs[i].poll() is not None:
                    raise RuntimeError(f"rollout server {self.urls[i]} exited with {self.procs[i].returncode}:\n"
                                       f"{self.log_tail(i)}")
                try:
                    with urllib.request.urlopen(self.urls[i] + "/health", timeout=5):
                        pending.discard(i)
                except OSError:
                    pass
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"rollout servers {[self.urls[i] for i in pending]} did not answer /health "
                                   f"within {self.start_timeout_s:.0f}s:\n{self.log_tail(min(pending))}")
            if pending:
                time.sleep(1.0)

    def log_tail(self, i: int, chars: int = 4000) -> str:
        return self.logs[i].read_text(errors="replace")[-chars:]

    def kill(self, i: int) -> None:
        """SIGKILL server `i` (all its processes), as a crash would."""
        self._signal(i, signal.SIGKILL)
        self.procs[i].wait(timeout=60)

    def _signal(self, i: int, sig: int) -> None:
        try:
            os.killpg(self.procs[i].pid, sig)  # the group start_new_session gave it: this server only
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        for i in range(len(self.procs)):
            self._signal(i, signal.SIGTERM)
        for i, p in enumerate(self.procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._signal(i, signal.SIGKILL)
                p.wait(timeout=30)
            self._signal(i, signal.SIGKILL)  # its engine core and worker, if they outlived it

    def __enter__(self) -> "LocalServers":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

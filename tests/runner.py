"""Helpers for the tests that run `r1zero train` as a subprocess: the environment, a run that is SIGKILLed right
after a given step was logged, and the steps an offline W&B run directory holds."""
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# the hf-engine loop of tests/test_train_loop.py (tiny model, 4 prompts x 8 completions, 8 new tokens)
HF_LOOP = ["rollout.engine=hf", "data.train=addition", "data.chat=false", "data.template=plain",
           "rollout.group_size=8", "train.prompts_per_step=4", "train.micro_batch_size=16", "rollout.max_new_tokens=8",
           "eval.before=false", "eval.after=false", "rewards.workers=1", "train.threads=1",
           "rewards.names=synthetic_rewards:no_lowercase", "optim.lr=1e-2"]


def env(**extra: str) -> dict:
    out = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    out.update(OMP_NUM_THREADS="1", WANDB_SILENT="true", PYTHONPATH=f"{ROOT}:{ROOT / 'tests'}", **extra)
    out.pop("WANDB_API_KEY", None)
    return out


def cli(args: list[str], timeout: int = 900, launcher: list[str] | None = None,
        **extra_env: str) -> subprocess.CompletedProcess:
    """`r1zero train ARGS` (under `launcher`, e.g. torchrun, when given)."""
    cmd = (launcher or [sys.executable, "-m"]) + ["r1zero.cli", "train", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env(**extra_env), capture_output=True, text=True, timeout=timeout)


def train(args: list[str], timeout: int = 900, **extra_env: str) -> dict:
    proc = cli(args, timeout, **extra_env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def kill_after_step(args: list[str], run_dir: Path, step: int, timeout: int = 900) -> str:
    """Run `r1zero train ARGS` and SIGKILL it as soon as `run_dir/metrics.jsonl` holds the row of `step` (it is
    then inside step + 1). Returns its output."""
    log = run_dir.parent / f"{run_dir.name}-killed-at-{step}.log"
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "r1zero.cli", "train", *args], cwd=ROOT, env=env(),
                                stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline and step not in logged_steps(run_dir):
            time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, log.read_text()[-4000:]
    return log.read_text()


def logged_steps(run_dir: Path, name: str = "metrics.jsonl") -> list[int]:
    path = run_dir / name
    if not path.is_file():
        return []
    steps = []
    for line in path.read_text().splitlines():
        try:
            steps.append(json.loads(line)["step"])
        except ValueError:  # a line being written
            pass
    return steps


def wandb_offline_steps(run_dir: Path) -> dict[str, list[int]]:
    """{offline run directory: the steps of its history rows} for the `offline-run-*` directories `wandb sync`
    would upload. Reads the .wandb files (W&B's record log: 32 KiB blocks of checksum, length, type, protobuf)."""
    from wandb.proto import wandb_internal_pb2 as pb  # W&B's own record format (no public reader)

    out = {}
    for run in sorted((run_dir / "wandb").glob("offline-run-*")):
        steps = []
        for raw in _records(next(run.glob("*.wandb")).read_bytes()):
            record = pb.Record()
            record.ParseFromString(raw)
            if record.WhichOneof("record_type") == "history":
                steps.append(int(record.history.step.num))
        out[run.name] = steps
    return out


def _records(data: bytes):
    pos, block, pending = 7, 32768, b""  # after the ":W&B" header, version and magic
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if length == 0 and kind == 0:  # block padding
            pos += block - pos % block
            continue
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 1:
            yield chunk
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            yield pending + chunk

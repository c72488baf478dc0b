"""Atomic checkpoints and resume.

A checkpoint is a directory `run_dir/checkpoints/step-000042/` holding the DeepSpeed engine state (model,
optimizer, LR scheduler; one shard per rank under ZeRO), `rng_rank<r>.pt` per rank (python, numpy, torch RNG)
and `trainer_state.json` (step, sampler position, W&B run id, metrics needed to continue).

Atomicity: everything is written into `.tmp-step-000042/`, files are fsynced, then the directory is renamed to
`step-000042` and the `latest` pointer file is replaced (write temp + fsync + rename). A kill at any moment
leaves either the previous checkpoint or the new one as `latest`, never a half-written one; stale `.tmp-*`
directories are removed at the next save.
"""
from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from r1zero import dist

PREFIX = "step-"


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def rng_state() -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def save(policy, root: Path, step: int, trainer_state: dict[str, Any], keep_last: int,
         rank: int = 0, world_size: int = 1) -> Path:
    """Collective: every rank calls it. Returns the final checkpoint directory."""
    root.mkdir(parents=True, exist_ok=True)
    name = f"{PREFIX}{step:06d}"
    tmp = root / f".tmp-{name}"
    if rank == 0:
        for stale in root.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
    dist.barrier()
    policy.engine.save_checkpoint(str(root), tag=tmp.name, client_state={}, save_latest=False)
    torch.save(rng_state(), tmp / f"rng_rank{rank}.pt")
    if rank == 0:
        (tmp / "trainer_state.json").write_text(json.dumps({"step": step, **trainer_state}, indent=1))
    dist.barrier()
    final = root / name
    if rank == 0:
        _fsync_tree(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        write_atomic(root / "latest", name + "\n")
        _prune(root, keep_last)
    dist.barrier()
    return final


def export_model(policy, tokenizer, out: Path, rank: int = 0, world_size: int = 1) -> Path:
    """Write the policy's current weights as a Hugging Face model directory (config, safetensors, tokenizer), so a
    later stage or `r1zero eval --model` can load it. Atomic: written to a temp dir, then renamed. Collective."""
    out = Path(out)
    tmp = out.with_name(f".tmp-{out.name}")
    with policy.gathered():
        if rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
            policy.module.save_pretrained(str(tmp), safe_serialization=True)
            tokenizer.save_pretrained(str(tmp))
            _fsync_tree(tmp)
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
    dist.barrier()
    return out


def _prune(root: Path, keep_last: int) -> None:
    steps = sorted(p for p in root.glob(f"{PREFIX}*") if p.is_dir())
    for old in steps[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(old, ignore_errors=True)


def latest(root: Path) -> Path | None:
    pointer = root / "latest"
    if pointer.is_file():
        path = root / pointer.read_text().strip()
        if (path / "trainer_state.json").is_file():
            return path
    steps = sorted(p for p in root.glob(f"{PREFIX}*") if (p / "trainer_state.json").is_file())
    return steps[-1] if steps else None


def find_resume(setting: str, root: Path) -> Path | None:
    """`checkpoint.resume`: auto (latest under root, if any) | never | a checkpoint directory."""
    if setting == "never":
        return None
    if setting == "auto":
        return latest(root)
    path = Path(setting)
    if not (path / "trainer_state.json").is_file():
        raise FileNotFoundError(f"`checkpoint.resume={setting}` is not a checkpoint directory (no trainer_state.json);"
                                f" use auto, never, or a path like runs/<run>/checkpoints/step-000010")
    return path


def load(policy, path: Path, rank: int = 0) -> dict[str, Any]:
    """Restore engine (model, optimizer, scheduler) and this rank's RNG; return the trainer state."""
    load_dir, _ = policy.engine.load_checkpoint(str(path.parent), tag=path.name, load_optimizer_states=True,
                                                load_lr_scheduler_states=True)
    if load_dir is None:
        raise RuntimeError(f"DeepSpeed could not load the checkpoint in {path}")
    rng_file = path / f"rng_rank{rank}.pt"
    if rng_file.is_file():
        set_rng_state(torch.load(rng_file, weights_only=False))
    return json.loads((path / "trainer_state.json").read_text())

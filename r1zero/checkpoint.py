"""Atomic checkpoints and resume.

A checkpoint is a directory `run_dir/checkpoints/step-000042/` holding the DeepSpeed engine state (model,
optimizer, LR scheduler; one shard per rank under ZeRO), `rng_rank<r>.pt` per rank (python, numpy, torch RNG),
`trainer_state.json` (step, sampler position, W&B run id, log offsets, metrics needed to continue),
`state_rank<r>.pt` per rank when the loop has rank-local state to keep (the rollout batch in flight with
`train.max_staleness=1`: r1zero/pipeline.py) and `manifest.json` (every file and its size), written last: a
directory whose files match its manifest is complete.

Atomicity: everything is written into `.tmp-step-000042/` and fsynced, the manifest is written, then the directory
is renamed to `step-000042` and the `latest` pointer file is replaced (write temp + fsync + rename). A directory is
never deleted under its own name: a step being saved again (after a rollback) or pruned is first renamed to
`.trash-*` and deleted after. So a kill at any moment leaves every `step-*` complete, and at worst a complete
`.tmp-step-N` whose final name is missing (killed between the two renames): `latest()` takes it and `find_resume`
puts it in place. Stale `.tmp-*` / `.trash-*` directories are removed at the next save.

Resume refuses, with a message naming the path and the fix, a directory that is incomplete or was saved by another
number of ranks or ZeRO stage (DeepSpeed would fail with a bare assertion). A full disk during a save raises
`DiskError` naming the device, the space and the intact previous checkpoint, and removes the partial directory.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
from pathlib import Path
from typing import Any

import numpy as np
import torch

from r1zero import dist
from r1zero.errors import NO_SPACE, BadStepsError, DiskError, ResumeError, one_line

PREFIX = "step-"
MANIFEST = "manifest.json"


def kill_point(name: str) -> None:
    """Kill tests: SIGKILL this process here when `R1ZERO_KILL_AT` names this point (no effect otherwise)."""
    if os.environ.get("R1ZERO_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
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


def _remove(path: Path) -> None:
    """Delete a directory without ever leaving it half-deleted under its own name."""
    if path.exists():
        trash = path.with_name(f".trash-{path.name.lstrip('.')}")
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(path, trash)
        shutil.rmtree(trash, ignore_errors=True)


def _step_of(path: Path) -> int:
    return int(path.name.rsplit("-", 1)[-1])


def save(policy, root: Path, step: int, trainer_state: dict[str, Any], keep_last: int,
         rank: int = 0, world_size: int = 1, rank_state: dict[str, Any] | None = None) -> Path:
    """Collective: every rank calls it. Returns the final checkpoint directory. `rank_state`: this rank's own
    (pickled; `load` returns it as state["rank_state"])."""
    if not policy.weights_finite():  # collective; a step that made them so stops the run before any save
        raise BadStepsError(f"refusing to save checkpoint step {step}: the weights hold NaN/inf values")
    root.mkdir(parents=True, exist_ok=True)
    name = f"{PREFIX}{step:06d}"
    tmp, final = root / f".tmp-{name}", root / name
    if rank == 0:
        for stale in [*root.glob(".tmp-*"), *root.glob(".trash-*")]:
            shutil.rmtree(stale, ignore_errors=True)
    dist.barrier()
    state = {"step": step, "world_size": world_size, "zero_stage": policy.zero_stage, **trainer_state}
    try:
        policy.save_state(tmp)
        torch.save(rng_state(), tmp / f"rng_rank{rank}.pt")
        if rank_state is not None:
            torch.save(rank_state, tmp / f"state_rank{rank}.pt")
        if rank == 0:
            (tmp / "trainer_state.json").write_text(json.dumps(state, indent=1))
        dist.barrier()
        if rank == 0:
            _fsync_tree(tmp)
            files = {str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()}
            write_atomic(tmp / MANIFEST, json.dumps({"step": step, "files": files}, indent=1))
            _fsync_dir(tmp)
    except (OSError, RuntimeError) as e:
        full = _disk_error(e, root, tmp, step)
        if full is None:
            raise
        raise full from e
    if rank == 0:
        if final.exists():  # saving this step again (after a rollback): move the old one out of the way first
            os.replace(final, root / f".trash-{name}")
            kill_point("checkpoint.replace")
        os.replace(tmp, final)
        _fsync_dir(root)
        write_atomic(root / "latest", name + "\n")
        shutil.rmtree(root / f".trash-{name}", ignore_errors=True)
        _prune(root, keep_last, keep=final)
    dist.barrier()
    return final


def _disk_error(e: Exception, root: Path, tmp: Path, step: int) -> DiskError | None:
    """A DiskError when `e` comes from a full device (torch's writer hides the errno: 'unexpected pos',
    'file write failed'), after removing the partial directory; else None."""
    free = shutil.disk_usage(root).free
    text = str(e)
    if not ((isinstance(e, OSError) and e.errno in NO_SPACE) or "unexpected pos" in text or "write failed" in text
            or "No space left" in text or free < 16 * 2 ** 20):
        return None
    shutil.rmtree(tmp, ignore_errors=True)
    prev = latest(root)
    size = sum(p.stat().st_size for p in prev.rglob("*") if p.is_file()) if prev else 0
    kept = f"the previous checkpoint {prev} is intact" if prev else "no earlier checkpoint exists"
    return DiskError(f"no space left on the device of {root} while writing checkpoint step {step} "
                     f"({free / 2 ** 20:.0f} MiB free{f', a checkpoint takes {size / 2 ** 20:.0f} MiB' if size else ''}"
                     f"): free space there or point log.output_dir at a larger disk; {kept}")


def export_model(policy, tokenizer, out: Path, rank: int = 0, world_size: int = 1) -> Path:
    """Write the policy's current weights as a Hugging Face model directory (config, safetensors, tokenizer), so a
    later stage or `r1zero eval --model` can load it. Atomic: written to a temp dir, then renamed. Collective."""
    out = Path(out)
    tmp = out.with_name(f".tmp-{out.name}")
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    policy.save_pretrained(tmp)  # collective under ZeRO-3 (gathers the shards); rank 0 writes
    if rank == 0:
        tokenizer.save_pretrained(str(tmp))
        _fsync_tree(tmp)
        _remove(out)
        os.replace(tmp, out)
    dist.barrier()
    return out


def _prune(root: Path, keep_last: int, keep: Path) -> None:
    """Keep `keep` (the checkpoint just saved) and the newest others, `keep_last` in all."""
    others = sorted((p for p in root.glob(f"{PREFIX}*") if p.is_dir() and p != keep), key=_step_of)
    for old in others[:max(len(others) - (keep_last - 1), 0)]:
        _remove(old)


# ---------------------------------------------------------------------------------------------- resume


def missing_files(path: Path) -> list[str]:
    """What a checkpoint directory lacks ([] when complete). Without a manifest (older checkpoints): the
    trainer state and a DeepSpeed model-states file."""
    manifest = path / MANIFEST
    if manifest.is_file():
        try:
            files = json.loads(manifest.read_text())["files"]
        except (ValueError, KeyError):
            return [MANIFEST]
        return [f for f, size in files.items() if not (path / f).is_file() or (path / f).stat().st_size != size]
    if path.name.startswith(".tmp-"):
        return [MANIFEST]
    missing = [] if (path / "trainer_state.json").is_file() else ["trainer_state.json"]
    return missing + ([] if list(path.glob("*model_states.pt")) else ["*model_states.pt"])


def _complete(path: Path) -> bool:
    return path.is_dir() and not missing_files(path)


def latest(root: Path) -> Path | None:
    """The checkpoint to resume: a complete `.tmp-step-N` (a save killed between its renames: the newest), else
    the complete one `latest` names, else the complete `step-*` with the highest step."""
    tmps = sorted((p for p in root.glob(f".tmp-{PREFIX}*") if _complete(p)), key=_step_of)
    if tmps:
        return tmps[-1]
    pointer = root / "latest"
    if pointer.is_file() and _complete(root / pointer.read_text().strip()):
        return root / pointer.read_text().strip()
    steps = sorted((p for p in root.glob(f"{PREFIX}*") if _complete(p)), key=_step_of)
    return steps[-1] if steps else None


def newest_before(root: Path, step: int) -> Path | None:
    """The complete `step-*` checkpoint with the highest step below `step`, if any."""
    older = sorted((p for p in root.glob(f"{PREFIX}*") if _step_of(p) < step and _complete(p)), key=_step_of)
    return older[-1] if older else None


def find_resume(setting: str, root: Path, rank: int = 0) -> Path | None:
    """`checkpoint.resume`: auto (latest under root, if any) | never | a checkpoint directory. A complete
    `.tmp-step-N` found by auto is renamed into place first (rank 0; collective)."""
    if setting == "never":
        return None
    if setting != "auto":
        path = Path(setting)
        if not (path / "trainer_state.json").is_file():
            raise ResumeError(f"`checkpoint.resume={setting}` is not a checkpoint directory (no trainer_state.json): "
                              "use auto, never, or a path like runs/<run>/checkpoints/step-000010")
        return path
    found = latest(root) if root.is_dir() and rank == 0 else None
    if found is not None and found.name.startswith(".tmp-"):  # put it in place (rank 0, before the others look)
        final = root / found.name[len(".tmp-"):]
        _remove(final)
        os.replace(found, final)
        write_atomic(root / "latest", final.name + "\n")
    dist.barrier()
    return latest(root) if root.is_dir() else None


def load(policy, path: Path, rank: int = 0, world_size: int = 1) -> dict[str, Any]:
    """Restore engine (model, optimizer, scheduler) and this rank's RNG; return the trainer state."""
    missing = missing_files(path)
    if missing:
        raise ResumeError(f"checkpoint {path} is incomplete (missing or short: {', '.join(missing[:4])}): resume "
                          "from another one (checkpoint.resume=PATH), or checkpoint.resume=auto for the newest "
                          "complete one")
    state = json.loads((path / "trainer_state.json").read_text())
    stage = policy.zero_stage
    saved = state.get("world_size", world_size), state.get("zero_stage", stage)
    if saved != (world_size, stage) and (stage > 0 or saved[1] > 0):
        raise ResumeError(f"checkpoint {path} was saved by {saved[0]} ranks with ZeRO-{saved[1]}, this run has "
                          f"{world_size} with ZeRO-{stage}: ZeRO shards do not move between layouts; resume with "
                          f"the same ranks and train.zero_stage={saved[1]}")
    try:
        loaded = policy.load_state(path)
    except (AssertionError, RuntimeError, OSError, KeyError, ValueError) as e:
        raise ResumeError(f"DeepSpeed could not load checkpoint {path} ({one_line(e)}): resume from another "
                          "one (checkpoint.resume=PATH) or start over (checkpoint.resume=never)") from e
    if not loaded:
        raise ResumeError(f"DeepSpeed found no checkpoint in {path}: resume from another one")
    rng_file = path / f"rng_rank{rank}.pt"
    if rng_file.is_file():
        set_rng_state(torch.load(rng_file, weights_only=False))
    rank_file = path / f"state_rank{rank}.pt"
    if rank_file.is_file():
        state["rank_state"] = torch.load(rank_file, weights_only=False)
    return state

"""Kill -9 and resume: every step logged exactly once, the same W&B run, an exact continuation with the vLLM engine,
checkpoints that survive a kill in the middle of being replaced, and a full disk during a checkpoint.

Kills are real SIGKILLs: either sent by the test right after a step's metrics row appeared (`runner.kill_after_step`)
or raised by the trainer at a named point (`R1ZERO_KILL_AT`, r1zero/checkpoint.py `kill_point`)."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from r1zero import checkpoint
from r1zero.models import build_tiny_model
from runner import HF_LOOP, cli, kill_after_step, logged_steps, train, wandb_offline_steps


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden=64, layers=2))


def test_killed_runs_resume_exactly_with_vllm_and_log_every_step_once(tmp_path_factory, tmp_path):
    """Killed in step 2 (before the first checkpoint), then in step 4 (checkpoint at 2), then finished. The default
    engine's sampling continues as if nothing happened; metrics, samples and the W&B run hold steps 1-4 once."""
    model = build_tiny_model(tmp_path_factory.mktemp("tiny_vllm") / "model", hidden=128, heads=2, init_std=0.5)
    run = tmp_path / "run"
    args = [f"model.name={model}", *[a for a in HF_LOOP if not a.startswith("rollout.engine")],
            "rollout.engine=vllm", "rollout.cpu_kvcache_gib=1", "rollout.sync_check_tol=2",  # bf16 vs fp32 of a
            f"log.output_dir={tmp_path}", "log.run_name=run",  # tiny random model: up to 0.25 nats/token apart
            "log.wandb_mode=offline", "log.samples_every=1", "log.samples_count=2", "train.steps=4",
            "checkpoint.every=2", "checkpoint.export_model=false"]
    kill_after_step(args, run, 1)
    first_id = (run / "wandb_run_id").read_text().strip()
    kill_after_step(args, run, 3)  # no checkpoint to resume: started over, uninterrupted up to step 3
    uninterrupted = {r["step"]: r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())}
    assert sorted(uninterrupted) == [1, 2, 3]
    res = train(args)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert logged_steps(run, "samples.jsonl") == [1, 1, 2, 2, 3, 3, 4, 4]
    for key in ("reward/mean", "completion/mean_length", "loss/policy", "policy/grad_norm", "sampling/is_ratio_mean"):
        assert rows[2][key] == uninterrupted[3][key], key  # step 3 again, from the checkpoint of step 2: the same
    assert (run / "wandb_run_id").read_text().strip() == first_id  # one W&B run across the three processes
    offline = wandb_offline_steps(run)
    assert list(offline.values()) == [[1, 2, 3, 4]], offline
    assert Path(res["wandb_dir"]).name in offline and Path(res["wandb_dir"]).name.endswith(first_id)
    assert len(list((run / "wandb").glob(f"superseded-offline-run-*-{first_id}"))) == 2


def test_kill_while_a_checkpoint_is_replaced_and_a_half_deleted_one(tiny, tmp_path):
    """Rolling back to step 1 and saving step 2 again replaces step-000002. Killed inside that replacement, the
    run holds a complete .tmp-step-000002 while `latest` names a step-000002 that is gone; resume=auto takes it.
    The state the old save left in that window (a half-deleted step-000002 that `latest` names, beside the
    complete new one) resumes too, instead of failing inside DeepSpeed."""
    args = [f"model.name={tiny}", *HF_LOOP, f"log.output_dir={tmp_path}", "log.wandb_mode=disabled",
            "checkpoint.every=1", "checkpoint.keep_last=3", "checkpoint.export_model=false"]
    train(args + ["log.run_name=a", "train.steps=2"])
    ckpts, sim = tmp_path / "a" / "checkpoints", tmp_path / "sim" / "checkpoints"
    shutil.copytree(tmp_path / "a", tmp_path / "sim")
    shutil.copytree(sim / "step-000002", sim / ".tmp-step-000002")
    (sim / "step-000002" / "mp_rank_00_model_states.pt").unlink()  # the old save's rmtree got this far
    res = train(args + ["log.run_name=sim", "train.steps=3"])
    assert logged_steps(Path(res["run_dir"])) == [1, 2, 3]
    assert sorted(p.name for p in sim.iterdir()) == ["latest", "step-000001", "step-000002", "step-000003"]
    proc = cli(args + [f"checkpoint.resume={ckpts / 'step-000001'}", "train.steps=2"],
               R1ZERO_KILL_AT="checkpoint.replace")
    assert proc.returncode == -9, proc.stderr[-3000:]
    assert (ckpts / "latest").read_text().strip() == "step-000002" and not (ckpts / "step-000002").exists()
    assert checkpoint.missing_files(ckpts / ".tmp-step-000002") == []
    assert checkpoint.latest(ckpts) == ckpts / ".tmp-step-000002"


@pytest.fixture
def small_disk(tmp_path):
    """A 60 MiB tmpfs: room for the run and one checkpoint of the tiny model (39 MiB), not for two."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=60m", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_during_a_checkpoint_names_the_space_and_path(tiny, small_disk):
    proc = cli([f"model.name={tiny}", *HF_LOOP, f"log.output_dir={small_disk}", "log.run_name=run",
                "log.wandb_mode=disabled", "train.steps=2", "checkpoint.every=1", "checkpoint.keep_last=1",
                "checkpoint.export_model=false"])
    ckpts = small_disk / "run" / "checkpoints"
    assert proc.returncode == 7, proc.stderr[-3000:]
    message = [line for line in proc.stderr.splitlines() if line.startswith("r1zero:")]
    assert message == [line for line in proc.stderr.splitlines() if "Traceback" in line or line.startswith("r1zero:")]
    assert len(message) == 1 and message[0].startswith(
        f"r1zero: disk error: no space left on the device of {ckpts} while writing checkpoint step 2 ("), message
    assert f"the previous checkpoint {ckpts / 'step-000001'} is intact" in message[0]
    assert sorted(p.name for p in ckpts.iterdir()) == ["latest", "step-000001"]
    assert checkpoint.missing_files(ckpts / "step-000001") == []

"""`train.max_staleness=1` (r1zero/pipeline.py): the next step's rollouts are generated in a background thread while
this step trains.

The first tests drive `Rollouts` with a recording stand-in for the generation and the weight sync (the real ones
need a policy and an engine; the last test runs them): which weights generate each batch, that no sync ever meets a
running generation, and that a saved in-flight batch is what a resumed run trains on. The last test is a real run
with the vLLM engine: SIGKILLed while a batch is in flight, resumed from the checkpoint, and equal to the
uninterrupted run step for step."""
import json
import signal
import threading
import time
from types import SimpleNamespace

import pytest

from r1zero import pipeline
from r1zero.config import load_config
from r1zero.errors import ConfigError
from r1zero.models import build_tiny_model
from r1zero.rollout.base import Rollout
from runner import HF_LOOP, cli, train


class Recorder:
    """A ctx with a generation that takes a while and a sync that fails if it meets a running generation."""

    def __init__(self, staleness: int, steps: int, state: dict | None = None, start: int = 0):
        train_cfg = SimpleNamespace(max_staleness=staleness, steps=steps)
        self.ctx = SimpleNamespace(cfg=SimpleNamespace(train=train_cfg), state=state or {}, start_step=start,
                                   weight_version=start, engine=SimpleNamespace(remote=False))
        self.generating = threading.Event()
        self.generated: list[tuple[int, int]] = []  # (step, weight version) of each generation
        self.syncs: list[int] = []

    def generate(self, ctx, timers, step):
        self.generating.set()
        time.sleep(0.05)
        self.generated.append((step, ctx.weight_version))
        self.generating.clear()
        rolls = [Rollout(0, [1], [2], "x", "stop", None) for _ in range(2)]
        return [{}], rolls, None, {"completion/tokens": 2.0}

    def sync(self, ctx, step):
        assert not self.generating.is_set(), f"weights of step {step} pushed during a generation"
        self.syncs.append(step)
        ctx.weight_version = step
        return {}


def drive(rec: Recorder, monkeypatch, start: int = 0, stop: int | None = None, save_at: int | None = None):
    """The loop's calls, steps start..stop-1; returns each step's staleness metrics (and the saved batch)."""
    monkeypatch.setattr(pipeline, "sync_weights", rec.sync)
    pipe = pipeline.Rollouts(rec.ctx, rec.generate)
    timers = pipeline.Timers()
    out, saved = [], None
    for step in range(start, stop if stop is not None else rec.ctx.cfg.train.steps):
        timers.reset()
        _, rollouts, _, _ = pipe.take(step, timers)
        time.sleep(0.02)  # the update, while the next batch generates
        pipe.after_update(step + 1)
        out.append(pipeline.staleness(rollouts, step + 0))
        if save_at == step + 1:
            saved = pipe.inflight()
    return out, saved


def test_synchronous_batches_come_from_the_current_weights(monkeypatch):
    rec = Recorder(0, 4)
    lags, _ = drive(rec, monkeypatch)
    assert rec.generated == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert rec.syncs == [1, 2, 3, 4]
    assert [m["sampling/staleness_max"] for m in lags] == [0, 0, 0, 0]


def test_in_flight_batches_are_one_update_old_and_never_meet_a_sync(monkeypatch):
    rec = Recorder(1, 5)
    lags, _ = drive(rec, monkeypatch)
    # batch 0 fresh; batch k (k >= 1) generated while step k-1 trained, from the weights of update k-1
    assert sorted(rec.generated) == [(0, 0), (1, 0), (2, 1), (3, 2), (4, 3)]
    assert rec.syncs == [1, 2, 3, 4, 5]  # the last one at the end (no batch in flight), for the final eval
    assert [m["sampling/staleness"] for m in lags] == [0, 1, 1, 1, 1]
    assert max(m["sampling/staleness_max"] for m in lags) <= 1


def test_a_saved_batch_is_what_the_resumed_run_trains_on(monkeypatch):
    rec = Recorder(1, 5)
    _, saved = drive(rec, monkeypatch, stop=2, save_at=2)
    assert saved["step"] == 2 and all(r.version == 1 for r in saved["batch"][1])
    resumed = Recorder(1, 5, state={"rank_state": {"inflight": saved}}, start=2)
    lags, _ = drive(resumed, monkeypatch, start=2)
    assert sorted(resumed.generated) == [(3, 2), (4, 3)]  # batch 2 came from the checkpoint, not regenerated
    assert [m["sampling/staleness"] for m in lags] == [1, 1, 1]
    # a synchronous resume drops it: it is older than max_staleness=0 allows
    sync = Recorder(0, 5, state={"rank_state": {"inflight": saved}}, start=2)
    drive(sync, monkeypatch, start=2, stop=3)
    assert sync.generated == [(2, 2)]


def test_a_failed_generation_is_raised_by_the_step_that_takes_it(monkeypatch):
    rec = Recorder(1, 3)

    def failing(ctx, timers, step):
        if step == 1:
            raise RuntimeError("engine died")
        return rec.generate(ctx, timers, step)

    monkeypatch.setattr(pipeline, "sync_weights", rec.sync)
    pipe = pipeline.Rollouts(rec.ctx, failing)
    pipe.take(0, pipeline.Timers())
    with pytest.raises(RuntimeError, match="engine died"):
        pipe.take(1, pipeline.Timers())


def test_an_engine_that_shares_the_trainers_module_is_refused():
    from r1zero.runtime import check_engine

    with pytest.raises(ConfigError, match="trainer's own module"):
        check_engine(load_config(None, ["train.max_staleness=1", "data.train=addition", "rollout.engine=hf"]))
    check_engine(load_config(None, ["train.max_staleness=1", "data.train=addition", "rollout.engine=vllm"]))


@pytest.mark.parametrize("override, message", [
    (["algo.dynamic_sampling=true"], "dynamic_sampling"),
    (["rewards.names=grm_judge"], "rule rewards only"),
    (["train.max_staleness=2"], "only 0"),
    (["train.max_staleness=-1"], ">= 0"),
])
def test_settings_a_background_generation_cannot_serve_are_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, ["train.max_staleness=1", "data.train=addition", *override])


def test_killed_while_a_batch_is_in_flight_resumes_exactly(tmp_path_factory, tmp_path):
    """vLLM engine, max_staleness=1, 4 steps, checkpoint at 2. Run A is uninterrupted; run B is SIGKILLed while the
    batch of step 4 generates (the checkpoint of step 2 holds the batch of step 3, generated from the weights of
    update 1), then resumed. B's steps 3 and 4 equal A's, and every batch after the first is one update old."""
    model = build_tiny_model(tmp_path_factory.mktemp("tiny_async") / "model", hidden=128, heads=2, init_std=0.5)
    base = [f"model.name={model}", *[a for a in HF_LOOP if not a.startswith("rollout.engine")],
            "rollout.engine=vllm", "rollout.cpu_kvcache_gib=1", "rollout.sync_check_tol=2",
            "train.max_staleness=1", f"log.output_dir={tmp_path}", "log.wandb_mode=disabled", "train.steps=4",
            "checkpoint.every=2", "checkpoint.export_model=false", "checkpoint.save_final=false"]
    train([*base, "log.run_name=a"])
    killed = cli([*base, "log.run_name=b"], R1ZERO_KILL_AT="generating:4")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert (tmp_path / "b" / "checkpoints" / "step-000002" / "state_rank0.pt").is_file()
    train([*base, "log.run_name=b"])
    a, b = ([json.loads(x) for x in (tmp_path / n / "metrics.jsonl").read_text().splitlines()] for n in "ab")
    assert [r["step"] for r in b] == [1, 2, 3, 4]
    assert [r["sampling/staleness"] for r in a] == [0, 1, 1, 1]
    assert max(r["sampling/staleness_max"] for r in a) == 1
    for key in ("reward/mean", "completion/mean_length", "loss/policy", "policy/grad_norm", "sampling/is_ratio_mean",
                "sampling/staleness"):
        assert [r[key] for r in b] == [r[key] for r in a], key

"""`tracking.write_result_run`, the one W&B writer of results, and each of its users (the eval report, the GRM and
SEAL evals, bench_grm, bench_seal, benchmarks/report.py): the real wandb client offline, its record file read back
(job type, name, config, summary, history steps and keys, tables)."""
from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import pytest

from r1zero.tracking import BarData, ImageFile, TableData, write_result_run
from runner import _records

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")


def read_run(run_dir: str) -> dict:
    """What an offline run recorded: job type, name, config keys, the final summary, {step: history keys}."""
    from wandb.proto import wandb_internal_pb2 as pb  # W&B's own record format (no public reader)

    out: dict = {"summary": {}, "history": {}, "config": set()}
    for record in _finished_records(next(Path(run_dir).glob("*.wandb")), pb):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out["job_type"], out["name"] = record.run.job_type, record.run.display_name
            out["config"] |= {i.key for i in record.run.config.update}
        elif kind == "history":
            keys = {i.key or i.nested_key[0] for i in record.history.item}
            out["history"].setdefault(int(record.history.step.num), set()).update(
                k for k in keys if not k.startswith("_"))
        elif kind == "summary":
            for i in record.summary.update:
                if not (i.key or i.nested_key[0]).startswith("_"):
                    out["summary"][i.key or "/".join(i.nested_key)] = json.loads(i.value_json)
    return out


def _finished_records(path: Path, pb, wait_s: float = 60.0) -> list:
    """The records of a run file once it holds the run's exit record: the W&B service may still be writing it when
    `run.finish()` has returned."""
    deadline = time.monotonic() + wait_s
    while True:
        records = []
        for raw in _records(path.read_bytes()):
            records.append(pb.Record())
            records[-1].ParseFromString(raw)
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def _load(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_result_run_writes_config_summary_history_and_media(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    png = tmp_path / "p.png"
    plt.figure(figsize=(1, 1)).savefig(png)
    run_dir = write_result_run(tmp_path, "probe", "probe-run", "auto", config={"model": "m"}, summary={"x/acc": 0.5},
                               history=[(1, {"h": 1.0}), (4, {"h": 2.0})],
                               logs=[{"t": TableData(["k", "v"], [[1, 2.0]])},
                                     {"b": BarData(TableData(["m", "v"], [["a", 1.0]]), "m", "v", "title")},
                                     {"img": ImageFile(png)}])
    assert Path(run_dir).name.startswith("offline-run-") and Path(run_dir).parent == tmp_path / "wandb"
    run = read_run(run_dir)
    assert (run["job_type"], run["name"]) == ("probe", "probe-run") and "model" in run["config"]
    assert run["history"][1] == {"h"} and {"h", "t"} <= run["history"][4]  # an unstepped row joins the last step
    assert {"b_table"} <= run["history"][5] and "img" in run["history"][6]
    assert run["summary"]["x/acc"] == 0.5 and run["summary"]["t/_type"] == "table-file"


def test_disabled_writes_nothing(tmp_path):
    assert write_result_run(tmp_path / "out", "probe", "p", "disabled", summary={"a": 1}) is None
    assert not (tmp_path / "out").exists()


def test_eval_report_run(tmp_path):
    from r1zero.report import log_eval_wandb

    result = {"model": "runs/x/final_model", "settings": {"k": 2},
              "suites": {"s1": {"metrics": {"accuracy": 0.5, "pass@2": 1.0, "mean_length": 3.0}}}}
    completions = [{"suite": "s1", "id": 1, "sample": 0, "problem": "p", "gold": "1", "pred": 1, "correct": True,
                    "finish": "stop", "length": 3, "completion": "1"}]
    run = read_run(log_eval_wandb(result, completions, tmp_path, "offline", 8))
    assert (run["job_type"], run["name"]) == ("eval", "eval-final_model") and "k" in run["config"]
    assert {k for k in run["summary"] if k.startswith("eval/")} == {"eval/s1/accuracy", "eval/s1/pass@2",
                                                                    "eval/s1/mean_length"}
    assert set().union(*run["history"].values()) == {"summary", "charts/s1_table", "samples"}


def test_grm_and_seal_eval_runs(tmp_path):
    from r1zero.tasks.grm import Votes, write_pairwise
    from r1zero.tasks.seal.eval import log_wandb

    m = {"accuracy": 0.5, "tie_rate": 0.0, "no_parse_rate": 0.5, "parse_rate": 0.5, "pairs": 2.0}
    result = {"model": "m", "data": "d", "label": "before", "command": "", "settings": {"k": [1, 2]},
              "per_k": {"1": m, "2": m}, "wall_s": 1.0}
    pairs = [{"id": "a", "labels": [1, 0]}]
    files = write_pairwise(result, pairs, Votes([[None]], [["x"]], [["no"]]), tmp_path / "grm", "offline")
    run = read_run(files["wandb_dir"])
    assert (run["job_type"], run["name"]) == ("grm-eval", "grm-eval-before")
    assert {"grm/pairwise_accuracy@1", "grm/pairwise_accuracy@2"} <= set(run["summary"])
    assert run["history"][1] == {f"grm/pairwise_{k}" for k in m} and "grm/pairwise" in run["history"][2]
    seal = {"model": "runs/s/final_model", "inner_model": "m", "settings": {"template": "seal"},
            "metrics": {"gain": 0.1, "passages": 1.0},
            "by_kind": {"main": {"acc_before": 0.0, "acc_after": 1.0, "gain": 1.0, "questions": 1.0}}}
    run = read_run(log_wandb(seal, [{"id": "p", "self_edit": "e", "gain": 0.1}], tmp_path / "seal", "offline"))
    assert (run["job_type"], run["name"]) == ("seal-eval", "seal-eval-final_model")
    assert {"seal/gain", "seal/passages"} <= set(run["summary"]) and "template" in run["config"]
    assert set().union(*run["history"].values()) == {"by_kind", "edits"}


def test_benchmark_runs(tmp_path):
    per_k = {"1": {"accuracy": 0.25, "tie_rate": 0.0, "parse_rate": 0.5}}
    summary = {"data": "d", "k": [1], "models": {"before": {"model": "m", "per_k": per_k}}}
    run = read_run(_load("benchmarks/bench_grm.py").log_wandb(summary, tmp_path / "grm", "offline"))
    assert (run["job_type"], run["name"]) == ("bench-grm", "bench-grm") and "data" in run["config"]
    assert run["summary"]["grm/before/pairwise_accuracy@1"] == 0.25
    assert run["history"][1] == {"grm/pairwise_accuracy/before", "grm/pairwise"}
    bench_seal = _load("benchmarks/bench_seal.py")
    res = {"base": "b", "data": "d", "before": {"metrics": {k: 0.0 for k in bench_seal.KEYS}}}
    run = read_run(bench_seal.log_wandb(res, tmp_path / "seal", "offline"))
    assert {f"seal_before/{k}" for k in bench_seal.KEYS} <= set(run["summary"])
    assert set().union(*run["history"].values()) == {"seal_gain"}
    report = {"command": "c", "load": {"mean": 1.0, "cpus": 2}, "bench": {"rollout": {"result": {"tok_s": 3.0}}},
              "eval": {"result": {"suites": {"s": {"metrics": {"accuracy": 0.5}}}}}}
    run = read_run(_load("benchmarks/report.py").log_wandb(report, tmp_path / "report", "offline"))
    assert (run["job_type"], run["name"]) == ("report", "report")
    assert {"eval/s/accuracy", "bench/rollout/tok_s", "machine/load_avg_mean", "machine/cpus"} <= set(run["summary"])

"""`r1zero grm ...` and `r1zero seal ...`, the tasks' subcommands of the one CLI. The commands that need a model run
end to end elsewhere (`r1zero grm eval` in test_grm.py); here: dispatch, argument errors, and seal build-data (pure
string processing) byte for byte."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from r1zero.cli import main
from r1zero.data import DATA_DIR

ROOT = Path(__file__).resolve().parents[1]


def run_cli(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(argv)
    return int(e.value.code or 0)


def test_seal_build_data_through_the_cli(tmp_path, capsys):
    assert run_cli(["seal", "build-data", "--out", str(tmp_path)]) == 0
    written = capsys.readouterr().out.split()
    names = ["train.jsonl", "test.jsonl", "fiction_train.jsonl", "fiction_test.jsonl", "rules_train.jsonl",
             "rules_test.jsonl"]
    assert [Path(p).name for p in written] == names
    for name in names:
        assert (tmp_path / name).read_bytes() == (DATA_DIR / "seal" / name).read_bytes()


@pytest.mark.parametrize("argv, message", [
    (["grm", "eval", "--k", "0"], "config error: --k needs positive integers"),
    (["grm", "eval", "--bogus", "1"], "unrecognized arguments: --bogus 1"),
    (["seal", "build-data", "extra=1"], "unrecognized arguments: extra=1"),
    (["grm"], "the following arguments are required"),
    (["seal", "eval", "--out", "x", "--baselines", "passage,bogus", "--limit", "1"],
     "config error: unknown SEAL baseline(s) bogus (--baselines): choose from passage, copy, fixed"),
])
def test_argument_errors_exit_2(argv, message, capsys):
    assert run_cli(argv) == 2
    assert message in capsys.readouterr().err


def test_the_tasks_are_subcommands_of_the_one_cli():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "r1zero.cli", "seal", "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("usage: r1zero seal ") and "build-data" in proc.stdout and "eval" in proc.stdout

"""`python -m rewards score|list`: output rows, bad rows with line numbers, exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rewards.cli import main

ROOT = Path(__file__).resolve().parents[1]

ROWS = [
    '{"answer": "57", "completion": "<think>25 + 32</think> <answer>57</answer>"}',
    '{"answer": "57", "completion": "The sum is 57."}',
    "this is not json",
    '{"answer": "1/2", "response": "0.5"}',
    '{"completion": "no gold here"}',
    "",
    '[1, 2]',
    '{"answer": "3", "completion": "\\\\boxed{3} or \\\\boxed{5}"}',
    '{"answer": "3", "response": 4}',
    '{"answer": 18, "completion": "#### 18"}',
    '{"answer": "5"}',
    '{"answer": "1", "completion": "\\ud800 so 1"}',
]


def _write(tmp_path: Path) -> Path:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(ROWS) + "\n")
    return src


def _check_output(out: list[dict], stderr: str) -> None:
    assert len(out) == len([r for r in ROWS if r.strip()])  # one row per non-blank line, in order
    assert [r.get("correct") for r in out] == [True, True, False, True, False, False, False, False, True, False, True]
    assert [r.get("format_ok") for r in out] == [True, False, None, None, None, None, False, None, False, None, False]
    assert out[10]["completion"] == "\ud800 so 1"  # a lone surrogate survives the round trip
    assert out[0]["reward"] == 2.0 and out[1]["reward"] == 1.0 and out[3]["reward"] == 1.0
    assert out[0]["error"] is None and out[1]["completion"] == "The sum is 57."
    assert out[2]["error"].startswith("line 3: not JSON") and out[2]["line"] == 3
    assert "line 5" in out[4]["error"] and "answer" in out[4]["error"]
    assert "line 7" in out[5]["error"]
    assert "line 11" in out[9]["error"] and "completion" in out[9]["error"]
    for n in (3, 5, 7, 11):
        assert f"line {n}" in stderr
    assert "scored 11 rows" in stderr


def test_cli_subprocess_with_the_pool(tmp_path):
    src, dst = _write(tmp_path), tmp_path / "out.jsonl"
    proc = subprocess.run([sys.executable, "-m", "rewards", "score", str(src), "-o", str(dst), "--workers", "2",
                           "--timeout", "5"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    _check_output([json.loads(line) for line in dst.read_text().splitlines()], proc.stderr)


def test_cli_in_process_to_stdout(tmp_path, capsys):
    assert main(["score", str(_write(tmp_path)), "--workers", "0"]) == 0
    captured = capsys.readouterr()
    _check_output([json.loads(line) for line in captured.out.splitlines()], captured.err)


def test_cli_rewards_weights_and_details(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"answer": "4", "completion": "\\\\boxed{4}"}\n')
    assert main(["score", str(src), "--workers", "0", "--rewards", "accuracy_strict,boxed_format",
                 "--weights", "1,0.5", "--details"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["correct"] is True and row["format_ok"] is True and row["reward"] == 1.5
    assert row["details"]["accuracy_strict"]["pred"] == "4"


def test_cli_errors_and_list(tmp_path, capsys):
    assert main(["score", str(tmp_path / "missing.jsonl")]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert main(["score", str(_write(tmp_path)), "--rewards", "acuracy", "--workers", "0"]) == 2
    assert "valid names are" in capsys.readouterr().err
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in ("accuracy", "format", "boxed_format", "countdown"))


def _hostile_lines() -> list[bytes]:
    """Lines that once stopped the whole job (issue 15): each must still give exactly one output row."""
    return [
        b'{"answer": "4", "completion": "\\\\boxed{4}"}',
        b'{"answer": "4", "completion": "caf\xe9 \\\\boxed{4}"}',  # a Latin-1 byte: not UTF-8
        b"[" * 100_000 + b"]" * 100_000,  # nested 100,000 deep
        b'{"answer": ' + b"9" * 5000 + b', "response": "' + b"9" * 5000 + b'"}',  # a 5,000-digit integer
        b'{"answer": "1", "response": "\\ud800 1"}',  # a lone surrogate, escaped
        b'{"answer": "1", "response": "\xed\xa0\x80 1"}',  # a lone surrogate, encoded (invalid UTF-8)
        b'{"answer": NaN, "response": "1e999"}',
        b'{"answer": "2", "response": 1e999}',
        b"\xff\xfe",
        b'{"answer": "3", "completion": "\\\\boxed{3}"}',
    ]


def _run_hostile(tmp_path: Path, workers: str) -> tuple[list[dict], str]:
    src, dst = tmp_path / "hostile.jsonl", tmp_path / "hostile.out.jsonl"
    src.write_bytes(b"\n".join(_hostile_lines()) + b"\n")
    proc = subprocess.run([sys.executable, "-m", "rewards", "score", str(src), "-o", str(dst), "--workers", workers],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()], proc.stderr


@pytest.mark.parametrize("workers", ["0", "1"])
def test_cli_writes_a_row_for_every_line_whatever_it_holds(tmp_path, workers):
    out, stderr = _run_hostile(tmp_path, workers)
    assert len(out) == len(_hostile_lines())  # one row per line, in order
    assert [r.get("line") for r in out if r["error"]] == [2, 3, 6, 9]  # bad rows name their line
    assert out[0]["correct"] is True and out[-1]["correct"] is True and out[0]["error"] is None
    assert "not UTF-8" in out[1]["error"] and "line 2" in out[1]["error"]
    assert "nested too deeply" in out[2]["error"]
    assert out[3]["correct"] is True and out[3]["error"] is None  # the long integer is scored, as digits
    assert out[4]["correct"] is True
    assert "not UTF-8" in out[5]["error"] and "not UTF-8" in out[8]["error"]
    assert out[6]["correct"] is False and out[7]["correct"] is False  # NaN, 1e999: read as text, scored
    assert "scored 10 rows" in stderr

"""Every user-facing error after parsing the command line is one message line on stderr that names the key, file:line
or path and the fix, with the exit code of its kind (r1zero/errors.py), on one rank and on two; the traceback only
with R1ZERO_DEBUG=1 (or log.verbose=true)."""
import errno
import json
import sys

import pytest

from r1zero.models import build_tiny_model
from runner import HF_LOOP, cli

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden=64, layers=2))


def messages(proc) -> list[str]:
    """The r1zero lines of a failed run, checked to come without a traceback or torch's [rankN] copy of one."""
    text = proc.stdout + proc.stderr
    assert "[rank0]" not in text and "[rank1]" not in text, text[-3000:]
    launcher = "ChildFailedError" in text  # torchrun's agent prints its own traceback and summary after ours
    assert text.count("Traceback") == launcher, text[-3000:]
    return [line for line in text.splitlines() if line.startswith("r1zero:")]


def test_every_kind_has_its_own_exit_code():
    from r1zero import errors

    kinds = [errors.ConfigError, errors.DataError, errors.ModelError, errors.ResumeError, errors.RewardError,
             errors.DiskError, errors.BadStepsError]
    codes = [errors.report(k("x")) for k in kinds]
    assert codes == [2, 3, 4, 5, 6, 7, 8]
    assert errors.report(OSError(errno.ENOSPC, "No space left on device", "/x/metrics.jsonl")) == 7
    assert errors.report(RuntimeError("a bug")) == 1


def test_config_error_is_one_line_and_the_traceback_is_opt_in(tmp_path):
    proc = cli(["rewards.timeout_s=0"])
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "r1zero: config error: `rewards.timeout_s` must be > 0 (seconds per completion before its worker is "
        "killed), got 0.0"]
    debug = cli(["rewards.timeout_s=0"], R1ZERO_DEBUG="1")
    assert debug.returncode == 2 and "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith("r1zero: config error: `rewards.timeout_s`")


def test_config_error_on_two_ranks_is_printed_once():
    proc = cli(["eval.limit=-5"], launcher=TORCHRUN + ["--master_port", "29563", "-m"])
    assert messages(proc) == ["r1zero: config error: `eval.limit` must be >= 0 (0: all problems), got -5"]
    assert "exitcode  : 2" in proc.stderr  # each rank's code, in torchrun's summary


@pytest.fixture
def bad_data(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"problem": "1 + 1?", "answer": "2"}) + "\n" + json.dumps({"problem": "2 + 2?"}) + "\n")
    return path


def test_data_error_names_file_and_line_on_two_ranks(tiny, tmp_path, bad_data):
    proc = cli([f"model.name={tiny}", *HF_LOOP, f"data.train={bad_data}", f"log.output_dir={tmp_path}",
                "log.wandb_mode=disabled", "train.prompts_per_step=2", "train.micro_batch_size=8"],
               launcher=TORCHRUN + ["--master_port", "29564", "-m"])
    (line,) = messages(proc)
    assert line.startswith(f"r1zero: data error: {bad_data}:2: this row has no `answer` (data.answer_key)"), line
    assert "exitcode  : 3" in proc.stderr


@pytest.mark.parametrize("case", ["model", "resume", "rewards"])
def test_model_resume_and_reward_errors(tiny, tmp_path, case):
    empty = tmp_path / "empty"
    empty.mkdir()
    over = {"model": [f"model.name={empty}"],
            "resume": [f"checkpoint.resume={empty}"],
            "rewards": ["rewards.names=grm_judge", f"grm.judge_model={empty}"]}[case]
    (empty / "trainer_state.json").write_text('{"step": 1}') if case == "resume" else None
    proc = cli([f"model.name={tiny}", *HF_LOOP, f"log.output_dir={tmp_path}", "log.wandb_mode=disabled", *over])
    (line,) = messages(proc)
    expected = {
        "model": (4, f"r1zero: model error: `model.name={empty}`: the directory {empty} has no config.json"),
        "resume": (5, f"r1zero: resume error: checkpoint {empty} is incomplete (missing or short: *model_states.pt)"),
        "rewards": (4, f"r1zero: model error: `grm.judge_model={empty}`: the directory {empty} has no config.json"),
    }[case]
    assert (proc.returncode, line[:len(expected[1])]) == expected, line

"""Your own data: every file format the trainer reads (written here, by the libraries researchers use), column maps
with dotted paths, and one-line errors that name the file and line (or row) for every bad input."""
from __future__ import annotations

import json

import pytest

from r1zero.data import DataError, load_dataset

ROWS = [{"question": f"What is {i} + 1?", "reward_model": {"ground_truth": str(i + 1), "style": "rule"},
         "difficulty": i % 3} for i in range(4)]
NESTED = {"problem_key": "question", "answer_key": "reward_model.ground_truth"}


def expected(stem: str) -> list[dict]:
    return [{**r, "problem": r["question"], "answer": r["reward_model"]["ground_truth"], "id": f"{stem}-{i + 1}"}
            for i, r in enumerate(ROWS)]


def test_parquet_jsonl_json_and_save_to_disk_read_the_same_rows(tmp_path):
    import datasets
    import pandas as pd

    pd.DataFrame(ROWS).to_parquet(tmp_path / "t.parquet")
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (tmp_path / "t.json").write_text(json.dumps(ROWS))
    datasets.Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "t"))
    for name in ("t.parquet", "t.jsonl", "t.json", "t"):
        assert load_dataset(tmp_path / name, **NESTED) == expected("t"), name
    assert len(load_dataset(tmp_path / "t.parquet", limit=2, **NESTED)) == 2


def test_csv_cells_stay_text(tmp_path):
    import pandas as pd

    pd.DataFrame({"question": ["What is 3 + 4?", "Write 7 with three digits.", "1e20 + 1?"],
                  "answer": ["7", "007", "100000000000000000001"]}).to_csv(tmp_path / "t.csv", index=False)
    rows = load_dataset(tmp_path / "t.csv", problem_key="question")
    assert [r["answer"] for r in rows] == ["7", "007", "100000000000000000001"]  # no int/float guessing
    assert rows[1]["problem"] == "Write 7 with three digits." and rows[1]["id"] == "t-2"


def test_missing_column_names_file_row_column_and_the_columns_there_are(tmp_path):
    import pandas as pd

    pd.DataFrame(ROWS).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(DataError) as err:
        load_dataset(tmp_path / "t.parquet", problem_key="prompt", answer_key="reward_model.ground_truth")
    msg = str(err.value)
    assert f"{tmp_path / 't.parquet'} row 1: no column `prompt` (data.problem_key)" in msg
    assert "the columns are: question, reward_model.ground_truth, reward_model.style, difficulty" in msg
    with pytest.raises(DataError, match=r"no column `reward_model.answer` \(data.answer_key\)"):
        load_dataset(tmp_path / "t.parquet", problem_key="question", answer_key="reward_model.answer")


def test_a_null_cell_names_its_row(tmp_path):
    import pandas as pd

    pd.DataFrame({"problem": ["a", "b", "c"], "answer": ["1", None, "3"]}).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(DataError, match=r"t.parquet row 2: `answer` \(data.answer_key\) must be non-empty text "
                                        r"or a number, got None"):
        load_dataset(tmp_path / "t.parquet")


GOOD = b'{"problem": "What is 1 + 1?", "answer": "2"}\n'
BAD_LINES = {  # issue 15: each of these stopped the run with a bare library exception and no file:line
    "non-UTF-8 byte": (b'{"problem": "caf\xe9?", "answer": "1"}', ["not UTF-8", "byte 0xe9", "re-save"]),
    "nested 100,000 deep": (b'{"problem": "p", "answer": "1", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                            ["nested too deeply", "flatten it"]),
    "5,000-digit integer": (b'{"problem": "p", "answer": ' + b"9" * 5000 + b"}", ["number too long", "string"]),
    "lone surrogate": (b'{"problem": "p \\ud800", "answer": "1"}', ["lone surrogate", "'\\ud800'"]),
}


@pytest.mark.parametrize("kind", list(BAD_LINES))
def test_a_bad_jsonl_line_is_one_error_naming_file_and_line(tmp_path, kind):
    line, words = BAD_LINES[kind]
    path = tmp_path / "train.jsonl"
    path.write_bytes(GOOD + line + b"\n" + GOOD)
    with pytest.raises(DataError) as err:
        load_dataset(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:2: "), msg
    assert "\n" not in msg and len(msg) < 400
    for w in words:
        assert w in msg


@pytest.mark.parametrize("kind", list(BAD_LINES))
def test_a_bad_json_file_names_the_line(tmp_path, kind):
    line, words = BAD_LINES[kind]
    path = tmp_path / "eval.json"
    path.write_bytes(b"[\n" + GOOD.strip() + b",\n" + line + b"\n]\n")
    with pytest.raises(DataError) as err:
        load_dataset(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:3") or msg.startswith(f"{path} row 2"), msg
    assert words[0] in msg


def test_non_utf8_csv_names_the_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"problem,answer\nWhat is 1 + 1?,2\ncaf\xe9,3\n")
    with pytest.raises(DataError, match=r"t.csv:3: not UTF-8"):
        load_dataset(path)


def test_malformed_csv_and_parquet_are_one_line_errors(tmp_path):
    (tmp_path / "t.csv").write_text("problem,answer\n1,2,3\n")
    with pytest.raises(DataError, match=r"t.csv:2: 3 fields where the header has 2 \(problem, answer\): quote cells"):
        load_dataset(tmp_path / "t.csv")
    (tmp_path / "t.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="not a readable parquet file"):
        load_dataset(tmp_path / "t.parquet")


def test_directories_and_formats_that_are_not_datasets(tmp_path):
    import datasets

    splits = datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS), "test": datasets.Dataset.from_list(ROWS)})
    splits.save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(DataError, match=r"a DatasetDict with splits test, train: give one split's directory, e\.g\. "
                                        r".*dd/train"):
        load_dataset(tmp_path / "dd", **NESTED)
    assert len(load_dataset(tmp_path / "dd" / "test", **NESTED)) == 4
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="not one written by `datasets` save_to_disk"):
        load_dataset(tmp_path / "empty")
    (tmp_path / "t.txt").write_text("What is 1 + 1?\n")
    with pytest.raises(DataError, match=r"unsupported dataset format `\.txt`"):
        load_dataset(tmp_path / "t.txt")


def test_a_row_list_of_non_objects_and_an_object_are_refused(tmp_path):
    (tmp_path / "a.json").write_text('{"data": [{"problem": "p", "answer": "1"}]}')
    with pytest.raises(DataError, match="got an object with keys data: write the rows as a top-level list"):
        load_dataset(tmp_path / "a.json")
    (tmp_path / "b.json").write_text('{"problem": "p", "answer": "1"}\n{"problem": "q", "answer": "2"}\n')
    assert [r["id"] for r in load_dataset(tmp_path / "b.json")] == ["b-1", "b-2"]  # JSON lines in a .json file


def test_a_lone_surrogate_that_reaches_the_tokenizer_names_the_row():
    """Rows built in code skip the file checks: the prompt encoder still names the row (was a tokenizer TypeError)."""
    from r1zero.models import load_tokenizer
    from r1zero.prompts import PromptError, encode_prompts

    tok = load_tokenizer("smollm2-135m")
    rows = [{"id": "ok", "problem": "What is 1 + 1?"}, {"id": "bad", "problem": "What is \ud800?"}]
    with pytest.raises(PromptError, match="row `bad`: its prompt cannot be tokenized"):
        encode_prompts(rows, "plain", tok, chat=True, max_prompt_tokens=64)

"""Datasets: schema errors name file:line, names resolve, shipped files load, sampler invariants, addition files."""
from __future__ import annotations

import hashlib
import re

import pytest

from r1zero import data
from r1zero.data import DATASETS, DataError, Sampler, load_dataset, resolve_dataset

EXPECTED_ROWS = {"gsm8k": 7473, "gsm8k_test": 1319, "math": 11998, "math500": 500, "aime24": 30, "aime25": 30,
                 "amc23": 40, "addition": 5000, "addition_test": 500, "addition_small": 241,
                 "addition_small_test": 200, "grm_addition_small": 200, "grm_addition_small_test": 138,
                 "seal_gsm8k": 160, "seal_gsm8k_test": 50,
                 "seal_fiction": 200, "seal_fiction_test": 60, "seal_rules": 160, "seal_rules_test": 48}


def write(tmp_path, text, name="d.jsonl"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- schema


def test_load_jsonl_reads_rows_skips_blank_lines_and_numbers_ids(tmp_path):
    path = write(tmp_path, '{"problem": "1+1?", "answer": 2}\n\n{"problem": "2+2?", "answer": "4", "id": "x"}\n')
    rows = load_dataset(path)
    assert rows == [{"problem": "1+1?", "answer": "2", "id": "d-1"}, {"problem": "2+2?", "answer": "4", "id": "x"}]


@pytest.mark.parametrize("text, line, words", [
    ('{"problem": "p", "answer": "1"}\n{"problem": "q"}\n', 2,
     ["this row has no `answer` (data.answer_key)", "the columns are: problem, answer"]),
    ('{"problem": "p", "answer": "1"}\n{"problem": "q", "answer": "2"\n', 2, ["not valid JSON", "fix or delete"]),
    ('["p", "1"]\n', 1, ["expected a JSON object", "got a list"]),
    ('{"problem": "", "answer": "1"}\n', 1, ["`problem` (data.problem_key) must be non-empty text"]),
    ('{"problem": "p", "answer": null}\n', 1, ["`answer` (data.answer_key) must be non-empty text", "None"]),
    ('{"problem": "p", "answer": true}\n', 1, ["must be non-empty text or a number, got True"]),
    ('{"problem": "p", "answer": "1", "id": 7}\n\n{"problem": "q", "answer": "2", "id": 7}\n', 3,
     ["duplicate id `7`", "first at", "d.jsonl:1"]),
])
def test_schema_errors_name_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert f"{path}:{line}:" in str(err.value)
    for w in words:
        assert w in str(err.value)


def test_column_keys_map_other_names(tmp_path):
    path = write(tmp_path, '{"question": "p", "solution": {"final": 3}, "level": 2}\n')
    rows = load_dataset(path, problem_key="question", answer_key="solution.final")
    assert rows == [{"question": "p", "solution": {"final": 3}, "level": 2, "problem": "p", "answer": "3",
                     "id": "d-1"}]
    with pytest.raises(DataError, match=r"d.jsonl:1: no column `problem` \(data.problem_key\); the columns are: "
                                        r"question, solution.final, level"):
        load_dataset(path)


def test_empty_or_missing_file_is_an_error(tmp_path):
    with pytest.raises(DataError, match="has no rows"):
        load_dataset(write(tmp_path, "\n  \n"))
    with pytest.raises(DataError, match="neither a dataset name nor an existing file"):
        load_dataset(tmp_path / "nope.jsonl")


# ---------------------------------------------------------------------------------------------- names and files


def test_resolve_names_and_paths(tmp_path):
    assert resolve_dataset("gsm8k") == data.DATA_DIR / "gsm8k" / "train.jsonl"
    path = write(tmp_path, '{"problem": "p", "answer": "1"}\n')
    assert resolve_dataset(str(path)) == path
    with pytest.raises(DataError) as err:
        resolve_dataset("gsm8kk")
    for name in DATASETS:
        assert name in str(err.value)


def test_shipped_datasets_load_with_expected_row_counts():
    assert set(DATASETS) == set(EXPECTED_ROWS)
    for name, n in EXPECTED_ROWS.items():
        rows = data.load_dataset(name)
        assert len(rows) == n, name
        assert all(isinstance(r["answer"], str) and r["answer"] for r in rows)
    assert len(data.load_dataset("math500", limit=200)) == 200


def test_shipped_files_match_the_readme_checksums():
    readme = (data.DATA_DIR / "README.md").read_text()
    for rel in DATASETS.values():
        digest = hashlib.sha256((data.DATA_DIR / rel).read_bytes()).hexdigest()
        assert re.search(rf"`{re.escape(rel)}` \| \d+ \| \d+ \| .* \| `{digest}`", readme), rel


# ---------------------------------------------------------------------------------------------- addition


def test_addition_files_are_reproduced_byte_for_byte(tmp_path):
    for path in data.write_addition(tmp_path):
        assert path.read_bytes() == (data.DATA_DIR / "addition" / path.name).read_bytes(), path.name
    for path in data.write_addition(tmp_path / "small", task="addition_small"):
        assert path.read_bytes() == (data.DATA_DIR / "addition_small" / path.name).read_bytes(), path.name
    data.main(["make-addition", "--out", str(tmp_path / "cli" / "addition")])
    assert (tmp_path / "cli" / "addition" / "test.jsonl").read_bytes() == (tmp_path / "test.jsonl").read_bytes()
    assert (tmp_path / "cli" / "addition_small" / "test.jsonl").read_bytes() == \
        (tmp_path / "small" / "test.jsonl").read_bytes()


def test_addition_small_rows_are_correct_and_splits_disjoint():
    train, test = data.addition_rows("train", task="addition_small"), data.addition_rows("test", task="addition_small")
    assert len(train) == 241 and len(test) == 200
    pairs = [tuple(map(int, re.fullmatch(r"What is (\d+) \+ (\d+)\?", r["problem"]).groups())) for r in train + test]
    assert all(0 <= a <= 20 and 0 <= b <= 20 and r["answer"] == str(a + b) for (a, b), r in zip(pairs, train + test))
    assert len(set(pairs)) == 441


def test_addition_rows_are_correct_and_splits_disjoint():
    train, test = data.addition_rows("train"), data.addition_rows("test")
    assert len(train) == 5000 and len(test) == 500
    pairs = []
    for row in train + test:
        a, b = map(int, re.fullmatch(r"What is (\d\d) \+ (\d\d)\?", row["problem"]).groups())
        assert row["answer"] == str(a + b) and row["source"] == "addition"
        pairs.append((a, b))
    assert len(set(pairs)) == len(pairs)
    assert data.addition_rows("test", seed=1) != test


# ---------------------------------------------------------------------------------------------- sampler


def draw(sampler, steps, method="next_batch"):
    return [getattr(sampler, method)() for _ in range(steps)]


def test_sampler_is_deterministic_and_seeded():
    rows = list(range(23))
    assert draw(Sampler(rows, 4, seed=3), 10) == draw(Sampler(rows, 4, seed=3), 10)
    assert draw(Sampler(rows, 4, seed=3), 10) != draw(Sampler(rows, 4, seed=4), 10)


def test_sampler_epochs_cover_every_row_once_and_reshuffle():
    rows = list(range(10))
    sampler = Sampler(rows, 4, seed=0)
    stream = [x for batch in draw(sampler, 10) for x in batch]  # 40 rows = 4 epochs, batches span epochs
    epochs = [stream[i:i + 10] for i in range(0, 40, 10)]
    assert all(sorted(e) == rows for e in epochs)
    assert len({tuple(e) for e in epochs}) == 4
    assert sampler.state_dict()["epoch"] == 4 and sampler.state_dict()["position"] == 0


def test_sampler_batch_larger_than_dataset():
    batch = Sampler([0, 1, 2], 7, seed=0).next_batch()
    assert len(batch) == 7 and sorted(batch[:3]) == sorted(batch[3:6]) == [0, 1, 2]


def test_sampler_resume_gives_the_same_batches():
    rows = list(range(17))
    full = draw(Sampler(rows, 6, seed=1), 12)
    first = Sampler(rows, 6, seed=1)
    head = draw(first, 5)
    resumed = Sampler(rows, 6, seed=1)
    resumed.load_state_dict(first.state_dict())
    assert head + draw(resumed, 7) == full


def test_sampler_ranks_are_disjoint_and_form_the_global_batch():
    rows = list(range(50))
    world = 4
    global_batches = draw(Sampler(rows, 8, seed=2), 9, "next_global_batch")
    per_rank = [draw(Sampler(rows, 8, seed=2, rank=r, world_size=world), 9) for r in range(world)]
    for step, batch in enumerate(global_batches):
        shares = [per_rank[r][step] for r in range(world)]
        assert all(len(s) == 2 for s in shares)
        assert [x for s in shares for x in s] == batch
        assert len(set(batch)) == len(batch)


def test_sampler_resume_across_world_sizes():
    rows = list(range(31))
    one = Sampler(rows, 4, seed=0)
    draw(one, 3)
    two = [Sampler(rows, 4, seed=0, rank=r, world_size=2) for r in range(2)]
    for s in two:
        s.load_state_dict(one.state_dict())
    expected = one.next_global_batch()
    assert two[0].next_batch() + two[1].next_batch() == expected


def test_sampler_errors():
    with pytest.raises(DataError, match="divisible by world_size=3"):
        Sampler([1, 2], 4, seed=0, rank=0, world_size=3)
    with pytest.raises(DataError, match="no rows"):
        Sampler([], 4, seed=0)
    state = Sampler(list(range(5)), 2, seed=0).state_dict()
    with pytest.raises(DataError, match="same data.train"):
        Sampler(list(range(6)), 2, seed=0).load_state_dict(state)

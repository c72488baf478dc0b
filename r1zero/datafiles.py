"""Dataset files of every supported format, read into rows that know where they came from.

    table = read_table(Path("data/train.parquet"))
    table.rows[i]        # one dict per row, every column of the file (nested columns stay nested dicts)
    table.where(i)       # "data/train.parquet row 13" (or "data/train.jsonl:13" for JSON lines)
    table.columns        # every column, nested ones as dotted paths: ["prompt", "reward_model.ground_truth", ...]

| what                                         | read by                                | a row in errors    |
|----------------------------------------------|----------------------------------------|--------------------|
| `.jsonl`: one JSON object a line             | Python's `json`, line by line          | `file:LINE`        |
| `.json`: a list of objects (or JSON lines)   | Python's `json`                        | `file row N`       |
| `.parquet`                                   | `datasets` (`load_dataset("parquet")`) | `file row N`       |
| `.csv`: a header line, every cell is text    | `datasets` (`load_dataset("csv")`)     | `file row N`       |
| a `datasets` `save_to_disk` directory        | `datasets.load_from_disk`              | `dir row N`        |

JSON is parsed by Python's `json`, not by `datasets`: pyarrow's JSON reader (what `datasets` uses) kills the whole
process with a segfault on a line nested 100,000 deep (measured with datasets 5.2.0 / pyarrow 26), refuses integers
wider than 64 bits ("Value is too big!"), and names no line in its errors; `json` turns each of those into an error
with the line. CSV cells are read as text (`"007"` stays `"007"`, an empty cell stays `""`): CSV has no types, and
pandas' guessing would turn a long integer answer into a rounded float.

Every problem is a `DataError` naming the file (and line or row) and the fix: bytes that are not UTF-8, invalid or
too deeply nested JSON, numbers too long to convert, a lone surrogate (`"\\ud800"`) in a text field. Row-level checks
of the columns a task needs are `r1zero.data`'s.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1zero.errors import DataError  # a ValueError too, with the exit code of a data error (r1zero/errors.py)

FILE_FORMATS = (".jsonl", ".json", ".parquet", ".csv")
FIX_UTF8 = "re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`) or delete the line"


@dataclass
class Table:
    path: Path
    rows: list[dict]
    lines: list[int] | None = None  # JSON lines: the line of each row (blank lines are skipped)

    def where(self, i: int) -> str:
        return f"{self.path}:{self.lines[i]}" if self.lines is not None else f"{self.path} row {i + 1}"

    @property
    def columns(self) -> list[str]:
        """Every column of the file in order of first appearance; columns inside columns as dotted paths."""
        seen: dict[str, None] = {}
        for row in self.rows:
            for name in leaf_paths(row):
                seen.setdefault(name, None)
        return list(seen)


def leaf_paths(row: dict, prefix: str = "") -> list[str]:
    """`{"a": 1, "b": {"c": 2}}` -> ["a", "b.c"] (lists are leaves)."""
    out = []
    for key, value in row.items():
        name = f"{prefix}{key}"
        out += leaf_paths(value, name + ".") if isinstance(value, dict) and value else [name]
    return out


def read_table(path: Path) -> Table:
    """Every row of a dataset file or `save_to_disk` directory (see the module doc for the formats)."""
    if path.is_dir():
        return _read_saved(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _read_json_lines(path, path.read_bytes())
    if suffix == ".json":
        return _read_json(path)
    if suffix in (".parquet", ".csv"):
        return _read_with_datasets(path, suffix[1:])
    raise DataError(f"{path}: unsupported dataset format `{suffix or path.name}`: give a "
                    f"{', '.join(FILE_FORMATS)} file or a `datasets` save_to_disk directory")


# ---------------------------------------------------------------------------------------------- JSON


def parse_json(text: str, where: str) -> Any:
    """`json.loads`, with every way it can fail turned into a DataError naming `where` and the fix."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{where}: not valid JSON ({e.msg} at column {e.colno}): fix or delete "
                        "it") from None
    except RecursionError:
        raise DataError(f"{where}: JSON nested too deeply for Python's parser (about 1000 levels of [ or {{): "
                        "flatten it or delete it") from None
    except ValueError as e:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise DataError(f"{where}: a number too long to read ({str(e).split(':')[0]}): write it as a string "
                        '("123...") or delete it') from None


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{where}: not UTF-8 (byte 0x{data[e.start]:02x} at byte {e.start + 1} of the line): "
                        f"{FIX_UTF8}") from None


def _read_json_lines(path: Path, data: bytes, first_line: int = 1) -> Table:
    rows, lines = [], []
    for lineno, raw in enumerate(data.split(b"\n"), start=first_line):
        if not raw.strip():
            continue
        where = f"{path}:{lineno}"
        row = parse_json(_decode(raw.removeprefix(b"\xef\xbb\xbf") if lineno == 1 else raw, where), where)
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object like {{\"problem\": ..., \"answer\": ...}}, got a "
                            f"{type(row).__name__}: write one object per line")
        rows.append(row)
        lines.append(lineno)
    return Table(path, rows, lines)


def _read_json(path: Path) -> Table:
    """A JSON list of objects; a .json file that holds JSON lines (as many published datasets do) is read as such."""
    data = path.read_bytes()
    text = _decode_whole(path, data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data":  # more than one value: JSON lines
            return _read_json_lines(path, data)
        raise DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg}, column {e.colno}): a .json dataset is one "
                        "list of objects, or one object per line") from None
    except (RecursionError, ValueError):  # too deep, or a number too long: find its line for the message
        line = _deep_or_long_line(text)
        parse_json(text, f"{path}:{line}" if line else str(path))
        raise
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        got = (f"an object with keys {', '.join(list(value)[:8])}" if isinstance(value, dict)
               else f"a {type(value).__name__}" if not isinstance(value, list) else "a list of non-objects")
        raise DataError(f"{path}: expected a list of objects [{{\"problem\": ..., \"answer\": ...}}, ...], got "
                        f"{got}: write the rows as a top-level list, or one object per line")
    return Table(path, value)


def _decode_whole(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(f"{path}:{line}: not UTF-8 (byte 0x{data[e.start]:02x}): {FIX_UTF8}") from None


def _deep_or_long_line(text: str, max_depth: int = 900) -> int | None:
    """The line where nesting passes `max_depth` or a number of more than 4300 digits starts (for error messages)."""
    long_number = re.search(r"\d{4301,}", text)
    depth, in_string, escaped, line = 0, False, False, 1
    for i, ch in enumerate(text):
        if long_number is not None and i == long_number.start():
            return line
        if in_string:
            in_string, escaped = (ch != '"' or escaped), (ch == "\\" and not escaped)
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                return line
        elif ch in "]}":
            depth -= 1
        line += ch == "\n"
    return None


# ---------------------------------------------------------------------------------------------- datasets


def _quiet_datasets():
    import logging

    import datasets

    from r1zero import console

    if not console.verbose():  # its notes and bars are not the user's; its errors come back as our DataError
        datasets.logging.set_verbosity(logging.CRITICAL)
        datasets.disable_progress_bars()
    return datasets


def _read_with_datasets(path: Path, kind: str) -> Table:
    datasets = _quiet_datasets()
    kwargs: dict[str, Any] = {}
    if kind == "csv":
        header = _check_csv(path)
        kwargs = {"features": datasets.Features({c: datasets.Value("string") for c in header}),
                  "keep_default_na": False, "na_filter": False}
    try:
        ds = datasets.load_dataset(kind, data_files=str(path), split="train", **kwargs)
    except Exception as e:  # noqa: BLE001 - pyarrow/pandas raise many types; the message is what helps
        cause = e.__cause__ or e
        raise DataError(f"{path}: not a readable {kind} file ({type(cause).__name__}: {cause}): "
                        + ("every line needs the header's fields; quote cells that hold commas"
                           if kind == "csv" else "write it again with pandas/pyarrow (df.to_parquet)")) from None
    return Table(path, _to_rows(ds, path))


def _check_csv(path: Path) -> list[str]:
    """The header of a CSV file, after checking that it is UTF-8 and every record has the header's fields (pandas
    would take a longer first record for an index column and read the rest shifted, without a word)."""
    import csv
    import io

    text = _decode_whole(path, path.read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    if not header:
        raise DataError(f"{path}: the CSV file is empty: its first line must name the columns, e.g. problem,answer")
    try:
        for record in reader:
            if record and len(record) != len(header):
                raise DataError(f"{path}:{reader.line_num}: {len(record)} fields where the header has "
                                f"{len(header)} ({', '.join(header)}): quote cells that hold commas")
    except csv.Error as e:
        raise DataError(f"{path}:{reader.line_num}: not valid CSV ({e}): fix the quoting of this line") from None
    return header


def _read_saved(path: Path) -> Table:
    if (path / "dataset_dict.json").is_file():
        splits = sorted(p.name for p in path.iterdir() if (p / "state.json").is_file())
        example = "train" if "train" in splits or not splits else splits[0]
        raise DataError(f"{path}: a DatasetDict with splits {', '.join(splits)}: give one split's directory, e.g. "
                        f"{path / example}")
    if not (path / "state.json").is_file():
        raise DataError(f"{path}: a directory, but not one written by `datasets` save_to_disk (no state.json): give "
                        f"a {', '.join(FILE_FORMATS)} file or a save_to_disk directory")
    datasets = _quiet_datasets()
    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as e:  # noqa: BLE001
        raise DataError(f"{path}: cannot load this save_to_disk directory ({type(e).__name__}: {e}): write it "
                        "again with Dataset.save_to_disk") from None
    return Table(path, _to_rows(ds, path))


def _to_rows(ds, path: Path) -> list[dict]:
    try:
        return ds.to_list()
    except UnicodeDecodeError:  # invalid UTF-8 inside a string column: find the row
        for i in range(len(ds)):
            try:
                ds[i]
            except UnicodeDecodeError as e:
                raise DataError(f"{path} row {i + 1}: a text cell is not UTF-8 ({e.reason}): write the file again "
                                "from valid text") from None
        raise

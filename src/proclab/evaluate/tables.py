"""Rows of data files proclab did not write: JSON Lines, JSON, CSV / TSV, Parquet and Arrow
files, and folders in the layouts `datasets` uses (a `save_to_disk` / `load_from_disk` folder,
or a folder of data files named by split as on the Hugging Face hub).

Only pyarrow and the standard library are used, so reading needs no `datasets` install. Every
row remembers where it came from (`file:line` or `file, row N`) for error messages, and a
default id that is stable across reruns (`<file name>#<row number>`).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from proclab.errors import DataError
from proclab.limits import check_file_size, jsonl_lines, limit

SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet", ".arrow")
# Split names as `datasets` recognises them in file and folder names, with its canonical names.
SPLIT_WORDS = {"train": "train", "training": "train", "validation": "validation",
               "valid": "validation", "val": "validation", "dev": "validation", "test": "test",
               "testing": "test", "eval": "test", "evaluation": "test"}
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Row:
    values: dict[str, Any]
    where: str  # "file:line" or "file, row N"
    key: str  # "<file name>#<n>", the default record id


@dataclass(frozen=True)
class Table:
    files: list[Path]
    columns: list[str]  # every column seen, in first-seen order
    rows: list[Row]


def read_table(files: list[Path]) -> Table:
    """All rows of `files`, in order."""
    rows: list[Row] = []
    columns: dict[str, None] = {}
    for path in files:
        for row in _file_rows(path):
            columns.update(dict.fromkeys(row.values))
            rows.append(row)
    return Table(files=list(files), columns=list(columns), rows=rows)


def _file_rows(path: Path) -> Iterator[Row]:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"unknown data file type {path.suffix!r}", where=str(path),
                        fix=f"use one of: {', '.join(SUFFIXES)}")
    if suffix in (".parquet", ".arrow"):
        table = pq.read_table(path) if suffix == ".parquet" else _read_arrow(path)
        for n, values in enumerate(table.to_pylist(), start=1):
            yield Row(values, f"{path}, row {n}", f"{path.name}#{n}")
    elif suffix in (".csv", ".tsv"):
        yield from _csv_rows(path, "\t" if suffix == ".tsv" else ",")
    else:
        yield from _json_rows(path)


def _read_arrow(path: Path) -> pa.Table:
    """An Arrow IPC file: the stream format `datasets.save_to_disk` writes, or the file format."""
    try:
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_stream(source).read_all()
    except pa.ArrowInvalid:
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_file(source).read_all()


def _json_rows(path: Path) -> Iterator[Row]:
    with path.open("rb") as fh:
        first = fh.read(64).lstrip()
    if first.startswith(b"["):  # one JSON array of objects
        check_file_size(path, "document_bytes", error=DataError)
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"not valid JSON: {err}", where=str(path)) from None
        for n, item in enumerate(items, start=1):
            yield _object(item, f"{path}, item {n}", f"{path.name}#{n}")
        return
    for n, (lineno, line) in enumerate(jsonl_lines(path), start=1):
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"not valid JSON: {err.msg}", where=f"{path}:{lineno}",
                            fix="each line of a JSON Lines file is one JSON object") from None
        yield _object(item, f"{path}:{lineno}", f"{path.name}#{n}")


def _object(item: Any, where: str, key: str) -> Row:
    if not isinstance(item, dict):
        raise DataError(f"a row is a JSON object, not a {type(item).__name__}", where=where,
                        fix="write one object per row: {\"column\": value, ...}")
    return Row(item, where, key)


def _csv_rows(path: Path, delimiter: str) -> Iterator[Row]:
    csv.field_size_limit(limit("jsonl_line_bytes"))
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader, None)
            if header is None:
                return
            n = 0
            line = reader.line_num + 1
            for cells in reader:
                if any(c.strip() for c in cells):
                    n += 1
                    if len(cells) > len(header):
                        raise DataError(f"{len(cells)} cells but the header names {len(header)} "
                                        "columns", where=f"{path}:{line}",
                                        fix="quote cells that contain the delimiter")
                    values = dict(zip(header, cells + [""] * (len(header) - len(cells)),
                                      strict=True))
                    yield Row(values, f"{path}:{line}", f"{path.name}#{n}")
                line = reader.line_num + 1
        except csv.Error as err:
            raise DataError(f"not valid {'TSV' if delimiter == chr(9) else 'CSV'}: {err}",
                            where=f"{path}:{reader.line_num}") from None
        except UnicodeDecodeError as err:
            raise DataError(f"not valid UTF-8 (byte {err.start})", where=str(path),
                            fix="save the file as UTF-8") from None


# -- folders ----------------------------------------------------------------------------------


def folder_splits(folder: Path) -> dict[str, list[Path]]:
    """The data files of each split of a `datasets`-style folder: a `save_to_disk` folder
    (`dataset_dict.json` with a folder per split, or one split's `state.json`), else every
    data file below it, its split read from the folder or file name like `datasets` does
    (`data/test-00000-of-00001.parquet`, `test.jsonl`, `test/0000.parquet`; no split word
    = train)."""
    if (folder / "dataset_dict.json").is_file():
        names = _json(folder / "dataset_dict.json").get("splits") or []
        return {str(name): _saved_files(folder / str(name)) for name in names}
    if (folder / "state.json").is_file():
        return {"train": _saved_files(folder)}
    splits: dict[str, list[Path]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES
                       and p.is_file() and not p.name.startswith(".")
                       and p.name not in ("dataset_info.json", "state.json")):
        splits.setdefault(_split_of(path.relative_to(folder)), []).append(path)
    return splits


def _split_of(relative: Path) -> str:
    for part in (*relative.parent.parts[::-1], relative.stem):
        for word in _WORD.findall(part):
            if word.lower() in SPLIT_WORDS:
                return SPLIT_WORDS[word.lower()]
    return "train"


def _saved_files(split_dir: Path) -> list[Path]:
    state = split_dir / "state.json"
    if not state.is_file():
        raise DataError("a saved dataset split without state.json", where=str(split_dir),
                        fix="pass a folder written by `Dataset.save_to_disk`")
    files = [split_dir / str(f["filename"]) for f in _json(state).get("_data_files", [])]
    missing = [str(f) for f in files if not f.is_file()]
    if missing or not files:
        raise DataError(f"state.json names missing data files: {', '.join(missing) or 'none'}",
                        where=str(state), fix="save the dataset again")
    return files


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"not valid JSON: {err}", where=str(path)) from None
    if not isinstance(data, dict):
        raise DataError("expected a JSON object", where=str(path))
    return data

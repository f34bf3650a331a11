"""Which records a run evaluates: a split of a built dataset directory (optionally with its
counterfactual pairs), the pairs alone (`--split pairs`), one JSONL / Parquet file of proclab
records, or data in another layout (JSONL, JSON, CSV, TSV, Parquet, Arrow, a `datasets` folder)
mapped onto the minimal input schema with `--map` / `--label-map` (`proclab.evaluate.mapping`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from proclab.dataset.records import limit_sample, read_jsonl, read_parquet
from proclab.errors import ConfigError, DataError
from proclab.evaluate.logs import MappingInfo
from proclab.evaluate.mapping import map_table
from proclab.evaluate.records import EvalRecord
from proclab.evaluate.tables import Table, folder_splits, read_table
from proclab.limits import jsonl_lines
from proclab.registry import lookup

MANIFEST = "manifest.json"  # proclab.dataset.output.MANIFEST; not imported: it loads the builder
PAIRS_SPLIT = "pairs"
SURFACE_PROBE = Path("probes") / "surface.pkl"
# Fields every proclab record has: a file with all of them is read as proclab's own records.
_PROCLAB_FIELDS = frozenset({"id", "procedure_id", "domain", "source", "cohort", "split",
                             "perturbation", "label", "procedure_text", "scenario_text",
                             "violations", "meta", "trace", "context"})


@dataclass(frozen=True)
class EvalData:
    """The selected records, in file order, and what they were read from. `mapping` is set for
    data in another layout (then proclab's structure is absent: no grid, no pairs, no oracle)."""

    records: list[EvalRecord]
    files: list[Path]
    sha256: str  # over the bytes of every file read, in order (constant-text files included)
    dataset_dir: Path | None  # the built dataset they belong to, if any (for baselines)
    mapping: MappingInfo | None = None
    train_files: list[Path] = field(default_factory=list)  # a mapped folder's train split
    _spec: tuple[dict[str, str], dict[str, str]] = ({}, {})

    def train_labels(self) -> tuple[list[str], str] | None:
        """Gold labels of the training split, for the majority baseline, and where they are
        from; None when there is none."""
        if self.mapping is not None:
            if not self.train_files:
                return None
            table = read_table(self.train_files)
            mapped = map_table(table, *self._spec, where=str(self.train_files[0].parent))
            return [r.label for r in mapped.records], "train split"
        if self.dataset_dir is None or not (self.dataset_dir / "train.jsonl").is_file():
            return None
        return _file_labels(self.dataset_dir / "train.jsonl"), "train.jsonl"


def files_sha256(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\x00")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _file_labels(path: Path) -> list[str]:
    labels = []
    for lineno, line in jsonl_lines(path):
        try:
            labels.append(json.loads(line)["label"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise DataError("not a dataset record with a label", where=f"{path}:{lineno}",
                            fix="rebuild the dataset with `proclab dataset build`") from None
    return labels


def _read(path: Path) -> list[EvalRecord]:
    records = read_parquet(path) if path.suffix == ".parquet" else read_jsonl(path)
    return [EvalRecord.from_instance(r) for r in records]


def _columns(path: Path) -> set[str]:
    """Column names of a JSONL file's first row or a Parquet file's schema (empty if neither)."""
    if path.suffix == ".parquet":
        return set(pq.read_schema(path).names)
    if path.suffix != ".jsonl":
        return set()
    for _, line in jsonl_lines(path):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            return _PROCLAB_FIELDS  # let the proclab reader name the bad line
        return set(row) if isinstance(row, dict) else set()
    return set()


def is_proclab_file(path: Path) -> bool:
    return _columns(path) >= _PROCLAB_FIELDS


def is_proclab_dir(path: Path, split: str | None = None) -> bool:
    """A directory of proclab records: a dataset build (its manifest), or one whose
    `<split>.jsonl` (without a split: any JSONL file) holds proclab records."""
    if (path / MANIFEST).is_file():
        return True
    named = path / f"{split}.jsonl"
    if split and named.is_file():
        return is_proclab_file(named)
    return any(is_proclab_file(f) for f in sorted(path.glob("*.jsonl")))


def _dir_files(data_dir: Path, split: str | None, pairs: bool) -> list[Path]:
    splits = sorted(p.stem for p in data_dir.glob("*.jsonl"))
    if not splits:
        raise DataError("no <split>.jsonl files here", where=str(data_dir),
                        fix="pass a directory written by `proclab dataset build`, or a JSONL file")
    if split is None:
        raise ConfigError(f"--data {data_dir} is a dataset directory; say which split to evaluate",
                          fix=f"pass --split with one of: {', '.join(splits)}")
    lookup({s: s for s in splits}, split, kind="split")
    files = [data_dir / f"{split}.jsonl"]
    if pairs and split != PAIRS_SPLIT:
        if PAIRS_SPLIT not in splits:
            raise DataError("--pairs asks for pairs.jsonl, which is missing", where=str(data_dir),
                            fix="rebuild the dataset, or drop --pairs")
        files.append(data_dir / f"{PAIRS_SPLIT}.jsonl")
    return files


def load_eval_data(data: str | Path, split: str | None = None, *, pairs: bool = False,
                   limit: int | None = None, field_map: dict[str, str] | None = None,
                   label_map: dict[str, str] | None = None) -> EvalData:
    """Records to evaluate. A proclab dataset directory: `<split>.jsonl` (+ that split's pair
    members from pairs.jsonl with `pairs`). A file of proclab records: all of them, or those
    whose `split` field is `split`. Anything else (or any data with a map) is read through the
    field and label maps. Malformed rows name file and line; an empty selection or duplicate
    ids are errors."""
    path = Path(data)
    mapped = bool(field_map or label_map)
    if not path.exists():
        raise DataError("data not found", where=str(path),
                        fix="pass a dataset directory (`proclab dataset build --out DIR`), a "
                        "data file, or a `datasets` folder")
    if mapped or not (is_proclab_dir(path, split) if path.is_dir() else is_proclab_file(path)):
        result = _load_mapped(path, split, pairs, field_map or {}, label_map or {})
    else:
        result = _load_proclab(path, split, pairs)
    records = result.records
    if limit is not None:
        records = limit_sample(records, limit)
    if not records:
        what = f"split {split!r}" if split else "the data"
        raise DataError(f"{what} holds no records", where=str(path),
                        fix="choose a non-empty split or file")
    _check_unique(records, path)
    return EvalData(records=records, files=result.files, sha256=files_sha256(result.files),
                    dataset_dir=result.dataset_dir, mapping=result.mapping,
                    train_files=result.train_files, _spec=result._spec)


def _load_proclab(path: Path, split: str | None, pairs: bool) -> EvalData:
    if path.is_dir():
        files = _dir_files(path, split, pairs)
        records = _read(files[0])
        if len(files) > 1:
            records += [r for r in _read(files[1]) if r.split == split]
        return EvalData(records, files, "", path)
    records = _read(path)
    if split is not None:
        records = [r for r in records if r.split == split]
    dataset_dir = path.parent if (path.parent / SURFACE_PROBE).is_file() else None
    return EvalData(records, [path], "", dataset_dir)


def _load_mapped(path: Path, split: str | None, pairs: bool, field_map: dict[str, str],
                 label_map: dict[str, str]) -> EvalData:
    if pairs:
        raise ConfigError("--pairs needs proclab's counterfactual pairs; mapped data has none",
                          fix="drop --pairs")
    train: list[Path] = []
    if path.is_dir():
        files, train = _folder_files(path, split)
        table = read_table(files)
    else:
        files = [path]
        table = _filter_split(read_table(files), split, path)
    mapped = map_table(table, field_map, label_map, where=str(path))
    info = MappingInfo(columns=mapped.columns, label_map=label_map,
                       label_counts=mapped.label_counts, skipped=mapped.skipped,
                       metadata_columns=[c for c in table.columns
                                         if c not in mapped.columns.values()])
    return EvalData(mapped.records, files + mapped.constant_files, "", None, info, train,
                    (field_map, label_map))


def _folder_files(folder: Path, split: str | None) -> tuple[list[Path], list[Path]]:
    splits = folder_splits(folder)
    if not splits:
        raise DataError("no data files here (.jsonl, .json, .csv, .tsv, .parquet, .arrow)",
                        where=str(folder), fix="pass a data file or a `datasets` folder")
    if split is None:
        if len(splits) > 1:
            raise ConfigError(f"--data {folder} holds several splits; say which to evaluate",
                              fix=f"pass --split with one of: {', '.join(sorted(splits))}")
        split = next(iter(splits))
    files = lookup(splits, split, kind="split")
    train = splits.get("train", []) if split != "train" else []
    return files, train


def _filter_split(table: Table, split: str | None, path: Path) -> Table:
    if split is None:
        return table
    if "split" not in table.columns:
        raise ConfigError(f"--split {split}: {path.name} is one file without a `split` column",
                          fix="drop --split, or pass a folder with one file per split")
    rows = [r for r in table.rows if str(r.values.get("split")) == split]
    return Table(table.files, table.columns, rows)


def _check_unique(records: list[EvalRecord], where: Path) -> None:
    seen: set[str] = set()
    for rec in records:
        if rec.id in seen:
            raise DataError(f"record id {rec.id!r} occurs twice", where=str(where),
                            fix="every record needs a unique id (the log is keyed by id): map "
                            "a column of unique values to `id`, or drop the id mapping")
        seen.add(rec.id)

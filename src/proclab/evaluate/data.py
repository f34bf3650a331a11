"""Which records a run evaluates: a split of a built dataset directory (optionally with its
counterfactual pairs), the pairs alone (`--split pairs`), or one JSONL / Parquet file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from proclab.dataset.records import Instance, limit_sample, read_jsonl, read_parquet
from proclab.errors import ConfigError, DataError
from proclab.registry import lookup

PAIRS_SPLIT = "pairs"
SURFACE_PROBE = Path("probes") / "surface.pkl"


@dataclass(frozen=True)
class EvalData:
    """The selected records, in file order, and what they were read from."""

    records: list[Instance]
    files: list[Path]
    sha256: str  # over the bytes of every file read, in order
    dataset_dir: Path | None  # the built dataset they belong to, if any (for baselines)

    def train_path(self) -> Path | None:
        if self.dataset_dir is None:
            return None
        path = self.dataset_dir / "train.jsonl"
        return path if path.is_file() else None


def files_sha256(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\x00")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _read(path: Path) -> list[Instance]:
    return read_parquet(path) if path.suffix == ".parquet" else read_jsonl(path)


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
                   limit: int | None = None) -> EvalData:
    """Records to evaluate. A directory: `<split>.jsonl` (+ that split's pair members from
    pairs.jsonl with `pairs`). A file: all its records, or those whose `split` field is `split`.
    Malformed lines name file and line; an empty selection or duplicate ids are errors."""
    path = Path(data)
    if path.is_dir():
        files = _dir_files(path, split, pairs)
        dataset_dir: Path | None = path
        records = _read(files[0])
        if len(files) > 1:
            records += [r for r in _read(files[1]) if r.split == split]
    elif path.is_file():
        files, dataset_dir = [path], (path.parent if (path.parent / SURFACE_PROBE).is_file()
                                      else None)
        records = _read(path)
        if split is not None:
            records = [r for r in records if r.split == split]
    else:
        raise DataError("data not found", where=str(path),
                        fix="pass a dataset directory (`proclab dataset build --out DIR`) or a "
                        "JSONL file of records")
    if limit is not None:
        records = limit_sample(records, limit)
    if not records:
        what = f"split {split!r}" if split else "the data"
        raise DataError(f"{what} holds no records", where=str(path),
                        fix="choose a non-empty split or file")
    _check_unique(records, path)
    return EvalData(records=records, files=files, sha256=files_sha256(files),
                    dataset_dir=dataset_dir)


def _check_unique(records: list[Instance], where: Path) -> None:
    seen: set[str] = set()
    for rec in records:
        if rec.id in seen:
            raise DataError(f"record id {rec.id!r} occurs twice", where=str(where),
                            fix="every record needs a unique id (the log is keyed by id)")
        seen.add(rec.id)

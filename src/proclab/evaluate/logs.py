"""What an evaluation run writes: one `SampleLog` line per (record id, prompt order) in
`samples.jsonl`, and a `Results` document in `results.json` (schema documented in
docs/evaluation.md). The log is append-only and written in whole lines, so a killed run leaves
at most one partial trailing line, which readers ignore and writers cut off before appending.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from proclab.errors import DataError
from proclab.limits import jsonl_lines
from proclab.procedures.trace import Verdict

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 2 added mapped data, breakdowns and not_applicable
SAMPLES_FILE = "samples.jsonl"
RESULTS_FILE = "results.json"
RUN_FILE = "run.json"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SampleLog(_Model):
    """One scored sample. `parsed` is None when the output states no verdict (unparsed).
    `group_id` is the bootstrap cluster (absent in older logs: then `procedure_id`); the
    proclab-structure fields are None for mapped data, whose extra columns are in `meta`."""

    id: str
    order: str
    prompt_sha256: str
    output: str
    parsed: Verdict | None
    gold: Verdict
    correct: bool
    latency_s: float
    procedure_id: str | None = None
    perturbation: str | None = None
    source: str | None = None
    domain: str | None = None
    pair_id: str | None = None
    pair_role: str | None = None
    finish_reason: str = "stop"
    completion_tokens: int = 0
    group_id: str | None = None
    meta: dict[str, Any] = {}

    @property
    def key(self) -> tuple[str, str]:
        return (self.id, self.order)

    @property
    def cluster(self) -> str:
        return self.group_id if self.group_id is not None else str(self.procedure_id)


class Estimate(_Model):
    """A point value with its bootstrap 95% interval; None where undefined (e.g. no samples)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None


class ClassStats(_Model):
    n: int
    recall: Estimate


class GridCell(_Model):
    """Errors in one (perturbation, group) cell; `group` is a source or a domain."""

    perturbation: str
    group: str
    n: int
    errors: int
    error_rate: float
    false_compliant: int  # gold NON-COMPLIANT answered COMPLIANT
    false_noncompliant: int  # gold COMPLIANT answered NON-COMPLIANT
    unparsed: int


class GridStats(_Model):
    by_source: list[GridCell]
    by_domain: list[GridCell]


class PairKindStats(_Model):
    """Counterfactual pairs of one kind ("flip": the edit flips the label; "preserve": not)."""

    pairs: int
    samples: int
    accuracy: Estimate  # over the members of these pairs
    consistency: Estimate  # share of pairs whose members are all correct
    changed_rate: float | None  # share of pairs whose members got different answers


class PairStats(_Model):
    flip: PairKindStats | None
    preserve: PairKindStats | None
    consistency: Estimate  # over all pairs
    # Preserve pairs only: the answer changed although the label did not.
    invariance_flip_rate: Estimate | None


class OrderStats(_Model):
    orders: list[str]
    n: dict[str, int]
    accuracy: dict[str, Estimate]
    ids_compared: int  # ids answered in every order
    agreement: float | None  # share of those ids with the same answer in every order
    all_correct: float | None  # share of those ids correct in every order


class BreakdownCell(_Model):
    """Samples whose metadata column has one value."""

    value: str
    n: int
    accuracy: Estimate
    errors: int
    false_compliant: int
    false_noncompliant: int
    unparsed: int


class MappingInfo(_Model):
    """How data in another layout was read: schema field -> column (or `@FILE`), the label
    map, every label value found with its count, rows skipped by the map, metadata columns."""

    columns: dict[str, str]
    label_map: dict[str, str]
    label_counts: dict[str, int]
    skipped: int
    metadata_columns: list[str]


class DataInfo(_Model):
    path: str
    split: str | None
    pairs: bool
    sha256: str
    records: int
    mapping: MappingInfo | None = None


class BootstrapInfo(_Model):
    resamples: int
    confidence: float = 0.95
    cluster: str = "procedure_id"  # or "group_id" (mapped data)
    clusters: int | None = None
    seed: int


class Results(_Model):
    schema_version: int = SCHEMA_VERSION
    proclab_version: str
    config: dict[str, Any]
    config_sha256: str
    git_hash: str | None
    data: DataInfo
    seed: int
    n: int  # samples scored (record x order)
    n_expected: int
    complete: bool
    bootstrap: BootstrapInfo
    metrics: dict[str, Estimate]
    per_class: dict[str, ClassStats]
    grid: GridStats | None
    pairs: PairStats | None
    orders: OrderStats
    breakdowns: dict[str, list[BreakdownCell]] = {}
    # Metrics that need proclab's structure, with why they do not apply to this data.
    not_applicable: dict[str, str] = {}
    started_at: str
    finished_at: str


def prompt_sha256(messages: Sequence[dict[str, str]]) -> str:
    """Hash of the chat messages as compact sorted-key JSON (what the model was asked)."""
    text = json.dumps(list(messages), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def read_samples(path: Path) -> list[SampleLog]:
    """Every whole line of a sample log (none when the file is absent); a trailing line with
    no newline is a write cut short by a kill and is ignored. Bad lines name file and line."""
    if not path.is_file():
        return []
    samples: list[SampleLog] = []
    for lineno, line in jsonl_lines(path, skip_partial_tail=True):
        try:
            samples.append(SampleLog.model_validate_json(line))
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "line"
            raise DataError(
                f"not a valid sample log line ({loc}: {first['msg']})",
                where=f"{path}:{lineno}",
                fix="delete the run directory (or pass --overwrite) and run again",
            ) from None
    return samples


def cut_partial_tail(path: Path) -> int:
    """Drop a trailing partial line so appends start on a fresh line; returns bytes dropped."""
    if not path.is_file():
        return 0
    size = path.stat().st_size
    with path.open("rb+") as fh:
        data = fh.read()
        keep = data.rfind(b"\n") + 1
        if keep < size:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
    return size - keep


class SampleWriter:
    """Appends whole batches of lines with one write, then flush + fsync, so a kill between
    batches leaves only whole lines and a kill inside one leaves at most a partial tail."""

    def __init__(self, path: Path):
        cut_partial_tail(path)
        self._fh = path.open("ab")

    def write(self, samples: Iterable[SampleLog]) -> None:
        blob = b"".join(s.model_dump_json().encode() + b"\n" for s in samples)
        if blob:
            self._fh.write(blob)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> SampleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON to a sibling temp file and rename it over `path` (never half a file)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_results(run_dir: Path) -> Results:
    """The results.json of a run directory, validated; a clear error when absent or invalid."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        raise DataError(
            "no results.json in this run directory",
            where=str(run_dir),
            fix="pass a directory written by `proclab eval run` (rerun it if it was interrupted)",
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raw = None
    rewrite = "rerun `proclab eval run` with the same --out to rewrite it"
    if not isinstance(raw, dict):
        raise DataError("results.json is not a JSON object", where=str(path), fix=rewrite)
    if raw.get("schema_version") not in READABLE_VERSIONS:
        raise DataError(f"results.json has schema version {raw.get('schema_version')}; this "
                        f"proclab reads versions {READABLE_VERSIONS}", where=str(path),
                        fix=rewrite)
    try:
        results = Results.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise DataError(f"not a valid results file ({loc}: {first['msg']})", where=str(path),
                        fix=rewrite) from None
    return results

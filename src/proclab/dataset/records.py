"""The dataset record (`Instance`) and its JSONL / Parquet encodings (DESIGN.md §4).

One record is one line of `<split>.jsonl` and one row of `<split>.parquet`. `context` and `meta`
hold values whose types differ from procedure to procedure, so both files store them as JSON
strings (sorted keys); `Instance` decodes them. The two encodings carry identical rows, and both
load with `datasets.load_dataset("json" | "parquet", ...)`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, ValidationError

from proclab.errors import DataError
from proclab.limits import jsonl_lines
from proclab.procedures.schema import Procedure
from proclab.procedures.trace import Context, Event, Verdict, Violation
from proclab.scenarios.types import Candidate

QUESTION = (
    "Did the actions described in the scenario comply with the procedure? "
    "Answer COMPLIANT or NON-COMPLIANT."
)
SCHEMA_VERSION = 1

# Column order of both files; `context` and `meta` are JSON strings there.
FIELDS: tuple[str, ...] = (
    "id",
    "procedure_id",
    "domain",
    "source",
    "cohort",
    "split",
    "perturbation",
    "label",
    "procedure_text",
    "scenario_text",
    "question",
    "violations",
    "pair_id",
    "pair_role",
    "meta",
    "trace",
    "context",
)
_JSON_STRING_FIELDS = ("meta", "context")

_VIOLATION = pa.struct(
    [
        ("type", pa.string()),
        ("step", pa.string()),
        ("related", pa.string()),
        ("message", pa.string()),
    ]
)
_EVENT = pa.struct([("step", pa.string()), ("actor", pa.string()), ("detail", pa.string())])
_NESTED = {"violations": pa.list_(_VIOLATION), "trace": pa.list_(_EVENT)}
ARROW_SCHEMA = pa.schema([(name, _NESTED.get(name, pa.string())) for name in FIELDS])


class Instance(BaseModel):
    """One benchmark item: a rendered procedure, a scenario, the question and the gold label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    procedure_id: str
    domain: str
    source: str
    cohort: str
    split: str
    perturbation: str
    label: Verdict
    procedure_text: str
    scenario_text: str
    question: str = QUESTION
    violations: list[Violation]
    pair_id: str | None = None
    # "base", "flip" or "preserve" for counterfactual-pair members (pairs.jsonl), else None.
    pair_role: str | None = None
    meta: dict[str, Any]
    trace: list[Event]
    context: Context

    def to_row(self) -> dict[str, Any]:
        """The file encoding: plain JSON types, `meta`/`context` as sorted-key JSON strings."""
        row = self.model_dump(mode="json")
        for name in _JSON_STRING_FIELDS:
            row[name] = dumps(row[name])
        return {name: row[name] for name in FIELDS}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Instance:
        """Inverse of `to_row` (also accepts already-decoded `meta`/`context`)."""
        data = dict(row)
        for name in _JSON_STRING_FIELDS:
            if isinstance(data.get(name), str):
                data[name] = json.loads(data[name])
        return cls.model_validate(data)


def dumps(obj: Any) -> str:
    """Stable compact JSON: the one encoding used for hashing and for files."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def instance_id(cohort: str, perturbation: str, procedure_text: str, scenario_text: str) -> str:
    """Deterministic id: a hash of the content and the cohort that produced it."""
    digest = hashlib.sha256(
        "\x00".join((cohort, perturbation, procedure_text, scenario_text)).encode()
    ).hexdigest()
    return f"{cohort}-{digest[:16]}"


class ProcedureTexts:
    """Rendered procedure texts, one per (procedure, style), rendered on first use."""

    def __init__(self, render: Callable[[Procedure, str], str]):
        self._render = render
        self._texts: dict[tuple[str, str], str] = {}

    def get(self, procedure: Procedure, style: str) -> str:
        key = (procedure.id, style)
        if key not in self._texts:
            self._texts[key] = self._render(procedure, style)
        return self._texts[key]


def make_instance(
    cand: Candidate,
    proc: Procedure,
    style: str,
    procedure_text: str,
    cohort: str,
    split: str,
    *,
    pair_id: str | None = None,
    member: int = 0,
) -> Instance:
    """The record for one accepted candidate rendered in `style`; pair members get the id
    `<pair_id>.<member>`, other instances a hash of their content and cohort."""
    if pair_id is None:
        rid = instance_id(cohort, cand.perturbation, procedure_text, cand.scenario_text)
    else:
        rid = f"{pair_id}.{member}"
    return Instance(
        id=rid,
        procedure_id=proc.id,
        domain=proc.domain,
        source=style,
        cohort=cohort,
        split=split,
        perturbation=cand.perturbation,
        label=cand.label,
        procedure_text=procedure_text,
        scenario_text=cand.scenario_text,
        question=QUESTION,
        violations=list(cand.violations),
        pair_id=pair_id,
        pair_role=cand.pair_role if pair_id else None,
        meta=jsonable(cand.meta),
        trace=list(cand.trace.events),
        context=dict(cand.context),
    )


def jsonable(value: Any) -> Any:
    """Plain JSON types with a stable order (sets sorted), so files are byte-identical."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "model_dump"):
        return jsonable(value.model_dump(mode="json"))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def write_jsonl(path: Path, records: Iterable[Instance]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for record in records:
            # Top-level keys in FIELDS order (id first); nested JSON strings use sorted keys.
            row = json.dumps(record.to_row(), ensure_ascii=False, separators=(",", ":"))
            fh.write(row + "\n")


def write_parquet(path: Path, records: Iterable[Instance]) -> None:
    rows = [record.to_row() for record in records]
    table = pa.Table.from_pylist(rows, schema=ARROW_SCHEMA)
    pq.write_table(table, path, compression="zstd")


def read_jsonl(path: Path) -> list[Instance]:
    """Load and validate a JSONL split; errors name the file and line."""
    if not path.is_file():
        raise DataError("file not found", where=str(path), fix="run `proclab dataset build`")
    records: list[Instance] = []
    for lineno, line in jsonl_lines(path):
        try:
            records.append(Instance.from_row(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as err:
            raise DataError(
                f"not a valid dataset record: {_first_error(err)}",
                where=f"{path}:{lineno}",
                fix="rebuild the dataset with `proclab dataset build`",
            ) from None
    return records


def read_parquet(path: Path) -> list[Instance]:
    if not path.is_file():
        raise DataError("file not found", where=str(path), fix="run `proclab dataset build`")
    rows = pq.read_table(path).to_pylist()
    try:
        return [Instance.from_row(row) for row in rows]
    except ValidationError as err:
        raise DataError(
            f"not a valid dataset record: {_first_error(err)}", where=str(path)
        ) from None


def _first_error(err: Exception) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        return f"{loc}: {first['msg']}"
    return str(err)


def limit_sample(records: list[Instance], limit: int) -> list[Instance]:
    """`limit` records spread over the whole split, in file order: what every `--limit` /
    `limit:` option takes. Split files are sorted by perturbation, so the first N would be one
    perturbation (and often one label); ranking by a hash of the id gives a fixed pseudo-random
    sample whose prefix property lets a larger limit extend the work of a smaller one. The two
    members of a counterfactual pair rank side by side (by their `pair_id`), so a limit keeps
    pairs whole (at most the last one taken is cut)."""

    def rank(i: int) -> tuple[str, str]:
        key = records[i].pair_id or records[i].id
        return hashlib.sha256(key.encode()).hexdigest(), records[i].id

    ranked = sorted(range(len(records)), key=rank)
    return [records[i] for i in sorted(ranked[:limit])]


def load_split(data_dir: str | Path, split: str) -> list[Instance]:
    """The records of one split (or "pairs") of a built dataset directory."""
    return read_jsonl(Path(data_dir) / f"{split}.jsonl")

"""Map a table in someone else's layout onto the minimal input schema (docs/evaluation.md).

`--map proclab_field=their_column` names the column each schema field comes from (a field whose
own name is a column needs no entry; `field=@FILE` gives every row the text of FILE, e.g. a rule
the dataset states once); `--label-map their_value=VERDICT` maps label values, `value=skip`
leaves those rows out. A label value outside the map is an error naming the row and counting
every label value found: never guessed. Columns not mapped are kept as metadata.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proclab.dataset.records import QUESTION
from proclab.errors import ConfigError, DataError, ErrorList, ProclabError
from proclab.evaluate.records import EvalRecord
from proclab.evaluate.tables import Row, Table
from proclab.procedures.trace import COMPLIANT, NON_COMPLIANT
from proclab.registry import suggest

REQUIRED = ("procedure_text", "scenario_text", "label")
OPTIONAL = ("question", "id", "group_id")
SCHEMA = REQUIRED + OPTIONAL
SKIP = "skip"
VERDICTS = (COMPLIANT, NON_COMPLIANT)
# Column names public datasets use for each field: suggestions only, never applied unasked.
_USUAL = {
    "procedure_text": ("procedure", "rule", "rules", "rule_text", "policy", "regulation",
                       "requirement", "requirements", "sop", "guideline", "statute"),
    "scenario_text": ("scenario", "text", "case", "facts", "fact_pattern", "input", "passage",
                      "description", "narrative", "context", "evidence"),
    "label": ("answer", "gold", "target", "verdict", "output", "class", "outcome", "y"),
    "question": ("prompt", "query", "instruction"),
    "id": ("idx", "index", "uid", "example_id", "sample_id"),
    "group_id": ("group", "cluster", "procedure_id", "rule_id", "source_id"),
}


def parse_pairs(items: list[str] | None, *, option: str) -> dict[str, str]:
    """`["a=b,c=d", "e=f"]` -> {"a": "b", "c": "d", "e": "f"} (repeatable, comma-separated)."""
    out: dict[str, str] = {}
    for item in items or []:
        for part in item.split(","):
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ConfigError(f"bad {option} entry {part!r}", fix=f"write {option} KEY=VALUE"
                                  "[,KEY=VALUE...] (a config file takes values with commas)")
            out[key.strip()] = value.strip()
    return out


def check_spec(field_map: dict[str, str], label_map: dict[str, str]) -> list[ProclabError]:
    """Problems of a field map and a label map, all at once (unknown fields, bad verdicts)."""
    problems: list[ProclabError] = []
    for name in field_map:
        if name not in SCHEMA:
            problems.append(ConfigError(f"unknown field {name!r} in the map{suggest(name, SCHEMA)}",
                                        where=f"map.{name}", fix=f"map one of: {', '.join(SCHEMA)}"))
    for value, target in label_map.items():
        if normalize_target(target) is None:
            problems.append(ConfigError(
                f"label {value!r} maps to {target!r}, not a verdict", where=f"label_map.{value}",
                fix=f"map it to {COMPLIANT}, {NON_COMPLIANT} or {SKIP}"))
    return problems


def normalize_target(target: str) -> str | None:
    """COMPLIANT / NON-COMPLIANT / skip in any letter case; None for anything else."""
    up = target.strip().upper()
    return up if up in VERDICTS else (SKIP if up == SKIP.upper() else None)


def label_key(value: Any) -> str:
    """The string a label value is looked up by: JSON true/false as "true"/"false"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value).strip()


@dataclass
class Mapped:
    records: list[EvalRecord]
    label_counts: dict[str, int]  # every label value found, mapped or not
    skipped: int  # rows whose label maps to `skip`
    columns: dict[str, str]  # schema field -> column (or "@FILE")
    constant_files: list[Path] = field(default_factory=list)


def map_table(table: Table, field_map: dict[str, str], label_map: dict[str, str],
              where: str) -> Mapped:
    """EvalRecords of every row of `table`; errors name the row (file:line)."""
    if not table.rows:
        raise DataError("the data holds no rows", where=where, fix="pass a non-empty file")
    columns, constants = _resolve(table, field_map, where)
    counts = Counter(label_key(r.values.get(columns["label"])) for r in table.rows)
    targets = _label_targets(counts, label_map, table, columns["label"])
    used = set(columns.values())
    records, skipped = [], 0
    for row in table.rows:
        verdict = targets[label_key(row.values.get(columns["label"]))]
        if verdict == SKIP:
            skipped += 1
            continue
        records.append(_record(row, columns, constants, verdict, used))
    if not records:
        raise DataError(f"every one of the {len(table.rows)} rows is skipped by the label map",
                        where=where, fix="map at least one label value to a verdict")
    files = [Path(field_map[name][1:]) for name in constants]
    return Mapped(records, dict(counts), skipped,
                  {**columns, **{name: field_map[name] for name in constants}}, files)


def _resolve(table: Table, field_map: dict[str, str],
             where: str) -> tuple[dict[str, str], dict[str, str]]:
    """(field -> column, field -> constant text); every missing column in one error."""
    columns: dict[str, str] = {}
    constants: dict[str, str] = {}
    problems: list[ProclabError] = []
    have = ", ".join(table.columns) or "(none)"
    for name in SCHEMA:
        given = field_map.get(name)
        if given is not None and given.startswith("@"):
            constants[name] = _constant(given[1:], name)
        elif given is not None:
            if given in table.columns:
                columns[name] = given
            else:
                problems.append(DataError(
                    f"--map {name}={given}: the data has no column {given!r}"
                    f"{suggest(given, table.columns)}", where=where,
                    fix=f"map {name} to one of its columns: {have}"))
        elif name in table.columns:
            columns[name] = name
        elif name in REQUIRED:
            problems.append(DataError(f"no column for the required field {name!r}"
                                      f"{_did_you_mean(name, table.columns)}", where=where,
                                      fix=f"add --map {name}=COLUMN (or {name}=@FILE for one "
                                      f"text for every row); the data's columns: {have}"))
    if problems:
        raise problems[0] if len(problems) == 1 else ErrorList(problems, what="unmapped fields")
    return columns, constants


def _did_you_mean(name: str, columns: list[str]) -> str:
    lower = {c.lower(): c for c in columns}
    usual = next((lower[u] for u in _USUAL[name] if u in lower), None)
    if usual is not None:
        return f" (did you mean --map {name}={usual}?)"
    hint = suggest(name, columns)
    return hint.replace("did you mean '", f"did you mean --map {name}='") if hint else ""


def _constant(path: str, name: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"--map {name}=@{path}: file not found", fix="check the path")
    text = file.read_text(encoding="utf-8").strip()
    if not text:
        raise ConfigError(f"--map {name}=@{path}: the file is empty", fix="write the text")
    return text


def _label_targets(counts: Counter[str], label_map: dict[str, str], table: Table,
                   column: str) -> dict[str, str]:
    targets: dict[str, str] = {}
    for value in counts:
        if label_map:
            target = label_map.get(value)
            targets[value] = normalize_target(target) if target is not None else ""
        else:
            targets[value] = value.upper() if value.upper() in VERDICTS else ""
    bad = [v for v, t in targets.items() if not t]
    if not bad:
        return targets
    first = next(r for r in table.rows if label_key(r.values.get(column)) in bad)
    value = label_key(first.values.get(column))
    found = ", ".join(f"{v!r} x{n}" for v, n in counts.most_common())
    if label_map:
        what = f"label {value!r} is not in the label map"
        fix = (f"add it to --label-map ({value}={COMPLIANT}, {value}={NON_COMPLIANT}, or "
               f"{value}={SKIP} to leave those rows out)")
    else:
        what = f"label {value!r} is not {COMPLIANT} or {NON_COMPLIANT}"
        fix = "map the data's label values, e.g. --label-map Yes=NON-COMPLIANT,No=COMPLIANT"
    raise DataError(f"{what} (column {column!r}; label values in the data: {found})",
                    where=first.where, fix=fix)


def _record(row: Row, columns: dict[str, str], constants: dict[str, str], verdict: str,
            used: set[str]) -> EvalRecord:
    def text(name: str) -> str | None:
        if name in constants:
            return constants[name]
        if name not in columns:
            return None
        value = row.values.get(columns[name])
        if value is None or (isinstance(value, str) and not value.strip()):
            raise DataError(f"{name} (column {columns[name]!r}) is empty", where=row.where,
                            fix="fill it in or drop the row")
        return value if isinstance(value, str) else str(value)

    rid = text("id") or row.key
    meta = {k: v for k, v in row.values.items() if k not in used}
    fields = {"id": rid, "procedure_text": text("procedure_text"),
              "scenario_text": text("scenario_text"), "label": verdict,
              "group_id": text("group_id") or rid, "meta": meta}
    fields["question"] = text("question") or QUESTION
    return EvalRecord(**fields)


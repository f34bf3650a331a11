"""Run proclab's benchmark inside other harnesses: an Inspect AI task (`inspect_task.py`) and
an lm-evaluation-harness task (`lm_eval/proclab.yaml` + `lm_eval/utils.py`). Both read the
dataset's JSONL records, or any file `proclab eval run` reads with the same field and label maps
(`load_records`, `map_docs`), and score with proclab's one grader
(`proclab.prompts.parse_verdict`). See docs/evaluation.md, "Adapters".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from proclab.prompts import REFERENCE_ORDER, build_user_message, parse_verdict

# Fields of a proclab record that ride along as metadata (None for mapped data).
STRUCTURE_FIELDS = ("procedure_id", "perturbation", "source", "domain", "split", "pair_id",
                    "pair_role")
MapSpec = str | Mapping[str, str] | None  # "a=b,c=d" (as on the command line) or a mapping


def prompt_text(record: Mapping[str, Any], order: str = REFERENCE_ORDER) -> str:
    """The user message proclab's own runner sends for `record` (blocks in `order`)."""
    return build_user_message(record["procedure_text"], record["scenario_text"],
                              record["question"], order=order)


def grade(output: str | None, label: str) -> dict[str, float]:
    """Per-sample scores: `acc` (parsed verdict == gold label) and `parse_rate`."""
    parsed = parse_verdict(output)
    return {"acc": float(parsed == label), "parse_rate": float(parsed is not None)}


def _maps(field_map: MapSpec, label_map: MapSpec) -> tuple[dict[str, str], dict[str, str]]:
    """Both maps as dicts, checked as `proclab eval run` checks them."""
    from proclab.errors import ErrorList
    from proclab.evaluate.mapping import check_spec, parse_pairs

    def spec(given: MapSpec, option: str) -> dict[str, str]:
        if given is None or isinstance(given, Mapping):
            return dict(given or {})
        return parse_pairs([given], option=option)

    fmap, lmap = spec(field_map, "--map"), spec(label_map, "--label-map")
    problems = check_spec(fmap, lmap)
    if problems:
        raise problems[0] if len(problems) == 1 else ErrorList(problems, what="bad maps")
    return fmap, lmap


def _as_doc(record: Any) -> dict[str, Any]:
    meta = {k: getattr(record, k) for k in STRUCTURE_FIELDS}
    return {"id": record.id, "procedure_text": record.procedure_text,
            "scenario_text": record.scenario_text, "question": record.question,
            "label": record.label, "group_id": record.group_id, **meta,
            "meta": dict(record.meta)}


def load_records(data: str | Path, *, split: str | None = None, field_map: MapSpec = None,
                 label_map: MapSpec = None) -> list[dict[str, Any]]:
    """The records `proclab eval run --data DATA [--split] [--map] [--label-map]` evaluates,
    as plain dicts (schema fields, proclab's structure fields or None, `meta`: the file's
    other columns). Same readers, same maps, same errors."""
    from proclab.evaluate.data import load_eval_data

    fmap, lmap = _maps(field_map, label_map)
    data_ = load_eval_data(data, split, field_map=fmap, label_map=lmap)
    return [_as_doc(r) for r in data_.records]


def map_docs(rows: list[Mapping[str, Any]], *, field_map: MapSpec = None,
             label_map: MapSpec = None, where: str = "docs") -> list[dict[str, Any]]:
    """Rows already in memory (e.g. an lm-evaluation-harness dataset) mapped as
    `load_records` maps a file."""
    from proclab.evaluate.mapping import map_table
    from proclab.evaluate.tables import Row, Table

    fmap, lmap = _maps(field_map, label_map)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    table = Table([], columns, [Row(dict(r), f"{where}, row {i + 1}", f"{where}#{i + 1}")
                            for i, r in enumerate(rows)])
    return [_as_doc(r) for r in map_table(table, fmap, lmap, where=where).records]

"""Pair sets for patching: the dataset's label-flipping counterfactual pairs and the
answer-mapping swap set.

A `PatchPair` holds two prompts (base and experimental) and the answer word each should get.
- Decision pairs (`order_swap`, `actor_swap` from `pairs.jsonl`): the scenario changes and the
  verdict flips, so the answer word flips with it.
- Mapping pairs (`mapping_swap`): one scenario, asked twice; the second question swaps which
  word stands for compliant, so the literal answer flips while the decision does not. Heads
  that matter here carry the word, not the judgement (retrieval candidates).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from proclab.errors import ConfigError, DataError
from proclab.limits import jsonl_lines
from proclab.procedures.trace import Verdict
from proclab.prompts import DEFAULT_LABELS, LabelWords

DECISION_KINDS: tuple[str, ...] = ("order_swap", "actor_swap")
MAPPING_KIND = "mapping_swap"
# Written for proclab: both mappings state the two words in the same slots, so the two
# questions tokenize to the same length and stay position-aligned.
MAPPING_QUESTION = (
    "Did the actions described in the scenario comply with the procedure? "
    "Answer {compliant} if they complied and {noncompliant} if they did not."
)


@dataclass(frozen=True)
class Side:
    """One prompt of a pair and the answer word that is correct for it."""

    procedure_text: str
    scenario_text: str
    question: str
    answer: str

    def record(self) -> dict[str, str]:
        return {
            "procedure_text": self.procedure_text,
            "scenario_text": self.scenario_text,
            "question": self.question,
        }


@dataclass(frozen=True)
class PatchPair:
    """Activations are patched from `base` into `exp`; the metric contrasts the two answers."""

    pair_id: str
    kind: str
    base: Side
    exp: Side

    def __post_init__(self) -> None:
        if self.base.answer == self.exp.answer:
            raise DataError(
                f"pair {self.pair_id}: both sides expect {self.base.answer!r}",
                fix="patching needs pairs whose correct answers differ (drop label-preserving pairs)",
            )


class PairRecord(BaseModel):
    """The fields of a `pairs.jsonl` line that patching reads; other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: str = ""
    pair_id: str
    pair_role: str | None = None
    label: Verdict
    procedure_text: str
    scenario_text: str
    question: str
    meta: dict[str, Any] = {}

    @property
    def role(self) -> str | None:
        return self.pair_role or self.meta.get("pair_role") or self.meta.get("action")

    @property
    def kind(self) -> str | None:
        return self.meta.get("pair_kind")


def pairs_file(path: str | Path) -> Path:
    """`path` itself, or its `pairs.jsonl` when it is a dataset folder."""
    path = Path(path)
    return path / "pairs.jsonl" if path.is_dir() else path


def load_pair_records(path: str | Path) -> list[PairRecord]:
    """Read `pairs.jsonl` (as written by `proclab dataset build`; a dataset folder means its
    pairs.jsonl); errors name file and line."""
    path = pairs_file(path)
    if not path.is_file():
        raise DataError("pairs file not found", where=str(path), fix="run `proclab dataset build`")
    records: list[PairRecord] = []
    for lineno, line in jsonl_lines(path):
        try:
            row = json.loads(line)
            if isinstance(row.get("meta"), str):
                row["meta"] = json.loads(row["meta"])
            records.append(PairRecord.model_validate(row))
        except (json.JSONDecodeError, ValidationError, AttributeError) as err:
            raise DataError(
                f"not a pair record: {_first_error(err)}",
                where=f"{path}:{lineno}",
                fix="use the pairs.jsonl written by `proclab dataset build`",
            ) from None
    if not records:
        raise DataError("no pair records", where=str(path), fix="rebuild the dataset")
    return records


def _first_error(err: Exception) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(err).splitlines()[0]


def decision_pairs(
    records: Iterable[PairRecord],
    *,
    kinds: Sequence[str] = DECISION_KINDS,
    labels: LabelWords = DEFAULT_LABELS,
) -> list[PatchPair]:
    """Label-flipping pairs (base -> flip member) of the given kinds, in file order."""
    unknown = sorted(set(kinds) - set(DECISION_KINDS))
    if unknown:
        raise ConfigError(
            f"pair kinds {unknown} do not flip the label",
            fix=f"use some of: {', '.join(DECISION_KINDS)}",
        )
    groups: dict[str, dict[str, PairRecord]] = {}
    for rec in records:
        if rec.kind in kinds and rec.role in ("base", "flip"):
            groups.setdefault(rec.pair_id, {})[rec.role] = rec
    pairs = []
    for pair_id, members in groups.items():
        if set(members) != {"base", "flip"}:
            missing = {"base", "flip"} - set(members)
            raise DataError(
                f"pair {pair_id} lacks its {', '.join(sorted(missing))} member",
                fix="use a complete pairs.jsonl from `proclab dataset build`",
            )
        base, flip = members["base"], members["flip"]
        pairs.append(
            PatchPair(pair_id, str(flip.kind), _side(base, labels), _side(flip, labels))
        )
    return pairs


def _side(rec: PairRecord, labels: LabelWords) -> Side:
    return Side(rec.procedure_text, rec.scenario_text, rec.question, labels.word_for(rec.label))


def swapped(labels: LabelWords) -> LabelWords:
    """The same two words with their meanings exchanged."""
    return LabelWords(compliant=labels.noncompliant, noncompliant=labels.compliant)


def mapping_question(labels: LabelWords) -> str:
    return MAPPING_QUESTION.format(compliant=labels.compliant, noncompliant=labels.noncompliant)


def mapping_pairs(
    records: Iterable[PairRecord], *, labels: LabelWords = DEFAULT_LABELS
) -> list[PatchPair]:
    """One answer-mapping swap pair per distinct (procedure, scenario) among `records`: the base
    asks with `labels`, the experimental prompt with the words swapped; same decision."""
    seen: set[tuple[str, str]] = set()
    swap = swapped(labels)
    pairs = []
    for rec in records:
        key = (rec.procedure_text, rec.scenario_text)
        if key in seen:
            continue
        seen.add(key)
        base = Side(rec.procedure_text, rec.scenario_text, mapping_question(labels),
                    labels.word_for(rec.label))
        exp = Side(rec.procedure_text, rec.scenario_text, mapping_question(swap),
                   swap.word_for(rec.label))
        pair_id = f"{rec.id or rec.pair_id}:{MAPPING_KIND}"
        pairs.append(PatchPair(pair_id, MAPPING_KIND, base, exp))
    return pairs

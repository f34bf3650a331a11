"""Lexical overlap between a scenario and its procedure: what a model could match without
reasoning, as features for the overlap shortcut probe and as the copy metric.

Units are the procedure's steps (main tree in document order), the steps its exceptions add,
and the exceptions' own texts - exactly the strings every house style prints - or, for a
procedure the caller does not supply, the non-empty lines of the rendered procedure text. Words
are `dedup.words` (lowercased, punctuation stripped); n-grams are compared by 64-bit hash.

- `OverlapFeaturizer`: one row of `FEATURES` per record (shares of step n-grams found in the
  scenario, per-step coverage statistics, the order in which steps are first matched, the
  procedure's stated relations read off the steps a scenario quotes, and how much of the
  scenario is copied from the procedure text). The records of one procedure text are
  featurised together (`overlap_batch.py`), so a build pays a few vector operations per
  procedure rather than per record.
- `copy_share`: the share of the scenario's distinct word 5-grams that occur in the procedure
  text; `copy_report` averages it per perturbation type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from proclab.dataset.dedup import gram_hashes, sorted_unique, words
from proclab.dataset.overlap_batch import COPY_N, FEATURES, Compiled, compile_units, featurise
from proclab.procedures.schema import Procedure

__all__ = [
    "COPY_N",
    "FEATURES",
    "OverlapFeaturizer",
    "ProcedureUnits",
    "copy_report",
    "copy_share",
    "units_from_text",
    "units_of",
]


@dataclass(frozen=True)
class ProcedureUnits:
    """The texts of one procedure a reader can match against a scenario, and the relations
    its text states between them (indexes run over `steps` then `added`)."""

    steps: tuple[str, ...]  # main-tree steps, document order
    added: tuple[str, ...] = ()  # steps exceptions add
    exceptions: tuple[str, ...] = ()  # exception texts
    # Per main step: it may be absent from a compliant narrative (an "only if", its own or an
    # ancestor's, or an internal determination, which is never narrated).
    conditional: tuple[bool, ...] = ()
    ordered: tuple[tuple[int, int], ...] = ()  # (earlier, later) for every after / requires
    requires: tuple[tuple[int, int], ...] = ()  # (prerequisite, dependent)
    parent: tuple[tuple[int, int], ...] = ()  # (parent, child)


def units_of(procedure: Procedure) -> ProcedureUnits:
    steps = list(procedure.all_steps())
    index = {s.id: i for i, s in enumerate(steps)}
    main = sum(1 for root in procedure.steps for _ in root.walk())
    guarded: set[str] = set()
    for step in steps[:main]:
        if step.when is not None or step.id in guarded:
            guarded.update(s.id for s in step.walk())
    seen = {s.id for s in steps if s.is_observable}  # internal steps are never narrated
    return ProcedureUnits(
        steps=tuple(s.text for s in steps[:main]),
        added=tuple(s.text for s in steps[main:]),
        exceptions=tuple(e.text for e in procedure.exceptions),
        conditional=tuple(s.id in guarded or s.id not in seen for s in steps[:main]),
        ordered=tuple(
            (index[a], index[s.id])
            for s in steps
            for a in (*s.after, *s.requires)
            if {a, s.id} <= seen
        ),
        requires=tuple((index[a], index[s.id]) for s in steps for a in s.requires if a in seen),
        parent=tuple((index[s.id], index[c.id]) for s in steps if s.id in seen for c in s.children),
    )


def units_from_text(procedure_text: str) -> ProcedureUnits:
    """Fallback units: every non-empty line of a rendered procedure."""
    return ProcedureUnits(tuple(line for line in procedure_text.splitlines() if line.strip()))


def _field(record: Any, name: str) -> Any:
    return record[name] if isinstance(record, Mapping) else getattr(record, name)


class OverlapFeaturizer:
    """`transform(records)` -> float array [len(records), len(FEATURES)]. Procedures are
    looked up by `procedure_id` in `units` (else read from `procedure_text`); compiled units
    and finished rows are cached, so the records of a build are each featurised once."""

    def __init__(self, units: Mapping[str, ProcedureUnits] | None = None):
        self.units = dict(units or {})
        self._compiled: dict[str, Compiled] = {}
        self._rows: dict[tuple[str, str, str], np.ndarray] = {}

    def transform(self, records: Sequence[Any]) -> np.ndarray:
        keys = [
            (_field(r, "procedure_id"), _field(r, "procedure_text"), _field(r, "scenario_text"))
            for r in records
        ]
        todo: dict[tuple[str, str], list[str]] = {}
        for pid, text, scenario in dict.fromkeys(k for k in keys if k not in self._rows):
            todo.setdefault((pid, text), []).append(scenario)
        for (pid, text), scenarios in todo.items():
            rows = featurise(self._compile(pid, text), text, scenarios)
            self._rows.update(((pid, text, s), row) for s, row in zip(scenarios, rows, strict=True))
        if not keys:
            return np.zeros((0, len(FEATURES)))
        return np.stack([self._rows[k] for k in keys])

    def _compile(self, pid: str, text: str) -> Compiled:
        key = pid if pid in self.units else "\0" + text
        if key not in self._compiled:
            units = self.units.get(pid) or units_from_text(text)
            self._compiled[key] = compile_units(units)
        return self._compiled[key]


# -- the copy metric ---------------------------------------------------------------------------


def copy_share(scenario_text: str, procedure_text: str, n: int = COPY_N) -> float:
    """Share of the scenario's distinct word n-grams that occur in the procedure text (0 for a
    scenario shorter than n words)."""
    scen = sorted_unique(gram_hashes(words(scenario_text), n))
    if scen.size == 0:
        return 0.0
    proc = sorted_unique(gram_hashes(words(procedure_text), n))
    return float(np.isin(scen, proc).mean())


def copy_report(
    records: Sequence[Any], featurizer: OverlapFeaturizer, *, goal: float, exempt: Sequence[str]
) -> dict[str, Any]:
    """Mean copy share overall, per perturbation type and per split; the goal holds when every
    perturbation type outside `exempt` averages at most `goal`."""
    shares = featurizer.transform(records)[:, FEATURES.index("copy_5")]
    by_p: dict[str, list[float]] = {}
    by_s: dict[str, list[float]] = {}
    for rec, share in zip(records, shares.tolist(), strict=True):
        by_p.setdefault(_field(rec, "perturbation"), []).append(share)
        by_s.setdefault(_field(rec, "split"), []).append(share)
    per = {p: _mean(v) for p, v in sorted(by_p.items())}
    outside = {p: v for p, v in per.items() if p not in exempt}
    worst = max(outside, key=lambda p: (outside[p], p), default=None)
    value = outside[worst] if worst is not None else 0.0
    return {
        "n": COPY_N,
        "records": len(records),
        "overall": _mean(shares.tolist()) if records else None,
        "outside_exempt": _mean([s for p, v in by_p.items() if p not in exempt for s in v]),
        "exempt": list(exempt),
        "by_perturbation": per,
        "by_split": {s: _mean(v) for s, v in sorted(by_s.items())},
        "goal": {
            "measure": "highest mean copy share of a perturbation type outside "
            + (", ".join(exempt) or "none"),
            "value": value,
            "worst": worst,
            "goal": goal,
            "met": value <= goal,
        },
    }


def _mean(values: Sequence[float]) -> float | None:
    return round(float(np.mean(values)), 4) if len(values) else None

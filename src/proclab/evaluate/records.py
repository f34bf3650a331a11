"""`EvalRecord`: what evaluation needs of one item, from proclab's own dataset records or from a
row of someone else's file mapped onto the minimal input schema (docs/evaluation.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from proclab.dataset.records import Instance
from proclab.procedures.trace import Verdict


class EvalRecord(BaseModel):
    """One item to evaluate. `group_id` is its bootstrap cluster (the procedure id for proclab
    records). The proclab-structure fields (perturbation, source, domain, pairs) are None for
    mapped data, whose extra columns are kept in `meta`; `instance` is proclab's full record
    (trace and context, for the oracle), None for mapped data."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    id: str
    procedure_text: str
    scenario_text: str
    question: str
    label: Verdict
    group_id: str
    split: str | None = None
    procedure_id: str | None = None
    perturbation: str | None = None
    source: str | None = None
    domain: str | None = None
    pair_id: str | None = None
    pair_role: str | None = None
    meta: dict[str, Any] = {}
    instance: Instance | None = None

    @classmethod
    def from_instance(cls, rec: Instance) -> EvalRecord:
        return cls(id=rec.id, procedure_text=rec.procedure_text,
                   scenario_text=rec.scenario_text, question=rec.question, label=rec.label,
                   group_id=rec.procedure_id, split=rec.split, procedure_id=rec.procedure_id,
                   perturbation=rec.perturbation, source=rec.source, domain=rec.domain,
                   pair_id=rec.pair_id, pair_role=rec.pair_role, instance=rec)

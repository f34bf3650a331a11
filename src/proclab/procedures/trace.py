"""Event traces, contexts, violations and the checker's result types.

A trace is what happened, in order: each event names a step id (or is a distractor with no
step), the role that did it, and free detail text. The checker (`checker.py`) turns a
(procedure, trace, context) triple into a `CheckResult`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["COMPLIANT", "NON-COMPLIANT"]
COMPLIANT: Verdict = "COMPLIANT"
NON_COMPLIANT: Verdict = "NON-COMPLIANT"

ViolationType = Literal[
    "missing_step",
    "order",
    "prerequisite",
    "authority",
    "hierarchy",
    "exception_ignored",
    "forbidden_step",
]
VIOLATION_TYPES: tuple[ViolationType, ...] = (
    "missing_step",
    "order",
    "prerequisite",
    "authority",
    "hierarchy",
    "exception_ignored",
    "forbidden_step",
)

Context = dict[str, bool | int | float | str]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Event(_Frozen):
    """One thing that happened. `step=None` marks a distractor (never matters to the verdict)."""

    step: str | None
    actor: str | None = None
    detail: str = ""

    @property
    def is_distractor(self) -> bool:
        return self.step is None


class Trace(_Frozen):
    events: list[Event] = Field(default_factory=list)

    def step_ids(self) -> list[str]:
        return [e.step for e in self.events if e.step is not None]


class Violation(_Frozen):
    """A typed reason for NON-COMPLIANT. `step` is the offending step; `related` the other
    step of an ordering/prerequisite/hierarchy relation or the exception id."""

    type: ViolationType
    step: str
    related: str | None = None
    message: str


StepStatus = Literal[
    "done",  # required and performed (first occurrence at `event_index`)
    "missing",  # required, observable, never performed
    "unobserved",  # required but not observable: never judged missing
    "not_required",  # guard false / parent not required; performed or not, no fault by itself
    "replaced",  # a fired exception replaces it
    "forbidden",  # a fired exception forbids it
]


class StepFinding(_Frozen):
    """The checker's step-by-step verification record, one per step of the procedure; it is
    what the oracle teacher narrates."""

    step: str
    status: StepStatus
    event_index: int | None = None
    actor: str | None = None
    violations: list[ViolationType] = Field(default_factory=list)


class CheckResult(_Frozen):
    verdict: Verdict
    violations: list[Violation] = Field(default_factory=list)
    required: list[str] = Field(default_factory=list)
    fired_exceptions: list[str] = Field(default_factory=list)
    findings: list[StepFinding] = Field(default_factory=list)

    @property
    def compliant(self) -> bool:
        return self.verdict == COMPLIANT

    def violation_types(self) -> set[ViolationType]:
        return {v.type for v in self.violations}

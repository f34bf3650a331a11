"""The procedure schema (pydantic v2). A procedure is data, not prose: see DESIGN.md §2.

Structural checks that need the whole procedure (unknown ids, cycles, unknown roles or context
names in guards, duplicate ids) live in `validate.py`, so this module stays a plain description.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Domain = Literal["lab_safety", "fda", "cms"]
StepKind = Literal["action", "check", "notify", "document", "approve", "internal"]
VarType = Literal["bool", "int", "float", "str"]

STEP_ID_PATTERN = r"^[A-Za-z0-9]+(\.[A-Za-z0-9]+)*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContextVar(_Strict):
    """A typed variable a scenario sets, e.g. `spill_volume_l: float`."""

    type: VarType
    default: bool | int | float | str
    description: str = ""
    # For `str` variables: the allowed values (also what generators sample from).
    values: list[str] | None = None
    # For numeric variables: the range generators sample from (inclusive).
    min: float | None = None
    max: float | None = None


class Step(_Strict):
    """One numbered step. `id` is "3" for a top-level step, "3.b" for a child of step 3."""

    id: str = Field(pattern=STEP_ID_PATTERN)
    text: str = Field(min_length=3)
    actor: str
    kind: StepKind = "action"
    # None means "observable unless kind is internal".
    observable: bool | None = None
    requires: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)
    when: str | None = None
    children: list[Step] = Field(default_factory=list)

    @property
    def is_observable(self) -> bool:
        return self.kind != "internal" if self.observable is None else self.observable

    def walk(self) -> Iterator[Step]:
        """This step and all its descendants, depth first in document order."""
        yield self
        for child in self.children:
            yield from child.walk()


class ProcedureException(_Strict):
    """A guarded deviation: when `when` holds, `replaces` stop being required (doing them is
    `exception_ignored`), the `adds` steps become required, and `forbids` must not happen."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    when: str
    text: str = Field(min_length=3)
    replaces: list[str] = Field(default_factory=list)
    adds: list[Step] = Field(default_factory=list)
    forbids: list[str] = Field(default_factory=list)


class Procedure(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    domain: Domain
    source: str
    description: str = ""
    roles: list[str] = Field(min_length=1)
    context: dict[str, ContextVar] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)
    exceptions: list[ProcedureException] = Field(default_factory=list)

    @field_validator("roles")
    @classmethod
    def _roles_unique(cls, roles: list[str]) -> list[str]:
        dupes = sorted({r for r in roles if roles.count(r) > 1})
        if dupes:
            raise ValueError(f"roles listed twice: {', '.join(dupes)}")
        return roles

    # -- navigation helpers (pure functions of the data) -----------------------------------

    def all_steps(self) -> Iterator[Step]:
        """Every step: the main tree in document order, then each exception's added steps."""
        for step in self.steps:
            yield from step.walk()
        for exc in self.exceptions:
            for step in exc.adds:
                yield from step.walk()

    def step_index(self) -> dict[str, Step]:
        return {s.id: s for s in self.all_steps()}

    def parent_of(self) -> dict[str, str | None]:
        """Map step id -> parent step id (None for top-level and exception-added roots)."""
        parents: dict[str, str | None] = {}

        def visit(step: Step, parent: str | None) -> None:
            parents[step.id] = parent
            for child in step.children:
                visit(child, step.id)

        for step in self.steps:
            visit(step, None)
        for exc in self.exceptions:
            for step in exc.adds:
                visit(step, None)
        return parents

    def role_rank(self, role: str) -> int:
        """Position on the authority ladder (0 = lowest). Raises KeyError for unknown roles."""
        return self.roles.index(role) if role in self.roles else _raise_key(role)

    def default_context(self) -> dict[str, bool | int | float | str]:
        return {name: var.default for name, var in self.context.items()}


def _raise_key(role: str) -> int:
    raise KeyError(role)

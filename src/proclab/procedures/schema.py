"""The procedure schema (pydantic v2). A procedure is data, not prose: see DESIGN.md §2.

Structural checks that need the whole procedure (unknown ids, cycles, unknown roles or context
names in guards, duplicate ids) live in `validate.py`, so this module stays a plain description.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Domain = Literal["lab_safety", "fda", "cms"]
StepKind = Literal["action", "check", "notify", "document", "approve", "internal"]
VarType = Literal["bool", "int", "float", "str"]

STEP_ID_PATTERN = r"^[A-Za-z0-9]+(\.[A-Za-z0-9]+)*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Weekday = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class Scene(_Strict):
    """Where in the week and the day a scenario may be set: the first event's clock time falls
    in `start` (24-hour "HH:MM" strings, inclusive) and the day is one of `days`. Unset fields
    leave the narrator's default (a working day, 07:00-15:00)."""

    start: tuple[str, str] | None = None
    days: list[Weekday] | None = Field(None, min_length=1)

    @field_validator("start")
    @classmethod
    def _clock_window(cls, window: tuple[str, str] | None) -> tuple[str, str] | None:
        if window is None:
            return None
        for clock in window:
            if not re.match(CLOCK_PATTERN, clock):
                raise ValueError(f"{clock!r} is not a 24-hour HH:MM time")
        if window[0] > window[1]:
            raise ValueError(f"start window {window[0]}-{window[1]} ends before it starts")
        return window


class ValueNarration(_Strict):
    """How a scenario states one value of a context variable: a complete past-tense sentence
    (numeric variables: with `{value}`, Python format specs allowed, e.g. `{value:,}`), and
    optionally the scene that value implies (an after-hours spill happens in the evening)."""

    text: str = Field(min_length=3)
    scene: Scene | None = None


def _narration_entry(value: object) -> object:
    return {"text": value} if isinstance(value, str) else value


class ContextVar(_Strict):
    """A typed variable a scenario sets, e.g. `spill_volume_l: float`.

    `narration` says how a scenario states the variable's value, in plain past-tense English
    that never shows the variable's name, description or raw value ids: for a `bool`, one
    sentence per value (keys `true`, `false`); for a `str`, one per allowed value; for a number,
    one sentence with `{value}` (a mapping `{text, scene}` may stand for any sentence)."""

    type: VarType
    default: bool | int | float | str
    description: str = ""
    # For `str` variables: the allowed values (also what generators sample from).
    values: list[str] | None = None
    # For numeric variables: the range generators sample from (inclusive).
    min: float | None = None
    max: float | None = None
    narration: dict[str, ValueNarration] | ValueNarration | None = None

    @field_validator("narration", mode="before")
    @classmethod
    def _narration_keys(cls, value: object) -> object:
        # YAML reads `true:`/`false:` keys as booleans (and bare numbers as numbers). A mapping
        # with a string `text` is one sentence (`{text, scene}`), not a value -> sentence map.
        if isinstance(value, dict) and not isinstance(value.get("text"), str):
            return {
                (str(k).lower() if isinstance(k, bool) else str(k)): _narration_entry(v)
                for k, v in value.items()
            }
        return _narration_entry(value)

    def narration_for(self, value: bool | int | float | str) -> ValueNarration | None:
        """The narration of `value` (numbers: the one template), or None if none is written."""
        if self.narration is None or isinstance(self.narration, ValueNarration):
            return self.narration
        key = str(value).lower() if isinstance(value, bool) else str(value)
        return self.narration.get(key)


class StepTiming(_Strict):
    """When a step's event happens relative to the event before it in the trace, so narrated
    times agree with the step's own wording. `delay_min`: minutes after the previous event
    (inclusive range; the narrator's default is 3-14). `days_later`: working days after the
    previous event ("within three working days": [1, 3]; "the next working day": [1, 1]); the
    narrator then says which day and starts a new working morning. `lasts_min`: how long the act
    itself takes (a 15-minute flush, a 60-minute autoclave cycle): the next event starts no
    earlier than its end."""

    delay_min: tuple[int, int] | None = None
    days_later: tuple[int, int] | None = None
    lasts_min: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _ranges(self) -> StepTiming:
        for name in ("delay_min", "days_later"):
            window = getattr(self, name)
            if window is not None and not 0 <= window[0] <= window[1]:
                raise ValueError(f"{name}: need 0 <= low <= high, got {list(window)}")
        return self


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
    # How a scenario tells that this step was done: past-tense verb phrases that follow the
    # doer's name ("warned the people at the nearby benches and kept them back"), each saying
    # it in other words than `text` (no run of five words copied from it), no final period.
    # Observable steps need at least two (the first is the plain telling); see validate.py.
    narration: list[str] = Field(default_factory=list)
    timing: StepTiming | None = None

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
    # When scenarios of this procedure may be set (an after-hours authorization: evenings).
    scene: Scene | None = None

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

"""The narrator's word stock: templates, cues, names, filler and per-domain scenery.

All of it is YAML next to this module, validated with pydantic and loaded once per process
(`load_lexicon()`); nothing here is read per scenario.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from proclab.errors import ConfigError
from proclab.procedures.schema import Domain, StepKind
from proclab.scenarios.timeline import read_day_shift

LEXICON_DIR = Path(__file__).resolve().parent
DOMAINS: tuple[Domain, ...] = ("lab_safety", "fda", "cms")
_PLACEHOLDERS = re.compile(r"\{(\w+)\}")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _slots(text: str) -> set[str]:
    return set(_PLACEHOLDERS.findall(text))


class Template(_Strict):
    """One sentence pattern: `{name}` is the doer, `{p}` an authored past-tense phrase;
    quote templates take `{q}`, the procedure's own wording, after the name, instead."""

    id: str = Field(pattern=r"^[a-z]+\.[a-z_]+$")
    text: str

    @model_validator(mode="after")
    def _known_slots(self) -> Template:
        found = _slots(self.text)
        if found not in ({"name", "p"}, {"name", "q"}):
            raise ValueError(f"template {self.id} must use {{name}} and {{p}} (quotes: {{q}})")
        if "q" in found and self.text.index("{q}") < self.text.index("{name}"):
            raise ValueError(f"template {self.id}: the name must come before the quote")
        return self


def _with_slots(templates: list[Template], want: set[str], what: str) -> list[Template]:
    bad = [t.id for t in templates if _slots(t.text) != want]
    if bad:
        raise ValueError(f"{what} templates {bad} must use exactly {sorted(want)}")
    return templates


class DayCues(_Strict):
    """Cues that change the day; the round trip reads each back (timeline.read_day_shift)."""

    next: list[str] = Field(min_length=1)
    later: list[str] = Field(min_length=1)
    flashback: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _read_back(self) -> DayCues:
        want = {"next": ("next", 1), "later": ("next", 3), "flashback": ("first", 0)}
        for field, shift in want.items():
            for cue in getattr(self, field):
                said = cue.format(t="9:05", weekday="Monday", n="three")
                if "{t}" not in cue or read_day_shift(said) != shift:
                    raise ValueError(f"day cue {cue!r} must have {{t}} and read back as {shift}")
        return self


class Templates(_Strict):
    step: dict[StepKind, list[Template]]
    paraphrase: list[Template] = Field(min_length=3)
    quote: list[Template] = Field(min_length=3)
    distractor: list[Template] = Field(min_length=3)
    first_cues: list[str] = Field(min_length=3)
    next_cues: list[str] = Field(min_length=3)
    mid_cues: list[str] = Field(min_length=3)
    clock_cues: list[str] = Field(min_length=2)
    flashback_cues: list[str] = Field(min_length=2)
    day_cues: DayCues
    openings: list[str] = Field(min_length=2)
    cast_intros: list[str] = Field(min_length=2)
    cast_forms: list[str] = Field(min_length=1)

    @field_validator("step")
    @classmethod
    def _three_per_kind(cls, step: dict[str, list[Template]]) -> dict[str, list[Template]]:
        thin = [kind for kind, temps in step.items() if len(temps) < 3]
        missing = [k for k in ("action", "check", "notify", "document", "approve", "internal")
                   if k not in step]
        if thin or missing:
            raise ValueError(f"need >= 3 templates for every step kind (thin: {thin}, "
                             f"missing: {missing})")
        for kind, temps in step.items():
            _with_slots(temps, {"name", "p"}, kind)
        return step

    @field_validator("paraphrase", "distractor")
    @classmethod
    def _phrase_only(cls, temps: list[Template]) -> list[Template]:
        return _with_slots(temps, {"name", "p"}, "phrase")

    @field_validator("quote")
    @classmethod
    def _quoting(cls, temps: list[Template]) -> list[Template]:
        return _with_slots(temps, {"name", "q"}, "quote")

    @field_validator("clock_cues", "flashback_cues")
    @classmethod
    def _has_time(cls, cues: list[str]) -> list[str]:
        if any("{t}" not in c for c in cues):
            raise ValueError("every clock cue needs a {t} slot")
        return cues


class Names(_Strict):
    first: list[str] = Field(min_length=12)
    surname: list[str] = Field(min_length=12)

    @field_validator("first")
    @classmethod
    def _unique(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError("first names must be unique")
        return names


class Cues(_Strict):
    mishaps: list[str] = Field(min_length=4)
    hedges: list[str] = Field(min_length=2)
    reassure: list[str] = Field(min_length=3)
    remarks: list[str] = Field(min_length=3)


class Scenery(_Strict):
    places: list[str] = Field(min_length=2)
    events: list[str] = Field(min_length=6)


class FillerPool(_Strict):
    """`still`: how things were; `moments`: something that happened (may take a cue)."""

    still: list[str] = Field(min_length=10)
    moments: list[str] = Field(min_length=10)


class Fillers(_Strict):
    """Background sentences: no person of the scenario, no act any procedure governs, no
    time of day. `shared` lines suit every domain."""

    shared: FillerPool
    lab_safety: FillerPool
    fda: FillerPool
    cms: FillerPool

    @model_validator(mode="after")
    def _unique(self) -> Fillers:
        lines = [line for pool in (self.shared, self.lab_safety, self.fda, self.cms)
                 for line in (*pool.still, *pool.moments)]
        dupes = sorted({line for line in lines if lines.count(line) > 1})
        if dupes:
            raise ValueError(f"filler lines listed twice: {dupes[:3]}")
        return self


class Lexicon(_Strict):
    templates: Templates
    names: Names
    cues: Cues
    fillers: Fillers
    scenery: dict[Domain, Scenery]

    def fillers_for(self, domain: str) -> list[tuple[str, bool]]:
        """The domain's filler lines with whether each is a moment (it may take a cue)."""
        pools = (self.fillers.shared, getattr(self.fillers, domain))
        return [(line, moment) for pool in pools
                for moment, lines in ((False, pool.still), (True, pool.moments)) for line in lines]


def _read(path: Path) -> object:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(
            f"cannot read lexicon file: {err}",
            where=str(path),
            fix="restore the file from the repository",
        ) from None


@cache
def load_lexicon() -> Lexicon:
    """Every lexicon file, validated; a bad file raises ConfigError naming it and the field."""
    files = {
        "templates": "templates.yaml",
        "names": "names.yaml",
        "cues": "cues.yaml",
        "fillers": "fillers.yaml",
    }
    data = {key: _read(LEXICON_DIR / name) for key, name in files.items()}
    data["scenery"] = {d: _read(LEXICON_DIR / "distractors" / f"{d}.yaml") for d in DOMAINS}
    try:
        return Lexicon.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(
            f"invalid lexicon ({err.error_count()} problem(s)): {problems}",
            where=str(LEXICON_DIR),
            fix="correct the fields named above (the first part of each path is the file)",
        ) from None

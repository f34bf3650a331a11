"""The narrator's word stock: templates, names, verbs, paraphrases, cues and per-domain scenery.

All of it is YAML next to this module, validated with pydantic and loaded once per process
(`load_lexicon()`); nothing here is read per scenario.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from proclab.errors import ConfigError
from proclab.procedures.schema import Domain, StepKind

LEXICON_DIR = Path(__file__).resolve().parent
DOMAINS: tuple[Domain, ...] = ("lab_safety", "fda", "cms")
TemplateForm = Literal["past", "base", "stmt", "quote"]
_PLACEHOLDERS = re.compile(r"\{(\w+)\}")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Template(_Strict):
    """One sentence pattern; `{name}` is the actor, `{p}` the phrase (or `{q}`, the quote)."""

    id: str = Field(pattern=r"^[a-z]+\.[a-z_]+$")
    form: TemplateForm
    text: str

    @model_validator(mode="after")
    def _slots(self) -> Template:
        slot = "q" if self.form == "quote" else "p"
        found = set(_PLACEHOLDERS.findall(self.text))
        if found != {"name", slot}:
            raise ValueError(f"template {self.id} must use exactly {{name}} and {{{slot}}}")
        return self


class FactForms(_Strict):
    value: list[str] = Field(min_length=1)
    answer: list[str] = Field(min_length=1)
    clause: list[str] = Field(min_length=1)


class Templates(_Strict):
    step: dict[StepKind, list[Template]]
    statement: list[Template] = Field(min_length=3)
    paraphrase: list[Template] = Field(min_length=3)
    quote: list[Template] = Field(min_length=3)
    distractor: list[Template] = Field(min_length=3)
    first_cues: list[str] = Field(min_length=3)
    next_cues: list[str] = Field(min_length=3)
    clock_cues: list[str] = Field(min_length=2)
    flashback_cues: list[str] = Field(min_length=2)
    openings: list[str] = Field(min_length=2)
    cast_intros: list[str] = Field(min_length=2)
    cast_forms: list[str] = Field(min_length=1)
    facts: FactForms
    days: list[str] = Field(min_length=1)

    @field_validator("step")
    @classmethod
    def _three_per_kind(cls, step: dict[str, list[Template]]) -> dict[str, list[Template]]:
        thin = [kind for kind, temps in step.items() if len(temps) < 3]
        missing = [k for k in ("action", "check", "notify", "document", "approve", "internal")
                   if k not in step]
        if thin or missing:
            raise ValueError(f"need >= 3 templates for every step kind (thin: {thin}, "
                             f"missing: {missing})")
        return step

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


class Verbs(_Strict):
    regular: list[str]
    doubled: list[str]
    irregular: dict[str, str]


class Paraphrases(_Strict):
    verbs: dict[str, list[str]]
    phrases: dict[str, list[str]]


class Cues(_Strict):
    mishaps: list[str] = Field(min_length=4)
    hedges: list[str] = Field(min_length=2)
    reassure: list[str] = Field(min_length=3)
    remarks: list[str] = Field(min_length=3)


class Scenery(_Strict):
    places: list[str] = Field(min_length=2)
    events: list[str] = Field(min_length=6)


class Fillers(_Strict):
    shared: list[str] = Field(min_length=10)
    lab_safety: list[str] = Field(default_factory=list)
    fda: list[str] = Field(default_factory=list)
    cms: list[str] = Field(default_factory=list)


class Lexicon(_Strict):
    templates: Templates
    names: Names
    verbs: Verbs
    paraphrase: Paraphrases
    cues: Cues
    fillers: Fillers
    scenery: dict[Domain, Scenery]

    def past_tense(self) -> dict[str, str]:
        """base verb -> past tense, for every verb the narrator may conjugate."""
        out = {v: _regular_past(v) for v in self.verbs.regular}
        out.update({v: v + v[-1] + "ed" for v in self.verbs.doubled})
        out.update(self.verbs.irregular)
        return out

    def fillers_for(self, domain: str) -> list[str]:
        return [*self.fillers.shared, *getattr(self.fillers, domain, [])]


def _regular_past(verb: str) -> str:
    if verb.endswith("e"):
        return verb + "d"
    if len(verb) > 1 and verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + "ed"


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
        "verbs": "verbs.yaml",
        "paraphrase": "paraphrase.yaml",
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

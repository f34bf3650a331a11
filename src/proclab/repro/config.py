"""A reproduction config (YAML): an ordered list of stages, each one `proclab` command line.

    stages:
      - name: data
        run: [dataset, build, --config, configs/data/compact.yaml, --out, "{out}/data"]
        done_when: ["{out}/data/manifest.json"]
      - name: "eval_{student}"
        matrix: {student: [sft, answer]}
        run: [eval, run, --model, "{out}/train/{student}", ...]

`{out}` is the run folder; a `matrix` expands a stage into one per combination of its values
(names must then differ). `resume_when` is a glob: when an unfinished stage is rerun and it
matches, `resume_args` are added (e.g. `--resume auto`), else `restart_args` (e.g.
`--set overwrite=true`). Every bad field is named at once.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from proclab.configfile import read_yaml_mapping
from proclab.errors import ConfigError, ErrorList, ProclabError

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELD = re.compile(r"\{(\w+)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageSpec(_Strict):
    name: str = Field(min_length=1)
    run: list[str] = Field(min_length=1, description="proclab arguments, e.g. [eval, run, ...]")
    about: str = ""
    matrix: dict[str, list[str]] = Field(default_factory=dict)
    done_when: list[str] = Field(default_factory=list, description="files a success leaves")
    resume_when: str | None = None
    resume_args: list[str] = Field(default_factory=list)
    restart_args: list[str] = Field(default_factory=list)

    @field_validator("run", "resume_args", "restart_args", mode="before")
    @classmethod
    def _numbers_are_arguments(cls, value: object) -> object:
        # `--limit, 120` in YAML is an int; on a command line it is the text "120".
        if isinstance(value, list):
            return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                    for v in value]
        return value


class ReproConfig(_Strict):
    version: Literal[1] = 1
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    budget_minutes: float | None = Field(None, gt=0, description="the wall-time goal")
    stages: list[StageSpec] = Field(min_length=1)


class Stage(_Strict):
    """One expanded stage: its name and arguments with the matrix values filled in (`{out}`
    is filled in when it runs)."""

    name: str
    about: str
    run: tuple[str, ...]
    done_when: tuple[str, ...]
    resume_when: str | None
    resume_args: tuple[str, ...]
    restart_args: tuple[str, ...]


def expand(config: ReproConfig, *, where: str = "<config>") -> list[Stage]:
    """Every stage in order, matrices expanded; names must be unique and well formed."""
    stages: list[Stage] = []
    errors: list[ProclabError] = []
    for i, spec in enumerate(config.stages):
        keys = sorted(spec.matrix)
        for values in itertools.product(*(spec.matrix[k] for k in keys)) if keys else [()]:
            fill = dict(zip(keys, values, strict=True))
            try:
                stage = _fill(spec, fill)
            except KeyError as err:
                errors.append(ConfigError(f"unknown placeholder {{{err.args[0]}}}",
                                          where=f"{where}: stages.{i} ({spec.name})",
                                          fix="use {out} or a key of the stage's matrix"))
                break
            stages.append(stage)
    seen: set[str] = set()
    for stage in stages:
        if not _NAME.match(stage.name):
            errors.append(ConfigError(f"bad stage name {stage.name!r}", where=f"{where}: stages",
                                      fix="lower-case letters, digits and _"))
        if stage.name in seen:
            errors.append(ConfigError(f"two stages are named {stage.name!r}",
                                      where=f"{where}: stages",
                                      fix="put the matrix keys in the name, e.g. eval_{student}"))
        seen.add(stage.name)
    if errors:
        raise ErrorList(errors, what=f"invalid reproduction config {where}")
    return stages


def _fill(spec: StageSpec, values: dict[str, str]) -> Stage:
    def sub(text: str) -> str:
        # `{out}` stays for the runner; matrix keys are filled now (unknown keys raise).
        return _FIELD.sub(lambda m: "{out}" if m[1] == "out" else values[m[1]], text)

    return Stage(
        name=sub(spec.name), about=sub(spec.about), run=tuple(sub(a) for a in spec.run),
        done_when=tuple(sub(p) for p in spec.done_when),
        resume_when=sub(spec.resume_when) if spec.resume_when else None,
        resume_args=tuple(sub(a) for a in spec.resume_args),
        restart_args=tuple(sub(a) for a in spec.restart_args),
    )


def load_repro(path: str | Path) -> tuple[ReproConfig, list[Stage]]:
    raw = read_yaml_mapping(path)
    try:
        config = ReproConfig.model_validate(raw)
    except ValidationError as err:
        errors: list[ProclabError] = [
            ConfigError(e["msg"], where=f"{path}: {'.'.join(str(p) for p in e['loc'])}")
            for e in err.errors()
        ]
        raise ErrorList(errors, what=f"invalid reproduction config {path}") from None
    return config, expand(config, where=str(path))

"""The dataset build config (YAML): cohorts, splits, held-out procedures and styles, dedup, probes.

A cohort is one generation batch with its own seed, procedure subset, perturbation mix, styles
and size (the number of unique accepted instances it must contribute). `splits` maps each split
name to its cohorts; `train` is the training split, every other split is held out. All problems
of a file are reported at once (`ErrorList`), each naming the field.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from proclab.configfile import read_yaml_mapping
from proclab.errors import ConfigError, ErrorList, ProclabError
from proclab.registry import suggest
from proclab.scenarios.types import PERTURBATION_IDS

TRAIN_SPLIT = "train"
_NAME = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DedupConfig(_Strict):
    """Near-duplicate detection: MinHash LSH over word shingles (see `dedup.py`)."""

    threshold: float = Field(0.8, gt=0.0, le=1.0, description="Jaccard threshold")
    num_perm: int = Field(128, ge=16, le=512, description="MinHash permutations")
    shingle_words: int = Field(5, ge=1, le=16, description="words per shingle")


class HeldoutConfig(_Strict):
    """Which procedures never appear in training, and which house styles training never uses."""

    procedures: list[str] = Field(default_factory=list, description="always held out")
    fraction_per_domain: float = Field(0.25, ge=0.0, lt=1.0)
    seed: int = 0
    styles: list[str] = Field(default_factory=list, description="house styles kept out of train")


class ProbeConfig(_Strict):
    """Shortcut probes (scenario-only bag of words, length only, procedure-scenario lexical
    overlap), the copy metric, and their goals: accuracies are the highest held-out split's
    (`scenario_perturbation_goal`: the highest held-out split x perturbation cell's); the copy
    goal bounds every perturbation type's mean copy share outside `copy_exempt`."""

    seed: int = 0
    scenario_goal: float = Field(0.60, gt=0.0, le=1.0)
    scenario_perturbation_goal: float = Field(0.65, gt=0.0, le=1.0)
    length_goal: float = Field(0.55, gt=0.0, le=1.0)
    overlap_goal: float = Field(0.65, gt=0.0, le=1.0)
    copy_goal: float = Field(0.10, ge=0.0, le=1.0)
    copy_exempt: list[str] = Field(
        default_factory=lambda: ["adversarial_surface_noncompliant"],
        description="perturbation types that quote the procedure on purpose",
    )
    top_features: int = Field(15, ge=0, le=100)
    recurring_lines: int = Field(10, ge=0, le=100, description="most recurring lines to list")

    @field_validator("copy_exempt")
    @classmethod
    def _known_perturbations(cls, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in PERTURBATION_IDS]
        if unknown:
            hints = "".join(suggest(n, PERTURBATION_IDS) for n in unknown)
            raise ValueError(f"unknown perturbation type(s) {unknown}{hints}")
        return names


class CohortConfig(_Strict):
    """One generation batch. `procedures`: "train" | "heldout" | "all" | explicit ids.
    `perturbations`: "uniform" or weights per perturbation id. `styles`: override of the
    domain house styles (None = each procedure's domain styles minus held-out styles)."""

    name: str = Field(pattern=_NAME)
    seed: int
    size: int = Field(ge=1)
    procedures: Literal["train", "heldout", "all"] | list[str] = "train"
    perturbations: Literal["uniform"] | dict[str, float] = "uniform"
    styles: list[str] | None = None
    pairs_per_procedure: int = Field(0, ge=0)
    # A held-out cohort of new scenarios of *training* procedures (deduplicated against train
    # like any held-out cohort): in-distribution accuracy, beside the unseen-procedure splits.
    seen_procedures: bool = False
    # A procedure stops being drawn for a perturbation after this many draws in a row that
    # add nothing (rejected, duplicate, label quota full): its variants are taken as exhausted.
    patience: int = Field(40, ge=1)

    def weights(self) -> dict[str, float]:
        """Perturbation weights in PERTURBATION_IDS order, zero weights dropped."""
        mix = self.perturbations
        if mix == "uniform":
            return {p: 1.0 for p in PERTURBATION_IDS}
        return {p: float(mix[p]) for p in PERTURBATION_IDS if mix.get(p, 0) > 0}


class CompactView(_Strict):
    """The compact view (docs/scenarios.md): every procedure is replaced by its first steps
    (`proclab.procedures.compact`, at most `max_steps` steps with sub-steps, ids `<id>--c<n>`),
    and scenarios carry no neutral filler unless `filler`. Same perturbation types, checker and
    held-out logic; for models whose context holds ~1k tokens."""

    max_steps: int = Field(6, ge=4, le=40)
    filler: bool = False


class DatasetConfig(_Strict):
    version: Literal[1] = 1
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    heldout: HeldoutConfig = Field(default_factory=HeldoutConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    probes: ProbeConfig = Field(default_factory=ProbeConfig)
    # Split exception_trigger / distractor_injection quotas 50/50 between the two labels.
    balance_mixed_labels: bool = True
    compact: CompactView | None = None
    cohorts: list[CohortConfig] = Field(min_length=1)
    splits: dict[str, list[str]]

    def sha256(self) -> str:
        """Hash of the canonical JSON form (sorted keys): names a build (manifest, overwrite)."""
        # Fields added later are left out at their defaults, so earlier builds keep their hashes.
        data = self.model_dump(mode="json")
        if data["compact"] is None:
            del data["compact"]
        for cohort in data["cohorts"]:
            if not cohort["seen_procedures"]:
                del cohort["seen_procedures"]
        canonical = json.dumps(data, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def split_of(self) -> dict[str, str]:
        """Map cohort name -> split name."""
        return {c: split for split, names in self.splits.items() for c in names}

    def split_names(self) -> list[str]:
        """`train` first, then the held-out splits sorted: the order of every output."""
        return [TRAIN_SPLIT, *self.heldout_splits()]

    def heldout_splits(self) -> list[str]:
        return sorted(s for s in self.splits if s != TRAIN_SPLIT)


def load_config(path: str | Path) -> DatasetConfig:
    """Read and validate a build config; raises one error listing every problem found."""
    raw = read_yaml_mapping(path)
    return parse_config(raw, where=str(path))


def parse_config(raw: dict, *, where: str = "<config>") -> DatasetConfig:
    """Validate a config mapping (schema first, then cross-field rules)."""
    try:
        config = DatasetConfig.model_validate(raw)
    except ValidationError as err:
        errors: list[ProclabError] = [
            ConfigError(e["msg"], where=f"{where}: {'.'.join(str(p) for p in e['loc'])}")
            for e in err.errors()
        ]
        raise ErrorList(errors, what=f"invalid dataset config {where}") from None
    errors = check_config(config, where=where)
    if errors:
        raise ErrorList(errors, what=f"invalid dataset config {where}")
    return config


def check_config(config: DatasetConfig, *, where: str) -> list[ProclabError]:
    """Rules that need several fields: names, seeds, splits, perturbation ids."""
    errors: list[ProclabError] = []
    names = [c.name for c in config.cohorts]
    seen_seed: dict[int, str] = {}
    for i, cohort in enumerate(config.cohorts):
        at = f"{where}: cohorts.{i} ({cohort.name})"
        if names.count(cohort.name) > 1 and names.index(cohort.name) == i:
            errors.append(ConfigError("cohort name used twice", where=at, fix="rename one"))
        if cohort.seed in seen_seed:
            errors.append(
                ConfigError(
                    f"seed {cohort.seed} is also the seed of cohort {seen_seed[cohort.seed]!r}; "
                    "overlapping seeds would draw the same scenarios twice",
                    where=f"{at}.seed",
                    fix="give every cohort its own seed",
                )
            )
        seen_seed.setdefault(cohort.seed, cohort.name)
        errors.extend(_check_mix(cohort, at))
    errors.extend(_check_splits(config, names, where))
    return errors


def _check_mix(cohort: CohortConfig, at: str) -> list[ProclabError]:
    if cohort.perturbations == "uniform":
        return []
    errors: list[ProclabError] = []
    for name, weight in cohort.perturbations.items():
        if name not in PERTURBATION_IDS:
            errors.append(
                ConfigError(
                    f"unknown perturbation type {name!r}{suggest(name, PERTURBATION_IDS)}",
                    where=f"{at}.perturbations",
                    fix=f"use one of: {', '.join(PERTURBATION_IDS)}",
                )
            )
        elif weight < 0:
            errors.append(ConfigError("weight must be >= 0", where=f"{at}.perturbations.{name}"))
    if not errors and not cohort.weights():
        errors.append(ConfigError("all perturbation weights are zero", where=f"{at}.perturbations"))
    return errors


def _check_splits(config: DatasetConfig, names: list[str], where: str) -> list[ProclabError]:
    errors: list[ProclabError] = []
    if TRAIN_SPLIT not in config.splits:
        errors.append(ConfigError("no 'train' split", where=f"{where}: splits"))
    if len(config.splits) < 2:
        errors.append(ConfigError("no held-out split", where=f"{where}: splits"))
    placed: dict[str, str] = {}
    for split, cohorts in config.splits.items():
        if not split.replace("_", "a").isalnum() or not split[:1].isalpha():
            errors.append(ConfigError(f"bad split name {split!r}", where=f"{where}: splits"))
        if not cohorts:
            errors.append(ConfigError("split has no cohorts", where=f"{where}: splits.{split}"))
        for name in cohorts:
            if name not in names:
                errors.append(
                    ConfigError(
                        f"unknown cohort {name!r}{suggest(name, names)}",
                        where=f"{where}: splits.{split}",
                        fix=f"cohorts defined: {', '.join(names)}",
                    )
                )
            elif name in placed:
                errors.append(
                    ConfigError(
                        f"cohort {name!r} is in splits {placed[name]!r} and {split!r}",
                        where=f"{where}: splits.{split}",
                    )
                )
            placed.setdefault(name, split)
    for name in names:
        if name not in placed:
            errors.append(ConfigError(f"cohort {name!r} is in no split", where=f"{where}: splits"))
    return errors

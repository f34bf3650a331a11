"""Resolve a config against the corpus: held-out procedures, each cohort's procedures, styles
and per-perturbation quotas.

Held-out procedures are chosen per domain (a seeded shuffle of the sorted ids, plus any listed
explicitly), so every domain has unseen procedures. Training cohorts may only use training
procedures and never a held-out house style; held-out cohorts only use held-out procedures, so
no held-out scenario is about a procedure seen in training. Held-out house styles appear only in
cohorts that name them in `styles`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from proclab.dataset.config import TRAIN_SPLIT, CohortConfig, DatasetConfig
from proclab.errors import ConfigError, ErrorList, ProclabError
from proclab.procedures.schema import Procedure
from proclab.registry import suggest


@dataclass(frozen=True)
class HouseStyles:
    """The style registry as the builder needs it: the lab family and every known style.

    A procedure whose default style (`Procedure.source`) is in the lab family is rendered in
    all lab styles; any other procedure (FDA, CMS manuals) only in its own default style."""

    lab: tuple[str, ...]
    known: tuple[str, ...]

    def defaults(self, procedure: Procedure) -> tuple[str, ...]:
        return self.lab if procedure.source in self.lab else (procedure.source,)


@dataclass(frozen=True)
class CohortPlan:
    cohort: CohortConfig
    split: str
    procedures: tuple[Procedure, ...]  # sorted by id
    styles: dict[str, tuple[str, ...]]  # procedure id -> styles it is rendered in
    quotas: dict[str, int]  # perturbation id -> instances, PERTURBATION_IDS order


@dataclass(frozen=True)
class BuildPlan:
    train_procedures: tuple[str, ...]
    heldout_procedures: tuple[str, ...]
    cohorts: tuple[CohortPlan, ...]  # training cohorts first, so held-out dedups against train


def select_heldout(config: DatasetConfig, procedures: Sequence[Procedure]) -> list[str]:
    """Held-out procedure ids: the explicit list plus a seeded fraction of each domain."""
    by_domain: dict[str, list[str]] = {}
    for proc in sorted(procedures, key=lambda p: p.id):
        by_domain.setdefault(proc.domain, []).append(proc.id)
    chosen = set(config.heldout.procedures)
    fraction = config.heldout.fraction_per_domain
    for domain in sorted(by_domain):
        ids = by_domain[domain]
        if fraction <= 0:
            continue
        want = max(1, round(fraction * len(ids)))
        already = [i for i in ids if i in chosen]
        rest = [i for i in ids if i not in chosen]
        random.Random(f"heldout:{config.heldout.seed}:{domain}").shuffle(rest)
        chosen.update(rest[: max(0, want - len(already))])
    return sorted(chosen)


def make_plan(
    config: DatasetConfig, procedures: Sequence[Procedure], styles: HouseStyles
) -> BuildPlan:
    """Resolve every cohort; raises one ErrorList naming every unknown id or broken rule."""
    index = {p.id: p for p in procedures}
    errors: list[ProclabError] = []
    for pid in config.heldout.procedures:
        if pid not in index:
            errors.append(_unknown("procedure", pid, index, "heldout.procedures"))
    errors.extend(
        _unknown("house style", s, styles.known, "heldout.styles")
        for s in config.heldout.styles
        if s not in styles.known
    )
    heldout = select_heldout(config, procedures) if not errors else []
    train = sorted(set(index) - set(heldout))
    if not errors and not train:
        errors.append(ConfigError("every procedure is held out", where="heldout"))
    resolver = _Resolver(config, index, train, heldout, styles)
    split_of = config.split_of()
    plans: list[CohortPlan] = []
    for i, cohort in enumerate(config.cohorts):
        where = f"cohorts.{i} ({cohort.name})"
        plan, problems = resolver.cohort(cohort, split_of.get(cohort.name, TRAIN_SPLIT), where)
        errors.extend(problems)
        if plan is not None:
            plans.append(plan)
    if errors:
        raise ErrorList(errors, what=f"dataset config {config.name!r} does not fit the corpus")
    plans.sort(key=lambda p: p.split != TRAIN_SPLIT)  # stable: config order within each group
    return BuildPlan(tuple(train), tuple(heldout), tuple(plans))


@dataclass(frozen=True)
class _Resolver:
    """Resolves one cohort's procedures and styles, collecting every problem."""

    config: DatasetConfig
    index: dict[str, Procedure]
    train: list[str]
    heldout: list[str]
    styles: HouseStyles

    def cohort(
        self, cohort: CohortConfig, split: str, where: str
    ) -> tuple[CohortPlan | None, list[ProclabError]]:
        errors: list[ProclabError] = []
        ids = self._procedure_ids(cohort, split, where, errors)
        banned = self._style_errors(cohort, split, where, errors)
        procs = tuple(self.index[p] for p in ids)
        per_proc: dict[str, tuple[str, ...]] = {}
        for proc in procs:
            base = tuple(cohort.styles) if cohort.styles else self.styles.defaults(proc)
            per_proc[proc.id] = tuple(s for s in base if s not in banned)
            if not per_proc[proc.id] and not errors:
                errors.append(
                    ConfigError(f"no house style left for {proc.id}", where=f"{where}.styles")
                )
        if errors:
            return None, errors
        return CohortPlan(cohort, split, procs, per_proc, quotas(cohort)), []

    def _procedure_ids(
        self, cohort: CohortConfig, split: str, where: str, errors: list[ProclabError]
    ) -> list[str]:
        chosen = cohort.procedures
        named = {"train": self.train, "heldout": self.heldout, "all": sorted(self.index)}
        if isinstance(chosen, str):
            ids = named[chosen]
        else:
            errors.extend(
                _unknown("procedure", p, self.index, f"{where}.procedures")
                for p in chosen
                if p not in self.index
            )
            ids = sorted({p for p in chosen if p in self.index})
        if cohort.seen_procedures and split == TRAIN_SPLIT:
            errors.append(ConfigError("seen_procedures: is for held-out cohorts (new scenarios "
                                      "of training procedures)", where=f"{where}.seen_procedures",
                                      fix="remove it from the training cohort"))
        training = split == TRAIN_SPLIT or cohort.seen_procedures
        crossing = sorted(set(ids) & set(self.heldout if training else self.train))
        if crossing:
            errors.append(
                ConfigError(
                    f"{'training' if training else 'held-out'} cohort uses "
                    f"{'held-out' if training else 'training'} procedures: "
                    f"{', '.join(crossing[:5])}{' ...' if len(crossing) > 5 else ''}",
                    where=f"{where}.procedures",
                    fix="use procedures: train for training cohorts (and seen_procedures ones), "
                    "heldout for held-out ones",
                )
            )
        if not ids and not errors:
            errors.append(ConfigError("cohort has no procedures", where=f"{where}.procedures"))
        return ids

    def _style_errors(
        self, cohort: CohortConfig, split: str, where: str, errors: list[ProclabError]
    ) -> set[str]:
        """Append style problems; return the styles this cohort must not use."""
        named = cohort.styles or []
        errors.extend(
            _unknown("house style", s, self.styles.known, f"{where}.styles")
            for s in named
            if s not in self.styles.known
        )
        banned = set(self.config.heldout.styles)
        if split != TRAIN_SPLIT:
            # Held-out styles stay out of the other held-out views too (so "unseen procedures,
            # seen styles" means what it says), unless the cohort names them explicitly.
            return banned - set(named)
        if banned & set(named):
            errors.append(
                ConfigError(
                    f"training cohort uses held-out style(s) {sorted(banned & set(named))}",
                    where=f"{where}.styles",
                    fix="held-out styles are for held-out cohorts only",
                )
            )
        return banned


def quotas(cohort: CohortConfig) -> dict[str, int]:
    """Split `size` over the perturbation weights by largest remainder (ties: id order)."""
    weights = cohort.weights()
    total = sum(weights.values())
    exact = {p: cohort.size * w / total for p, w in weights.items()}
    counts = {p: math.floor(x) for p, x in exact.items()}
    order = sorted(weights, key=lambda p: (-(exact[p] - counts[p]), list(weights).index(p)))
    for p in order[: cohort.size - sum(counts.values())]:
        counts[p] += 1
    return counts


def _unknown(kind: str, name: str, known, field: str) -> ConfigError:
    return ConfigError(
        f"unknown {kind} {name!r}{suggest(name, known)}",
        where=field,
        fix=f"{len(known)} known; e.g. {', '.join(sorted(known)[:6])}",
    )

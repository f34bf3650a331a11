"""The dataset builder: generate each cohort, deduplicate, split, audit and probe.

`build(config)` is the runner (no files written; `output.write_build` writes them). Each cohort
draws from its own `random.Random` seeded by the config, in a fixed order: perturbations in
PERTURBATION_IDS order, procedures round-robin in id order (one cursor for the whole cohort,
so every procedure is reached even when quotas are small). A draw's house style is the style
this perturbation has used least so far in the cohort (ties: style order), which balances
source x perturbation cells. Every accepted candidate passes the deduplicator before it counts
toward its cohort's quota, so each cohort contributes exactly `size` unique instances, or the
build stops with an error saying how many distinct instances the cohort can yield.
"""

from __future__ import annotations

import dataclasses
import functools
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from proclab.dataset.accept import AcceptStats
from proclab.dataset.audit import leakage_audit
from proclab.dataset.config import TRAIN_SPLIT, CompactView, DatasetConfig
from proclab.dataset.dedup import Deduper, DedupItem, DedupStats
from proclab.dataset.filler_share import filler_recurrence
from proclab.dataset.pairs import PairBuilder
from proclab.dataset.probes import SurfaceProbe, run_probes
from proclab.dataset.records import Instance, ProcedureTexts, make_instance
from proclab.dataset.splits import BuildPlan, CohortPlan, HouseStyles, make_plan
from proclab.errors import ConfigError
from proclab.procedures.schema import Procedure
from proclab.procedures.trace import COMPLIANT, NON_COMPLIANT
from proclab.scenarios.types import Candidate, Rejection

# (procedure, perturbation, rng, *, mix) -> instance; `mix`: the perturbation mix of the split
# being built, which the generator balances surface features for (see `split_mixes`).
Generator = Callable[..., Candidate | Rejection]
PairGenerator = Callable[[Procedure, random.Random], list[Candidate]]
Progress = Callable[[str, int], None]  # (cohort name, instances just added)

# Perturbations whose label depends on the draw (DESIGN.md §3); their quotas are split 50/50.
MIXED_LABEL_PERTURBATIONS = ("exception_trigger", "distractor_injection")


@dataclass(frozen=True)
class Upstream:
    """What the builder consumes from the stages to its left; injectable for tests."""

    procedures: tuple[Procedure, ...]
    render: Callable[[Procedure, str], str]
    generate: Generator
    generate_pairs: PairGenerator
    styles: HouseStyles


def default_upstream() -> Upstream:
    """The real corpus, renderer and generators (imported lazily: they are heavy to load)."""
    from proclab.procedures.corpus import load_corpus
    from proclab.procedures.styles import LAB_STYLES, MANUAL_STYLES, render
    from proclab.scenarios.generate import generate
    from proclab.scenarios.pairs import generate_pairs

    styles = HouseStyles(lab=tuple(LAB_STYLES), known=tuple(LAB_STYLES) + tuple(MANUAL_STYLES))
    return Upstream(tuple(load_corpus()), render, generate, generate_pairs, styles)


def compact_upstream(up: Upstream, view: CompactView) -> Upstream:
    """`up` with every procedure replaced by its compact view and, unless `view.filler`, the
    scenario generators told to leave neutral filler out."""
    from proclab.procedures.compact import compact_procedure

    procedures = tuple(compact_procedure(p, view.max_steps) for p in up.procedures)
    if view.filler:
        return dataclasses.replace(up, procedures=procedures)
    return Upstream(procedures, up.render, functools.partial(up.generate, filler=False),
                    functools.partial(up.generate_pairs, filler=False), up.styles)


@dataclass
class BuildResult:
    config: DatasetConfig
    plan: BuildPlan
    splits: dict[str, list[Instance]]  # split -> instances in generation order
    pairs: list[Instance]
    accept: AcceptStats
    dedup: dict[str, DedupStats]  # cohort -> counts
    audit: dict[str, Any] = field(default_factory=dict)
    probes: dict[str, Any] = field(default_factory=dict)
    surface: SurfaceProbe | None = None
    filler: dict[str, Any] = field(default_factory=dict)  # recurrence of filler lines
    timings: Timings = field(default_factory=lambda: Timings())


def build(
    config: DatasetConfig,
    *,
    generator: Generator | None = None,
    pair_generator: PairGenerator | None = None,
    upstream: Upstream | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Generate, deduplicate, split, audit and probe; raises ConfigError on impossible sizes."""
    up = upstream or default_upstream()
    if generator is not None or pair_generator is not None:
        up = Upstream(
            up.procedures,
            up.render,
            generator or up.generate,
            pair_generator or up.generate_pairs,
            up.styles,
        )
    if config.compact is not None:
        up = compact_upstream(up, config.compact)
    plan = make_plan(config, up.procedures, up.styles)
    splits: dict[str, list[Instance]] = {s: [] for s in config.split_names()}
    result = BuildResult(config, plan, splits, [], AcceptStats(), {})
    deduper = Deduper(config.dedup)
    texts = ProcedureTexts(up.render)
    mixes = split_mixes(plan)
    with result.timings.stage("generate_and_dedup"):
        for cohort in plan.cohorts:
            runner = _CohortRunner(cohort, config, up, deduper, texts, result, progress)
            runner.mix = mixes[cohort.split]
            result.splits[cohort.split].extend(runner.run())
            result.dedup[cohort.cohort.name] = runner.dedup_stats
    result.timings.wall["dedup"] = deduper.seconds
    result.timings.cpu["dedup"] = deduper.cpu_seconds
    with result.timings.stage("pairs"):
        pairs = PairBuilder(up.generate_pairs, texts)
        result.pairs = [p for cohort in plan.cohorts for p in pairs.cohort_pairs(cohort)]
    with result.timings.stage("filler_share"):
        result.filler = filler_recurrence(r for split in result.splits.values() for r in split)
    with result.timings.stage("audit"):
        result.audit = leakage_audit(result.splits, result.pairs, config.dedup)
    with result.timings.stage("probes"):
        heldout = {s: result.splits[s] for s in config.heldout_splits()}
        result.probes, result.surface = run_probes(
            result.splits[TRAIN_SPLIT],
            heldout,
            config.probes,
            procedures={p.id: p for p in up.procedures},
        )
    return result


def split_mixes(plan: BuildPlan) -> dict[str, dict[str, float]]:
    """split -> the instances per perturbation type its cohorts ask for. Surface features are
    balanced across labels over a whole split (the shortcut probes learn from the training
    split as a whole; one cohort alone, e.g. an adversarial-heavy one, may be unbalanceable)."""
    out: dict[str, dict[str, float]] = {}
    for cohort in plan.cohorts:
        mix = out.setdefault(cohort.split, {})
        for perturbation, n in cohort.quotas.items():
            mix[perturbation] = mix.get(perturbation, 0.0) + n
    return out


class Timings:
    """Wall-clock and CPU seconds per build stage (CPU time shows contention on a busy host)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] = time.perf_counter() - wall
            self.cpu[name] = time.process_time() - cpu


class _CohortRunner:
    """Fills one cohort's per-perturbation quotas with unique accepted instances."""

    def __init__(
        self,
        plan: CohortPlan,
        config: DatasetConfig,
        up: Upstream,
        deduper: Deduper,
        texts: ProcedureTexts,
        result: BuildResult,
        progress: Progress | None,
    ):
        self.plan = plan
        self.name = plan.cohort.name
        self.balance = config.balance_mixed_labels
        self.up = up
        self.deduper = deduper
        self.texts = texts
        self.accept = result.accept
        self.progress = progress
        self.dedup_stats = DedupStats()
        self._style_use: dict[str, Counter[str]] = {}
        self._label_got: Counter[tuple[str, str]] = Counter()
        self._cursor = 0
        self.mix: dict[str, float] | None = None  # the split's perturbation mix

    def run(self) -> list[Instance]:
        kept: list[Instance] = []
        reached = {p: self._fill(p, quota, kept) for p, quota in self.plan.quotas.items()}
        short = {p: got for p, got in reached.items() if got < self.plan.quotas[p]}
        if short:
            weights = self.plan.cohort.weights()
            share = {p: w / sum(weights.values()) for p, w in weights.items()}
            cap = min(int(got / share[p]) for p, got in short.items())
            detail = "; ".join(f"{p}: {got} of {self.plan.quotas[p]}" for p, got in short.items())
            empty = [p for p, got in short.items() if got == 0]
            fix = (
                f"drop {', '.join(empty)} from the mix (nothing new comes of it here) or add "
                "procedures"
                if empty
                else f"set size to at most {cap}, add procedures, or change the mix"
            )
            raise ConfigError(
                f"cohort {self.name!r} asks for {self.plan.cohort.size} instances but its "
                f"{len(self.plan.procedures)} procedures yield only {len(kept)} distinct "
                f"accepted ones with this mix (short: {detail}); at most about {cap} are "
                "possible with this mix",
                where=f"cohorts.{self.name}.size",
                fix=fix,
            )
        return kept

    def _fill(self, perturbation: str, quota: int, kept: list[Instance]) -> int:
        rng = random.Random(f"{self.plan.cohort.seed}:{perturbation}")
        label_quota = self._label_quota(perturbation, quota)
        # The round-robin resumes where the previous perturbation stopped, so small quotas
        # still spread over all procedures instead of the first few in id order.
        procs = self.plan.procedures
        start = self._cursor % len(procs)
        alive = list(procs[start:] + procs[:start])
        misses = Counter[str]()
        got = 0
        while got < quota and alive:
            for proc in list(alive):
                if got >= quota:
                    break
                self._cursor += 1
                instance = self._draw(proc, perturbation, rng, label_quota)
                if instance is None:
                    misses[proc.id] += 1
                    if misses[proc.id] >= self.plan.cohort.patience:
                        alive.remove(proc)
                    continue
                misses[proc.id] = 0
                kept.append(instance)
                got += 1
                if self.progress:
                    self.progress(self.name, 1)
        return got

    def _label_quota(self, perturbation: str, quota: int) -> dict[str, int] | None:
        if not self.balance or perturbation not in MIXED_LABEL_PERTURBATIONS:
            return None
        return {COMPLIANT: (quota + 1) // 2, NON_COMPLIANT: quota // 2}

    def _style_for(self, proc: Procedure, perturbation: str) -> str:
        use = self._style_use.setdefault(perturbation, Counter())
        styles = self.plan.styles[proc.id]
        return min(styles, key=lambda s: (use[s], styles.index(s)))

    def _draw(
        self,
        proc: Procedure,
        perturbation: str,
        rng: random.Random,
        label_quota: dict[str, int] | None,
    ) -> Instance | None:
        """One generator call; the new instance, or None when nothing new came of it."""
        style = self._style_for(proc, perturbation)
        cell = (proc.domain, style, perturbation)
        outcome = self.up.generate(proc, perturbation, rng, mix=self.mix)
        if isinstance(outcome, Rejection):
            self.accept.reject(cell, outcome.reason)
            return None
        self.accept.accepted(cell)
        if (
            label_quota is not None
            and self._label_got[perturbation, outcome.label] >= (label_quota[outcome.label])
        ):
            self.accept.skip(cell, "label_quota_full")
            return None
        procedure_text = self.texts.get(proc, style)
        decision = self.deduper.offer(
            DedupItem(procedure_text, outcome.scenario_text, outcome.label, self.plan.split)
        )
        self.dedup_stats.add(decision)
        if decision.kind != "kept":
            self.accept.skip(cell, f"duplicate_{decision.kind}")
            return None
        self.accept.kept(cell)
        self._style_use[perturbation][style] += 1
        self._label_got[perturbation, outcome.label] += 1
        return make_instance(outcome, proc, style, procedure_text, self.name, self.plan.split)

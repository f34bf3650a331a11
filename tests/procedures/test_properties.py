"""Property tests over every corpus procedure (and the test fixture): canonical traces are
COMPLIANT, and each single injected violation is reported with the right type.

Contexts are drawn from each variable's declared type, range and values (mixed with the
default so that quiet contexts, which fire no exception, are common); the other choices come
from a drawn seed (one draw is much cheaper than many under hypothesis). A property that does
not apply to a procedure (no exception that forbids anything, ...) is skipped for it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from proclab.procedures.canonical import (
    authority_bound_steps,
    canonical_trace,
    find_firing_context,
    ordered_pairs,
)
from proclab.procedures.checker import check, plan_for
from proclab.procedures.corpus import corpus_paths
from proclab.procedures.loader import load_procedure
from proclab.procedures.schema import ContextVar, Procedure
from proclab.procedures.trace import Event, Trace

FIXTURE = Path(__file__).parent / "fixtures" / "mini.yaml"
PATHS = [*corpus_paths(), FIXTURE]
PROPERTY = settings(
    max_examples=20,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples on every run: CI failures reproduce
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
Context = dict[str, object]
each_procedure = pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])


@cache
def procedure_at(path: Path) -> Procedure:
    # Loaded per test, not at collection, so one broken corpus file fails only its own tests.
    return load_procedure(path)


def values_of(var: ContextVar) -> st.SearchStrategy[object]:
    if var.type == "bool":
        return st.booleans()
    if var.type == "int":
        low = math.ceil(var.min) if var.min is not None else -100
        high = math.floor(var.max) if var.max is not None else 100
        return st.integers(low, high)
    if var.type == "float":
        low = var.min if var.min is not None else -1e3
        high = var.max if var.max is not None else 1e3
        return st.floats(low, high, allow_nan=False, allow_infinity=False)
    return st.sampled_from(var.values) if var.values else st.text(max_size=8)


def contexts(proc: Procedure) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries(
        {
            name: st.one_of(st.just(var.default), values_of(var))
            for name, var in proc.context.items()
        }
    )


def observable_required(proc: Procedure, trace: Trace) -> list[str]:
    steps = proc.step_index()
    return [e.step for e in trace.events if e.step is not None and steps[e.step].is_observable]


def triples(
    proc: Procedure, trace: Trace, ctx: dict[str, object]
) -> set[tuple[str, str, str | None]]:
    return {(v.type, v.step, v.related) for v in check(proc, trace, ctx).violations}


def for_contexts(proc: Procedure, prop: Callable[[Context, random.Random], None]) -> None:
    """Run `prop(ctx, rng)` over drawn contexts of `proc` and seeds."""

    @PROPERTY
    @given(ctx=contexts(proc), seed=st.integers(0, 2**32 - 1))
    def run(ctx: Context, seed: int) -> None:
        prop(ctx, random.Random(seed))

    run()


@each_procedure
def test_canonical_trace_is_compliant_in_quiet_contexts(path: Path) -> None:
    proc = procedure_at(path)

    def prop(ctx: Context, rng: random.Random) -> None:
        assume(not plan_for(proc, ctx).fired)
        assert check(proc, canonical_trace(proc, ctx), ctx).verdict == "COMPLIANT"

    for_contexts(proc, prop)


@each_procedure
def test_canonical_trace_is_compliant_in_any_context(path: Path) -> None:
    proc = procedure_at(path)

    def prop(ctx: Context, rng: random.Random) -> None:
        trace = canonical_trace(proc, ctx, actor="random", rng=rng)
        result = check(proc, trace, ctx)
        assert result.verdict == "COMPLIANT", result.violations

    for_contexts(proc, prop)


@each_procedure
def test_dropping_a_required_observable_step_is_missing(path: Path) -> None:
    proc = procedure_at(path)

    def prop(ctx: Context, rng: random.Random) -> None:
        trace = canonical_trace(proc, ctx)
        dropped = rng.choice(observable_required(proc, trace))
        kept = Trace(events=[e for e in trace.events if e.step != dropped])
        assert ("missing_step", dropped, None) in triples(proc, kept, ctx)

    for_contexts(proc, prop)


@each_procedure
def test_swapping_a_bound_pair_is_order_or_prerequisite(path: Path) -> None:
    proc = procedure_at(path)
    if not any(s.requires or s.after for s in proc.all_steps()):
        pytest.skip("no requires/after constraints")

    def prop(ctx: Context, rng: random.Random) -> None:
        pairs = ordered_pairs(proc, ctx)
        assume(pairs)
        a, b, kind = rng.choice(pairs)
        events = list(canonical_trace(proc, ctx).events)
        steps = [e.step for e in events]
        i, j = steps.index(a), steps.index(b)
        events[i], events[j] = events[j], events[i]
        expected = "prerequisite" if kind == "requires" else "order"
        assert (expected, b, a) in triples(proc, Trace(events=events), ctx)

    for_contexts(proc, prop)


@each_procedure
def test_demoting_an_actor_is_authority(path: Path) -> None:
    proc = procedure_at(path)
    if all(proc.role_rank(s.actor) == 0 for s in proc.all_steps()):
        pytest.skip("every step is open to the lowest role")

    def prop(ctx: Context, rng: random.Random) -> None:
        bound = authority_bound_steps(proc, ctx)
        assume(bound)
        target = rng.choice(bound)
        lower = rng.choice(proc.roles[: proc.role_rank(proc.step_index()[target].actor)])
        events = [
            Event(step=e.step, actor=lower) if e.step == target else e
            for e in canonical_trace(proc, ctx).events
        ]
        assert ("authority", target, None) in triples(proc, Trace(events=events), ctx)

    for_contexts(proc, prop)


def _inject_under_exception(path: Path, field: str, vtype: str) -> None:
    """With a context firing an exception that `field`s (replaces/forbids) some step, doing
    that step anywhere in the canonical trace is a `vtype` violation naming the exception."""
    proc = procedure_at(path)
    candidates = [e for e in proc.exceptions if getattr(e, field)]
    if not candidates:
        pytest.skip(f"no exception {field} a step")

    def prop(ctx: Context, rng: random.Random) -> None:
        exc = rng.choice(candidates)
        firing = find_firing_context(proc, exc.id, base=ctx) or find_firing_context(proc, exc.id)
        assert firing is not None, f"no context found that fires {exc.id}"
        target = rng.choice(getattr(exc, field))
        events = list(canonical_trace(proc, firing).events)
        actor = proc.step_index()[target].actor
        events.insert(rng.randint(0, len(events)), Event(step=target, actor=actor))
        plan = plan_for(proc, firing)
        owner = (plan.replaced if field == "replaces" else plan.forbidden)[target]
        assert exc.id in plan.fired
        assert (vtype, target, owner) in triples(proc, Trace(events=events), firing)

    for_contexts(proc, prop)


@each_procedure
def test_doing_the_replaced_path_is_exception_ignored(path: Path) -> None:
    _inject_under_exception(path, "replaces", "exception_ignored")


@each_procedure
def test_doing_a_forbidden_step_is_forbidden_step(path: Path) -> None:
    _inject_under_exception(path, "forbids", "forbidden_step")


@each_procedure
def test_dropping_non_observable_steps_stays_compliant(path: Path) -> None:
    proc = procedure_at(path)
    if all(s.is_observable for s in proc.all_steps()):
        pytest.skip("no non-observable steps")
    steps = proc.step_index()

    def prop(ctx: Context, rng: random.Random) -> None:
        trace = canonical_trace(proc, ctx)
        hidden = [e.step for e in trace.events if e.step and not steps[e.step].is_observable]
        assume(hidden)
        drop = set(rng.sample(hidden, rng.randint(1, len(hidden))))
        kept = Trace(events=[e for e in trace.events if e.step not in drop])
        assert check(proc, kept, ctx).verdict == "COMPLIANT"

    for_contexts(proc, prop)


@each_procedure
def test_distractors_preserve_the_verdict(path: Path) -> None:
    proc = procedure_at(path)

    def prop(ctx: Context, rng: random.Random) -> None:
        events = list(canonical_trace(proc, ctx).events)
        if rng.random() < 0.5:  # make it non-compliant first, half of the time
            events.pop(rng.randrange(len(events)))
        before = check(proc, Trace(events=events), ctx)
        for _ in range(rng.randint(1, 3)):
            noise = Event(step=None, actor=rng.choice(proc.roles), detail="an aside")
            events.insert(rng.randint(0, len(events)), noise)
        after = check(proc, Trace(events=events), ctx)
        assert after.verdict == before.verdict
        assert [(v.type, v.step) for v in after.violations] == [
            (v.type, v.step) for v in before.violations
        ]

    for_contexts(proc, prop)

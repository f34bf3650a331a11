"""The ten perturbation types of DESIGN.md §3: `(procedure, rng) -> Draft`.

Each draws its own context (no exception fires, except for `exception_trigger`), builds a
trace, and states its intent: the label, the steps it targets, and the violation types the
checker must find (`meta["expect"]`: at least one of them; `meta["allow"]`: nothing else).
A procedure that cannot support a type raises `NotApplicable`; it is counted, never a crash.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from proclab.procedures.schema import Procedure
from proclab.procedures.trace import COMPLIANT, NON_COMPLIANT, Context, Event, Trace, Verdict
from proclab.scenarios.lexicon import load_lexicon
from proclab.scenarios.plan import (
    Layout,
    cast_events,
    compliant_events,
    drop_steps,
    event_chars,
    firing_context,
    layout,
    move_before,
    plan_of,
    positions,
    quiet_context,
    random_order,
    required_without,
)
from proclab.scenarios.types import PERTURBATION_IDS, Draft

Perturbation = Callable[[Procedure, random.Random], Draft]
Edit = tuple[list[Event], dict[str, Any]]


class NotApplicable(Exception):
    """The procedure cannot support this perturbation type (e.g. no prerequisites)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def _intent(targets: list[str], action: str, expect: tuple[str, ...] = (), allow=()) -> dict:
    return {"targets": targets, "action": action, "expect": list(expect), "allow": list(allow)}


def _start(procedure: Procedure, rng: random.Random) -> tuple[Context, list[Event]]:
    ctx = quiet_context(procedure, rng)
    if ctx is None:
        raise NotApplicable("every context fires an exception")
    events = compliant_events(procedure, ctx, rng)
    if events is None:
        raise NotApplicable("the required steps admit no valid order")
    if not events:
        raise NotApplicable("no required observable step in the sampled context")
    return ctx, events


def _draft(procedure: Procedure, pid: str, ctx: Context, events: list[Event], label: Verdict,
           meta: dict[str, Any], ref: list[Event]) -> Draft:
    meta = {**meta, "length_ref": max(event_chars(procedure, ref), event_chars(procedure, events))}
    return Draft(pid, Trace.model_construct(events=events), ctx, label, meta)


# -- edits that make a compliant trace non-compliant ----------------------------------------


def _drop_one(lay: Layout, events: list[Event], rng: random.Random) -> Edit:
    present = [ev.step for ev in events if ev.step is not None]
    if len(present) < 2:
        raise NotApplicable("fewer than two observable steps: nothing can be dropped")
    needed = {a for b in present for a in lay.cp.steps[b].requires}
    # Prefer a step nothing else requires, so the only fault is the missing step.
    pool = [s for s in present if s not in needed] or present
    target = rng.choice(pool)
    kept = drop_steps(events, lay.cp.subtree[target])
    return kept, _intent([target], "dropped", ("missing_step",), ("missing_step", "prerequisite"))


def _omit_prerequisite(lay: Layout, events: list[Event], rng: random.Random) -> Edit:
    present = positions(events)
    pairs = [
        (a, b)
        for b in present
        for a in lay.cp.steps[b].requires
        if a in present and b not in lay.cp.subtree[a]
    ]
    if not pairs:
        raise NotApplicable("no performed step has a performed prerequisite")
    a, b = rng.choice(pairs)
    kept = drop_steps(events, lay.cp.subtree[a])
    return kept, _intent(
        [a, b], "prerequisite_dropped", ("prerequisite",), ("prerequisite", "missing_step")
    )


def _safe_move(lay: Layout, events: list[Event], a: str, b: str) -> bool:
    """Moving b's block before a breaks only ordering: b stays after its parent, and no step
    left between a and b is a child whose block b's block closes."""
    at = positions(events)
    parent = lay.cp.parent[b]
    if parent is not None and parent in at and at[parent] > at[a]:
        return False
    block = lay.cp.subtree[b]
    between = [ev.step for ev in events[at[a] : at[b]] if ev.step is not None]
    return not any(lay.cp.block_end.get(x) in block for x in between)


def _reorder(lay: Layout, events: list[Event], rng: random.Random) -> Edit:
    at = positions(events)
    pairs = [
        (a, b)
        for b in at
        for a in (*lay.cp.steps[b].requires, *lay.cp.steps[b].after)
        if a in at and at[a] < at[b] and b not in lay.cp.subtree[a] and a not in lay.cp.subtree[b]
    ]
    safe = [p for p in pairs if _safe_move(lay, events, *p)]
    if not safe:
        raise NotApplicable("no pair of performed steps bound by requires/after can be swapped")
    a, b = rng.choice(safe)
    moved = move_before(lay, events, b, a)
    return moved, _intent([a, b], "moved_before", ("order", "prerequisite"), ("order", "prerequisite"))


def _lower_actor(lay: Layout, events: list[Event], rng: random.Random) -> Edit:
    roles = lay.cp.procedure.roles
    idx = [i for i, ev in enumerate(events)
           if ev.step is not None and lay.cp.rank[lay.cp.steps[ev.step].actor] > 0]
    if not idx:
        raise NotApplicable("no performed step needs more than the lowest role")
    i = rng.choice(idx)
    step = events[i].step
    assert step is not None
    lower = rng.choice(roles[: lay.cp.rank[lay.cp.steps[step].actor]])
    out = list(events)
    out[i] = Event.model_construct(step=step, actor=lower, detail=events[i].detail)
    return out, _intent([step], "actor_lowered", ("authority",), ("authority",))


def _orphan(lay: Layout, events: list[Event], rng: random.Random) -> Edit:
    at = positions(events)
    parents = [s for s in at if any(c in at for c in lay.descendants(s))]
    if not parents:
        raise NotApplicable("no performed step has a performed child")
    target = rng.choice(parents)
    kept = [ev for ev in events if ev.step != target]
    return kept, _intent(
        [target], "parent_dropped", ("hierarchy",), ("hierarchy", "missing_step", "prerequisite")
    )


_VIOLATING: dict[str, Callable[[Layout, list[Event], random.Random], Edit]] = {
    "dropped": _drop_one,
    "reordered": _reorder,
    "authority": _lower_actor,
    "orphaned": _orphan,
}


def _violate(procedure: Procedure, rng: random.Random, pid: str, variants: tuple[str, ...]) -> Draft:
    """A compliant trace broken by one of `variants` (chosen among those that apply)."""
    ctx, events = _start(procedure, rng)
    lay = layout(procedure)
    edits: dict[str, Edit] = {}
    reasons = []
    for name in variants:
        try:
            edits[name] = _VIOLATING[name](lay, events, rng)
        except NotApplicable as err:
            reasons.append(err.reason)
    if not edits:
        raise NotApplicable("; ".join(reasons))
    variant = rng.choice(sorted(edits))
    new, meta = edits[variant]
    return _draft(procedure, pid, ctx, new, NON_COMPLIANT, {**meta, "variant": variant}, events)


# -- the ten types ------------------------------------------------------------------------------


def _compliant(pid: str) -> Perturbation:
    def perturb(procedure: Procedure, rng: random.Random) -> Draft:
        ctx, events = _start(procedure, rng)
        return _draft(procedure, pid, ctx, events, COMPLIANT, _intent([], "none"), events)

    perturb.__name__ = pid
    perturb.__doc__ = f"`{pid}`: a compliant trace in a context that fires no exception."
    return perturb


def baseline_noncompliant(procedure: Procedure, rng: random.Random) -> Draft:
    """A required observable step (with its sub-steps) never happens."""
    return _violate(procedure, rng, "baseline_noncompliant", ("dropped",))


def step_reorder_invalid(procedure: Procedure, rng: random.Random) -> Draft:
    """A step bound by requires/after to an earlier one is moved before it."""
    return _violate(procedure, rng, "step_reorder_invalid", ("reordered",))


def prerequisite_omission(procedure: Procedure, rng: random.Random) -> Draft:
    """A prerequisite of a performed step never happens."""
    ctx, events = _start(procedure, rng)
    new, meta = _omit_prerequisite(layout(procedure), events, rng)
    return _draft(procedure, "prerequisite_omission", ctx, new, NON_COMPLIANT, meta, events)


def hierarchy_violation(procedure: Procedure, rng: random.Random) -> Draft:
    """A step done by a role below its actor, or a child step without its parent."""
    return _violate(procedure, rng, "hierarchy_violation", ("authority", "orphaned"))


def adversarial_surface_noncompliant(procedure: Procedure, rng: random.Random) -> Draft:
    """A real violation (dropped step, wrong order or wrong role); the narrator makes it
    sound perfect."""
    return _violate(
        procedure, rng, "adversarial_surface_noncompliant", ("dropped", "reordered", "authority")
    )


def exception_trigger(procedure: Procedure, rng: random.Random) -> Draft:
    """The context fires an exception; the trace follows it (COMPLIANT) or carries on with
    the normal path (NON-COMPLIANT), 50/50."""
    lay = layout(procedure)
    exceptions = [e.id for e in procedure.exceptions]
    rng.shuffle(exceptions)
    for eid in exceptions:
        ctx = firing_context(procedure, eid, rng)
        if ctx is None:
            continue
        follow = random_order(lay, plan_of(procedure, ctx).required, rng)
        ignore = random_order(lay, required_without(procedure, ctx, eid), rng)
        if follow is None or ignore is None:
            continue
        seen = {s for s in follow if lay.observable(s)} ^ {s for s in ignore if lay.observable(s)}
        if not seen:
            continue  # following or ignoring it looks the same in a narrative
        follow_ev, ignore_ev = cast_events(lay, follow, rng), cast_events(lay, ignore, rng)
        compliant = rng.random() < 0.5
        meta = _intent(
            sorted(seen, key=lay.pref.__getitem__),
            "followed" if compliant else "ignored",
            () if compliant else ("exception_ignored", "forbidden_step", "missing_step"),
            () if compliant else ("exception_ignored", "forbidden_step", "missing_step"),
        )
        events, other = (follow_ev, ignore_ev) if compliant else (ignore_ev, follow_ev)
        label = COMPLIANT if compliant else NON_COMPLIANT
        return _draft(procedure, "exception_trigger", ctx, events, label,
                      {**meta, "exception": eid}, other)
    raise NotApplicable("no exception can fire with an observable effect")


@lru_cache(maxsize=256)
def _distractors(domain: str, step_texts: tuple[str, ...]) -> tuple[str, ...]:
    """The domain's irrelevant events minus any that share a content word with a step's text
    or narration (a distractor must not read like a decoy of one of its steps)."""
    words = {w for text in step_texts for w in _content_words(text)}
    pool = load_lexicon().scenery[domain].events  # type: ignore[index]
    return tuple(e for e in pool if not _content_words(e) & words)


_LONG_WORD = re.compile(r"[a-z]{5,}")


def _content_words(text: str) -> set[str]:
    return {w.rstrip("s") for w in _LONG_WORD.findall(text.lower())} - {"their", "which"}


def distractor_injection(procedure: Procedure, rng: random.Random) -> Draft:
    """One to three irrelevant events added to a compliant or (50/50) a broken trace."""
    ctx, events = _start(procedure, rng)
    lay = layout(procedure)
    if rng.random() < 0.5:
        new, meta, label = events, _intent([], "none"), COMPLIANT
    else:
        new, meta = _drop_one(lay, events, rng)
        label = NON_COMPLIANT
    told = [text for s in procedure.all_steps() for text in (s.text, *s.narration)]
    pool = _distractors(procedure.domain, tuple(told))
    if not pool:
        raise NotApplicable("every distractor of the domain overlaps a step's wording")
    picked = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
    new, ref = list(new), list(events)
    for detail in picked:
        ev = Event.model_construct(step=None, actor=rng.choice(procedure.roles), detail=detail)
        new.insert(rng.randint(0, len(new)), ev)
        ref.append(ev)
    return _draft(procedure, "distractor_injection", ctx, new, label,
                  {**meta, "distractors": len(picked)}, ref)


PERTURBATIONS: dict[str, Perturbation] = {
    "baseline_compliant": _compliant("baseline_compliant"),
    "baseline_noncompliant": baseline_noncompliant,
    "lexical_paraphrase": _compliant("lexical_paraphrase"),
    "step_reorder_invalid": step_reorder_invalid,
    "prerequisite_omission": prerequisite_omission,
    "hierarchy_violation": hierarchy_violation,
    "exception_trigger": exception_trigger,
    "distractor_injection": distractor_injection,
    "adversarial_surface_compliant": _compliant("adversarial_surface_compliant"),
    "adversarial_surface_noncompliant": adversarial_surface_noncompliant,
}
assert tuple(PERTURBATIONS) == PERTURBATION_IDS

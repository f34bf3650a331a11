"""What a perturbation starts from: sampled contexts, random compliant orders, trace edits.

Built on the checker's compiled indexes (`compile_procedure`, `Plan`) so "required", "fires"
and the outline's block ends mean exactly what the checker means. Orders are drawn at random
among the valid ones (mostly document order) so compliant scenarios do not all read alike.
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from proclab.procedures.canonical import find_firing_context
from proclab.procedures.checker import CompiledProcedure, Plan, compile_procedure
from proclab.procedures.schema import ContextVar, Procedure, Step
from proclab.procedures.trace import Context, Event

# Share of choices that take the next step in document order rather than any ready step.
DOCUMENT_ORDER_BIAS = 0.85
# Share of events done by a role above the step's minimum (allowed; keeps roles varied).
PROMOTE_RATE = 0.1
_CONTEXT_TRIES = 6


@dataclass(frozen=True)
class Layout:
    """A procedure's compiled indexes plus the preference order used to place steps."""

    cp: CompiledProcedure
    pref: dict[str, float]
    # step set -> (members by preference, successor lists, in-degrees); step sets repeat.
    graphs: dict[frozenset[str], tuple[list[str], dict[str, list[str]], dict[str, int]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def fired(self, context: Context) -> tuple[str, ...]:
        """Ids of the exceptions whose guard holds (cheaper than a full plan)."""
        return tuple(eid for eid, guard in self.cp.exception_guards if guard.evaluate(context))

    def graph(self, steps: Iterable[str]) -> tuple[list[str], dict[str, list[str]], dict[str, int]]:
        key = frozenset(steps)
        hit = self.graphs.get(key)
        if hit is None:
            members = sorted(key, key=self.pref.__getitem__)
            indegree = dict.fromkeys(members, 0)
            succ: dict[str, list[str]] = {s: [] for s in members}
            for a, b in edges(self, members):
                succ[a].append(b)
                indegree[b] += 1
            hit = (members, succ, indegree)
            if len(self.graphs) < 512:
                self.graphs[key] = hit
        return hit

    def descendants(self, sid: str) -> frozenset[str]:
        return self.cp.subtree[sid] - {sid}

    def observable(self, sid: str) -> bool:
        return self.cp.steps[sid].is_observable


_LAYOUTS: OrderedDict[int, tuple[Procedure, Layout]] = OrderedDict()


def layout(procedure: Procedure) -> Layout:
    """The layout of `procedure`, cached per object (procedures are frozen)."""
    hit = _LAYOUTS.get(id(procedure))
    if hit is not None and hit[0] is procedure:
        return hit[1]
    cp = compile_procedure(procedure)
    pos = {sid: float(i) for i, sid in enumerate(cp.order)}
    added = {s for roots in cp.added_roots.values() for r in roots for s in cp.subtree[r]}
    last = {sid: max(pos[s] for s in cp.subtree[sid]) for sid in cp.order}
    pref = dict(pos)
    for exc in procedure.exceptions:
        members = [s for r in cp.added_roots[exc.id] for s in cp.order if s in cp.subtree[r]]
        # An exception's steps read best where the steps they stand in for would have been,
        # else right after the main-tree steps they depend on.
        replaced = [pos[s] for s in exc.replaces if s in pos and s not in added]
        deps = [
            last[d]
            for s in members
            for d in (*cp.steps[s].requires, *cp.steps[s].after)
            if d in pos and d not in added
        ]
        anchor = min(replaced) - 0.5 if replaced else max(deps) + 0.5 if deps else len(pos)
        for k, sid in enumerate(members):
            pref[sid] = anchor + k / (10 * (len(members) + 1))
    # Unique ranks (ties broken by document position): orders must never depend on the
    # iteration order of a set, which changes with the interpreter's hash seed.
    ranked = sorted(cp.order, key=lambda s: (pref[s], pos[s]))
    lay = Layout(cp=cp, pref={sid: float(i) for i, sid in enumerate(ranked)})
    _LAYOUTS[id(procedure)] = (procedure, lay)
    if len(_LAYOUTS) > 256:
        _LAYOUTS.popitem(last=False)
    return lay


# -- contexts -------------------------------------------------------------------------------


def _bounds(var: ContextVar) -> tuple[float, float]:
    default = float(var.default)  # type: ignore[arg-type]
    lo = var.min if var.min is not None else (0.0 if default >= 0 else 2 * default)
    hi = var.max if var.max is not None else max(2 * abs(default), lo + 10)
    return (lo, hi) if lo <= hi else (default, default)


def draw_value(var: ContextVar, rng: random.Random) -> bool | int | float | str:
    """A value inside the variable's declared domain (floats rounded to what is displayed)."""
    if var.type == "bool":
        return rng.random() < 0.5
    if var.type == "str":
        return rng.choice(var.values) if var.values else var.default
    lo, hi = _bounds(var)
    if var.type == "int":
        a, b = math.ceil(lo), math.floor(hi)
        return rng.randint(a, b) if a <= b else int(var.default)
    digits = 0 if hi - lo >= 100 else 1 if hi - lo >= 10 else 2
    return float(min(max(round(rng.uniform(lo, hi), digits), lo), hi))


def draw_context(procedure: Procedure, rng: random.Random) -> Context:
    """Every variable drawn at random (in declaration order, for determinism)."""
    return {name: draw_value(var, rng) for name, var in procedure.context.items()}


def quiet_context(procedure: Procedure, rng: random.Random) -> Context | None:
    """A random context in which no exception fires; None when even the defaults fire one."""
    lay = layout(procedure)
    ctx = draw_context(procedure, rng)
    guards = dict(lay.cp.exception_guards)
    for _ in range(_CONTEXT_TRIES):
        fired = lay.fired(ctx)
        if not fired:
            return ctx
        # Redraw only what the firing guards read; the other variables keep their variety.
        names = sorted({n for eid in fired for n in guards[eid].names()})
        ctx = {**ctx, **{n: draw_value(procedure.context[n], rng) for n in names}}
    defaults = procedure.default_context()
    for name in sorted({n for g in guards.values() for n in g.names()}):
        ctx[name] = defaults[name]
    return None if lay.fired(ctx) else ctx


def firing_context(procedure: Procedure, exception_id: str, rng: random.Random) -> Context | None:
    """A random context in which `exception_id` fires, alone when the draws allow (some
    exceptions only ever fire together with another); None when no tried value fires it."""
    lay = layout(procedure)
    fallback: Context | None = None
    for _ in range(_CONTEXT_TRIES):
        ctx = draw_context(procedure, rng)
        fired = lay.fired(ctx)
        if fired == (exception_id,):
            return ctx
        if exception_id in fired and fallback is None:
            fallback = ctx
    if fallback is not None:
        return fallback
    found = find_firing_context(procedure, exception_id, base=draw_context(procedure, rng))
    return None if found is None else dict(found)


def required_without(procedure: Procedure, context: Context, ignored: str) -> frozenset[str]:
    """The steps required in `context` if exception `ignored` had not fired (the others still
    apply): what someone who overlooks that one exception would do."""
    cp = compile_procedure(procedure)
    fired = [e for e in procedure.exceptions if e.id in cp.plan(context).fired and e.id != ignored]
    removed: set[str] = set()
    for exc in fired:
        for sid in (*exc.replaces, *exc.forbids):
            removed |= cp.subtree.get(sid, frozenset())
    required: set[str] = set()

    def visit(sid: str) -> None:
        guard = cp.guards.get(sid)
        if sid in removed or (guard is not None and not guard.evaluate(context)):
            return
        required.add(sid)
        for child in cp.steps[sid].children:
            visit(child.id)

    for sid in cp.roots:
        visit(sid)
    for exc in fired:
        for sid in cp.added_roots[exc.id]:
            visit(sid)
    return frozenset(required)


# -- orders and traces ----------------------------------------------------------------------


def edges(lay: Layout, steps: Iterable[str]) -> list[tuple[str, str]]:
    """(a, b): a must come before b — requires, after, parent before child, child before the
    step that closes its parent's block — among `steps` only."""
    present = set(steps)
    cp = lay.cp
    out: list[tuple[str, str]] = []
    for b in cp.order:
        if b not in present:
            continue
        step = cp.steps[b]
        out += [(a, b) for a in (*step.requires, *step.after) if a in present]
        parent = cp.parent[b]
        if parent is not None and parent in present:
            out.append((parent, b))
        end = cp.block_end.get(b)
        if end is not None and end in present:
            out.append((b, end))
    return out


def random_order(
    lay: Layout,
    steps: Iterable[str],
    rng: random.Random,
    *,
    glue: tuple[str, str] | None = None,
) -> list[str] | None:
    """A random order of `steps` satisfying every edge; with `glue=(a, b)`, b comes right
    after a. None when no such order exists (a cycle, or the glue cannot hold)."""
    members, succ, start = lay.graph(steps)
    indegree = dict(start)
    ready = [s for s in members if indegree[s] == 0]
    order: list[str] = []
    forced: str | None = None
    while ready:
        if forced is not None:
            if forced not in ready:
                return None
            pick = forced
            forced = None
        elif len(ready) == 1 or rng.random() < DOCUMENT_ORDER_BIAS:
            pick = min(ready, key=lay.pref.__getitem__)
        else:
            pick = rng.choice(sorted(ready, key=lay.pref.__getitem__))
        ready.remove(pick)
        order.append(pick)
        if glue is not None and pick == glue[0]:
            forced = glue[1]
        for nxt in succ[pick]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    return order if len(order) == len(members) and forced is None else None


def cast_events(
    lay: Layout, order: Sequence[str], rng: random.Random, *, promote: float = PROMOTE_RATE
) -> list[Event]:
    """One event per observable step of `order`, each by the step's role or (rarely) higher."""
    roles = lay.cp.procedure.roles
    events = []
    for sid in order:
        if not lay.observable(sid):
            continue
        rank = lay.cp.rank[lay.cp.steps[sid].actor]
        promoted = rank + 1 < len(roles) and rng.random() < promote
        actor = rng.choice(roles[rank + 1 :]) if promoted else roles[rank]
        events.append(step_event(sid, actor))
    return events


@lru_cache(maxsize=16384)
def step_event(step: str, actor: str) -> Event:
    """The (immutable, so shareable) event of `actor` doing `step`; built once per pair."""
    return Event(step=step, actor=actor)


def compliant_events(
    procedure: Procedure, context: Context, rng: random.Random, *, promote: float = PROMOTE_RATE
) -> list[Event] | None:
    """A compliant trace's events for `context`; None when the steps admit no order."""
    lay = layout(procedure)
    order = random_order(lay, plan_of(procedure, context).required, rng)
    return None if order is None else cast_events(lay, order, rng, promote=promote)


def plan_of(procedure: Procedure, context: Context) -> Plan:
    return compile_procedure(procedure).plan(context)


# -- edits ------------------------------------------------------------------------------------


def positions(events: Sequence[Event]) -> dict[str, int]:
    """step id -> index of its first event."""
    out: dict[str, int] = {}
    for i, ev in enumerate(events):
        if ev.step is not None:
            out.setdefault(ev.step, i)
    return out


def drop_steps(events: Sequence[Event], steps: Iterable[str]) -> list[Event]:
    gone = set(steps)
    return [ev for ev in events if ev.step is None or ev.step not in gone]


def move_before(lay: Layout, events: Sequence[Event], mover: str, anchor: str) -> list[Event]:
    """`mover` and its descendants, as one block, placed just before `anchor`'s event."""
    block = lay.cp.subtree[mover]
    moved = [ev for ev in events if ev.step in block]
    rest = [ev for ev in events if ev.step not in block]
    at = positions(rest)[anchor]
    return [*rest[:at], *moved, *rest[at:]]


# What a told event adds around its phrase: a name, a template's words, a time cue.
SENTENCE_OVERHEAD = 30


def event_chars(procedure: Procedure, events: Sequence[Event]) -> int:
    """Rough length of the sentences that tell `events`: the mean length of each step's
    narration phrases (its text when it has none) plus template overhead."""
    steps = layout(procedure).cp.steps
    return sum(SENTENCE_OVERHEAD + (len(ev.detail) if ev.step is None else _told_chars(steps[ev.step]))
               for ev in events)


def _told_chars(step: Step) -> int:
    phrases = step.narration or [step.text]
    return sum(map(len, phrases)) // len(phrases)

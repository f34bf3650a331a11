"""Canonical (compliant) traces and the step relations the perturbation engine edits.

`canonical_trace` performs every required step of a context (observable or not) in an order
that satisfies all constraints: a topological order that keeps document order where it can,
children right after their parent, and an exception's added steps where the steps they stand
in for (or just after what they depend on) would have been.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Mapping
from typing import Literal

from proclab.errors import ProcedureError, ProclabError
from proclab.procedures.checker import CompiledProcedure, Plan, check, compile_procedure
from proclab.procedures.checker import resolve_context as _resolve
from proclab.procedures.guards import BoolOp, Compare, Lit, Node, Not, Var
from proclab.procedures.schema import Procedure
from proclab.procedures.trace import Context, Event, Trace

ActorChoice = Literal["minimum", "maximum", "random"]
Edge = tuple[str, str, str]  # (earlier, later, why)


def _edges(cp: CompiledProcedure, plan: Plan) -> list[Edge]:
    """'a before b' edges among required steps: requires, after and the step outline."""
    req = plan.required
    out: list[Edge] = []
    for b in cp.order:
        if b not in req:
            continue
        step = cp.steps[b]
        out += [(a, b, "requires") for a in step.requires if a in req]
        out += [(a, b, "after") for a in step.after if a in req]
        parent = cp.parent[b]
        if parent is not None and parent in req:
            out.append((parent, b, "child"))
        end = cp.block_end.get(b)
        if end is not None and end in req:
            out.append((b, end, "block"))
    return out


def _sort_keys(cp: CompiledProcedure) -> dict[str, tuple[float, int, int]]:
    """Preference order: main steps by document position; an exception's added steps at the
    first step it replaces, else just after the last main-tree step they depend on."""
    pos = {sid: i for i, sid in enumerate(cp.order)}
    last_in_subtree = {sid: max(pos[s] for s in cp.subtree[sid]) for sid in cp.order}
    keys: dict[str, tuple[float, int, int]] = {}
    seq = itertools.count()
    added = {sid for roots in cp.added_roots.values() for r in roots for sid in cp.subtree[r]}
    for sid in cp.order:
        if sid not in added:
            keys[sid] = (pos[sid], 0, 0)
    for exc in cp.procedure.exceptions:
        members = [s for r in cp.added_roots[exc.id] for s in cp.order if s in cp.subtree[r]]
        replaced = [pos[s] for s in exc.replaces if s in pos and s not in added]
        deps = [
            last_in_subtree[d]
            for s in members
            for d in (*cp.steps[s].requires, *cp.steps[s].after)
            if d in pos and d not in added
        ]
        if replaced:
            anchor: float = min(replaced) - 0.5
        else:
            anchor = max(deps) + 0.5 if deps else float(len(pos))
        for sid in members:
            keys[sid] = (anchor, 1, next(seq))
    return keys


def _topological(cp: CompiledProcedure, plan: Plan) -> list[str]:
    required = [sid for sid in cp.order if sid in plan.required]
    keys = _sort_keys(cp)
    indegree = dict.fromkeys(required, 0)
    succ: dict[str, list[str]] = {sid: [] for sid in required}
    for a, b, _ in _edges(cp, plan):
        succ[a].append(b)
        indegree[b] += 1
    ready = [(keys[s], s) for s in required if indegree[s] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, sid = heapq.heappop(ready)
        order.append(sid)
        for nxt in succ[sid]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, (keys[nxt], nxt))
    if len(order) != len(required):
        stuck = ", ".join(s for s in required if s not in order)
        raise ProcedureError(
            f"no order satisfies the constraints among steps {stuck}",
            where=f"procedure {cp.procedure.id}",
            fix="run `proclab procedures validate` on the file: it names the cycle",
        )
    return order


def canonical_order(procedure: Procedure, context: Mapping[str, object] | None = None) -> list[str]:
    """Required step ids (observable or not) in the canonical compliant order."""
    cp = compile_procedure(procedure)
    return _topological(cp, cp.plan(_resolve(procedure, context)))


def canonical_trace(
    procedure: Procedure,
    context: Mapping[str, object] | None = None,
    *,
    actor: ActorChoice = "minimum",
    rng: random.Random | None = None,
) -> Trace:
    """A COMPLIANT trace: each required step once, in canonical order, by its minimum role
    (`actor="maximum"`: the top role; `"random"`: a role at or above the minimum, from `rng`)."""
    if actor == "random" and rng is None:
        raise ValueError("actor='random' needs an rng (random.Random)")
    cp = compile_procedure(procedure)
    roles = procedure.roles
    events = []
    for sid in canonical_order(procedure, context):
        minimum = cp.steps[sid].actor
        if actor == "minimum":
            who = minimum
        elif actor == "maximum":
            who = roles[-1]
        else:
            assert rng is not None
            who = rng.choice(roles[cp.rank[minimum] :])
        events.append(Event(step=sid, actor=who))
    return Trace(events=events)


def ordered_pairs(
    procedure: Procedure,
    context: Mapping[str, object] | None = None,
    *,
    observable_only: bool = True,
) -> list[Edge]:
    """`(a, b, kind)`: required steps where `b` `requires`/`after` `a` (so a must come first);
    kind is "requires" or "after". Swapping such a pair is a prerequisite/order violation."""
    cp = compile_procedure(procedure)
    plan = cp.plan(_resolve(procedure, context))
    pairs = [e for e in _edges(cp, plan) if e[2] in ("requires", "after")]
    if observable_only:
        pairs = [e for e in pairs if cp.steps[e[0]].is_observable and cp.steps[e[1]].is_observable]
    return pairs


def unordered_pairs(
    procedure: Procedure, context: Mapping[str, object] | None = None
) -> list[tuple[str, str]]:
    """`(a, b)` of required observable steps, `a` first in the canonical trace, whose swap
    keeps the canonical trace COMPLIANT (verified with the checker)."""
    cp = compile_procedure(procedure)
    ctx = _resolve(procedure, context)
    plan = cp.plan(ctx)
    base = canonical_trace(procedure, ctx)
    reach = _reachability(_edges(cp, plan))
    events = list(base.events)
    out: list[tuple[str, str]] = []
    for i, j in itertools.combinations(range(len(events)), 2):
        a, b = events[i].step, events[j].step
        assert a is not None and b is not None
        if not (cp.steps[a].is_observable and cp.steps[b].is_observable):
            continue
        if b in reach.get(a, ()) or a in reach.get(b, ()):
            continue  # directly or transitively ordered: a swap can never be compliant
        swapped = events.copy()
        swapped[i], swapped[j] = events[j], events[i]
        if check(procedure, Trace(events=swapped), ctx).compliant:
            out.append((a, b))
    return out


def _reachability(edges: list[Edge]) -> dict[str, set[str]]:
    succ: dict[str, set[str]] = {}
    for a, b, _ in edges:
        succ.setdefault(a, set()).add(b)
    reach: dict[str, set[str]] = {}
    for start in succ:
        seen: set[str] = set()
        stack = list(succ[start])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(succ.get(node, ()))
        reach[start] = seen
    return reach


def authority_bound_steps(
    procedure: Procedure, context: Mapping[str, object] | None = None
) -> list[str]:
    """Required observable steps whose minimum role is above the lowest role (so a lower
    role doing them is an authority violation), in document order."""
    cp = compile_procedure(procedure)
    plan = cp.plan(_resolve(procedure, context))
    return [
        sid
        for sid in cp.order
        if sid in plan.required and cp.steps[sid].is_observable and cp.rank[cp.steps[sid].actor] > 0
    ]


# -- contexts that fire an exception --------------------------------------------------------


def _candidates(procedure: Procedure, node: Node, out: dict[str, list[object]]) -> None:
    """Values worth trying for each variable a guard compares against a literal."""
    if isinstance(node, Not):
        _candidates(procedure, node.operand, out)
    elif isinstance(node, BoolOp):
        for item in node.items:
            _candidates(procedure, item, out)
    elif isinstance(node, Var):
        out.setdefault(node.name, [])
    elif isinstance(node, Compare):
        for var, lit in ((node.left, node.right), (node.right, node.left)):
            if isinstance(var, Var) and isinstance(lit, Lit):
                out.setdefault(var.name, []).extend(_around(procedure, var.name, lit.value))
            elif isinstance(var, Var):
                out.setdefault(var.name, [])


def _around(procedure: Procedure, name: str, value: object) -> list[object]:
    var = procedure.context.get(name)
    if var is None or isinstance(value, bool) or not isinstance(value, int | float):
        return [value]
    if var.type == "int":
        return [int(value) + d for d in (1, -1, 0)]
    step = max(abs(float(value)) * 0.25, 0.5)
    return [float(value) + step, float(value) - step, float(value)]


def find_firing_context(
    procedure: Procedure, exception_id: str, *, base: Mapping[str, object] | None = None
) -> Context | None:
    """A context (from `base` or the defaults) in which `exception_id` fires, preferring one
    that fires no other exception; None when none of the tried values make it fire."""
    exc = next((e for e in procedure.exceptions if e.id == exception_id), None)
    if exc is None:
        known = ", ".join(e.id for e in procedure.exceptions) or "(none)"
        raise ProcedureError(
            f"procedure {procedure.id!r} has no exception {exception_id!r}", fix=f"use: {known}"
        )
    cp = compile_procedure(procedure)
    guard = dict(cp.exception_guards)[exception_id]
    values: dict[str, list[object]] = {}
    _candidates(procedure, guard.root, values)
    start = _resolve(procedure, base)
    names = sorted(values)
    options = [_domain(procedure, n, values[n], start[n]) for n in names]
    fallback: Context | None = None
    for combo in itertools.islice(itertools.product(*options), 4096):
        ctx = {**start, **dict(zip(names, combo, strict=True))}
        try:
            ctx = _resolve(procedure, ctx)
        except ProclabError:  # a candidate outside the declared type: skip it
            continue
        fired = cp.plan(ctx).fired
        if exception_id in fired:
            if len(fired) == 1:
                return ctx
            fallback = fallback or ctx
    return fallback


def _domain(procedure: Procedure, name: str, tried: list[object], current: object) -> list[object]:
    var = procedure.context[name]
    if var.type == "bool":
        return [not current, current]
    if var.type == "str" and var.values:
        return [v for v in var.values if v != current] + [current]
    extra = [v for v in (var.min, var.max) if v is not None]
    if var.type == "int":
        extra = [int(v) for v in extra]
    seen: list[object] = []
    for v in [*tried, *extra, current]:
        if v not in seen:
            seen.append(v)
    return seen

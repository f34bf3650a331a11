"""Counterfactual pairs: minimal edits of one compliant trace, linked by `pair_id`.

- order_swap (label flips): two adjacent steps bound by requires/after change places.
- actor_swap (label flips): an authority-bound step and a lower-role step swap their actors
  (or, when no lower-role event exists, the bound step passes to a lower role).
- unordered_swap (label kept): two adjacent steps with no constraint between them swap.

Both members are rendered with the same seed and style, so their texts differ only where the
edit is: the swapped sentences, or the swapped names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Callable
from typing import Any

from proclab.procedures.checker import check
from proclab.procedures.schema import Procedure
from proclab.procedures.trace import COMPLIANT, NON_COMPLIANT, Context, Event, Trace, Verdict
from proclab.scenarios.generate import accept
from proclab.scenarios.narrative import draw_style
from proclab.scenarios.plan import (
    Layout,
    cast_events,
    edges,
    event_chars,
    layout,
    plan_of,
    quiet_context,
    random_order,
    step_event,
)
from proclab.scenarios.types import Candidate, Draft

PAIR_KINDS: tuple[str, ...] = ("order_swap", "actor_swap", "unordered_swap")
_TRIES = 4  # candidate edits verified per pair kind before giving up on it


@dataclasses.dataclass(frozen=True)
class _Edit:
    context: Context
    base: list[Event]
    other: list[Event]
    targets: list[str]


def _verified(procedure: Procedure, ctx: Context, events: list[Event], allow: set[str]) -> bool:
    """`allow` empty: the trace is compliant; else it has violations, all of types in `allow`."""
    types = check(procedure, Trace.model_construct(events=events), ctx).violation_types()
    return types <= allow and bool(types) == bool(allow)


def _start(procedure: Procedure, rng: random.Random) -> tuple[Layout, Context] | None:
    ctx = quiet_context(procedure, rng)
    return None if ctx is None else (layout(procedure), ctx)


def _order_swap(procedure: Procedure, rng: random.Random) -> _Edit | None:
    start = _start(procedure, rng)
    if start is None:
        return None
    lay, ctx = start
    required = plan_of(procedure, ctx).required
    seen = [s for s in lay.cp.order if s in required and lay.observable(s)]
    pairs = [
        (a, b)
        for b in seen
        for a in (*lay.cp.steps[b].requires, *lay.cp.steps[b].after)
        if a in seen and not (lay.descendants(a) & required) and b not in lay.cp.subtree[a]
    ]
    rng.shuffle(pairs)
    for a, b in pairs[:_TRIES]:
        order = random_order(lay, required, rng, glue=(a, b))
        if order is None:
            continue
        base = cast_events(lay, order, rng, promote=0.0)
        i = next(k for k, ev in enumerate(base) if ev.step == a)
        flip = [*base[:i], base[i + 1], base[i], *base[i + 2 :]]
        if _verified(procedure, ctx, flip, {"order", "prerequisite"}):
            return _Edit(ctx, base, flip, [a, b])
    return None


def _actor_swap(procedure: Procedure, rng: random.Random) -> _Edit | None:
    start = _start(procedure, rng)
    if start is None:
        return None
    lay, ctx = start
    order = random_order(lay, plan_of(procedure, ctx).required, rng)
    if order is None:
        return None
    base = cast_events(lay, order, rng, promote=0.0)
    rank = lay.cp.rank
    bound = [i for i, ev in enumerate(base) if ev.actor and rank[ev.actor] > 0]
    rng.shuffle(bound)
    for i in bound[:_TRIES]:
        need = rank[lay.cp.steps[base[i].step or ""].actor]
        lower = [j for j, ev in enumerate(base) if ev.actor and rank[ev.actor] < need]
        flip = list(base)
        if lower:
            j = rng.choice(lower)
            flip[i] = step_event(base[i].step or "", base[j].actor or "")
            flip[j] = step_event(base[j].step or "", base[i].actor or "")
            targets = [base[i].step or "", base[j].step or ""]
        else:
            role = rng.choice(procedure.roles[:need])
            flip[i] = step_event(base[i].step or "", role)
            targets = [base[i].step or ""]
        if _verified(procedure, ctx, flip, {"authority"}):
            return _Edit(ctx, base, flip, targets)
    return None


def _unordered_swap(procedure: Procedure, rng: random.Random) -> _Edit | None:
    start = _start(procedure, rng)
    if start is None:
        return None
    lay, ctx = start
    required = plan_of(procedure, ctx).required
    order = random_order(lay, required, rng)
    if order is None:
        return None
    base = cast_events(lay, order, rng, promote=0.0)
    bound = set(edges(lay, required))
    spots = [
        i
        for i in range(len(base) - 1)
        if (base[i].step, base[i + 1].step) not in bound
        and (base[i + 1].step, base[i].step) not in bound
    ]
    rng.shuffle(spots)
    for i in spots[:_TRIES]:
        swapped = [*base[:i], base[i + 1], base[i], *base[i + 2 :]]
        if _verified(procedure, ctx, swapped, set()):
            return _Edit(ctx, base, swapped, [base[i].step or "", base[i + 1].step or ""])
    return None


_KINDS: dict[str, tuple[Callable[[Procedure, random.Random], _Edit | None], str, str, Verdict]] = {
    "order_swap": (_order_swap, "flip", "step_reorder_invalid", NON_COMPLIANT),
    "actor_swap": (_actor_swap, "flip", "hierarchy_violation", NON_COMPLIANT),
    "unordered_swap": (_unordered_swap, "preserve", "baseline_compliant", COMPLIANT),
}
_EXPECT = {
    "order_swap": ("order", "prerequisite"),
    "actor_swap": ("authority",),
    "unordered_swap": (),
}


def _draft(pid: str, edit: _Edit, events: list[Event], label: Verdict, meta: dict[str, Any]) -> Draft:
    return Draft(pid, Trace.model_construct(events=events), edit.context, label, meta)


def generate_pairs(procedure: Procedure, rng: random.Random, *,
                   filler: bool = True) -> list[Candidate]:
    """One verified pair per applicable kind (base first), both members sharing `pair_id`;
    a kind the procedure cannot support, or whose members fail acceptance, is left out.
    `filler=False`: no neutral filler lines (the compact view)."""
    out: list[Candidate] = []
    for kind, (build, role, pid, label) in _KINDS.items():
        edit = build(procedure, rng)
        if edit is None:
            continue
        seed = rng.getrandbits(64)
        key = f"{procedure.id}|{kind}|{','.join(edit.targets)}|{seed}"
        pair_id = hashlib.sha256(key.encode()).hexdigest()[:16]
        expect = list(_EXPECT[kind])
        length = max(event_chars(procedure, edit.base), event_chars(procedure, edit.other))
        meta = {"targets": edit.targets, "pair_kind": kind, "length_ref": length}
        style = draw_style("plain", random.Random(seed))
        members = []
        for events, member_role, member_pid, member_label, intent in (
            (edit.base, "base", "baseline_compliant", COMPLIANT, []),
            (edit.other, role, pid, label, expect),
        ):
            draft = _draft(member_pid, edit, events, member_label,
                           {**meta, "action": member_role, "expect": intent, "allow": intent})
            got = accept(procedure, draft, random.Random(seed), style=style, filler=filler)
            if not isinstance(got, Candidate):
                break
            members.append(dataclasses.replace(got, pair_id=pair_id, pair_role=member_role))
        if len(members) == 2:
            out += members
    return out

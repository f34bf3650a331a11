"""The compliance checker: the single source of truth for gold labels (docs/semantics.md).

`check(procedure, trace, context)` -> `CheckResult`. A procedure is compiled once into
id-keyed indexes (`compile_procedure`, cached per procedure object) and each context into a
`Plan` (fired exceptions, required/replaced/forbidden steps), so the ~100k checks of a dataset
build do only dictionary look-ups per event and per step.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from proclab.errors import DataError, ProclabError
from proclab.procedures.guards import Guard, parse_guard
from proclab.procedures.schema import Procedure, Step
from proclab.procedures.trace import (
    COMPLIANT,
    NON_COMPLIANT,
    VIOLATION_TYPES,
    CheckResult,
    Context,
    StepFinding,
    StepStatus,
    Trace,
    Violation,
    ViolationType,
)
from proclab.procedures.validate import block_ends, step_refs
from proclab.registry import suggest

_TYPE_ORDER = {t: i for i, t in enumerate(VIOLATION_TYPES)}


@dataclass(frozen=True)
class Plan:
    """What a context asks of a procedure: fired exceptions (document order), required step
    ids, and removed steps mapped to the exception that removed them."""

    fired: tuple[str, ...]
    required: frozenset[str]
    replaced: Mapping[str, str]
    forbidden: Mapping[str, str]


@dataclass(eq=False)
class CompiledProcedure:
    """Indexes of one procedure, built once: every lookup the checker needs is a dict get."""

    procedure: Procedure
    order: tuple[str, ...]  # all step ids, document order (main tree, then exception adds)
    steps: dict[str, Step]
    parent: dict[str, str | None]
    block_end: dict[str, str]  # child id -> step whose start closes its parent's block
    subtree: dict[str, frozenset[str]]
    guards: dict[str, Guard]  # step id -> its `when`
    exception_guards: tuple[tuple[str, Guard], ...]
    roots: tuple[str, ...]  # top-level step ids
    added_roots: dict[str, tuple[str, ...]]  # exception id -> its `adds` root ids
    rank: dict[str, int]
    _plans: OrderedDict[tuple, Plan]

    def plan(self, context: Context) -> Plan:
        """The plan for an already resolved context (cached; contexts repeat in a build)."""
        key = tuple(sorted(context.items()))
        hit = self._plans.get(key)
        if hit is None:
            hit = self._make_plan(context)
            self._plans[key] = hit
            if len(self._plans) > 512:
                self._plans.popitem(last=False)
        return hit

    def _make_plan(self, ctx: Context) -> Plan:
        fired = tuple(eid for eid, guard in self.exception_guards if guard.evaluate(ctx))
        replaced: dict[str, str] = {}
        forbidden: dict[str, str] = {}
        for exc in self.procedure.exceptions:
            if exc.id in fired:
                for sid in exc.replaces:
                    replaced.update(dict.fromkeys(self.subtree.get(sid, ()), exc.id))
                for sid in exc.forbids:
                    forbidden.update(dict.fromkeys(self.subtree.get(sid, ()), exc.id))
        required: set[str] = set()

        def visit(sid: str) -> None:
            guard = self.guards.get(sid)
            if sid in replaced or sid in forbidden or (guard and not guard.evaluate(ctx)):
                return
            required.add(sid)
            for child in self.steps[sid].children:
                visit(child.id)

        for sid in self.roots:
            visit(sid)
        for eid in fired:
            for sid in self.added_roots[eid]:
                visit(sid)
        return Plan(fired, frozenset(required), replaced, forbidden)


_COMPILED: OrderedDict[int, tuple[Procedure, CompiledProcedure]] = OrderedDict()


def compile_procedure(procedure: Procedure) -> CompiledProcedure:
    """Indexes for `procedure`, cached per object (procedures are frozen)."""
    hit = _COMPILED.get(id(procedure))
    if hit is not None and hit[0] is procedure:
        return hit[1]
    refs = list(step_refs(procedure))
    steps = {r.step.id: r.step for r in refs}
    subtree = {sid: frozenset(s.id for s in step.walk()) for sid, step in steps.items()}
    compiled = CompiledProcedure(
        procedure=procedure,
        order=tuple(r.step.id for r in refs),
        steps=steps,
        parent={r.step.id: r.parent for r in refs},
        block_end=block_ends(refs),
        subtree=subtree,
        guards={sid: parse_guard(s.when) for sid, s in steps.items() if s.when is not None},
        exception_guards=tuple((e.id, parse_guard(e.when)) for e in procedure.exceptions),
        roots=tuple(s.id for s in procedure.steps),
        added_roots={e.id: tuple(s.id for s in e.adds) for e in procedure.exceptions},
        rank={role: i for i, role in enumerate(procedure.roles)},
        _plans=OrderedDict(),
    )
    # Keep the procedure itself in the entry so its id() cannot be reused while cached.
    _COMPILED[id(procedure)] = (procedure, compiled)
    if len(_COMPILED) > 256:
        _COMPILED.popitem(last=False)
    return compiled


def resolve_context(procedure: Procedure, context: Mapping[str, object] | None = None) -> Context:
    """The procedure's defaults overlaid by `context`; unknown names and values of the wrong
    type (or outside a str variable's `values`) raise ProclabError."""
    ctx: Context = procedure.default_context()
    for name, value in (context or {}).items():
        var = procedure.context.get(name)
        if var is None:
            raise ProclabError(
                f"unknown context variable {name!r}{suggest(name, procedure.context)} "
                f"for procedure {procedure.id!r}",
                fix=f"use one of: {', '.join(procedure.context) or '(none declared)'}",
            )
        ok = {
            "bool": isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, int | float) and not isinstance(value, bool),
            "str": isinstance(value, str) and (var.values is None or value in var.values),
        }[var.type]
        if not ok:
            allowed = f" (one of {', '.join(var.values)})" if var.values else ""
            raise ProclabError(
                f"context variable {name!r} must be a {var.type}{allowed}, got {value!r}",
                fix="pass a value of the declared type",
            )
        ctx[name] = value  # type: ignore[assignment]
    return ctx


def plan_for(procedure: Procedure, context: Mapping[str, object] | None = None) -> Plan:
    """The plan (fired exceptions, required steps, ...) of `procedure` in `context`."""
    return compile_procedure(procedure).plan(resolve_context(procedure, context))


def required_steps(procedure: Procedure, context: Mapping[str, object] | None = None) -> list[str]:
    """Required step ids in document order."""
    cp = compile_procedure(procedure)
    plan = cp.plan(resolve_context(procedure, context))
    return [sid for sid in cp.order if sid in plan.required]


def fired_exceptions(
    procedure: Procedure, context: Mapping[str, object] | None = None
) -> list[str]:
    """Ids of the exceptions whose `when` holds in `context`, in document order."""
    return list(plan_for(procedure, context).fired)


# -- the check ------------------------------------------------------------------------------


@dataclass
class _Seen:
    first: dict[str, int]
    actor: dict[str, str | None]
    underpowered: dict[str, tuple[int, str]]  # step -> first event by a too-low role


def _scan(cp: CompiledProcedure, trace: Trace) -> _Seen:
    seen = _Seen({}, {}, {})
    for i, ev in enumerate(trace.events):
        sid = ev.step
        if sid is None:
            continue  # distractors never matter
        step = cp.steps.get(sid)
        if step is None:
            raise DataError(
                f"event {i} names step {sid!r}, which procedure {cp.procedure.id!r} lacks"
                f"{suggest(sid, cp.steps)}",
                fix="use the procedure's step ids, or step: null for a distractor event",
            )
        if ev.actor is not None:
            rank = cp.rank.get(ev.actor)
            if rank is None:
                raise DataError(
                    f"event {i} has actor {ev.actor!r}, not a role of procedure "
                    f"{cp.procedure.id!r}{suggest(ev.actor, cp.rank)}",
                    fix=f"use one of: {', '.join(cp.procedure.roles)}",
                )
            if rank < cp.rank[step.actor] and sid not in seen.underpowered:
                seen.underpowered[sid] = (i, ev.actor)
        if sid not in seen.first:
            seen.first[sid] = i
            seen.actor[sid] = ev.actor
    return seen


def _violation(vtype: ViolationType, step: str, related: str | None, message: str) -> Violation:
    return Violation.model_construct(type=vtype, step=step, related=related, message=message)


def _status(sid: str, cp: CompiledProcedure, plan: Plan, done: bool) -> StepStatus:
    if sid in plan.forbidden:
        return "forbidden"
    if sid in plan.replaced:
        return "replaced"
    if sid not in plan.required:
        return "not_required"
    if done:
        return "done"
    return "missing" if cp.steps[sid].is_observable else "unobserved"


def _judge(sid: str, cp: CompiledProcedure, plan: Plan, seen: _Seen) -> list[Violation]:
    """Every violation whose offending step is `sid`."""
    first, step = seen.first, cp.steps[sid]
    out: list[Violation] = []
    if sid not in first:
        if sid in plan.required and step.is_observable:
            out.append(_violation("missing_step", sid, None, f"required step {sid} never happened"))
        return out
    at = first[sid]
    for a in step.requires:
        if a in first:
            if first[a] > at:
                out.append(
                    _violation(
                        "prerequisite", sid, a, f"step {sid} happened before its prerequisite {a}"
                    )
                )
        elif a in plan.required and cp.steps[a].is_observable:
            out.append(
                _violation(
                    "prerequisite",
                    sid,
                    a,
                    f"step {sid} happened but its prerequisite {a} never did",
                )
            )
    for a in step.after:
        if a in first and first[a] > at:
            out.append(_violation("order", sid, a, f"step {sid} happened before step {a}"))
    if sid in seen.underpowered:
        i, role = seen.underpowered[sid]
        out.append(
            _violation(
                "authority",
                sid,
                None,
                f"step {sid} was done by {role} (event {i}); it needs {step.actor} or above",
            )
        )
    hier = _hierarchy(sid, cp, first)
    if hier is not None:
        out.append(hier)
    if sid in plan.replaced:
        eid = plan.replaced[sid]
        out.append(
            _violation(
                "exception_ignored",
                sid,
                eid,
                f"step {sid} was done although exception {eid} replaces it",
            )
        )
    if sid in plan.forbidden:
        eid = plan.forbidden[sid]
        out.append(
            _violation(
                "forbidden_step",
                sid,
                eid,
                f"step {sid} was done although exception {eid} forbids it",
            )
        )
    return out


def _hierarchy(sid: str, cp: CompiledProcedure, first: dict[str, int]) -> Violation | None:
    parent = cp.parent[sid]
    if parent is None:
        return None
    at = first[sid]
    if parent in first and first[parent] > at:
        return _violation(
            "hierarchy", sid, parent, f"step {sid} happened before its parent step {parent} started"
        )
    if parent not in first and cp.steps[parent].is_observable:
        return _violation(
            "hierarchy", sid, parent, f"step {sid} happened but its parent step {parent} never did"
        )
    end = cp.block_end.get(sid)
    if end is not None and end in first and first[end] < at:
        return _violation(
            "hierarchy",
            sid,
            end,
            f"step {sid} happened after step {end}, outside its parent step {parent}",
        )
    return None


def check(
    procedure: Procedure, trace: Trace, context: Mapping[str, object] | None = None
) -> CheckResult:
    """Judge `trace` against `procedure` in `context` (defaults overlaid by the given values).
    Unknown steps, roles or context names raise ProclabError; distractor events never matter."""
    cp = compile_procedure(procedure)
    plan = cp.plan(resolve_context(procedure, context))
    seen = _scan(cp, trace)
    violations: list[Violation] = []
    findings: list[StepFinding] = []
    for sid in cp.order:
        found = sorted(_judge(sid, cp, plan, seen), key=lambda v: _TYPE_ORDER[v.type])
        violations += found
        findings.append(
            StepFinding.model_construct(
                step=sid,
                status=_status(sid, cp, plan, sid in seen.first),
                event_index=seen.first.get(sid),
                actor=seen.actor.get(sid),
                violations=[v.type for v in found],
            )
        )
    return CheckResult.model_construct(
        verdict=NON_COMPLIANT if violations else COMPLIANT,
        violations=violations,
        required=[sid for sid in cp.order if sid in plan.required],
        fired_exceptions=list(plan.fired),
        findings=findings,
    )

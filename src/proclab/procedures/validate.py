"""Whole-procedure checks that a field-by-field schema cannot make: ids, references, roles,
guards, ordering cycles, the step outline and context defaults. See docs/semantics.md.

`validate_procedure` returns every problem found (it never stops at the first) so that a
procedure author fixes a file in one pass; each error names file:line and the field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from proclab.errors import GuardSyntaxError, ProcedureError
from proclab.procedures.guards import KEYWORDS, NAME_PATTERN, Guard, parse_guard, type_errors
from proclab.procedures.narration import narration_problems
from proclab.procedures.schema import ContextVar, Procedure, Step
from proclab.registry import suggest

Path_ = tuple[str | int, ...]


def format_path(path: Path_) -> str:
    """`('steps', 3, 'requires', 0)` -> `steps[3].requires[0]`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class SourceMap:
    """Where each YAML node of a procedure file sits: data path -> 1-based line."""

    file: str
    lines: Mapping[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int | None:
        """The line of `path`, or of its nearest ancestor present in the file."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def where(self, path: Path_) -> str:
        line = self.line(path)
        loc = f"{self.file}:{line}" if line is not None else self.file
        return f"{loc}, {format_path(path)}" if path else loc


@dataclass(frozen=True)
class StepRef:
    """A step with its data path, its parent id and its sibling list (for the outline)."""

    step: Step
    path: Path_
    parent: str | None
    next_sibling: str | None


def step_refs(proc: Procedure) -> Iterator[StepRef]:
    """Every step of `proc` (main tree, then exception adds) with where it sits."""

    def walk(steps: list[Step], base: Path_, parent: str | None) -> Iterator[StepRef]:
        for i, step in enumerate(steps):
            nxt = steps[i + 1].id if i + 1 < len(steps) else None
            path = (*base, i)
            yield StepRef(step, path, parent, nxt)
            yield from walk(step.children, (*path, "children"), step.id)

    yield from walk(proc.steps, ("steps",), None)
    for k, exc in enumerate(proc.exceptions):
        yield from walk(exc.adds, ("exceptions", k, "adds"), None)


class _Collector:
    def __init__(self, proc: Procedure, lines: SourceMap | None):
        self.proc = proc
        self.lines = lines
        self.errors: list[ProcedureError] = []

    def where(self, path: Path_) -> str:
        if self.lines is not None:
            return self.lines.where(path)
        return f"procedure {self.proc.id}, {format_path(path)}"

    def add(self, path: Path_, what: str, fix: str) -> None:
        self.errors.append(ProcedureError(what, where=self.where(path), fix=fix))


def validate_procedure(
    proc: Procedure, *, lines: SourceMap | None = None, narration: bool = True
) -> list[ProcedureError]:
    """All whole-procedure problems of `proc` (empty list when it is valid); `narration`
    also checks what scenarios need to tell it (its event phrasings and value sentences)."""
    out = _Collector(proc, lines)
    refs = list(step_refs(proc))
    if narration:
        out.errors += narration_problems(proc, [(r.path, r.step) for r in refs], out.where)
    _check_ids(out, refs)
    _check_references(out, refs)
    _check_context(out)
    guards_ok = _check_guards(out, refs)
    _check_cycles(out, refs)
    if guards_ok:
        _check_default_is_normal(out)
    return out.errors


def _check_ids(out: _Collector, refs: list[StepRef]) -> None:
    first: dict[str, Path_] = {}
    for ref in refs:
        sid = ref.step.id
        if sid in first:
            out.add(
                (*ref.path, "id"),
                f"step id {sid!r} is used twice (first at {format_path(first[sid])})",
                "give every step, including exception-added ones, its own id",
            )
        else:
            first[sid] = ref.path
        head = sid.rsplit(".", 1)[0] if "." in sid else None
        if ref.parent is not None and head != ref.parent:
            out.add(
                (*ref.path, "id"),
                f"step {sid!r} is a child of step {ref.parent!r} but its id does not extend it",
                f"number it {ref.parent}.<x> (e.g. {ref.parent}.a) or move it",
            )
        elif ref.parent is None and head is not None:
            out.add(
                (*ref.path, "id"),
                f"top-level step {sid!r} has a child-style id but no parent step",
                f"put it under step {head!r}'s `children`, or give it a plain id",
            )
        if ref.step.actor not in out.proc.roles:
            out.add(
                (*ref.path, "actor"),
                f"unknown role {ref.step.actor!r}{suggest(ref.step.actor, out.proc.roles)}",
                f"use one of the procedure's roles: {', '.join(out.proc.roles)}",
            )


def _unknown_step(out: _Collector, known: set[str], sid: str, path: Path_, what: str) -> None:
    if sid not in known:
        out.add(
            path,
            f"{what} names unknown step {sid!r}{suggest(sid, known)}",
            'name an existing step id (quote ids in YAML: "3")',
        )


def _check_references(out: _Collector, refs: list[StepRef]) -> None:
    known = {ref.step.id for ref in refs}
    for ref in refs:
        for fname in ("requires", "after"):
            for i, target in enumerate(getattr(ref.step, fname)):
                what = f"step {ref.step.id!r} `{fname}`"
                _unknown_step(out, known, target, (*ref.path, fname, i), what)
    for k, exc in enumerate(out.proc.exceptions):
        for fname in ("replaces", "forbids"):
            for i, target in enumerate(getattr(exc, fname)):
                what = f"exception {exc.id!r} `{fname}`"
                _unknown_step(out, known, target, ("exceptions", k, fname, i), what)
        added = {s.id for root in exc.adds for s in root.walk()}
        for i, target in enumerate(exc.forbids):
            if target in added:
                out.add(
                    ("exceptions", k, "forbids", i),
                    f"exception {exc.id!r} both adds and forbids step {target!r}",
                    "drop it from `forbids` or from `adds`",
                )
    seen: dict[str, int] = {}
    for k, exc in enumerate(out.proc.exceptions):
        if exc.id in seen:
            out.add(("exceptions", k, "id"), f"exception id {exc.id!r} is used twice", "rename one")
        seen.setdefault(exc.id, k)


def _check_context(out: _Collector) -> None:
    for name, var in out.proc.context.items():
        path: Path_ = ("context", name)
        if not NAME_PATTERN.fullmatch(name) or name.lower() in KEYWORDS:
            out.add(
                path,
                f"context name {name!r} cannot be used in guards",
                "use letters, digits and '_' (not starting with a digit), and not a keyword",
            )
        problem = default_problem(var)
        if problem:
            out.add((*path, "default"), problem, f"give a default of type {var.type}")
        if var.values is not None and var.type != "str":
            out.add((*path, "values"), "`values` applies to str variables only", "remove it")
        if var.type in ("bool", "str") and (var.min is not None or var.max is not None):
            out.add((*path, "min"), "`min`/`max` apply to int/float only", "remove them")
        if var.min is not None and var.max is not None and var.min > var.max:
            out.add((*path, "min"), f"min {var.min} is above max {var.max}", "swap them")


def default_problem(var: ContextVar) -> str | None:
    """Why `var.default` does not fit `var` (type, allowed values, range), or None."""
    value = var.default
    fits = {
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "str": isinstance(value, str),
    }[var.type]
    if not fits:
        return f"default {value!r} is not a {var.type}"
    if var.type == "str" and var.values is not None and value not in var.values:
        return f"default {value!r} is not one of the listed values"
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    low = var.min is not None and numeric and value < var.min
    high = var.max is not None and numeric and value > var.max
    if low or high:
        return f"default {value!r} is outside [{var.min}, {var.max}]"
    return None


def _guard_sites(out: _Collector, refs: list[StepRef]) -> Iterator[tuple[str, Path_, str]]:
    for ref in refs:
        if ref.step.when is not None:
            yield ref.step.when, (*ref.path, "when"), f"step {ref.step.id!r}"
    for k, exc in enumerate(out.proc.exceptions):
        yield exc.when, ("exceptions", k, "when"), f"exception {exc.id!r}"


def _check_guards(out: _Collector, refs: list[StepRef]) -> bool:
    """Parse, name-check and type-check every guard; True when all are sound."""
    ok = True
    declared = out.proc.context
    for text, path, owner in _guard_sites(out, refs):
        try:
            guard = parse_guard(text)
        except GuardSyntaxError as err:
            out.errors.append(GuardSyntaxError(err.what, where=out.where(path), fix=err.fix))
            ok = False
            continue
        for name in sorted(guard.names() - set(declared)):
            ok = False
            out.add(
                path,
                f"{owner} guard uses unknown context variable {name!r}{suggest(name, declared)}",
                f"declare {name!r} under `context:` or use one of: {', '.join(declared) or '-'}",
            )
        for problem in type_errors(guard, declared):
            ok = False
            out.add(path, f"{owner} guard `{text}`: {problem}", "fix the guard's types")
    return ok


def ordering_edges(proc: Procedure) -> list[tuple[str, str, str]]:
    """Every 'a must come before b' edge `(a, b, why)`: requires, after, and the outline
    (a parent before its child; a child before the step that closes its parent's block)."""
    refs = list(step_refs(proc))
    boundary = block_ends(refs)
    edges: list[tuple[str, str, str]] = []
    for ref in refs:
        sid = ref.step.id
        edges += [(a, sid, "requires") for a in ref.step.requires]
        edges += [(a, sid, "after") for a in ref.step.after]
        if ref.parent is not None:
            edges.append((ref.parent, sid, "child of"))
            end = boundary.get(sid)
            if end is not None:
                edges.append((sid, end, "block ends at"))
    return edges


def block_ends(refs: list[StepRef]) -> dict[str, str]:
    """child id -> the step whose start closes its parent's block: the parent's next sibling,
    or, when the parent is the last of its siblings, the nearest ancestor's next sibling."""
    by_id = {ref.step.id: ref for ref in refs}
    ends: dict[str, str] = {}
    for ref in refs:
        cur = by_id.get(ref.parent) if ref.parent is not None else None
        while cur is not None and cur.next_sibling is None:
            cur = by_id.get(cur.parent) if cur.parent is not None else None
        if ref.parent is not None and cur is not None and cur.next_sibling is not None:
            ends[ref.step.id] = cur.next_sibling
    return ends


def _check_cycles(out: _Collector, refs: list[StepRef]) -> None:
    known = {ref.step.id for ref in refs}
    graph: dict[str, list[tuple[str, str]]] = {sid: [] for sid in known}
    for a, b, why in ordering_edges(out.proc):
        if a in known and b in known:
            graph[a].append((b, why))
    paths = {ref.step.id: ref.path for ref in refs}
    for cycle in find_cycles(graph, [ref.step.id for ref in refs]):
        hops = [(a, cycle[(i + 1) % len(cycle)][0], why) for i, (a, why) in enumerate(cycle)]
        text = ", ".join(f"{a} before {b} ({why})" for a, b, why in hops)
        # Point at a `requires`/`after` entry of the knot when there is one: that is the edit.
        field_hop = next((h for h in hops if h[2] in ("requires", "after")), hops[0])
        path = paths[field_hop[1]]
        out.add(
            (*path, field_hop[2]) if field_hop[2] in ("requires", "after") else path,
            f"ordering cycle: {text}; no trace can satisfy it",
            "remove one of these `requires`/`after` entries or move the step in the outline",
        )


def find_cycles(
    graph: Mapping[str, list[tuple[str, str]]], order: list[str]
) -> list[list[tuple[str, str]]]:
    """A shortest cycle through the first node (in `order`) of each knot (strongly connected
    set) of `graph`, as [(node, label of the edge to the next node)]."""
    cycles: list[list[tuple[str, str]]] = []
    for knot in _knots(graph, order):
        start = next(n for n in order if n in knot)
        # breadth-first from `start` back to itself, inside the knot: the shortest loop
        back: dict[str, tuple[str, str]] = {}
        frontier = [start]
        while frontier and start not in back:
            nxt_frontier = []
            for node in frontier:
                for nxt, why in graph[node]:
                    if nxt in knot and nxt not in back:
                        back[nxt] = (node, why)
                        nxt_frontier.append(nxt)
            frontier = nxt_frontier
        loop: list[tuple[str, str]] = []
        node = start
        while True:
            prev, why = back[node]
            loop.append((prev, why))
            node = prev
            if node == start:
                break
        cycles.append(loop[::-1])
    return cycles


def _knots(graph: Mapping[str, list[tuple[str, str]]], order: list[str]) -> list[set[str]]:
    """Strongly connected sets that contain a cycle (Kosaraju, iterative)."""
    seen: set[str] = set()
    finish: list[str] = []
    for root in order:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(graph[root]))]
        while stack:
            node, it = stack[-1]
            for nxt, _ in it:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, iter(graph[nxt])))
                    break
            else:
                finish.append(node)
                stack.pop()
    reverse: dict[str, list[str]] = {n: [] for n in order}
    for node in order:
        for nxt, _ in graph[node]:
            reverse[nxt].append(node)
    assigned: set[str] = set()
    knots: list[set[str]] = []
    for root in reversed(finish):
        if root in assigned:
            continue
        comp, todo = {root}, [root]
        assigned.add(root)
        while todo:
            for prev in reverse[todo.pop()]:
                if prev not in assigned:
                    assigned.add(prev)
                    comp.add(prev)
                    todo.append(prev)
        if len(comp) > 1 or any(nxt == root for nxt, _ in graph[root]):
            knots.append(comp)
    return knots


def _check_default_is_normal(out: _Collector) -> None:
    ctx = out.proc.default_context()
    for k, exc in enumerate(out.proc.exceptions):
        guard: Guard = parse_guard(exc.when)
        if guard.evaluate(ctx):
            out.add(
                ("exceptions", k, "when"),
                f"exception {exc.id!r} fires under the default context; "
                "the defaults must describe the normal case",
                "change the context defaults (or the guard) so that no exception fires",
            )

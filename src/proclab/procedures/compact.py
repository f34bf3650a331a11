"""Compact procedures: the first steps of a corpus procedure as a smaller, valid procedure, for
the compact benchmark view (docs/scenarios.md, "The compact view").

`compact_procedure(proc, n)` keeps the longest prefix of top-level steps (each with all its
sub-steps) that has at most `n` steps in all, every exception that still replaces, forbids or
adds a step, and the context variables a kept guard reads; references to dropped steps are
removed (an exception that replaced steps 4-6 now replaces the kept 4). The result is validated like a corpus file and is named `<id>--c<n>`, so any stage that
meets the id can rebuild the same procedure (`proclab.procedures.corpus.get_procedure`) without
the dataset shipping a second corpus.
"""

from __future__ import annotations

import re
from functools import lru_cache

from proclab.errors import ConfigError, ErrorList
from proclab.procedures.guards import parse_guard
from proclab.procedures.schema import Procedure, ProcedureException, Step

SUFFIX = "--c"
_COMPACT_ID = re.compile(rf"^(?P<base>[a-z0-9][a-z0-9_-]*?){SUFFIX}(?P<n>[0-9]+)$")
# Below this a procedure has too little structure for the ordering, prerequisite and
# hierarchy perturbations to apply at all.
MIN_STEPS = 4


def compact_id(procedure_id: str, max_steps: int) -> str:
    return f"{procedure_id}{SUFFIX}{max_steps}"


def parse_compact_id(procedure_id: str) -> tuple[str, int] | None:
    """(base id, max_steps) of a compact id, or None for an ordinary id."""
    m = _COMPACT_ID.match(procedure_id)
    return (m["base"], int(m["n"])) if m else None


def compact_procedure(procedure: Procedure, max_steps: int) -> Procedure:
    """The compact view of `procedure` with at most `max_steps` steps (see the module doc)."""
    if max_steps < MIN_STEPS:
        raise ConfigError(f"max_steps={max_steps}: a compact procedure needs at least "
                          f"{MIN_STEPS} steps", fix=f"use max_steps >= {MIN_STEPS}")
    kept: list[Step] = []
    count = 0
    for step in procedure.steps:
        size = sum(1 for _ in step.walk())
        if count + size > max_steps:
            break
        kept.append(step)
        count += size
    if not kept:
        raise ConfigError(f"{procedure.id}: its first step alone has more than {max_steps} "
                          "steps with its sub-steps", fix="raise max_steps")
    kept_ids = {s.id for top in kept for s in top.walk()}
    known = kept_ids | {s.id for e in procedure.exceptions for top in e.adds for s in top.walk()}
    steps = [_prune(s, known) for s in kept]
    exceptions = [e for e in (_prune_exception(e, known) for e in procedure.exceptions)
                  if e.replaces or e.forbids or e.adds]
    guards = [s.when for top in steps for s in top.walk() if s.when]
    guards += [e.when for e in exceptions]
    guards += [s.when for e in exceptions for top in e.adds for s in top.walk() if s.when]
    read = set().union(*(parse_guard(g).names() for g in guards)) if guards else set()
    context = {k: v for k, v in procedure.context.items() if k in read}
    derived = procedure.model_copy(update={
        "id": compact_id(procedure.id, max_steps), "steps": steps,
        "exceptions": exceptions, "context": context,
    })
    derived = Procedure.model_validate(derived.model_dump())
    _validate(derived)
    return derived


def _prune(step: Step, known: set[str]) -> Step:
    return step.model_copy(update={
        "requires": [r for r in step.requires if r in known],
        "after": [a for a in step.after if a in known],
        "children": [_prune(c, known) for c in step.children],
    })


def _prune_exception(exc: ProcedureException, known: set[str]) -> ProcedureException:
    return exc.model_copy(update={
        "replaces": [r for r in exc.replaces if r in known],
        "forbids": [f for f in exc.forbids if f in known],
        "adds": [_prune(s, known) for s in exc.adds],
    })


def _validate(procedure: Procedure) -> None:
    from proclab.procedures.validate import validate_procedure

    errors = validate_procedure(procedure)
    if errors:
        raise ErrorList(list(errors), what=f"compact procedure {procedure.id} is not valid")


@lru_cache(maxsize=512)
def resolve_compact(procedure_id: str) -> Procedure | None:
    """The compact procedure a `<id>--c<n>` id names (None for an ordinary id)."""
    from proclab.procedures.corpus import get_procedure

    parsed = parse_compact_id(procedure_id)
    if parsed is None:
        return None
    base, n = parsed
    return compact_procedure(get_procedure(base), n)

"""Small dataset records for the teacher tests, built from the bundled corpus with the canonical
trace and the checker (the labels are the checker's), until `proclab dataset build` is used."""

from __future__ import annotations

import random
from pathlib import Path

from proclab.dataset.records import QUESTION, Instance, write_jsonl
from proclab.procedures.canonical import (
    authority_bound_steps,
    canonical_trace,
    find_firing_context,
    ordered_pairs,
)
from proclab.procedures.checker import check, resolve_context
from proclab.procedures.corpus import load_corpus
from proclab.procedures.schema import Procedure
from proclab.procedures.styles import render
from proclab.procedures.trace import Event, Trace


def make_record(procedure: Procedure, events: list[Event], context: dict | None = None, *,
                rid: str, perturbation: str, source: str = "terse_numbered") -> Instance:
    """A record whose label and violations are what the checker says of `events`."""
    ctx = resolve_context(procedure, context)
    result = check(procedure, Trace(events=events), ctx)
    facts = ", ".join(f"{k} = {v}" for k, v in sorted(ctx.items()))
    scenario = " ".join(
        [f"Circumstances: {facts or 'none'}."]
        + [f"The {e.actor or 'someone'} did this: {e.detail or e.step or 'something else'}."
           for e in events]
    )
    return Instance(
        id=rid, procedure_id=procedure.id, domain=procedure.domain, source=source,
        cohort="teacher_test", split="train", perturbation=perturbation, label=result.verdict,
        procedure_text=render(procedure, source), scenario_text=scenario, question=QUESTION,
        violations=result.violations, meta={}, trace=events, context=ctx,
    )


def variants(procedure: Procedure, rng: random.Random) -> list[tuple[str, list[Event], dict]]:
    """(perturbation, events, context) drafts of several kinds for one procedure."""
    base = list(canonical_trace(procedure).events)
    out: list[tuple[str, list[Event], dict]] = [("baseline_compliant", base, {})]
    observable = [i for i, e in enumerate(base)
                  if procedure.step_index()[e.step].is_observable]
    if observable:
        drop = rng.choice(observable)
        out.append(("baseline_noncompliant", base[:drop] + base[drop + 1:], {}))
    pairs = ordered_pairs(procedure)
    if pairs:
        a, b, _ = rng.choice(pairs)
        order = [e.step for e in base]
        swapped = list(base)
        i, j = order.index(a), order.index(b)
        swapped[i], swapped[j] = base[j], base[i]
        out.append(("step_reorder_invalid", swapped, {}))
    bound = authority_bound_steps(procedure)
    if bound:
        sid = rng.choice(bound)
        out.append(("hierarchy_violation",
                    [Event(step=e.step, actor=procedure.roles[0]) if e.step == sid else e
                     for e in base], {}))
    for exc in procedure.exceptions[:1]:
        ctx = find_firing_context(procedure, exc.id)
        if ctx is not None:
            out.append(("exception_trigger", list(canonical_trace(procedure, ctx).events), ctx))
            out.append(("exception_trigger", base, ctx))
    noise = Event(step=None, actor=procedure.roles[0], detail="refilled the coffee machine")
    out.append(("distractor_injection", base[:1] + [noise] + base[1:], {}))
    return out


def corpus_records(limit: int | None = None, seed: int = 0) -> list[Instance]:
    """Records of every kind above for the first `limit` corpus procedures."""
    rng = random.Random(seed)
    records = []
    for procedure in load_corpus()[:limit]:
        for n, (kind, events, ctx) in enumerate(variants(procedure, rng)):
            records.append(make_record(procedure, events, ctx, rid=f"{procedure.id}-{n}",
                                       perturbation=kind))
    return records


def write_split(directory: Path, records: list[Instance], split: str = "train") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    write_jsonl(directory / f"{split}.jsonl", records)
    return directory

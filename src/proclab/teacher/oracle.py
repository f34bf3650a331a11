"""The offline oracle teacher: a natural reasoning trace narrated from the checker's
step-by-step verification (DESIGN.md §6), so the pipeline distils without network.

A trace restates the task, states the circumstances and any exception, then for each step
recalls it, matches the scenario's evidence and contrasts every violation (sometimes with an
illustration), with intermediate summaries, an overall conclusion naming every violation the
checker found, and the final-answer line. Paragraphs are separated by blank lines and open with
words the default keyword rules map to the intended signal. Wording comes from
`data/oracle_phrases.yaml` and is chosen by a `random.Random` seeded by (seed, record id,
sample index), so the same inputs give the same text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from proclab.configfile import read_yaml_mapping
from proclab.dataset.records import Instance
from proclab.errors import ConfigError, ErrorList, ProclabError
from proclab.procedures.canonical import canonical_order
from proclab.procedures.checker import (
    CompiledProcedure,
    check,
    compile_procedure,
    resolve_context,
)
from proclab.procedures.schema import Procedure
from proclab.procedures.styles.base import layout_default
from proclab.procedures.styles.wording import (
    article,
    cardinal_word,
    format_guard,
    join_words,
    ordinal_word,
    predicate_phrase,
    role_name,
    subject_phrase,
)
from proclab.procedures.trace import CheckResult, Context, Event, Trace, Verdict, Violation
from proclab.prompts import final_answer_line

PHRASES_PATH = Path(__file__).resolve().parent / "data" / "oracle_phrases.yaml"
# Traces of compact-view procedures (`<id>--c<n>`) are worded from this shorter book.
COMPACT_PHRASES_PATH = PHRASES_PATH.with_name("oracle_phrases_compact.yaml")
MIN_PHRASINGS = 4
_LABEL = ("label",)
# move -> (signal its paragraph carries, placeholders its phrasings may use)
MOVES: dict[str, tuple[str, tuple[str, ...]]] = {
    "task": ("ELABORATION", ("title",)),
    "facts": ("ELABORATION", ("facts",)),
    "exception_fires": ("RECALL", ("text", "condition", "effects")),
    "no_exception": ("RECALL", ("conditions",)),
    "step": ("RECALL", ("label", "text", "role", "role_a")),
    "step_skip": ("RECALL", ("label", "condition")),
    "evidence": ("REASONING", ("who", "detail", "nth", "number", "total")),
    "missing": ("CONTRAST", _LABEL),
    "unobserved": ("REASONING", _LABEL),
    "order": ("CONTRAST", ("label", "related")),
    "prerequisite_late": ("CONTRAST", ("label", "related")),
    "prerequisite_never": ("CONTRAST", ("label", "related")),
    "authority": ("CONTRAST", ("label", "role", "role_a", "actor_a")),
    "hierarchy_early": ("CONTRAST", ("label", "related")),
    "hierarchy_orphan": ("CONTRAST", ("label", "related")),
    "hierarchy_outside": ("CONTRAST", ("label", "related", "parent")),
    "exception_ignored": ("CONTRAST", _LABEL),
    "forbidden_step": ("CONTRAST", _LABEL),
    "example_sequence": ("EXAMPLE", ("label", "related")),
    "example_authority": ("EXAMPLE", ("label", "role_a")),
    "example_missing": ("EXAMPLE", ("label", "text")),
    "example_hierarchy": ("EXAMPLE", ("label", "parent")),
    "example_exception": ("EXAMPLE", _LABEL),
    "checkpoint": ("CONCLUSION", ("steps",)),
    "distractors": ("REASONING", ("count", "examples")),
    "final_compliant": ("CONCLUSION", ("n",)),
    "final_noncompliant": ("CONCLUSION", ("count", "problems")),
}
_EXAMPLE_RATE = 0.5  # share of violations followed by an illustration
_CHECKPOINT_AFTER = (3, 5)  # a summary may follow 3 clean steps in a row, and must after 5
_FIELD = re.compile(r"\{(\w+)\}")
_GUARD_NAME = re.compile(r"\"[^\"]*\"|'[^']*'|([A-Za-z_][A-Za-z0-9_]*)")
_DETAIL_CHARS = 160


@cache
def load_phrases(path: Path = PHRASES_PATH) -> dict[str, tuple[str, ...]]:
    """The phrasebook: every move of `MOVES` with at least `MIN_PHRASINGS` phrasings, each
    using only that move's placeholders. All problems are reported at once."""
    data = read_yaml_mapping(path, allow_empty=True)
    problems: list[ProclabError] = []
    for move in sorted(set(data) - set(MOVES)):
        problems.append(ConfigError(f"unknown move {move!r}", where=f"{path}: {move}",
                                    fix="use moves of proclab.teacher.oracle.MOVES"))
    for move, (_, allowed) in MOVES.items():
        texts = data.get(move) or []
        if len(texts) < MIN_PHRASINGS:
            problems.append(ConfigError(f"{len(texts)} phrasings, need {MIN_PHRASINGS}",
                                        where=f"{path}: {move}", fix="add phrasings"))
        for i, text in enumerate(texts):
            unknown = set(_FIELD.findall(str(text))) - set(allowed)
            if unknown:
                problems.append(ConfigError(
                    f"unknown placeholder(s) {', '.join(sorted(unknown))}",
                    where=f"{path}: {move}[{i}]", fix=f"use only: {', '.join(allowed)}"))
    if problems:
        raise ErrorList(problems, what="invalid oracle phrasebook")
    return {move: tuple(str(t) for t in data[move]) for move in MOVES}


@dataclass(frozen=True)
class OracleTrace:
    """A written trace: (intended signal, paragraph) pairs and the verdict it concludes."""

    paragraphs: tuple[tuple[str, str], ...]
    verdict: Verdict

    @property
    def text(self) -> str:
        return "\n\n".join(text for _, text in self.paragraphs)

    @property
    def signals(self) -> list[str]:
        return [signal for signal, _ in self.paragraphs]


@dataclass(frozen=True)
class _ProcInfo:
    """What narration needs from a procedure, computed once per procedure."""

    cp: CompiledProcedure
    labels: dict[str, str]
    added_by: dict[str, str]  # exception-added step id -> exception id
    guard_vars: tuple[str, ...]
    roles: dict[str, str]  # role id -> "EHS officer"
    guards: dict[str, str]  # guard expression -> its words
    facts: dict[str, tuple[str, str]]  # context variable -> `_fact_words`
    orders: dict[frozenset[str], dict[str, tuple[int, int]]]  # required set -> narration keys

    def narration_keys(self, context: Context) -> dict[str, tuple[int, int]]:
        """Sort keys that narrate required steps in canonical order (so an exception's added
        steps come where they belong) and every other step after its document predecessor."""
        required = self.cp.plan(context).required
        keys = self.orders.get(required)
        if keys is None:
            position = {sid: i for i, sid in enumerate(canonical_order(self.cp.procedure, context))}
            keys, last, extra = {}, -1, 0
            for sid in self.cp.order:
                if sid in position:
                    last, extra = position[sid], 0
                    keys[sid] = (last, 0)
                else:
                    extra += 1
                    keys[sid] = (last, extra)
            if len(self.orders) < 256:
                self.orders[required] = keys
        return keys


def _proc_info(procedure: Procedure) -> _ProcInfo:
    guards = [s.when for s in procedure.all_steps() if s.when] + [
        e.when for e in procedure.exceptions
    ]
    names: list[str] = []
    for guard in guards:
        for match in _GUARD_NAME.finditer(guard):
            name = match.group(1)
            if name in procedure.context and name not in names:
                names.append(name)
    cp = compile_procedure(procedure)
    return _ProcInfo(
        cp=cp,
        labels=layout_default(procedure).labels,
        added_by={sid: eid for eid, roots in cp.added_roots.items()
                  for root in roots for sid in cp.subtree[root]},
        guard_vars=tuple(names),
        roles={r: role_name(r) for r in procedure.roles},
        guards={g: format_guard(g, procedure.context) for g in guards},
        facts={name: _fact_words(procedure, name) for name in names},
        orders={},
    )


class _Narrator:
    """Writes one trace: `say(move, **slots)` appends a paragraph in a seeded phrasing."""

    def __init__(self, procedure: Procedure, info: _ProcInfo, events: list[Event],
                 context: Context, result: CheckResult, rng: random.Random,
                 phrases: dict[str, tuple[str, ...]]):
        self.p, self.info, self.events, self.context = procedure, info, events, context
        self.result, self.rng = result, rng
        self.phrases = phrases
        self.paragraphs: list[tuple[str, str]] = []
        self.status = {f.step: f.status for f in result.findings}
        self.first = {f.step: f.event_index for f in result.findings if f.event_index is not None}

    def say(self, move: str, **slots: object) -> None:
        self.paragraphs.append((MOVES[move][0], self.rng.choice(self.phrases[move]).format(**slots)))

    def who(self, actor: str | None) -> str:
        if actor is None:
            return "someone"
        name = self.info.roles[actor]
        return f"{article(name)} {name}"

    def fact(self, name: str) -> str:
        value, (head, negated) = self.context[name], self.info.facts[name]
        kind = self.p.context[name].type
        if kind == "bool":
            return head if value else negated
        shown = f"{value:g}" if isinstance(value, float) else f'"{value}"' if kind == "str" else value
        return f"{head} is {shown}"

    def label(self, sid: str | None) -> str:
        return self.info.labels.get(sid or "", sid or "?")

    def write(self) -> OracleTrace:
        self.say("task", title=self.p.title)
        facts = [self.fact(name) for name in self.info.guard_vars]
        if facts:
            self.say("facts", facts="; ".join(facts))
        self._exceptions()
        self._steps()
        self._distractors()
        self._final()
        verdict = self.result.verdict
        self.paragraphs.append(("RESPONSE", final_answer_line(verdict)))
        return OracleTrace(paragraphs=tuple(self.paragraphs), verdict=verdict)

    def _exceptions(self) -> None:
        fired = set(self.result.fired_exceptions)
        for exc in self.p.exceptions:
            if exc.id in fired:
                self.say("exception_fires", text=_flat(exc.text),
                         condition=self.info.guards[exc.when],
                         effects=self._effects(exc.replaces, [s.id for s in exc.adds], exc.forbids))
        if self.p.exceptions and not fired:
            conditions = [f"it is not true that {self.info.guards[e.when]}"
                          for e in self.p.exceptions]
            self.say("no_exception", conditions=join_words(conditions))

    def _effects(self, replaces: list[str], adds: list[str], forbids: list[str]) -> str:
        parts = []
        if replaces:
            parts.append(f"{self._steps_ref(replaces)} no longer apply")
        if adds:
            parts.append(f"{self._steps_ref(adds)} must be done instead")
        if forbids:
            parts.append(f"{self._steps_ref(forbids)} must not be done")
        return f" Under it, {join_words(parts)}." if parts else ""

    def _steps_ref(self, ids: list[str]) -> str:
        word = "step" if len(ids) == 1 else "steps"
        return f"{word} {join_words([self.label(s) for s in ids])}"

    def _steps(self) -> None:
        by_step: dict[str, list[Violation]] = {}
        for v in self.result.violations:
            by_step.setdefault(v.step, []).append(v)
        clean: list[str] = []
        keys = self.info.narration_keys(self.context)
        for finding in sorted(self.result.findings, key=lambda f: keys[f.step]):
            sid, step = finding.step, self.info.cp.steps[finding.step]
            found = by_step.get(sid, [])
            if finding.status in ("not_required", "replaced", "forbidden") and not found:
                if self._narrate_skip(sid):
                    self.say("step_skip", label=self.label(sid),
                             condition=self.info.guards.get(step.when or "", ""))
                continue
            role = self.info.roles[step.actor]
            self.say("step", label=self.label(sid), text=_flat(step.text), role=role,
                     role_a=f"{article(role)} {role}")
            if finding.event_index is not None:
                self._evidence(finding.event_index)
            elif finding.status == "unobserved":
                self.say("unobserved", label=self.label(sid))
            for violation in found:
                self._violation(violation)
            if found:
                clean = []
            elif finding.status == "done":
                clean.append(self.label(sid))
                low, high = _CHECKPOINT_AFTER
                if len(clean) >= high or (len(clean) >= low and self.rng.random() < 0.5):
                    self.say("checkpoint", steps=f"steps {join_words(clean)}")
                    clean = []

    def _narrate_skip(self, sid: str) -> bool:
        """A conditional step whose guard is false while its parent is required is worth a
        sentence; steps under a skipped parent or of an unfired exception are not."""
        step, parent = self.info.cp.steps[sid], self.info.cp.parent[sid]
        if step.when is None or self.status[sid] != "not_required":
            return False
        if parent is not None and self.status[parent] not in ("done", "missing", "unobserved"):
            return False
        eid = self.info.added_by.get(sid)
        return eid is None or eid in self.result.fired_exceptions

    def _evidence(self, index: int) -> None:
        event = self.events[index]
        detail = _flat(event.detail)
        if len(detail) > _DETAIL_CHARS:
            detail = detail[: _DETAIL_CHARS - 3].rstrip() + "..."
        self.say("evidence", who=self.who(event.actor), detail=f' ("{detail}")' if detail else "",
                 nth=_nth(index + 1), number=index + 1, total=len(self.events))

    def _violation(self, v: Violation) -> None:
        label, related = self.label(v.step), self.label(v.related)
        step = self.info.cp.steps[v.step]
        role = self.info.roles[step.actor]
        role_a = f"{article(role)} {role}"
        parent = self.label(self.info.cp.parent.get(v.step))
        example: tuple[str, dict[str, str]] | None = None
        if v.type == "missing_step":
            self.say("missing", label=label)
            example = ("example_missing", {"label": label, "text": _flat(step.text)})
        elif v.type in ("order", "prerequisite"):
            move = "order" if v.type == "order" else (
                "prerequisite_late" if v.related in self.first else "prerequisite_never")
            self.say(move, label=label, related=related)
            example = ("example_sequence", {"label": label, "related": related})
        elif v.type == "authority":
            self.say("authority", label=label, role=role, role_a=role_a,
                     actor_a=self.who(self._underpowered_actor(v.step)))
            example = ("example_authority", {"label": label, "role_a": role_a})
        elif v.type == "hierarchy":
            if v.related == self.info.cp.parent.get(v.step):
                move = "hierarchy_early" if v.related in self.first else "hierarchy_orphan"
                self.say(move, label=label, related=related)
            else:
                self.say("hierarchy_outside", label=label, related=related, parent=parent)
            example = ("example_hierarchy", {"label": label, "parent": parent})
        else:  # exception_ignored, forbidden_step
            self.say(v.type, label=label)
            example = ("example_exception", {"label": label})
        if self.rng.random() < _EXAMPLE_RATE:
            self.say(example[0], **example[1])

    def _underpowered_actor(self, sid: str) -> str | None:
        rank, need = self.info.cp.rank, self.info.cp.rank[self.info.cp.steps[sid].actor]
        for event in self.events:
            if event.step == sid and event.actor is not None and rank[event.actor] < need:
                return event.actor
        return None

    def _distractors(self) -> None:
        extra = [e for e in self.events if e.step is None]
        if not extra:
            return
        noun = "other action" if len(extra) == 1 else "other actions"
        details = [f'"{_flat(e.detail)}"' for e in extra if e.detail.strip()][:2]
        examples = f", such as {join_words(details)}" if details else ""
        self.say("distractors", count=f"{cardinal_word(len(extra))} {noun}", examples=examples)

    def _final(self) -> None:
        violations = self.result.violations
        if not violations:
            self.say("final_compliant", n=cardinal_word(len(self.result.required)))
            return
        problems = join_words([self._problem(v) for v in violations])
        noun = "problem" if len(violations) == 1 else "problems"
        self.say("final_noncompliant", count=f"{cardinal_word(len(violations))} {noun}",
                 problems=problems)

    def _problem(self, v: Violation) -> str:
        label, related = self.label(v.step), self.label(v.related)
        parent = self.label(self.info.cp.parent.get(v.step))
        if v.type == "authority":
            role = self.info.roles[self.info.cp.steps[v.step].actor]
            actor = self.who(self._underpowered_actor(v.step))
            return f"step {label} was done by {actor}, below {article(role)} {role} (an authority violation)"
        return {
            "missing_step": f"step {label} was never done (a missing step)",
            "order": f"step {label} came before step {related} (an order violation)",
            "prerequisite": f"step {label} went ahead before its prerequisite, step {related} "
            "(a prerequisite violation)",
            "hierarchy": f"step {label} happened outside its parent step {parent} "
            "(a hierarchy violation)",
            "exception_ignored": f"step {label} was done although the exception replaces it "
            "(the exception was ignored)",
            "forbidden_step": f"step {label} was done although the exception forbids it "
            "(a forbidden step)",
        }[v.type]


def _flat(text: str) -> str:
    """One line of text: a blank line inside a paragraph would split it into two steps."""
    return " ".join(text.split())


def _nth(n: int) -> str:
    return ordinal_word(n) if n < 100 else f"{n}th"


def _fact_words(procedure: Procedure, name: str) -> tuple[str, str]:
    """(statement when true, statement when false) for a bool variable; (subject, "")
    for the others, which are stated as "<subject> is <value>"."""
    var = procedure.context[name]
    if var.type != "bool":
        return subject_phrase(name, var), ""
    statement = predicate_phrase(name, var)
    negated = re.sub(r"\b(is|are|was|were)\b", r"\1 not", statement, count=1)
    return statement, negated if negated != statement else f"it is not the case that {statement}"


def phrasebook_for(procedure_id: str) -> Path:
    """The compact book for a compact-view procedure, else the default one."""
    from proclab.procedures.compact import parse_compact_id

    return COMPACT_PHRASES_PATH if parse_compact_id(procedure_id) else PHRASES_PATH


def write_trace(procedure: Procedure, record: Instance, rng: random.Random, *,
                phrases: Path | None = None) -> OracleTrace:
    """The oracle's trace for `record` (whose procedure is `procedure`), worded by `rng` from
    `phrases` (default: `phrasebook_for` the procedure)."""
    info = _info(procedure)
    events = list(record.trace)
    context = resolve_context(procedure, record.context)
    result = check(procedure, Trace.model_construct(events=events), context)
    book = load_phrases(phrases or phrasebook_for(procedure.id))
    return _Narrator(procedure, info, events, context, result, rng, book).write()


_INFOS: dict[int, tuple[Procedure, _ProcInfo]] = {}


def _info(procedure: Procedure) -> _ProcInfo:
    hit = _INFOS.get(id(procedure))
    if hit is None or hit[0] is not procedure:
        hit = (procedure, _proc_info(procedure))
        _INFOS[id(procedure)] = hit
    return hit[1]


class OracleTeacher:
    """The offline teacher: `write(record, sample_index)` is deterministic per (seed, record
    id, sample index). Procedures come from `procedures` or else the bundled corpus."""

    name = "oracle"

    def __init__(self, procedures: Iterable[Procedure] = (), *, seed: int = 0):
        self.seed = seed
        self._procedures = {p.id: p for p in procedures}

    def procedure(self, procedure_id: str) -> Procedure:
        hit = self._procedures.get(procedure_id)
        if hit is None:
            from proclab.procedures.corpus import get_procedure

            hit = self._procedures[procedure_id] = get_procedure(procedure_id)
        return hit

    def write(self, record: Instance, sample_index: int = 0) -> OracleTrace:
        rng = random.Random(f"{self.seed}:{record.id}:{sample_index}")
        return write_trace(self.procedure(record.procedure_id), record, rng)

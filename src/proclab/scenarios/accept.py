"""Acceptance of a rendered draft: the checker's verdict must match the intent, and the text
must round-trip.

The round trip reads the text back without the renderer's character offsets: it splits the
sentences, finds the one sentence that states each event (its phrase plus its actor's name and
no other person's), reads the clock time when every event sentence carries one (else the
sentence order), and requires the recovered order to be the trace's order. It also requires
every person to be introduced with their role, every context fact to be stated, and no word
that announces a verdict ("skipped", "violated", "compliant", ...).
"""

from __future__ import annotations

import re
from functools import lru_cache

from proclab.procedures.schema import Procedure
from proclab.procedures.styles.wording import role_name
from proclab.procedures.trace import NON_COMPLIANT, CheckResult, Context, Trace
from proclab.scenarios.narrative import EventSpan, Rendered
from proclab.scenarios.phrasing import format_value
from proclab.scenarios.types import Draft

_SPLIT = re.compile(r"(?<=[.!?])[\"”]?\s+(?=[A-Z0-9\"“])")
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_BANNED = re.compile(
    r"\b(skip\w*|violat\w*|non-?compliant|compliant|compliance|omit\w*|neglect\w*|"
    r"disregard\w*|ignor\w*|breach\w*)\b",
    re.IGNORECASE,
)
_BANNED_STEMS = ("skip", "violat", "compliant", "compliance", "omit", "neglect", "disregard",
                 "ignor", "breach")
_ANSWER = re.compile(r"\b(yes|no)\.$")
_CUE_WINDOW = 40  # a clock cue sits at the start of its sentence


def intent_problem(draft: Draft, result: CheckResult) -> str | None:
    """None when the checker agrees with the draft's intent: same verdict and, for a
    violation, at least one expected type and no type outside the allowed ones."""
    if result.verdict != draft.intended_label:
        found = ", ".join(sorted(result.violation_types())) or "none"
        return f"checker says {result.verdict} (violations: {found}), intended {draft.intended_label}"
    if result.verdict != NON_COMPLIANT:
        return None
    types = result.violation_types()
    expect, allow = set(draft.meta.get("expect", ())), set(draft.meta.get("allow", ()))
    if expect and not types & expect:
        return f"violations {sorted(types)} include none of {sorted(expect)}"
    if allow and not types <= allow:
        return f"violations {sorted(types - allow)} are outside {sorted(allow)}"
    return None


_OWN: dict[int, tuple[Procedure, frozenset[str]]] = {}


def _own_words(procedure: Procedure) -> frozenset[str]:
    """Verdict-like words the procedure itself uses (step texts, context descriptions and
    values): quoting them is not the narrator announcing a verdict."""
    hit = _OWN.get(id(procedure))
    if hit is not None and hit[0] is procedure:
        return hit[1]
    texts = [s.text for s in procedure.all_steps()] + [role_name(r) for r in procedure.roles]
    for var in procedure.context.values():
        texts += [var.description, *(v.replace("_", " ") for v in var.values or ())]
    words = frozenset(w.lower() for text in texts for w in _BANNED.findall(text))
    if len(_OWN) > 256:
        _OWN.clear()
    _OWN[id(procedure)] = (procedure, words)
    return words


def split_sentences(text: str) -> list[str]:
    return _SPLIT.split(text)


@lru_cache(maxsize=1024)
def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(name)}\b")


def roundtrip_problems(
    procedure: Procedure, trace: Trace, context: Context, rendered: Rendered
) -> list[str]:
    """What the text fails to convey about (trace, context); empty when it round-trips."""
    sentences = split_sentences(rendered.text)
    problems = _cast_problems(sentences, rendered) + _fact_problems(procedure, context, rendered)
    lowered = rendered.text.lower()
    if any(stem in lowered for stem in _BANNED_STEMS):  # cheap test before the regex
        said = {w.lower() for w in _BANNED.findall(rendered.text)}
        banned = sorted(said - _own_words(procedure))
    else:
        banned = []
    if banned:
        problems.append(f"the text uses verdict words: {', '.join(banned)}")
    spans = {span.index: span for span in rendered.events}
    missing = [i for i in range(len(trace.events)) if i not in spans]
    if missing:
        return [*problems, f"events {missing} have no sentence"]
    found: dict[int, int] = {}  # event index -> sentence index
    # Longest phrases first, so a phrase contained in a longer one cannot steal its sentence.
    for i in sorted(spans, key=lambda j: -len(spans[j].anchor)):
        ev = trace.events[i]
        name = rendered.names.get(ev.actor) if ev.actor else None
        where = _locate(sentences, spans[i], name, set(found.values()))
        if isinstance(where, str):
            problems.append(f"event {i} ({ev.step or 'distractor'}): {where}")
            continue
        said = sentences[where]
        others = [n for n in rendered.names.values()
                  if n != name and n in said and _word(n).search(said)]
        if others:
            problems.append(f"event {i} ({ev.step or 'distractor'}): its sentence also names {others}")
        found[i] = where
    if len(found) == len(trace.events):
        problems += _order_problems(sentences, found)
    return problems


def _locate(sentences: list[str], span: EventSpan, name: str | None, taken: set[int]) -> int | str:
    """The index of the one sentence stating the event, or why there is none."""
    hits = [
        k
        for k, s in enumerate(sentences)
        if k not in taken and span.anchor in s and (name is None or _word(name).search(s))
    ]
    if not hits:
        return "not stated (no sentence has its phrase and its actor)"
    if len(hits) > 1:
        return f"stated {len(hits)} times"
    return hits[0]


def _order_problems(sentences: list[str], found: dict[int, int]) -> list[str]:
    clocks: dict[int, int] = {}
    for i, k in found.items():
        match = _TIME.search(sentences[k][:_CUE_WINDOW])
        if match:
            clocks[i] = int(match.group(1)) * 60 + int(match.group(2))
    if len(clocks) == len(found):
        if len(set(clocks.values())) < len(clocks):
            return ["two events carry the same clock time"]
        key = clocks
    else:
        key = found  # chronological telling: sentence order is event order
    recovered = sorted(found, key=key.__getitem__)
    if recovered != sorted(found):
        return [f"events read back in the order {recovered}, not in trace order"]
    return []


def _cast_problems(sentences: list[str], rendered: Rendered) -> list[str]:
    out = []
    for role, full in rendered.cast.items():
        shown = _role_name(role)
        if not any(full in s and shown in s for s in sentences):
            out.append(f"{full} is never introduced as {shown}")
    firsts = list(rendered.names.values())
    if len(set(firsts)) != len(firsts):
        out.append("two people share a first name")
    return out


def _stated_true(fact: str) -> bool:
    """What a yes/no fact says: its final yes/no, else whether it lacks a "not"."""
    answer = _ANSWER.search(fact)
    return answer.group(1) == "yes" if answer else " not " not in fact


@lru_cache(maxsize=1024)
def _role_name(role: str) -> str:
    return role_name(role)


def _fact_problems(procedure: Procedure, context: Context, rendered: Rendered) -> list[str]:
    out = []
    for fact in rendered.facts:
        if fact not in rendered.text:
            out.append(f"context fact not stated: {fact!r}")
    for (name, var), fact in zip(procedure.context.items(), rendered.facts, strict=False):
        value = context.get(name, var.default)
        if var.type == "bool" and _stated_true(fact) != bool(value):
            out.append(f"context fact {fact!r} does not say {name}={value}")
        elif var.type != "bool" and format_value(var, value) not in fact:
            out.append(f"context value {name}={value} not in {fact!r}")
    if len(rendered.facts) != len(procedure.context):
        out.append(f"{len(procedure.context)} context variables, {len(rendered.facts)} facts")
    return out

"""Acceptance of a rendered draft: the checker's verdict must match the intent, and the text
must round-trip.

The round trip reads the text back without the renderer's character offsets: it splits the
sentences, finds the one sentence that states each event (its phrase plus its actor's name and
no other person's), reads the day changes ("The next working day", "Two working days later",
"back on the first day") and clock time from the cue before the actor's name, orders the
events by (day, clock) when every event sentence states a time (else by sentence order), and
requires the recovered order to be the trace's order and the days to be the timeline's. It
also requires every person to be introduced with their role, every context value to be stated
by its own authored sentence (and no other value's), and no word that announces a verdict
("skipped", "violated", "compliant", ...).
"""

from __future__ import annotations

import re
from functools import lru_cache

from proclab.procedures.schema import Procedure
from proclab.procedures.styles.wording import role_name
from proclab.procedures.trace import NON_COMPLIANT, CheckResult, Context, Trace
from proclab.scenarios.narrative import EventSpan, Rendered
from proclab.scenarios.phrasing import fact_sentence
from proclab.scenarios.timeline import read_day_shift
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
        entries = var.narration.values() if isinstance(var.narration, dict) else [var.narration]
        texts += [e.text for e in entries if e is not None]
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
        problems += _order_problems(sentences, found, trace, rendered)
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


def _order_problems(sentences: list[str], found: dict[int, int], trace: Trace,
                    rendered: Rendered) -> list[str]:
    """Read each event's day and clock from its cue (the words before its actor's name) in
    sentence order, and compare the order and days they give with the trace's."""
    day, days, clocks = 0, {}, {}
    for i, k in sorted(found.items(), key=lambda item: item[1]):
        actor = trace.events[i].actor
        name = rendered.names.get(actor) if actor else None
        match = _word(name).search(sentences[k]) if name else None
        cue = sentences[k][: match.start()] if match else sentences[k]
        shift = read_day_shift(cue)
        if shift is not None:
            day = day + shift[1] if shift[0] == "next" else shift[1]
        days[i] = day
        time = _TIME.search(cue)
        if time:
            clocks[i] = (day, int(time.group(1)) * 60 + int(time.group(2)))
    if len(clocks) == len(found):
        if len(set(clocks.values())) < len(clocks):
            return ["two events carry the same day and clock time"]
        key: dict[int, object] = clocks
    else:
        key = found  # chronological telling: sentence order is event order
    recovered = sorted(found, key=key.__getitem__)
    if recovered != sorted(found):
        return [f"events read back in the order {recovered}, not in trace order"]
    told = {span.index: span.day for span in rendered.events}
    wrong = sorted(i for i in found if days[i] != told.get(i))
    if wrong:
        return [f"events {wrong} read back on working days {[days[i] for i in wrong]}, "
                f"not {[told.get(i) for i in wrong]}"]
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


@lru_cache(maxsize=1024)
def _role_name(role: str) -> str:
    return role_name(role)


def _fact_problems(procedure: Procedure, context: Context, rendered: Rendered) -> list[str]:
    """Each value stated by its own sentence, and no other value's sentence in the text."""
    out = []
    for fact in rendered.facts:
        if fact not in rendered.text:
            out.append(f"context fact not stated: {fact!r}")
    if len(rendered.facts) != len(procedure.context):
        out.append(f"{len(procedure.context)} context variables, {len(rendered.facts)} facts")
    for (name, var), fact in zip(procedure.context.items(), rendered.facts, strict=False):
        value = context.get(name, var.default)
        if fact != fact_sentence(name, var, value):
            out.append(f"context fact {fact!r} is not the sentence for {name}={value!r}")
        if isinstance(var.narration, dict):
            others = [e.text for k, e in var.narration.items()
                      if e.text != fact and k != _key(value) and e.text in rendered.text]
            if others:
                out.append(f"the text also states another value of {name}: {others[0]!r}")
    return out


def _key(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)

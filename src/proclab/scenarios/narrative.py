"""Trace -> past-tense scenario: named people with roles, the context facts, one sentence per
event with a time cue, and neutral filler, in one of four modes.

Every event is told with one of its step's authored narration phrases (`phrasing.py`), every
fact with its value's authored sentence; step text appears only in quote templates, which only
the adversarial-noncompliant bundle uses. Times come from `timeline.py` (step timings, scenes).

Every choice is keyed (see `keyed.py`): a step's phrase and template by its step id, a cue by
its position. Rendering a counterfactual pair with the same seed therefore gives texts that
differ only where the traces differ. The alignment (`Rendered.events`) records each event's
sentence span, time cue and the phrase that states it, for the round-trip check.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Literal

from proclab.procedures.schema import Procedure
from proclab.procedures.styles.wording import join_words, role_name
from proclab.procedures.trace import Context, Trace
from proclab.scenarios.filler import asides, with_cue
from proclab.scenarios.keyed import Keyed
from proclab.scenarios.lexicon import load_lexicon
from proclab.scenarios.phrasing import fact_sentence, pick_phrase
from proclab.scenarios.plan import layout
from proclab.scenarios.telling import Teller
from proclab.scenarios.timeline import Timeline, part_of_day, plan_timeline, resolve_scene
from proclab.scenarios.types import RenderError

__all__ = ["MODES", "BASE_RATES", "FORCED", "RenderError", "Rendered", "EventSpan", "Style",
           "draw_style", "render_scenario"]

Mode = Literal["plain", "paraphrase", "adversarial_compliant", "adversarial_noncompliant"]
MODES: tuple[str, ...] = ("plain", "paraphrase", "adversarial_compliant", "adversarial_noncompliant")

# How often each surface feature appears when a mode does not force it. Quoting the procedure
# comes only with the adversarial-noncompliant bundle (forced, or balanced onto COMPLIANT).
BASE_RATES: dict[str, float] = {
    "paraphrase": 0.15,
    "verbatim": 0.0,
    "reassure": 0.2,
    "mishap": 0.3,
    "clock": 0.3,
}
FORCED: dict[str, frozenset[str]] = {
    "plain": frozenset(),
    "paraphrase": frozenset({"paraphrase"}),
    # Sounds wrong: failure words about irrelevant things, told out of order with clock times.
    "adversarial_compliant": frozenset({"mishap", "clock", "shuffle"}),
    # Sounds perfect: reassurance and the procedure's own words (also told out of order, so
    # that out-of-order telling says nothing about the label).
    "adversarial_noncompliant": frozenset({"reassure", "verbatim", "clock", "shuffle"}),
}


@dataclass(frozen=True)
class Style:
    """Which surface features a rendering uses."""

    paraphrase: bool = False  # non-first authored phrasings, voice and clause-order templates
    verbatim: bool = False  # some steps also quoted in the procedure's own words
    reassure: bool = False  # "per protocol" prefixes and a confident remark
    mishap: bool = False  # failure-sounding sentences about irrelevant things
    clock: bool = False  # clock times as the time cues
    shuffle: bool = False  # told out of order; the clock times keep the true order explicit

    def flags(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name)]


def draw_style(mode: str, rng: random.Random, *, boost: Mapping[str, float] | None = None) -> Style:
    """The style of one rendering: base rates, then `boost` (mode -> chance of also taking on
    everything that mode forces; used to balance surface features across labels), then what
    `mode` itself forces. Boosts add whole bundles, not single features, so that features a
    mode forces together (quotes with reassurance with clock times) also co-occur equally
    often with either label; and at most one bundle, because the modes that force them are
    different perturbation types, so no rendering of the other label carries two of them
    either (two independent boosts made paraphrase-with-clock-times a label cue)."""
    unknown = sorted({mode, *(boost or {})} - set(FORCED))
    if unknown:
        raise RenderError(f"unknown rendering mode(s) {unknown}", fix=f"use one of: {', '.join(MODES)}")
    # A mix that needs more than one bundle per rendering cannot be balanced fully: scale.
    scale = max(1.0, sum((boost or {}).values()))
    on = {name: rng.random() < p for name, p in BASE_RATES.items()}
    on["shuffle"] = False
    draw, total = rng.random(), 0.0
    for bundle, p in sorted((boost or {}).items()):
        total += p / scale
        if draw < total:
            on.update(dict.fromkeys(FORCED[bundle], True))
            break
    on.update(dict.fromkeys(FORCED[mode], True))
    on["clock"] = on["clock"] or on["shuffle"]
    return Style(**on)


@dataclass(frozen=True)
class EventSpan:
    """Where one event is told: its sentence's [start, end) in the text, the cue, the phrase."""

    index: int  # the event's position in the trace
    start: int
    end: int
    time_cue: str
    clock: int | None  # minutes after midnight when the cue states a time, else None
    day: int  # working days after the first event's day
    anchor: str  # the phrase that states the event
    template: str


@dataclass(frozen=True)
class Rendered:
    text: str
    events: list[EventSpan]  # in narrative order
    names: dict[str, str]  # role -> first name used in event sentences
    cast: dict[str, str]  # role -> full name given in the introduction
    facts: list[str]
    style: Style
    template_ids: list[str]

    def span_of(self, index: int) -> EventSpan:
        """The alignment of trace event `index`."""
        return next(s for s in self.events if s.index == index)


@lru_cache(maxsize=1024)
def _role_name(role: str) -> str:
    return role_name(role)


def _cast(procedure: Procedure, keyed: Keyed) -> tuple[dict[str, str], dict[str, str], str]:
    names = load_lexicon().names
    roles = procedure.roles
    firsts = keyed.sample("first", names.first, len(roles))
    lasts = keyed.sample("last", names.surname, len(roles))
    if len(firsts) < len(roles):
        raise RenderError(f"procedure {procedure.id} has more roles than the name list has names")
    first = {r: firsts[i] for i, r in enumerate(roles)}
    full = {r: f"{first[r]} {lasts[i % len(lasts)]}" for i, r in enumerate(roles)}
    lex = load_lexicon().templates
    form = keyed.pick("cast_form", lex.cast_forms)
    people = join_words([form.format(full=full[r], role=_role_name(r)) for r in roles])
    intro = keyed.pick("cast_intro", lex.cast_intros).format(people=people)
    return first, full, intro


def _timeline(procedure: Procedure, trace: Trace, context: Context, keyed: Keyed,
              style: Style) -> Timeline:
    steps = layout(procedure).cp.steps
    keys, timings, seen = [], [], set()
    for i, ev in enumerate(trace.events):
        key = ev.step if ev.step is not None and ev.step not in seen else f"event{i}"
        seen.add(key)
        keys.append(key)
        timings.append(steps[ev.step].timing if ev.step in steps else None)
    window = resolve_scene(procedure, context)
    return plan_timeline(keys, timings, window, keyed, shuffle=style.shuffle)


def render_scenario(
    procedure: Procedure,
    trace: Trace,
    context: Context,
    rng: random.Random,
    *,
    mode: str = "plain",
    style: Style | None = None,
    pad_chars: int = 0,
    filler: bool = True,
) -> Rendered:
    """Tell `trace` as a past-tense scenario. `style` overrides the one `mode` would draw;
    `pad_chars`: how much shorter the trace is than its reference (a dropped step); partly
    made up with filler (see filler.py); `filler=False` leaves neutral filler out altogether."""
    keyed = Keyed(rng.getrandbits(64))
    style = style or draw_style(mode, rng)
    unknown = sorted({e.actor for e in trace.events if e.actor and e.actor not in procedure.roles})
    if unknown:
        raise RenderError(f"events name roles {unknown} that procedure {procedure.id} lacks")
    first, full, intro = _cast(procedure, keyed)
    n = len(trace.events)
    timeline = _timeline(procedure, trace, context, keyed, style)
    steps = layout(procedure).cp.steps
    told = list(dict.fromkeys(ev.step for ev in trace.events if ev.step in steps))
    quoted = min(told, key=lambda s: keyed.bits(f"vbrank:{s}")) if told else None
    phrases = {s: pick_phrase(steps[s], procedure.id, keyed, paraphrase=style.paraphrase)
               for s in told}
    teller = Teller(procedure, keyed, style, first, timeline, phrases, quoted)
    facts = [
        fact_sentence(name, var, context.get(name, var.default))
        for name, var in procedure.context.items()
    ]
    order = timeline.order
    told = [teller.sentence(pos, order[pos], trace.events[order[pos]]) for pos in range(n)]
    extras = asides(procedure, keyed, mishap=style.mishap, reassure=style.reassure,
                    names=list(first.values()), pad=pad_chars, filler=filler)
    slot_of = [keyed.randint(f"slot{j}", 0, n) for j in range(len(extras))]
    sentences: list[tuple[str, EventSpan | None]] = [
        (_opening(procedure, keyed, timeline), None),
        (intro, None),
        *((f, None) for f in facts),
    ]
    for pos in range(n + 1):
        for j in (j for j in range(len(extras)) if slot_of[j] == pos):
            cued = pos > 0 and not style.clock
            text = with_cue(extras[j], keyed, f"fcue{j}") if cued else extras[j].text
            sentences.append((text, None))
        if pos < n:
            i, got = order[pos], told[pos]
            minute = timeline.minutes[i] if got.timed else None
            span = EventSpan(i, 0, 0, got.cue, minute, timeline.days[i], got.anchor, got.template)
            sentences.append((got.text, span))
    return _assemble(sentences, first, full, facts, style)


def _opening(procedure: Procedure, keyed: Keyed, timeline: Timeline) -> str:
    """Names the first event's weekday and part of day (so it agrees with the scene)."""
    lex = load_lexicon().templates
    start = timeline.minutes[0] if timeline.minutes else 9 * 60
    place = keyed.pick("place", load_lexicon().scenery[procedure.domain].places)
    return keyed.pick("opening", lex.openings).format(
        day=timeline.weekday(0), part=part_of_day(start), place=place
    )


def _assemble(
    sentences: list[tuple[str, EventSpan | None]],
    first: dict[str, str],
    full: dict[str, str],
    facts: list[str],
    style: Style,
) -> Rendered:
    parts: list[str] = []
    spans: list[EventSpan] = []
    offset = 0
    for text, span in sentences:
        if span is not None:
            spans.append(EventSpan(span.index, offset, offset + len(text), span.time_cue,
                                   span.clock, span.day, span.anchor, span.template))
        parts.append(text)
        offset += len(text) + 1
    return Rendered(
        text=" ".join(parts),
        events=spans,
        names=first,
        cast=full,
        facts=facts,
        style=style,
        template_ids=[s.template for s in spans],
    )

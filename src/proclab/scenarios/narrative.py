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
from proclab.procedures.trace import Context, Event, Trace
from proclab.scenarios.filler import asides, with_cue
from proclab.scenarios.keyed import Keyed
from proclab.scenarios.lexicon import load_lexicon
from proclab.scenarios.phrasing import fact_sentence, pick_phrase, quote_text
from proclab.scenarios.plan import layout
from proclab.scenarios.timeline import (
    Timeline,
    clock,
    number_word,
    part_of_day,
    plan_timeline,
    resolve_scene,
)
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
BARE_SHARE = 0.6  # sentences told with a kind's first template, the bare "{name} {p}"
QUOTE_SHARE = 0.35  # steps quoted in a verbatim rendering (at least one)
VOICE_SHARE = 0.5  # paraphrase: sentences told with a voice / clause-order template
MID_CUE_SHARE = 0.3  # paraphrase: sequence cue moved after the name ("Dana then ...")


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
    often with either label."""
    unknown = sorted({mode, *(boost or {})} - set(FORCED))
    if unknown:
        raise RenderError(f"unknown rendering mode(s) {unknown}", fix=f"use one of: {', '.join(MODES)}")
    on = {name: rng.random() < p for name, p in BASE_RATES.items()}
    on["shuffle"] = False
    for bundle, p in sorted((boost or {}).items()):
        if rng.random() < p:
            on.update(dict.fromkeys(FORCED[bundle], True))
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


@dataclass
class _Teller:
    """The state of one rendering."""

    procedure: Procedure
    keyed: Keyed
    style: Style
    names: dict[str, str]
    timeline: Timeline
    quoted: str | None  # the step every verbatim rendering quotes (others by chance)

    def sentence(self, pos: int, i: int, ev: Event) -> tuple[str, EventSpan]:
        """The sentence telling event `i` at narrative position `pos`, and its alignment.
        Cues and prefixes are keyed by position, so a pair's swap leaves them in place."""
        cue, timed = self.cue(pos, i)
        body, anchor, tid = self.body(ev)
        name = self.names.get(ev.actor or "", "\0")
        if (self.style.paraphrase and not timed and pos and tid.endswith(".plain")
                and self.keyed.chance(f"mid{pos}", MID_CUE_SHARE)):
            mid = self.keyed.pick(f"midcue{pos}", load_lexicon().templates.mid_cues)
            body, cue, tid = body.replace(name, f"{name} {mid}", 1), "", tid + "+mid"
        prefix = ""
        if self.style.reassure:
            forced = self.keyed.randint("rs_force", 0, max(len(self.timeline.minutes) - 1, 0))
            if pos == forced or self.keyed.chance(f"rs{pos}", 0.35):
                prefix = self.keyed.pick(f"rp{pos}", load_lexicon().cues.reassure)
        minute = self.timeline.minutes[i] if timed else None
        span = EventSpan(i, 0, 0, cue, minute, self.timeline.days[i], anchor, tid)
        return _compose(cue, prefix, body, name), span

    def cue(self, pos: int, i: int) -> tuple[str, bool]:
        """The time cue of event `i` told at `pos`, and whether it states a clock time."""
        lex = load_lexicon().templates
        tl = self.timeline
        prev_day = tl.days[tl.order[pos - 1]] if pos else 0
        day, key = tl.days[i], f"cue{pos}"
        t = clock(tl.minutes[i])
        if tl.rotation and i == 0 and pos:  # the flashback to the first event
            pool = lex.day_cues.flashback if day != prev_day else lex.flashback_cues
            return self.keyed.pick(key, pool).format(t=t), True
        if day > prev_day:
            gap = day - prev_day
            pool = lex.day_cues.next if gap == 1 else lex.day_cues.later
            text = self.keyed.pick(key, pool).format(t=t, weekday=tl.weekday(day),
                                                     n=number_word(gap))
            return text, True
        if self.style.clock:
            return self.keyed.pick(key, lex.clock_cues).format(t=t), True
        return self.keyed.pick(key, lex.first_cues if pos == 0 else lex.next_cues), False

    def body(self, ev: Event) -> tuple[str, str, str]:
        """(clause, anchor, template id) for one event, without cue or final period."""
        lex = load_lexicon().templates
        name = self.names.get(ev.actor or "", "someone on the team")
        if ev.step is None:
            tpl = self.keyed.pick(f"dt:{ev.detail}", lex.distractor)
            return tpl.text.format(name=name, p=ev.detail), ev.detail, tpl.id
        step = layout(self.procedure).cp.steps.get(ev.step)
        if step is None:
            raise RenderError(f"event names unknown step {ev.step!r}", where=self.procedure.id)
        sid = step.id
        phrase = pick_phrase(step, self.procedure.id, self.keyed, paraphrase=self.style.paraphrase)
        if self.style.verbatim and (sid == self.quoted or self.keyed.chance(f"vb:{sid}", QUOTE_SHARE)):
            tpl = self.keyed.pick(f"qt:{sid}", lex.quote)
            return tpl.text.format(name=name, p=phrase, q=quote_text(step.text)), phrase, tpl.id
        if self.style.paraphrase and self.keyed.chance(f"pv:{sid}", VOICE_SHARE):
            tpl = self.keyed.pick(f"tp:{sid}", lex.paraphrase)
        elif self.keyed.chance(f"tb:{sid}", BARE_SHARE):
            tpl = lex.step[step.kind][0]
        else:
            tpl = self.keyed.pick(f"tp:{sid}", lex.step[step.kind][1:])
        return tpl.text.format(name=name, p=phrase), phrase, tpl.id


def _compose(cue: str, prefix: str, body: str, name: str) -> str:
    parts = []
    if cue:
        parts.append(cue if cue.endswith(",") or not prefix else cue + ",")
    if prefix:
        parts.append(prefix + ",")
    if parts and not body.startswith(name):
        body = body[:1].lower() + body[1:]  # "Then, it was Dana who ..."
    text = " ".join([*parts, body])
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


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
) -> Rendered:
    """Tell `trace` as a past-tense scenario. `style` overrides the one `mode` would draw;
    `pad_chars` adds filler worth that many characters (to match a reference length)."""
    keyed = Keyed(rng.getrandbits(64))
    style = style or draw_style(mode, rng)
    unknown = sorted({e.actor for e in trace.events if e.actor and e.actor not in procedure.roles})
    if unknown:
        raise RenderError(f"events name roles {unknown} that procedure {procedure.id} lacks")
    first, full, intro = _cast(procedure, keyed)
    n = len(trace.events)
    timeline = _timeline(procedure, trace, context, keyed, style)
    told = [ev.step for ev in trace.events if ev.step is not None]
    quoted = min(told, key=lambda s: keyed.bits(f"vbrank:{s}")) if told else None
    teller = _Teller(procedure, keyed, style, first, timeline, quoted)
    facts = [
        fact_sentence(name, var, context.get(name, var.default))
        for name, var in procedure.context.items()
    ]
    extras = asides(procedure, keyed, mishap=style.mishap, reassure=style.reassure,
                    names=list(first.values()), pad=pad_chars)
    slot_of = [keyed.randint(f"slot{j}", 0, n) for j in range(len(extras))]
    sentences: list[tuple[str, EventSpan | None]] = [
        (_opening(procedure, keyed, timeline), None),
        (intro, None),
        *((f, None) for f in facts),
    ]
    order = timeline.order
    for pos in range(n + 1):
        for j in (j for j in range(len(extras)) if slot_of[j] == pos):
            cued = pos > 0 and not style.clock
            text = with_cue(extras[j], keyed, f"fcue{j}") if cued else extras[j].text
            sentences.append((text, None))
        if pos < n:
            sentences.append(teller.sentence(pos, order[pos], trace.events[order[pos]]))
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

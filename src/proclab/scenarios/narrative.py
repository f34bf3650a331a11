"""Trace -> past-tense scenario: named people with roles, the context facts, one sentence per
event with a time cue, and neutral filler, in one of four modes.

Every choice is keyed (see `keyed.py`): a step's template by its step id, a cue by its
position. Rendering a counterfactual pair with the same seed therefore gives texts that differ
only where the traces differ. The alignment (`Rendered.events`) records each event's sentence
span, time cue and the phrase that states it, for the round-trip check.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Literal

from proclab.errors import ProclabError
from proclab.procedures.schema import Procedure
from proclab.procedures.styles.wording import join_words, role_name
from proclab.procedures.trace import Context, Event, Trace
from proclab.scenarios.keyed import Keyed
from proclab.scenarios.lexicon import Template, load_lexicon
from proclab.scenarios.phrasing import fact_sentence, paraphrase, phrase_for, to_past
from proclab.scenarios.plan import layout

Mode = Literal["plain", "paraphrase", "adversarial_compliant", "adversarial_noncompliant"]
MODES: tuple[str, ...] = ("plain", "paraphrase", "adversarial_compliant", "adversarial_noncompliant")

# How often each surface feature appears when a mode does not force it.
BASE_RATES: dict[str, float] = {
    "paraphrase": 0.15,
    "verbatim": 0.15,
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
# Neutral filler sentences in every scenario (uniform count), before length padding.
_FILLERS = (0, 7)
# Share of a length deficit (a dropped step) made up with extra filler. Padding fully hides the
# deficit from a length classifier but makes the filler count a label cue for a bag-of-words
# one; no padding does the reverse. Measured with the dataset build's own probes (default
# config, held-out splits, worst split): 1-3 base fillers + full padding gave bag-of-words
# 0.64 / length 0.50; 0-5 + half 0.59 / 0.56; 0-7 + three quarters 0.60 / 0.53.
PAD_SHARE = 0.75


class RenderError(ProclabError):
    """A trace cannot be told (unknown step or role)."""


@dataclass(frozen=True)
class Style:
    """Which surface features a rendering uses."""

    paraphrase: bool = False  # lexicon re-wording and voice/clause-order templates
    verbatim: bool = False  # about half the steps quoted in the procedure's own words
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
    clock: int | None  # minutes after midnight (clock style), else None
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
    timeline: tuple[list[int], int]  # clock time per event, rotation of the telling

    @property
    def times(self) -> list[int]:
        return self.timeline[0]

    @property
    def order(self) -> list[int]:
        """Event indices in the order they are told."""
        n, rot = len(self.times), self.timeline[1]
        return [*range(rot, n), *range(rot)]

    def sentence(self, pos: int, i: int, ev: Event) -> tuple[str, EventSpan]:
        """The sentence telling event `i` at narrative position `pos`, and its alignment.
        Cues and prefixes are keyed by position, so a pair's swap leaves them in place."""
        lex = load_lexicon().templates
        if self.style.clock:
            pool = lex.flashback_cues if self.timeline[1] and i == 0 else lex.clock_cues
            cue = self.keyed.pick(f"cue{pos}", pool).format(t=_clock(self.times[i]))
        else:
            cue = self.keyed.pick(f"cue{pos}", lex.first_cues if pos == 0 else lex.next_cues)
        body, anchor, tid = self.body(ev)
        prefix = ""
        if self.style.reassure:
            forced = self.keyed.randint("rs_force", 0, max(len(self.times) - 1, 0))
            if pos == forced or self.keyed.chance(f"rs{pos}", 0.35):
                prefix = self.keyed.pick(f"rp{pos}", load_lexicon().cues.reassure)
        name = self.names.get(ev.actor or "", "\0")
        clock = self.times[i] if self.style.clock else None
        return _compose(cue, prefix, body, name), EventSpan(i, 0, 0, cue, clock, anchor, tid)

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
        phrase = phrase_for(step.text)
        sid = step.id
        if self.style.verbatim and phrase.imperative and self.keyed.chance(f"vb:{sid}", 0.5):
            tpl = self.keyed.pick(f"qt:{sid}", lex.quote)
            return tpl.text.format(name=name, q=phrase.quote), phrase.quote, tpl.id
        base, past = phrase.base, phrase.past
        if self.style.paraphrase and phrase.imperative:
            base = paraphrase(base, self.keyed, sid)
            past = to_past(base)
        pool = self._pool(step.kind, phrase.imperative, sid)
        usable = [t for t in pool if t.form != "past" or past is not None]
        tpl = self.keyed.pick(f"tp:{sid}", usable)
        text = past if tpl.form == "past" and past is not None else base
        return tpl.text.format(name=name, p=text), text, tpl.id

    def _pool(self, kind: str, imperative: bool, sid: str) -> Sequence[Template]:
        lex = load_lexicon().templates
        if not imperative:
            return lex.step["internal"] if kind == "internal" else lex.statement
        if self.style.paraphrase and self.keyed.chance(f"pv:{sid}", 0.5):
            return lex.paraphrase
        return lex.step["action" if kind == "internal" else kind]


def _clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


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


def _extras(procedure: Procedure, keyed: Keyed, style: Style, names: list[str], pad: int) -> list[str]:
    """Filler, mishap and remark sentences, in the order they will be placed."""
    lex = load_lexicon()
    fillers = lex.fillers_for(procedure.domain)
    mean = sum(map(len, fillers)) / len(fillers)
    count = keyed.randint("nfill", *_FILLERS)
    # Pad towards the length of the reference trace: a dropped step must not shorten the story.
    count += max(0, round(PAD_SHARE * pad / (mean + 1)))
    out = keyed.sample("fill", fillers, count)
    if style.mishap:
        cues = keyed.sample("mishap", lex.cues.mishaps + lex.cues.hedges, 2)
        for j in range(1 + keyed.chance("mishap2", 0.4)):
            out.append(cues[j].format(name=keyed.pick(f"mishap_name{j}", names)))
    if style.reassure and keyed.chance("remark", 0.5):
        out.append(keyed.pick("remark_text", lex.cues.remarks).format(
            name=keyed.pick("remark_name", names)))
    return out


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
    teller = _Teller(procedure, keyed, style, first, _timeline(keyed, n, style))
    facts = [
        fact_sentence(name, var, context.get(name, var.default), keyed)
        for name, var in procedure.context.items()
    ]
    extras = _extras(procedure, keyed, style, list(first.values()), pad_chars)
    slot_of = [keyed.randint(f"slot{j}", 0, n) for j in range(len(extras))]
    sentences: list[tuple[str, EventSpan | None]] = [
        (_opening(procedure, keyed, style), None),
        (intro, None),
        *((f, None) for f in facts),
    ]
    order = teller.order
    for pos in range(n + 1):
        sentences += [(extras[j], None) for j in range(len(extras)) if slot_of[j] == pos]
        if pos < n:
            sentences.append(teller.sentence(pos, order[pos], trace.events[order[pos]]))
    return _assemble(sentences, first, full, facts, style)


def _timeline(keyed: Keyed, n: int, style: Style) -> tuple[list[int], int]:
    """Clock times of the n events (true order, 3-14 minutes apart) and the rotation of an
    out-of-order telling (0: told in order)."""
    times = [keyed.randint("t0", 7 * 12, 15 * 12) * 5] if n else []
    for i in range(1, n):
        times.append(times[-1] + keyed.randint(f"dt{i}", 3, 14))
    rot = keyed.randint("rot", 1, n - 1) if style.shuffle and n >= 2 else 0
    return times, rot


def _opening(procedure: Procedure, keyed: Keyed, style: Style) -> str:
    lex = load_lexicon().templates
    start = keyed.randint("t0", 7 * 12, 15 * 12) * 5  # the first event's clock time
    parts = ["morning", "afternoon", "evening"]
    # With clock times the part of day must agree with them; otherwise any part will do.
    part = parts[(start >= 720) + (start >= 1020)] if style.clock else keyed.pick("part", parts)
    place = keyed.pick("place", load_lexicon().scenery[procedure.domain].places)
    return keyed.pick("opening", lex.openings).format(
        day=keyed.pick("day", lex.days), part=part, place=place
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
                                   span.clock, span.anchor, span.template))
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

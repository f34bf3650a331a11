"""One event sentence: time cue, optional reassuring prefix, template and authored phrase
(or, in verbatim renderings, a quote of the step in its place)."""

from __future__ import annotations

from dataclasses import dataclass

from proclab.procedures.schema import Procedure
from proclab.procedures.trace import Event
from proclab.scenarios.keyed import Keyed
from proclab.scenarios.lexicon import load_lexicon
from proclab.scenarios.phrasing import quote_text
from proclab.scenarios.plan import layout
from proclab.scenarios.timeline import Timeline, clock, number_word
from proclab.scenarios.types import RenderError

CUE_SHARE = 0.65  # event sentences (and filler moments) that open with a sequence cue
BARE_SHARE = 0.6  # sentences told with a kind's first template, the bare "{name} {p}"
QUOTE_SHARE = 0.35  # steps quoted in a verbatim rendering (at least one)
VOICE_SHARE = 0.5  # paraphrase: sentences told with a voice / clause-order template
MID_CUE_SHARE = 0.3  # paraphrase: sequence cue moved after the name ("Dana then ...")
REASSURE_SHARE = 0.35  # reassured renderings: sentences with a "per protocol" prefix


@dataclass(frozen=True)
class Told:
    """One event sentence without its place in the text: text, cue, whether the cue states a
    clock time, the phrase that states the event, and the template id."""

    text: str
    cue: str
    timed: bool
    anchor: str
    template: str


@dataclass
class Teller:
    """The state of one rendering's event sentences."""

    procedure: Procedure
    keyed: Keyed
    style: object  # narrative.Style (its flags are read by name)
    names: dict[str, str]
    timeline: Timeline
    phrases: dict[str, str]  # step id -> the authored phrasing that tells it
    quoted: str | None  # the step every verbatim rendering quotes (others by chance)

    def chance(self, key: str, p: float) -> bool:
        return self.keyed.chance(key, p)

    def sentence(self, pos: int, i: int, ev: Event) -> Told:
        """The sentence telling event `i` at narrative position `pos`. Cues and prefixes are
        keyed by position, so a pair's swap leaves them in place."""
        cue, timed = self.cue(pos, i, ev.step or ev.detail or "")
        body, anchor, tid = self.body(ev)
        name = self.names.get(ev.actor or "", "\0")
        if (self.style.paraphrase and cue and not timed and pos and tid.endswith(".plain")
                and self.keyed.chance(f"mid{pos}", MID_CUE_SHARE)):
            mid = self.keyed.pick(f"midcue{pos}", load_lexicon().templates.mid_cues)
            body, cue, tid = body.replace(name, f"{name} {mid}", 1), "", tid + "+mid"
        prefix = ""
        if self.style.reassure:
            forced = self.keyed.randint("rs_force", 0, max(len(self.timeline.minutes) - 1, 0))
            if pos == forced or self.chance(f"rs{pos}", REASSURE_SHARE):
                prefix = self.keyed.pick(f"rp{pos}", load_lexicon().cues.reassure)
        return Told(compose(cue, prefix, body, name), cue, timed, anchor, tid)

    def cue(self, pos: int, i: int, sid: str) -> tuple[str, bool]:
        """The time cue of event `i` (step `sid`) told at `pos`, and whether it states a clock
        time. A day change belongs to its step (keyed by `sid`) and keeps the position's
        sequence cue, so a pair's swap moves it without adding or dropping a word."""
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
            text = self.keyed.pick(f"day:{sid}", pool).format(t=t, weekday=tl.weekday(day),
                                                              n=number_word(gap))
            seq = self._sequence_cue(pos, key)
            return (f"{seq} {text[:1].lower()}{text[1:]}" if seq else text), True
        if self.style.clock:
            return self.keyed.pick(key, lex.clock_cues).format(t=t), True
        return self._sequence_cue(pos, key), False

    def _sequence_cue(self, pos: int, key: str) -> str:
        """"Then,"-style cue of position `pos` ("" for a sentence told without one)."""
        if not self.chance(f"cued{pos}", CUE_SHARE):
            return ""
        lex = load_lexicon().templates
        return self.keyed.pick(key, lex.first_cues if pos == 0 else lex.next_cues)

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
        phrase = self.phrases[sid]
        if self.style.verbatim and (sid == self.quoted or self.chance(f"vb:{sid}", QUOTE_SHARE)):
            # The quote stands in for the phrase, so a quoted step is told at the same length.
            tpl, quote = self.keyed.pick(f"qt:{sid}", lex.quote), quote_text(step.text)
            return tpl.text.format(name=name, q=quote), quote, tpl.id
        if self.style.paraphrase and self.chance(f"pv:{sid}", VOICE_SHARE):
            tpl = self.keyed.pick(f"tp:{sid}", lex.paraphrase)
        elif not self.chance(f"tb:{sid}", 1 - BARE_SHARE):
            tpl = lex.step[step.kind][0]
        else:
            tpl = self.keyed.pick(f"tp:{sid}", lex.step[step.kind][1:])
        return tpl.text.format(name=name, p=phrase), phrase, tpl.id


def compose(cue: str, prefix: str, body: str, name: str) -> str:
    """Cue, prefix and body as one sentence with a capital and a final period."""
    parts = []
    if cue:
        parts.append(cue if cue.endswith(",") or not prefix else cue + ",")
    if prefix:
        parts.append(prefix + ",")
    if parts and not body.startswith(name):
        body = body[:1].lower() + body[1:]  # "Then, it was Dana who ..."
    text = " ".join([*parts, body])
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")

"""The sentences of a scenario that tell no event: neutral filler, and the named asides the
adversarial bundles add (failure-sounding mishaps and hedges, confident remarks).

Filler names nobody and tells no act; it pads a scenario towards its reference length so a
dropped step does not shorten the story. Outside clock renderings a filler moment (something
that happened, not how things were) after the first event opens with a sequence cue as often as
an event sentence does ("Later, rain ran down the windows."), so cue words count sentences, not
only events: with one event fewer and one filler line more, the share of cue words, which a
bag-of-words probe would otherwise read as a label cue, changes less. Mishaps, hedges and remarks do name people (what they say is
about them) and are label-neutral by balance, not by content (see `generate.py`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from proclab.procedures.schema import Procedure
from proclab.scenarios.keyed import Keyed
from proclab.scenarios.lexicon import load_lexicon
from proclab.scenarios.telling import CUE_SHARE

# Neutral filler sentences in every scenario (uniform count), before length padding.
FILLERS = (0, 14)
# Share of a length deficit (a dropped step) made up with extra filler. Padding fully hides the
# deficit from a length classifier but makes the filler count a label cue for a bag-of-words
# one; no padding does the reverse (measured with the dataset build's probes: docs in README).
PAD_SHARE = 0.2


@dataclass(frozen=True)
class Aside:
    """One non-event sentence and whether it may open with a sequence cue (a filler moment)."""

    text: str
    cueable: bool


def asides(procedure: Procedure, keyed: Keyed, *, mishap: bool, reassure: bool,
           names: list[str], pad: int, filler: bool = True) -> list[Aside]:
    """Filler (a random base count plus PAD_SHARE of `pad`, how much shorter the trace is
    than its reference; none when not `filler`), then the mishaps and remarks the style asks
    for."""
    lex = load_lexicon()
    pool = lex.fillers_for(procedure.domain)
    mean = sum(len(line) for line, _ in pool) / len(pool) + 1
    lines = PAD_SHARE * pad / mean  # rounded at random, so that small pads keep their mean
    whole = math.floor(lines) + (keyed.uniform("nfill_frac") < lines - math.floor(lines))
    count = max(0, keyed.randint("nfill", *FILLERS) + whole)
    out = [Aside(line, moment) for line, moment in keyed.sample("fill", pool, count)] if filler else []
    if mishap:
        cues = keyed.sample("mishap", lex.cues.mishaps + lex.cues.hedges, 2)
        for j in range(1 + keyed.chance("mishap2", 0.4)):
            out.append(Aside(cues[j].format(name=keyed.pick(f"mishap_name{j}", names)), False))
    if reassure and keyed.chance("remark", 0.5):
        line = keyed.pick("remark_text", lex.cues.remarks)
        out.append(Aside(line.format(name=keyed.pick("remark_name", names)), False))
    return out


def with_cue(aside: Aside, keyed: Keyed, key: str) -> str:
    """A filler moment opened by a sequence cue drawn as an event sentence's would be."""
    if not aside.cueable or not keyed.chance(key + ":cued", CUE_SHARE):
        return aside.text
    cue = keyed.pick(key, load_lexicon().templates.next_cues)
    return f"{cue} {aside.text[:1].lower()}{aside.text[1:]}"


@cache
def _filler_index(domain: str) -> tuple[frozenset[str], tuple[str, ...]]:
    lex = load_lexicon()
    lines = frozenset(line for line, _ in lex.fillers_for(domain))
    cues = tuple(sorted((c + " " for c in lex.templates.next_cues if c), key=len, reverse=True))
    return lines, cues


def filler_lines(sentences: Iterable[str], domain: str) -> set[str]:
    """The filler lines (as written in the lexicon) among a scenario's sentences, whether or
    not they were opened with a sequence cue."""
    lines, cues = _filler_index(domain)
    found = set()
    for sentence in sentences:
        if sentence in lines:
            found.add(sentence)
            continue
        cue = next((c for c in cues if sentence.startswith(c)), None)
        if cue is not None:
            rest = sentence[len(cue):]
            rest = rest[:1].upper() + rest[1:]
            if rest in lines:
                found.add(rest)
    return found

from __future__ import annotations

import random
import re

import pytest

from proclab.procedures.narration import shared_run
from proclab.procedures.schema import Procedure
from proclab.procedures.styles.wording import role_name
from proclab.procedures.trace import Event, Trace
from proclab.scenarios.accept import split_sentences
from proclab.scenarios.filler import PAD_SHARE
from proclab.scenarios.lexicon import load_lexicon
from proclab.scenarios.narrative import MODES, RenderError, Style, draw_style, render_scenario
from proclab.scenarios.perturbations import PERTURBATIONS
from proclab.scenarios.timeline import part_of_day


def _draft(proc: Procedure, seed: int = 0):
    return PERTURBATIONS["baseline_compliant"](proc, random.Random(seed))


def _edited(proc: Procedure, edit) -> Procedure:
    data = proc.model_dump()
    edit(data)
    return Procedure.model_validate(data)


@pytest.mark.parametrize("mode", MODES)
def test_same_seed_same_text(spill: Procedure, mode: str) -> None:
    d = _draft(spill)
    a = render_scenario(spill, d.trace, d.context, random.Random(5), mode=mode)
    b = render_scenario(spill, d.trace, d.context, random.Random(5), mode=mode)
    c = render_scenario(spill, d.trace, d.context, random.Random(6), mode=mode)
    assert a == b
    assert a.text != c.text


def test_people_roles_and_facts_are_stated(spill: Procedure) -> None:
    d = _draft(spill, 3)
    r = render_scenario(spill, d.trace, d.context, random.Random(1))
    for role in spill.roles:
        assert r.cast[role] in r.text and role_name(role) in r.text
    flammable = spill.context["substance_flammable"].narration_for(d.context["substance_flammable"])
    assert flammable.text in r.facts and flammable.text in r.text
    assert f"about {d.context['spill_volume_l']:g} litres" in r.text
    assert not re.search(r"spill_volume|substance_flammable|whether|the answer was", r.text)


def test_each_event_is_told_with_one_of_its_authored_phrases(spill: Procedure) -> None:
    steps = spill.step_index()
    for seed in range(6):
        d = _draft(spill, seed)
        r = render_scenario(spill, d.trace, d.context, random.Random(seed))
        assert sorted(s.index for s in r.events) == list(range(len(d.trace.events)))
        for span in r.events:
            ev = d.trace.events[span.index]
            sentence = r.text[span.start : span.end]
            assert span.anchor in steps[ev.step].narration and span.anchor in sentence
            assert r.names[ev.actor] in sentence
            assert sentence.endswith(".") and sentence[0].isupper()


@pytest.mark.parametrize("style", [Style(), Style(paraphrase=True), Style(clock=True, shuffle=True),
                                   Style(mishap=True, reassure=True)])
def test_no_step_text_is_pasted_outside_verbatim_renderings(spill: Procedure, style: Style) -> None:
    texts = [s.text for s in spill.all_steps()]
    for seed in range(10):
        d = _draft(spill, seed)
        r = render_scenario(spill, d.trace, d.context, random.Random(seed), style=style)
        assert all(shared_run(r.text, t) is None for t in texts), seed


def test_paraphrase_uses_the_other_phrasings_and_voice_templates(spill: Procedure) -> None:
    d = _draft(spill, 0)
    steps = spill.step_index()
    templates: set[str] = set()
    for seed in range(8):
        r = render_scenario(spill, d.trace, d.context, random.Random(seed), style=Style(paraphrase=True))
        templates |= set(r.template_ids)
        for span in r.events:
            phrases = steps[d.trace.events[span.index].step].narration
            assert span.anchor in phrases[1:]
    assert {t for t in templates if t.startswith("par.")} and any("+mid" in t for t in templates)


def test_clock_style_times_follow_event_order_even_when_told_out_of_order(spill: Procedure) -> None:
    d = _draft(spill, 1)
    r = render_scenario(spill, d.trace, d.context, random.Random(3), mode="adversarial_compliant")
    told = [s.index for s in r.events]
    assert told != sorted(told)  # narrative order differs from event order ...
    clocks = [s.clock for s in sorted(r.events, key=lambda s: s.index)]
    assert clocks == sorted(clocks) and len(set(clocks)) == len(clocks)  # ... times do not
    first = next(s for s in r.events if s.index == 0)
    assert re.match(r"(Earlier|Going back|Before all|Rewinding)", r.text[first.start : first.end])


def test_adversarial_noncompliant_quotes_and_reassures(spill: Procedure) -> None:
    d = _draft(spill, 2)
    r = render_scenario(spill, d.trace, d.context, random.Random(4), mode="adversarial_noncompliant")
    assert any(t.startswith("quo.") for t in r.template_ids)
    step_texts = [s.text.rstrip(".") for s in spill.all_steps()]
    assert any(f'"{t}"' in r.text for t in step_texts)  # verbatim procedure wording
    assert any(p + "," in r.text for p in load_lexicon().cues.reassure)


def _after_hours(spill: Procedure) -> Procedure:
    def edit(data):
        data["context"]["substance_flammable"]["narration"]["true"]["scene"] = {
            "start": ["19:00", "21:00"], "days": ["Saturday", "Sunday"]}
    return _edited(spill, edit)


@pytest.mark.parametrize("seed", range(8))
def test_the_opening_agrees_with_the_scene_and_the_first_clock_time(spill: Procedure, seed: int) -> None:
    proc = _after_hours(spill)
    d = _draft(spill, seed)
    for flammable, days, part in ((True, ("Saturday", "Sunday"), "evening"),
                                  (False, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"),
                                   None)):
        ctx = {**d.context, "substance_flammable": flammable}
        r = render_scenario(proc, d.trace, ctx, random.Random(seed), style=Style(clock=True))
        opening = split_sentences(r.text)[0]
        first = r.span_of(0)
        assert any(day in opening for day in days), opening
        assert part_of_day(first.clock) in opening
        assert part is None or part in opening
        if flammable:
            assert 19 * 60 <= first.clock <= 21 * 60


def _next_day(spill: Procedure) -> Procedure:
    def edit(data):
        data["steps"][7]["timing"] = {"days_later": [1, 1]}  # step 8: the log, next working day
        data["steps"][2]["timing"] = {"lasts_min": 30}  # step 3 takes half an hour
    return _edited(spill, edit)


@pytest.mark.parametrize("style", [Style(), Style(clock=True), Style(clock=True, shuffle=True)])
def test_working_day_jumps_are_told_with_a_time(spill: Procedure, style: Style) -> None:
    proc = _next_day(spill)
    d = _draft(proc, 0)
    r = render_scenario(proc, d.trace, d.context, random.Random(1), style=style)
    i = next(k for k, ev in enumerate(d.trace.events) if ev.step == "8")
    span = r.span_of(i)
    sentence = r.text[span.start : span.end]
    assert re.search(r"next working day, at \d{1,2}:\d{2}", sentence), sentence
    assert span.day == 1 and 8 * 60 + 30 <= span.clock <= 10 * 60
    j = next(k for k, ev in enumerate(d.trace.events) if ev.step == "3")
    nxt = r.span_of(j + 1)
    if style.clock:
        assert nxt.clock - r.span_of(j).clock >= 30


def test_filler_and_asides_come_from_the_lexicon_and_name_nobody(spill: Procedure) -> None:
    lex = load_lexicon()
    fillers = {line for line, _ in lex.fillers_for(spill.domain)}
    for seed in range(10):
        d = _draft(spill, seed)
        r = render_scenario(spill, d.trace, d.context, random.Random(seed), style=Style(mishap=True))
        events = {r.text[s.start : s.end] for s in r.events}
        told = [s for s in split_sentences(r.text)[2:] if s not in events and s not in r.facts]
        for sentence in told:
            named = [n for n in r.names.values() if re.search(rf"\b{n}\b", sentence)]
            plain = re.sub(r"^[A-Z][a-z ]+, ", "", sentence)
            plain = plain[:1].upper() + plain[1:]
            assert (plain in fillers and not named) or (named and sentence not in fillers), sentence


def test_filler_pads_to_the_reference_length(spill: Procedure) -> None:
    d = _draft(spill, 0)
    short = Trace(events=d.trace.events[:-3])
    base = render_scenario(spill, short, d.context, random.Random(8), style=Style())
    padded = render_scenario(spill, short, d.context, random.Random(8), style=Style(),
                             pad_chars=2000)
    # PAD_SHARE of the deficit, in whole filler sentences of ~70 characters
    want = PAD_SHARE * 2000
    assert want - 150 < len(padded.text) - len(base.text) < want + 150


def test_templates_vary_across_seeds(spill: Procedure) -> None:
    d = _draft(spill, 0)
    used = set()
    for s in range(20):
        used |= set(render_scenario(spill, d.trace, d.context, random.Random(s)).template_ids)
    kinds = {t.split(".")[0] for t in used}
    assert {"act", "chk", "ntf", "doc"} <= kinds
    assert len(used) >= 10


def test_unknown_role_mode_or_missing_narration_is_a_render_error(spill: Procedure,
                                                                  flat: Procedure) -> None:
    d = _draft(spill, 0)
    bad = Trace(events=[Event(step="1", actor="janitor")])
    with pytest.raises(RenderError, match="janitor"):
        render_scenario(spill, bad, d.context, random.Random(0))
    with pytest.raises(RenderError, match="unknown rendering mode"):
        draw_style("loud", random.Random(0))
    bare = _edited(flat, lambda data: data["steps"][0].update(narration=[]))
    with pytest.raises(RenderError, match="step '1' has no narration"):
        render_scenario(bare, Trace(events=[Event(step="1", actor="student")]), {},
                        random.Random(0))

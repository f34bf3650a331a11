from __future__ import annotations

import random
import re

import pytest

from proclab.procedures.schema import Procedure
from proclab.procedures.styles.wording import role_name
from proclab.procedures.trace import Event, Trace
from proclab.scenarios.narrative import MODES, RenderError, Style, draw_style, render_scenario
from proclab.scenarios.perturbations import PERTURBATIONS


def _draft(proc: Procedure, seed: int = 0):
    return PERTURBATIONS["baseline_compliant"](proc, random.Random(seed))


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
    assert len(r.facts) == len(spill.context) and all(f in r.text for f in r.facts)
    volume = d.context["spill_volume_l"]
    assert f"{volume:g}" in r.text


def test_each_event_sentence_names_its_actor_and_phrase(spill: Procedure) -> None:
    d = _draft(spill, 4)
    r = render_scenario(spill, d.trace, d.context, random.Random(2))
    assert sorted(s.index for s in r.events) == list(range(len(d.trace.events)))
    for span in r.events:
        sentence = r.text[span.start : span.end]
        assert span.anchor in sentence
        assert r.names[d.trace.events[span.index].actor] in sentence
        assert sentence.endswith(".") and sentence[0].isupper()


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
    assert '"' in r.text
    assert any(t.startswith("quo.") for t in r.template_ids)
    step_texts = [s.text.rstrip(".") for s in spill.all_steps()]
    assert any(f'"{t}"' in r.text for t in step_texts)  # verbatim procedure wording


def test_paraphrase_rewords_steps(spill: Procedure) -> None:
    d = _draft(spill, 0)
    texts = {
        render_scenario(spill, d.trace, d.context, random.Random(s), style=Style(paraphrase=True)).text
        for s in range(8)
    }
    plain = render_scenario(spill, d.trace, d.context, random.Random(0), style=Style()).text
    assert "cautioned the people" in " ".join(texts) or "alerted the people" in " ".join(texts)
    assert "without delay" not in plain


def test_filler_pads_to_the_reference_length(spill: Procedure) -> None:
    d = _draft(spill, 0)
    short = Trace(events=d.trace.events[:-3])
    base = render_scenario(spill, short, d.context, random.Random(8), style=Style())
    padded = render_scenario(spill, short, d.context, random.Random(8), style=Style(), pad_chars=300)
    # PAD_SHARE of the deficit, in whole filler sentences of ~70 characters
    assert 70 < len(padded.text) - len(base.text) < 300


def test_templates_vary_across_seeds(spill: Procedure) -> None:
    d = _draft(spill, 0)
    used = set()
    for s in range(20):
        used |= set(render_scenario(spill, d.trace, d.context, random.Random(s)).template_ids)
    kinds = {t.split(".")[0] for t in used}
    assert {"act", "chk", "ntf", "doc"} <= kinds
    assert len(used) >= 12


def test_unknown_role_or_mode_is_a_render_error(spill: Procedure) -> None:
    d = _draft(spill, 0)
    bad = Trace(events=[Event(step="1", actor="janitor")])
    with pytest.raises(RenderError, match="janitor"):
        render_scenario(spill, bad, d.context, random.Random(0))
    with pytest.raises(RenderError, match="unknown rendering mode"):
        draw_style("loud", random.Random(0))

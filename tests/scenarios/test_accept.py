"""The round trip must catch a text that no longer tells its trace."""

from __future__ import annotations

import dataclasses
import random
import re

import pytest

from proclab.procedures.checker import check
from proclab.procedures.schema import Procedure
from proclab.procedures.trace import Trace
from proclab.scenarios.accept import intent_problem, roundtrip_problems, split_sentences
from proclab.scenarios.narrative import Rendered, Style, render_scenario
from proclab.scenarios.perturbations import PERTURBATIONS
from proclab.scenarios.types import Draft


def _rendered(proc: Procedure, seed: int, style: Style) -> tuple[Draft, Rendered]:
    draft = PERTURBATIONS["baseline_compliant"](proc, random.Random(seed))
    return draft, render_scenario(proc, draft.trace, draft.context, random.Random(seed), style=style)


def _without(rendered: Rendered, start: int, end: int) -> Rendered:
    text = rendered.text[:start] + rendered.text[end + 1 :]
    return dataclasses.replace(rendered, text=text)


@pytest.mark.parametrize("style", [Style(), Style(clock=True, shuffle=True), Style(paraphrase=True)])
@pytest.mark.parametrize("seed", range(3))
def test_clean_rendering_round_trips(spill: Procedure, style: Style, seed: int) -> None:
    draft, rendered = _rendered(spill, seed, style)
    assert roundtrip_problems(spill, draft.trace, draft.context, rendered) == []


@pytest.mark.parametrize("style", [Style(), Style(clock=True, shuffle=True)])
def test_dropping_an_event_sentence_is_caught(spill: Procedure, style: Style) -> None:
    draft, rendered = _rendered(spill, 1, style)
    for span in rendered.events:
        broken = _without(rendered, span.start, span.end)
        problems = roundtrip_problems(spill, draft.trace, draft.context, broken)
        step = draft.trace.events[span.index].step
        assert any(f"event {span.index} ({step}): not stated" in p for p in problems), problems


def test_swapping_two_event_sentences_is_caught(spill: Procedure) -> None:
    draft, rendered = _rendered(spill, 2, Style())
    a, b = rendered.events[2], rendered.events[3]
    text = rendered.text
    swapped = text[: a.start] + text[b.start : b.end] + " " + text[a.start : a.end] + text[b.end :]
    problems = roundtrip_problems(spill, draft.trace, draft.context,
                                  dataclasses.replace(rendered, text=swapped))
    assert any("not in trace order" in p for p in problems), problems


def test_swapped_clock_times_are_caught(spill: Procedure) -> None:
    draft, rendered = _rendered(spill, 2, Style(clock=True))
    first, second = rendered.events[0], rendered.events[1]
    s1 = rendered.text[first.start : first.end]
    s2 = rendered.text[second.start : second.end]
    t1, t2 = (re.search(r"\d{1,2}:\d{2}", s).group(0) for s in (s1, s2))
    text = rendered.text.replace(s1, s1.replace(t1, t2)).replace(s2, s2.replace(t2, t1))
    problems = roundtrip_problems(spill, draft.trace, draft.context,
                                  dataclasses.replace(rendered, text=text))
    assert any("not in trace order" in p for p in problems), problems


def test_wrong_actor_duplicate_and_missing_fact_are_caught(spill: Procedure) -> None:
    draft, rendered = _rendered(spill, 0, Style())
    span = rendered.events[0]
    sentence = rendered.text[span.start : span.end]
    actor = draft.trace.events[span.index].actor
    other = next(n for r, n in rendered.names.items() if r != actor)
    renamed = rendered.text.replace(sentence, sentence.replace(rendered.names[actor], other), 1)
    problems = roundtrip_problems(spill, draft.trace, draft.context,
                                  dataclasses.replace(rendered, text=renamed))
    assert any("not stated" in p for p in problems)
    doubled = rendered.text + " " + sentence
    problems = roundtrip_problems(spill, draft.trace, draft.context,
                                  dataclasses.replace(rendered, text=doubled))
    assert any("stated 2 times" in p for p in problems)
    no_fact = rendered.text.replace(rendered.facts[0], "")
    problems = roundtrip_problems(spill, draft.trace, draft.context,
                                  dataclasses.replace(rendered, text=no_fact))
    assert any("context fact not stated" in p for p in problems)


def test_verdict_words_are_caught(spill: Procedure) -> None:
    draft, rendered = _rendered(spill, 0, Style())
    text = rendered.text + " Someone skipped a step."
    problems = roundtrip_problems(spill, draft.trace, draft.context,
                                  dataclasses.replace(rendered, text=text))
    assert any("verdict words: skipped" in p for p in problems)


def test_split_sentences_keeps_decimals_and_quotes() -> None:
    text = 'About 0.35 litres spilled. Dana followed the line "Warn people". Then, Omar left.'
    assert split_sentences(text) == [
        "About 0.35 litres spilled.", 'Dana followed the line "Warn people".', "Then, Omar left."
    ]


def test_intent_problem_names_the_disagreement(spill: Procedure) -> None:
    draft = PERTURBATIONS["baseline_noncompliant"](spill, random.Random(0))
    result = check(spill, draft.trace, draft.context)
    assert intent_problem(draft, result) is None
    wrong = dataclasses.replace(draft, intended_label="COMPLIANT")
    assert "intended COMPLIANT" in (intent_problem(wrong, result) or "")
    narrow = dataclasses.replace(draft, meta={**draft.meta, "expect": ["authority"]})
    assert "include none of ['authority']" in (intent_problem(narrow, result) or "")
    clean = check(spill, Trace(events=[]), draft.context)
    assert "checker says NON-COMPLIANT" in (
        intent_problem(dataclasses.replace(draft, intended_label="COMPLIANT"), clean) or "")


def _next_day(proc: Procedure) -> Procedure:
    data = proc.model_dump()
    data["steps"][6]["timing"] = {"days_later": [1, 1]}  # step 7: told to the supervisor next day
    data["steps"][7]["timing"] = {"days_later": [2, 3]}  # step 8: logged days later still
    return Procedure.model_validate(data)


@pytest.mark.parametrize("style", [Style(), Style(clock=True), Style(clock=True, shuffle=True)])
@pytest.mark.parametrize("seed", range(4))
def test_day_jumps_round_trip(spill: Procedure, style: Style, seed: int) -> None:
    proc = _next_day(spill)
    draft, rendered = _rendered(proc, seed, style)
    assert roundtrip_problems(proc, draft.trace, draft.context, rendered) == []
    assert re.search(r"(two|three|four) working days later, at \d", rendered.text, re.IGNORECASE)


def test_a_lost_day_change_is_caught(spill: Procedure) -> None:
    proc = _next_day(spill)
    draft, rendered = _rendered(proc, 0, Style(clock=True))
    text = re.sub(r"(On \w+, )?[Tt]he next working day, ", "", rendered.text)
    assert text != rendered.text
    problems = roundtrip_problems(proc, draft.trace, draft.context,
                                  dataclasses.replace(rendered, text=text))
    assert any("read back" in p for p in problems), problems


def test_a_sentence_of_another_value_is_caught(spill: Procedure) -> None:
    draft, rendered = _rendered(spill, 0, Style())
    var = spill.context["substance_flammable"]
    other = var.narration_for(not draft.context["substance_flammable"]).text
    problems = roundtrip_problems(spill, draft.trace, draft.context,
                                  dataclasses.replace(rendered, text=rendered.text + " " + other))
    assert any("another value of substance_flammable" in p for p in problems), problems
    wrong = [other, *rendered.facts[1:]] if rendered.facts[0] != other else rendered.facts
    problems = roundtrip_problems(spill, draft.trace, draft.context,
                                  dataclasses.replace(rendered, facts=list(reversed(wrong))))
    assert any("is not the sentence for" in p for p in problems), problems

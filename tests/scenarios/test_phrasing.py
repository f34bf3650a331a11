"""Events and facts are told with the procedure's authored narration, never its step text."""

from __future__ import annotations

from collections import Counter

import pytest

from proclab.procedures.schema import ContextVar, Procedure, Step
from proclab.scenarios.keyed import Keyed
from proclab.scenarios.phrasing import (
    FIRST_PHRASE_SHARE,
    fact_sentence,
    pick_phrase,
    quote_text,
    shown_value,
)
from proclab.scenarios.types import RenderError

STEP = Step(id="1", text="Warn the people nearby.", actor="student",
            narration=["told everyone close by", "called a warning to the room", "alerted the others"])


def test_plain_favours_the_first_phrase_and_paraphrase_never_uses_it() -> None:
    plain = Counter(pick_phrase(STEP, "p", Keyed(s), paraphrase=False) for s in range(2000))
    share = plain[STEP.narration[0]] / 2000
    assert abs(share - FIRST_PHRASE_SHARE) < 0.05
    assert set(plain) == set(STEP.narration)  # the others are used too
    para = {pick_phrase(STEP, "p", Keyed(s), paraphrase=True) for s in range(200)}
    assert para == set(STEP.narration[1:])


def test_phrase_choice_is_keyed_by_step_not_by_call_order() -> None:
    keyed = Keyed(7)
    first = pick_phrase(STEP, "p", keyed, paraphrase=False)
    assert all(pick_phrase(STEP, "p", keyed, paraphrase=False) == first for _ in range(5))


def test_a_step_without_narration_cannot_be_told() -> None:
    bare = Step(id="4", text="Close the valve.", actor="student")
    with pytest.raises(RenderError, match="step '4' has no narration") as err:
        pick_phrase(bare, "proc-x", Keyed(0), paraphrase=False)
    assert "proc-x" in err.value.render()


def test_quote_keeps_procedure_wording_as_one_clause() -> None:
    assert quote_text("Wait ten minutes. Then check the gauge, e.g. the left one.") == (
        "Wait ten minutes; Then check the gauge, for example the left one")
    assert quote_text('Mark it "found".') == "Mark it 'found'"


BOOL = ContextVar(type="bool", default=False, narration={
    "true": "The liquid on the floor was flammable.", "false": "The liquid would not burn."})
FLOAT = ContextVar(type="float", default=0.2, min=0.05, max=4.0,
                   narration="By a first estimate, about {value} litres had spilled.")
MONEY = ContextVar(type="int", default=1200, narration="The claim came to ${value:,}.")
CHOICE = ContextVar(type="str", default="for_cause", values=["for_cause", "routine"],
                    narration={"for_cause": "The visit followed a complaint.",
                               "routine": "It was a scheduled visit."})


def test_facts_are_the_authored_sentences() -> None:
    assert fact_sentence("flammable", BOOL, True) == "The liquid on the floor was flammable."
    assert fact_sentence("flammable", BOOL, False) == "The liquid would not burn."
    assert fact_sentence("kind", CHOICE, "for_cause") == "The visit followed a complaint."


def test_numbers_go_through_the_format_spec() -> None:
    assert fact_sentence("v", FLOAT, 0.35) == "By a first estimate, about 0.35 litres had spilled."
    assert fact_sentence("v", FLOAT, 2.0) == "By a first estimate, about 2 litres had spilled."
    assert fact_sentence("m", MONEY, 12500) == "The claim came to $12,500."
    assert shown_value(FLOAT, 3.0) == 3 and shown_value(FLOAT, 0.5) == 0.5


def test_a_count_of_one_takes_the_singular_unit() -> None:
    days = ContextVar(type="int", default=3, min=0, max=9,
                      narration="The claim had waited {value} days, {value} working days in all.")
    assert fact_sentence("d", days, 1) == "The claim had waited 1 day, 1 working day in all."
    assert fact_sentence("d", days, 11) == "The claim had waited 11 days, 11 working days in all."
    assert fact_sentence("d", days, 0) == "The claim had waited 0 days, 0 working days in all."


def test_a_value_without_a_sentence_is_a_render_error() -> None:
    bare = ContextVar(type="bool", default=False)
    with pytest.raises(RenderError, match="no narration for the value True"):
        fact_sentence("injuries", bare, True)


def test_the_spill_procedure_facts_name_no_variable(spill: Procedure) -> None:
    for name, var in spill.context.items():
        for value in (True, False) if var.type == "bool" else (var.default,):
            fact = fact_sentence(name, var, value)
            assert name not in fact and "_" not in fact and fact.endswith(".")

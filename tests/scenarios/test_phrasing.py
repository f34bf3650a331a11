from __future__ import annotations

import pytest

from proclab.procedures.schema import ContextVar
from proclab.scenarios.keyed import Keyed
from proclab.scenarios.phrasing import clean_text, fact_sentence, format_value, phrase_for, to_past


@pytest.mark.parametrize(
    ("text", "past"),
    [
        ("Warn the people nearby and keep them clear of the spill area.",
         "warned the people nearby and kept them clear of the spill area"),
        ("Bag the used absorbent and attach a waste tag.", "bagged the used absorbent and attached a waste tag"),
        ("Put on goggles, gloves and a lab coat.", "put on goggles, gloves and a lab coat"),
        # causative and infinitive contexts keep bare infinitives after "and"/"then"
        ("Have the beneficiary mark one option, then sign and date the notice.",
         "had the beneficiary mark one option, then sign and date the notice"),
        ("Call the supervisor to report the spill and ask for help.",
         "called the supervisor to report the spill and ask for help"),
        ("Seal the bag, then label it.", "sealed the bag, then labelled it"),
        # "to the shelf" is a preposition, not an infinitive
        ("Move the load to the shelf and mark it.", "moved the load to the shelf and marked it"),
        ("Show your credentials to the manager.", "showed their credentials to the manager"),
    ],
)
def test_past_tense_of_commands(text: str, past: str) -> None:
    assert phrase_for(text).past == past


@pytest.mark.parametrize(
    "text",
    [
        "Wearing gloves, open the door slightly.",  # not a command starting with a verb
        "Empty, clean and defrost the freezers.",  # a verb list: kept as bare infinitives
        "The tracker computes the deadline.",
        # a known verb that may be a noun ("record sheets") or a verb list after a comma or
        # "or": half a past tense would be worse than none
        "Collect the gloves and record sheets.",
        "Open the claim, scan the form image, and key every field.",
        "Review the request and approve or reject it.",
        "Wash the benches with detergent and water.",
    ],
)
def test_no_past_tense_when_unsure(text: str) -> None:
    assert phrase_for(text).past is None


def test_quote_keeps_procedure_wording_and_inner_stops_are_removed() -> None:
    ph = phrase_for("Wait ten minutes. Then check the gauge, e.g. the left one.")
    assert ph.quote == "Wait ten minutes; Then check the gauge, for example the left one"
    assert clean_text("Record it.") == "Record it"
    assert to_past("") is None


BOOL = ContextVar(type="bool", default=False, description="Whether the spilled liquid is flammable.")
ODD_BOOL = ContextVar(type="bool", default=False, description="Whether anyone was hurt.")
FLOAT = ContextVar(type="float", default=0.2, min=0.05, max=4.0,
                   description="Estimated volume of the spilled liquid, in litres.")


@pytest.mark.parametrize("seed", range(6))
def test_bool_fact_states_the_value(seed: int) -> None:
    yes = fact_sentence("substance_flammable", BOOL, True, Keyed(seed))
    no = fact_sentence("substance_flammable", BOOL, False, Keyed(seed))
    assert "the spilled liquid was flammable" in yes.lower()
    assert "the spilled liquid was not flammable" in no.lower()


@pytest.mark.parametrize("seed", range(6))
def test_unsafe_bool_clause_falls_back_to_yes_no(seed: int) -> None:
    # "anyone was not hurt" would misstate the fact: the answer form is used instead.
    assert fact_sentence("injuries", ODD_BOOL, False, Keyed(seed)).endswith("no.")
    assert fact_sentence("injuries", ODD_BOOL, True, Keyed(seed)).endswith("yes.")


def test_numeric_and_string_facts() -> None:
    fact = fact_sentence("spill_volume_l", FLOAT, 0.35, Keyed(1))
    assert fact.endswith("estimated volume of the spilled liquid, in litres: 0.35.") or fact.startswith(
        "Estimated volume of the spilled liquid, in litres: 0.35"
    )
    assert format_value(FLOAT, 2.0) == "2"
    choice = ContextVar(type="str", default="a", values=["partially_favorable"], description="Outcome.")
    assert format_value(choice, "partially_favorable") == "partially favorable"

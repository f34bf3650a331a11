"""Narration fields: what scenarios need to tell a procedure (step phrasings, value sentences)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from proclab.procedures.corpus import get_procedure
from proclab.procedures.narration import shared_run
from proclab.procedures.schema import ContextVar, Procedure, StepTiming
from proclab.procedures.validate import validate_procedure

SPILL = "lab-minor-chemical-spill"


def narration_errors(proc: Procedure) -> list[str]:
    return [e.what for e in validate_procedure(proc, narration=True)]


def edited(proc: Procedure, **changes: object) -> Procedure:
    data = proc.model_dump()
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(leaf) if leaf.isdigit() else leaf] = value
    return Procedure.model_validate(data)


def test_authored_procedure_passes_and_round_trips() -> None:
    proc = get_procedure(SPILL)
    assert narration_errors(proc) == []
    assert Procedure.model_validate(proc.model_dump()) == proc
    flammable = proc.context["substance_flammable"]
    assert flammable.narration_for(True).text == "The liquid on the floor was flammable."
    assert "{value}" in proc.context["spill_volume_l"].narration_for(0.3).text


def test_bool_keys_from_yaml_are_normalised() -> None:
    var = ContextVar.model_validate(
        {"type": "bool", "default": False, "narration": {True: "It rained.", False: "It was dry."}}
    )
    assert var.narration_for(False).text == "It was dry."


@pytest.mark.parametrize(
    ("phrase", "problem"),
    [
        ("Told everyone close by", "lower-case verb"),
        ("told everyone close by.", "punctuation"),
        ("told your colleagues", "third person"),
        ("warn the people nearby and keep them clear", "copies 5 words"),
    ],
)
def test_bad_step_phrases_are_named(phrase: str, problem: str) -> None:
    proc = edited(get_procedure(SPILL), steps__0__narration=[phrase, "alerted the room"])
    errors = narration_errors(proc)
    assert len(errors) == 1 and problem in errors[0], errors


def test_observable_step_needs_two_phrasings() -> None:
    proc = edited(get_procedure(SPILL), steps__0__narration=["alerted the room"])
    assert any("needs at least 2" in e for e in narration_errors(proc))


@pytest.mark.parametrize(
    ("narration", "problem"),
    [
        ({"true": "The liquid was flammable."}, "lacks value(s) ['false']"),
        ({"true": "It was true that it burned.", "false": "It would not burn."}, "reads like a form"),
        ({"true": "substance_flammable held.", "false": "It would not burn."}, "complete sentence"),
        ("The liquid was flammable.", "must be a mapping"),
    ],
)
def test_bad_value_sentences_are_named(narration: object, problem: str) -> None:
    proc = edited(get_procedure(SPILL), context__substance_flammable__narration=narration)
    errors = narration_errors(proc)
    assert any(problem in e for e in errors), errors


def test_numeric_sentence_needs_value_field() -> None:
    proc = edited(get_procedure(SPILL), context__spill_volume_l__narration="A lot had spilled.")
    assert any("must use {value}" in e for e in narration_errors(proc))


def test_narration_is_required_by_default() -> None:
    proc = edited(get_procedure(SPILL), steps__0__narration=[])
    assert any("narration" in e.what for e in validate_procedure(proc))
    assert validate_procedure(proc, narration=False) == []


def test_timing_ranges_are_checked() -> None:
    with pytest.raises(ValidationError, match="low <= high"):
        StepTiming(days_later=(3, 1))
    assert StepTiming(days_later=(1, 1), lasts_min=15).lasts_min == 15


def test_shared_run_finds_five_word_copies() -> None:
    assert shared_run("went to warn the people nearby and left", "Warn the people nearby and go")
    assert shared_run("warned the people nearby and kept", "Warn the people nearby and keep") is None

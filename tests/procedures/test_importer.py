"""The Markdown importer: round trips through every house style, clause extraction from
hand-written procedures, and honest reporting of what it could not structure."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proclab.errors import ProcedureError
from proclab.procedures.corpus import get_procedure, load_corpus
from proclab.procedures.importer import import_markdown
from proclab.procedures.schema import Procedure, Step
from proclab.procedures.styles import MANUAL_STYLES, STYLES, render


def _shape(steps: list[Any]) -> list[Any]:
    """The parent/child structure of a step list, ids and text ignored."""
    return [_shape(s["children"] if isinstance(s, dict) else s.children) for s in steps]


def _dict_shape(steps: list[dict[str, Any]]) -> list[Any]:
    return [_dict_shape(s.get("children", [])) for s in steps]


def _recovered(proc: Procedure, draft: dict[str, Any], step_count: int) -> bool:
    exceptions = [e for e in draft.get("exceptions", []) if not e["id"].startswith("unless")]
    return (
        step_count == len(list(proc.all_steps()))
        and _dict_shape(draft["steps"]) == _shape(proc.steps)
        and [_dict_shape(e.get("adds", [])) for e in exceptions]
        == [_shape(e.adds) for e in proc.exceptions]
    )


def test_round_trip_recovers_steps_and_hierarchy_in_every_style():
    pairs, good, failed = 0, 0, []
    for proc in load_corpus():
        for style in STYLES:
            result = import_markdown(render(proc, style), source_name=style)
            yaml.safe_load(result.yaml_text)  # the draft always parses
            pairs += 1
            if _recovered(proc, result.procedure_dict, result.step_count):
                good += 1
            else:
                failed.append((proc.id, style))
    rate = good / pairs
    print(f"round trip: {good}/{pairs} (procedure, style) pairs recovered = {rate:.3f}")
    assert pairs >= 10
    assert rate >= 0.90, failed[:10]


def _pairs(proc: Procedure, draft: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Original step id -> imported step dict, matched by position."""
    out: dict[str, dict[str, Any]] = {}

    def walk(orig: list[Step], got: list[dict[str, Any]]) -> None:
        for a, b in zip(orig, got, strict=True):
            out[a.id] = b
            walk(a.children, b.get("children", []))

    walk(proc.steps, draft["steps"])
    for exc, got in zip(proc.exceptions, draft.get("exceptions", []), strict=True):
        walk(exc.adds, got.get("adds", []))
    return out


@pytest.mark.parametrize("style", MANUAL_STYLES)
@pytest.mark.parametrize("proc_id", ["lab-minor-chemical-spill", "fda-billing-after-denial"])
def test_manual_styles_round_trip_every_constraint_guard_and_exception(style, proc_id):
    proc = get_procedure(proc_id)
    result = import_markdown(render(proc, style))
    draft = result.procedure_dict
    pairs = _pairs(proc, draft)
    ids = {k: v["id"] for k, v in pairs.items()}
    assert draft["roles"] == proc.roles
    assert set(draft["context"]) == set(proc.context)
    for step in proc.all_steps():
        got = pairs[step.id]
        assert got["text"] == step.text
        assert got["actor"] == step.actor
        assert (got["kind"] == "internal") == (step.kind == "internal")
        assert got.get("requires", []) == [ids[r] for r in step.requires]
        assert got.get("after", []) == [ids[a] for a in step.after]
        assert got.get("when") == step.when
    for exc, got in zip(proc.exceptions, draft["exceptions"], strict=True):
        assert got["when"] == exc.when
        assert got["text"] == exc.text
        assert got.get("replaces", []) == [ids[r] for r in exc.replaces]
        assert got.get("forbids", []) == [ids[f] for f in exc.forbids]
    assert result.to_procedure().step_index().keys() == set(ids.values())


HAND_WRITTEN = """\
# Handling a broken thermometer

Roles: technician, supervisor

1. Evacuate the bench area. (technician)
2. Put on nitrile gloves only after step 1.
3. Collect the beads with the mercury kit; requires step 2 to have been completed.
   a. Seal the beads in the waste jar.
   b. Label the jar once step 3a is complete.
4. If the spill volume is greater than 5, then call the supervisor.
5. Wipe the bench unless the bench is wet.
6. Log the incident before step 7.
7. Supervisor: sign the log.

Some closing remark that belongs to no step.
"""


def test_hand_written_markdown_clauses_become_constraints():
    result = import_markdown(HAND_WRITTEN, source_name="thermometer.md")
    draft = result.procedure_dict
    steps = {s["id"]: s for s in draft["steps"]}
    children = {c["id"]: c for c in steps["3"]["children"]}
    assert draft["id"] == "handling-a-broken-thermometer"
    assert draft["roles"] == ["technician", "supervisor"]
    assert result.step_count == 9
    assert steps["1"]["actor"] == "technician" and steps["1"]["text"] == "Evacuate the bench area."
    assert steps["2"]["after"] == ["1"] and steps["2"]["text"] == "Put on nitrile gloves."
    assert steps["3"]["requires"] == ["2"]
    assert steps["3"]["text"] == "Collect the beads with the mercury kit."
    assert list(children) == ["3.a", "3.b"] and children["3.b"]["requires"] == ["3.a"]
    assert steps["4"]["when"] == "spill_volume > 5"
    assert steps["4"]["text"] == "Call the supervisor." and steps["4"]["kind"] == "notify"
    assert draft["context"]["spill_volume"]["type"] == "int"
    assert steps["7"]["after"] == ["6"]  # "step 6 ... before step 7"
    assert steps["7"]["actor"] == "supervisor" and steps["7"]["text"] == "Sign the log."
    (unless,) = draft["exceptions"]
    assert unless["replaces"] == ["5"] and unless["when"] == "the bench is wet"
    assert steps["5"]["text"] == "Wipe the bench."
    assert any("line 15: text outside any step" in u for u in result.unstructured)
    assert any("'the bench is wet'" in u for u in result.unstructured)
    assert any("guessed context variable 'spill_volume'" in n for n in result.notes)
    assert yaml.safe_load(result.yaml_text) == draft
    assert "#   line 15: text outside any step" in result.yaml_text


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        (
            "1) Close the valve.\n2) Vent it.\n   (a) Open the purge.\n   (b) Shut it.\n",
            [[], [[], []]],
        ),
        (
            "Step 1: Load.\nStep 2: Start.\nStep 2.1: Pick a program.\nStep 3: Unload.\n",
            [[], [[]], []],
        ),
        (
            "1. Prepare\n1.1 Gather tools\n1.2 Check tools\n2. Work\n2.1 Do it\n2.1.1 Slowly\n",
            [[[], []], [[[]]]],
        ),
        ("- Prepare the bench\n  - Wipe it\n  - Dry it\n- Work\n", [[[], []], []]),
        ("1. Prepare the bench\na. Wipe it\nb. Dry it\n2. Do the work\n", [[[], []], []]),
        ("- [ ] Check the seal\n- [x] Log the sample\n    - [ ] Scan it\n", [[], [[]]]),
    ],
    ids=["close-paren", "step-word", "dotted", "bullets", "letters-same-indent", "checkboxes"],
)
def test_numbering_schemes_and_nesting(text, shape):
    result = import_markdown(text)
    assert _dict_shape(result.procedure_dict["steps"]) == shape
    assert result.procedure_dict["steps"][0]["id"] == "1"


def test_child_ids_follow_the_schema():
    draft = import_markdown("1. A step\n   a. part\n      i. sub\n").procedure_dict
    child = draft["steps"][0]["children"][0]
    assert (child["id"], child["children"][0]["id"]) == ("1.a", "1.a.1")


def test_table_and_prose_layouts():
    table = """# Sample receipt

| # | Task | Responsible | Notes |
|---|------|-------------|-------|
| 1 | Check the seal | clerk | — |
| 2 | Log the sample | clerk | after step 1 |
| 2.1 | Scan the barcode | clerk | |
| 3 | Approve storage | lab manager | requires step 2 to have been completed |
"""
    draft = import_markdown(table).procedure_dict
    assert [s["actor"] for s in draft["steps"]] == ["clerk", "clerk", "lab_manager"]
    assert draft["steps"][1]["after"] == ["1"] and draft["steps"][2]["requires"] == ["2"]
    assert draft["steps"][1]["children"][0]["text"] == "Scan the barcode"
    prose = (
        "Spill response\n\nFirst, the student should warn everyone nearby. Second, the student "
        "should fetch the kit. This comes only after the first step.\n\nThird, the supervisor "
        "should sign the log. This may be done only once the second step has been completed.\n"
    )
    draft = import_markdown(prose).procedure_dict
    assert [(s["text"], s["actor"]) for s in draft["steps"]] == [
        ("Warn everyone nearby.", "student"),
        ("Fetch the kit.", "student"),
        ("Sign the log.", "supervisor"),
    ]
    assert draft["steps"][1]["after"] == ["1"] and draft["steps"][2]["requires"] == ["2"]


def test_exception_section_becomes_an_exception_draft():
    text = """# Spill
Roles: student, supervisor

1. Warn people.
2. Fetch the kit.
3. Wipe the bench.

## Exceptions
- If the spill volume is greater than 5: leave the room.
  - Call the supervisor. (supervisor)
  Do not do step 3.
  Skip step 2.
"""
    (exc,) = import_markdown(text).procedure_dict["exceptions"]
    assert exc["when"] == "spill_volume > 5"
    assert exc["forbids"] == ["3"] and exc["replaces"] == ["2"]
    assert [(a["id"], a["actor"], a["text"]) for a in exc["adds"]] == [
        ("X1", "supervisor", "Call the supervisor.")
    ]


def test_glossary_turns_described_conditions_into_guards():
    text = """# Waste pickup

Roles: technician, supervisor

1. Weigh the drum.
2. Call the waste contractor. Only if the mass of the drum (in kilograms) is at least 50.

## Definitions
- `drum_mass_kg` (number; default 10): Mass of the drum, in kilograms.
"""
    result = import_markdown(text)
    assert result.procedure_dict["steps"][1]["when"] == "drum_mass_kg >= 50"
    assert result.procedure_dict["context"]["drum_mass_kg"] == {
        "type": "float",
        "default": 10.0,
        "description": "Mass of the drum, in kilograms.",
    }
    assert result.unstructured == []


def test_odd_input_is_reported_not_guessed():
    text = """Just some words here.

| broken | table |
|---|---|
| a | b | c |

1. Do the first thing only after step 9.
2. Finish before the end of the shift.

???
"""
    result = import_markdown(text, source_name="odd.md")
    found = "\n".join(result.unstructured)
    assert "line 5: table row has 3 cells, header has 2" in found
    assert "line 7: reference to step 9 not found" in found
    assert "line 8: 'before' names no step" in found
    assert "line 10: text outside any step: '???'" in found
    assert result.step_count == 2
    assert "after" not in result.procedure_dict["steps"][0]
    assert yaml.safe_load(result.yaml_text)["steps"][1]["text"].startswith("Finish before")


def test_empty_input_reports_no_steps_and_fails_validation_clearly():
    result = import_markdown("", source_name="empty")
    assert result.step_count == 0
    assert any(u.startswith("no steps found") for u in result.unstructured)
    assert yaml.safe_load(result.yaml_text)["steps"] == []
    with pytest.raises(ProcedureError, match="steps"):
        result.to_procedure()


def test_clean_import_validates_as_a_procedure():
    proc = import_markdown(HAND_WRITTEN).to_procedure()
    assert [s.id for s in proc.all_steps()] == ["1", "2", "3", "3.a", "3.b", "4", "5", "6", "7"]
    assert proc.source == "imported"


# Fragments of every layout the importer knows, to be shuffled into odd documents.
# fmt: off
_PIECES = st.sampled_from((
    "1. ", "a. ", "(a) ", "2) ", "Step 3: ", "§ 4.1 ", "30.1 - ", "- ", "  ", "- [ ] ", "# ",
    "## Exceptions\n", "| Step | Who | Action |\n", "|---|---|\n", "| 1 | x | y |\n",
    "only after step 2", "requires step 9", "only if the x is greater than 3", "unless y",
    "First, ", "Exception 1 applies when q. ", "Who: student", "Roles: a, b", " → ", "(student)",
    "[student; only after step 1]", "Do not do step 2.", "If: z", "X1. ", "word ", "Word. ",
    "\n", "\n\n", "—", "é",
))
# fmt: on


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=30).map("".join) | st.text(max_size=200))
def test_any_text_gives_a_parsable_draft_and_located_reports(text):
    result = import_markdown(text)
    assert yaml.safe_load(result.yaml_text) == result.procedure_dict
    assert result.step_count == sum(1 for _ in _all_ids(result.procedure_dict))
    for item in result.unstructured:
        assert item.startswith(("line ", "no steps found")), item


def _all_ids(draft: dict[str, Any]):
    def walk(steps):
        for step in steps:
            yield step["id"]
            yield from walk(step.get("children", []))

    yield from walk(draft["steps"])
    for exc in draft.get("exceptions", []):
        yield from walk(exc.get("adds", []))

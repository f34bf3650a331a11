"""The conventions every house style states: each rendering carries the statements its
procedure needs, docs/semantics.md quotes each one, no style claims its numbering binds the
order, the importer never takes them for steps, and the checker does what they say (on the
`mini` fixture, which has parts, `after`, `requires`, a guard, an internal step, exceptions and
a three-role ladder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proclab.procedures.checker import check
from proclab.procedures.corpus import get_procedure, load_corpus
from proclab.procedures.importer import import_markdown
from proclab.procedures.schema import Procedure
from proclab.procedures.styles import STYLES, render
from proclab.procedures.styles.conventions import KEYS, RULES, WORDING, needed, statements
from proclab.procedures.trace import Event, Trace

SEMANTICS = Path(__file__).parents[2] / "docs" / "semantics.md"
NORMAL = ["1", "2", "2.a", "2.b", "2.b.1", "3", "4", "5", "6"]
RUSH = {"urgent": True, "amount": 2000.0}


def flat(text: str) -> str:
    return " ".join(text.split())


def verdict(proc: Procedure, steps: list[str], context=None, **actors: str):
    who = {k.replace("_", "."): v for k, v in actors.items()}
    events = [Event(step=s, actor=who.get(s, "officer" if s == "3" else "clerk")) for s in steps]
    result = check(proc, Trace(events=events), context)
    return [(v.type, v.step, v.related) for v in result.violations]


def test_every_style_words_every_convention() -> None:
    assert set(WORDING) == set(STYLES)
    assert set(RULES) == set(KEYS)
    for style, wording in WORDING.items():
        assert set(wording) == set(KEYS), style
    for key in KEYS:  # each style in its own words
        texts = [wording[key] for wording in WORDING.values()]
        assert len(set(texts)) == len(texts), key


@pytest.mark.parametrize("style", list(STYLES))
def test_rendering_states_the_conventions_its_procedure_needs(style: str, mini) -> None:
    assert needed(mini) == tuple(k for k in KEYS if k != "order")  # mini has everything
    text = flat(render(mini, style))
    for key in needed(mini):
        assert flat(WORDING[style][key]) in text, key
    assert flat(WORDING[style]["order"]) not in text
    spill = get_procedure("lab-minor-chemical-spill")  # no guard, no internal step
    spill_text = flat(render(spill, style))
    assert flat(WORDING[style]["conditions"]) not in spill_text
    assert flat(WORDING[style]["internal"]) not in spill_text
    assert flat(WORDING[style]["parts"]) in spill_text


def test_a_procedure_without_parts_gets_the_plain_order_statement() -> None:
    proc = next(p for p in load_corpus() if not any(s.children for s in p.all_steps()))
    assert "order" in needed(proc) and "parts" not in needed(proc)
    for style in STYLES:
        assert flat(WORDING[style]["order"]) in flat(render(proc, style))
        assert statements(proc, style)[0] == WORDING[style]["order"]


def test_semantics_doc_quotes_every_statement() -> None:
    doc = flat(SEMANTICS.read_text(encoding="utf-8"))
    for style, wording in WORDING.items():
        for key, text in wording.items():
            assert f'`{style}`: "{flat(text)}"' in doc, (style, key)


# Wordings that would claim the list's order is the order of the work.
BINDING = re.compile(
    r"numbered in the order|in the order (?:they|listed|shown|given|written)|"
    r"in (?:numerical|numeric|the listed) order|carried out in order|in sequence as",
    re.I,
)


def test_no_style_says_its_numbering_binds_the_order() -> None:
    for proc in load_corpus():
        for style in STYLES:
            hit = BINDING.search(render(proc, style))
            assert hit is None, (proc.id, style, hit and hit.group(0))


@pytest.mark.parametrize("style", list(STYLES))
def test_the_importer_never_reads_a_statement_as_a_step(style: str, mini) -> None:
    draft = import_markdown(render(mini, style)).procedure_dict
    texts = [draft.get("description", "")]

    def walk(steps):
        for step in steps:
            texts.append(step["text"])
            walk(step.get("children", []))

    walk(draft["steps"])
    for exc in draft.get("exceptions", []):
        texts.append(exc["text"])
        walk(exc.get("adds", []))
    assert len(texts) == 1 + len(list(mini.all_steps())) + len(mini.exceptions)
    for key in needed(mini):
        words = " ".join(WORDING[style][key].split()[:6])
        assert not any(words in t for t in texts), key


# -- the checker does what the statements say ------------------------------------------------


def test_numbering_binds_no_order(mini) -> None:
    # 6 (only after 3) may come before 4 and 5 although it is numbered after them
    assert verdict(mini, ["1", "2", "2.a", "2.b", "2.b.1", "3", "6", "4", "5"]) == []


def test_a_higher_role_stands_in_but_a_lower_one_does_not(mini) -> None:
    assert verdict(mini, NORMAL, **{"3": "manager", "1": "officer"}) == []
    assert verdict(mini, NORMAL, **{"3": "clerk"}) == [("authority", "3", None)]


def test_after_is_about_the_start_and_never_about_absence(mini) -> None:
    assert verdict(mini, ["2", "1", *NORMAL[2:]]) == [("order", "2", "1")]
    # 1 never done: a skipped step, not an order fault of step 2
    assert verdict(mini, NORMAL[1:]) == [("missing_step", "1", None)]


def test_requires_needs_the_step_done_unless_it_does_not_apply(mini) -> None:
    without_3 = [s for s in NORMAL if s != "3"]
    assert verdict(mini, without_3) == [("missing_step", "3", None), ("prerequisite", "4", "3")]
    # the rush exception replaces 3: step 4 (requires 3) goes ahead without it
    assert (
        verdict(mini, ["1", "2", "2.a", "2.b", "2.b.1", "X1", "4", "5"], RUSH, X1="manager") == []
    )


def test_a_parent_is_a_step_of_its_own_and_bounds_its_parts(mini) -> None:
    no_parent = [s for s in NORMAL if s != "2"]
    assert verdict(mini, no_parent) == [
        ("missing_step", "2", None),
        ("hierarchy", "2.a", "2"),
        ("hierarchy", "2.b", "2"),
        ("prerequisite", "3", "2"),
    ]
    # parts applying with their step; a part after the next step outside it begins
    assert verdict(mini, [s for s in NORMAL if s != "2.a"]) == [("missing_step", "2.a", None)]
    late = ["1", "2", "2.a", "2.b", "3", "2.b.1", "4", "5", "6"]
    assert verdict(mini, late) == [("hierarchy", "2.b.1", "3")]


def test_a_conditional_step_may_be_left_out_or_done(mini) -> None:
    portal = {"channel": "portal"}  # step 5 applies only when the channel is mail
    assert verdict(mini, [*NORMAL[:7], "6", "P1"], portal) == []
    assert verdict(mini, [*NORMAL, "P1"], portal) == []  # done anyway: no fault
    assert verdict(mini, [s for s in NORMAL if s != "5"]) == [("missing_step", "5", None)]


def test_an_exception_removes_forbids_and_adds(mini) -> None:
    assert verdict(mini, NORMAL, RUSH) == [
        ("exception_ignored", "3", "rush"),
        ("forbidden_step", "6", "rush"),
        ("missing_step", "X1", None),
    ]


def test_an_internal_step_is_never_missing_and_its_timing_unchecked(mini) -> None:
    # 4 is internal; 5 requires 4: not checked while 4 is not on record
    assert verdict(mini, [s for s in NORMAL if s != "4"]) == []

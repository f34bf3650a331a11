"""House styles: every style renders every corpus procedure deterministically, states every
step, actor, constraint, guard and exception, and looks unlike every other style."""

from __future__ import annotations

import itertools
import re

import pytest

from proclab.errors import ConfigError
from proclab.procedures.corpus import get_procedure, load_corpus
from proclab.procedures.schema import ContextVar, Procedure
from proclab.procedures.styles import LAB_STYLES, MANUAL_STYLES, STYLES, render
from proclab.procedures.styles.wording import (
    format_guard,
    guard_from_text,
    lower_first,
    ordinal_word,
    role_name,
)

CORPUS = load_corpus()
SPILL = "lab-minor-chemical-spill"


def _flat(text: str) -> str:
    return " ".join(text.split()).casefold()


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\S+", text.casefold())
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def _mask(text: str, proc: Procedure) -> str:
    """The rendering with all shared content blanked out: what is left is the style itself."""
    content = [s.text for s in proc.all_steps()] + [e.text for e in proc.exceptions]
    for piece in sorted([*content, proc.title, proc.description], key=len, reverse=True):
        if piece:
            for form in (piece, lower_first(piece), piece.upper()):
                text = text.replace(form, " TEXT ")
    return text


def test_registry_holds_the_ten_contract_styles():
    assert LAB_STYLES == (
        "terse_numbered",
        "nested_outline",
        "prose_embedded",
        "checklist",
        "markdown_table",
        "role_sections",
        "step_cards",
        "decision_list",
    )
    assert MANUAL_STYLES == ("fda_manual", "cms_manual")
    assert set(STYLES) == set(LAB_STYLES) | set(MANUAL_STYLES)
    assert all(STYLES[s].family == "lab" for s in LAB_STYLES)


def test_unknown_style_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"did you mean 'checklist'"):
        render(get_procedure(SPILL), "checklst")


@pytest.mark.parametrize("style", list(STYLES))
def test_rendering_is_deterministic(style):
    first = [render(p, style) for p in CORPUS]
    # a fresh copy of each procedure, not the cached object, must give the same bytes
    again = [render(Procedure.model_validate(p.model_dump()), style) for p in CORPUS]
    assert first == again
    assert not any(re.search(r"\b(19|20)\d\d-\d\d-\d\d\b", text) for text in first)


@pytest.mark.parametrize("style", list(STYLES))
def test_every_step_actor_guard_and_exception_is_stated(style):
    # every style renders every domain (the dataset renders FDA procedures in lab styles too)
    assert {p.domain for p in CORPUS} == {"lab_safety", "fda", "cms"}
    for proc in CORPUS:
        text = _flat(render(proc, style))
        assert _flat(proc.title) in text, proc.id
        for step in proc.all_steps():
            assert _flat(step.text) in text, (proc.id, step.id)
            assert _flat(role_name(step.actor)) in text, (proc.id, step.id)
            if step.when:
                assert _flat(format_guard(step.when, proc.context)) in text, (proc.id, step.id)
        for exc in proc.exceptions:
            assert _flat(exc.text) in text, (proc.id, exc.id)
            assert _flat(format_guard(exc.when, proc.context)) in text, (proc.id, exc.id)
        for role in proc.roles:  # the authority ladder is stated in full
            assert _flat(role_name(role)) in text, (proc.id, role)


# How each style states, for the spill procedure: step 2 comes after step 1; step 3 requires
# step 2; 4.b is a part of 4 ordered after 4.a; the flammable exception forbids step 6.
SPILL_PHRASES = {
    "terse_numbered": [
        "2. Identify the spilled substance from its container label or safety data sheet. "
        "[student; only after step 1]",
        "[student; needs step 2 done]",
        "   b. Cover the remaining liquid",
        "[student; only after step 4a]",
        "   Do not do step 6.",
    ],
    "nested_outline": [
        "B. Identify the spilled substance",
        "   - Sequence: not before step A",
        "   - Prerequisite: step B completed",
        "   2. Cover the remaining liquid",
        "- Sequence: not before step D.1",
        "   - Steps forbidden: step F",
    ],
    "prose_embedded": [
        "Second, a student should identify the spilled substance",
        "This comes only after the first step.",
        "This may be done only once the second step has been completed.",
        "In part (b) of the fourth step, a student should cover",
        "This comes only after part (a) of the fourth step.",
        "Under this exception the sixth step must not be done.",
    ],
    "checklist": [
        "- [ ] (2) Identify the spilled substance",
        "— student · tick only after (1)",
        "— student · (2) must be ticked first",
        "  - [ ] (4b) Cover the remaining liquid",
        "tick only after (4a)",
        "  - Do not tick: (6)",
    ],
    "markdown_table": [
        "| Step | Who | Action | Conditions |",
        "| 2 | student | Identify the spilled substance from its container label or safety "
        "data sheet. | after step 1 |",
        "| requires step 2 to have been completed |",
        "| part of step 4; after step 4.1 |",
        "Forbidden: step 6.",
    ],
    "role_sections": [
        "## Student",
        "## Researcher",
        "Step 2: Identify the spilled substance",
        "Not to be started before Step 1.",
        "Requires Step 2 to have been completed.",
        "  Step 4.b (part of Step 4): Cover",
        "Step 6 must not be done.",
    ],
    "step_cards": [
        "### Card 2\nIdentify the spilled substance",
        "- After: card 1",
        "- Before: card 2 must be finished",
        "### Card 4.b (part of card 4)",
        "- Cards forbidden: card 6",
    ],
    "decision_list": [
        "2) once 1) has happened → student: Identify the spilled substance",
        "3) only when 2) is complete → student: Put on",
        "   4b) within 4); once 4a) has happened → student: Cover",
        "   never do: 6)",
    ],
    "fda_manual": [
        "## § 2 Policy",
        "## § 3 Responsibilities",
        "## § 4 Procedure",
        "§ 4.2 Identify the spilled substance",
        "This step may not begin before § 4.1.",
        "Prerequisite: § 4.2 must have been completed.",
        "§ 4.4.2 Cover the remaining liquid",
        "§ 4.6 must not be performed.",
        "`spill_volume_l` (number; default 0.2)",
    ],
    "cms_manual": [
        "## 10 - Policy",
        "## 20 - Responsibilities",
        "## 30 - Processing Requirements",
        "30.2 - Identify the spilled substance",
        "    Sequence: must not begin before 30.1.",
        "    Prerequisite: 30.2 must be complete.",
        "    30.4.2 - Cover the remaining liquid",
        "    Not to be performed: 30.6.",
    ],
}


@pytest.mark.parametrize("style", list(STYLES))
def test_each_style_words_order_prerequisites_parts_and_exceptions_its_own_way(style):
    text = render(get_procedure(SPILL), style)
    for phrase in SPILL_PHRASES[style]:
        assert phrase in text, phrase


def test_manual_styles_state_internal_steps_as_determinations():
    proc = get_procedure("fda-billing-after-denial")
    internal = next(s for s in proc.all_steps() if s.kind == "internal")
    fda, cms = render(proc, "fda_manual"), render(proc, "cms_manual")
    assert (
        f"Internal determination (made within the office's systems or records; not an "
        f"observable action): {internal.text}" in fda
    )
    assert f"System determination (internal; not an observable action): {internal.text}" in cms


def test_styles_look_different_pairwise():
    for proc in CORPUS:
        texts = {s: render(proc, s) for s in STYLES}
        full = {s: _shingles(t) for s, t in texts.items()}
        layout = {s: _shingles(_mask(t, proc)) for s, t in texts.items()}
        for a, b in itertools.combinations(STYLES, 2):
            # the step texts are shared by design; everything around them must differ
            assert _jaccard(full[a], full[b]) < 0.6, (proc.id, a, b)
            assert _jaccard(layout[a], layout[b]) < 0.3, (proc.id, a, b)


@pytest.mark.parametrize(
    ("guard", "context", "expected"),
    [
        ("spill_volume_l > 1.0", {}, "the spill volume (l) is greater than 1.0"),
        ("substance_flammable", {}, "substance flammable"),
        ("not substance_flammable", {}, "not substance flammable"),
        (
            'denial_reason != "duplicate_invoice"',
            {},
            'the denial reason is not "duplicate_invoice"',
        ),
        (
            "days_held >= 180 or (x and not y)",
            {},
            "the days held is at least 180 or (x and not y)",
        ),
        (
            "spill_volume_l <= 2",
            {
                "spill_volume_l": ContextVar(
                    type="float", default=0.0, description="Volume of the spill, in litres."
                )
            },
            "the volume of the spill (in litres) is at most 2",
        ),
        (
            "not flammable",
            {
                "flammable": ContextVar(
                    type="bool", default=False, description="Whether the liquid is flammable."
                )
            },
            "it is not the case that the liquid is flammable",
        ),
        ("temp_c < -5", {}, "the temp (c) is less than -5"),
    ],
)
def test_guards_read_as_english(guard, context, expected):
    assert format_guard(guard, context) == expected


def test_every_corpus_guard_reads_back_from_its_english():
    guards = [(p, s.when) for p in CORPUS for s in p.all_steps() if s.when]
    guards += [(p, e.when) for p in CORPUS for e in p.exceptions]
    assert guards
    for proc, guard in guards:
        english = format_guard(guard, proc.context)
        back = guard_from_text(english, proc.context)
        assert back is not None, (proc.id, guard, english)
        assert back.replace(" ", "") == guard.replace(" ", ""), (proc.id, guard, english)


def test_guard_from_text_refuses_unknown_words():
    ctx = {"spill_volume_l": ContextVar(type="float", default=0.0)}
    assert (
        guard_from_text("the spill volume (l) is greater than 1.0", ctx) == "spill_volume_l > 1.0"
    )
    assert guard_from_text("the spill is large", ctx) is None


def test_ordinals_cover_long_procedures():
    assert [ordinal_word(n) for n in (1, 12, 20, 21, 33)] == [
        "first",
        "twelfth",
        "twentieth",
        "twenty-first",
        "thirty-third",
    ]

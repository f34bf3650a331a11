"""The checker on the hand-written fixture: exact verdicts and exact violations.

mini.yaml in brief: 1; 2 (after 1) with children 2.a, 2.b (after 2.a) and grandchild 2.b.1;
3 (officer, requires 2); 4 (internal, requires 3); 5 (requires 4, when channel == "mail");
6 (after 3). Exceptions: rush (urgent and amount >= 1000: replaces 3, adds X1 by the
manager, forbids 6) and portal-upload (channel == 'portal': adds P1, requires 4).
"""

from __future__ import annotations

import pytest

from proclab.errors import DataError, ProclabError
from proclab.procedures.canonical import (
    authority_bound_steps,
    canonical_order,
    canonical_trace,
    find_firing_context,
    ordered_pairs,
    unordered_pairs,
)
from proclab.procedures.checker import check, fired_exceptions, required_steps
from proclab.procedures.schema import Procedure
from proclab.procedures.trace import CheckResult, Event, Trace

NORMAL = ["1", "2", "2.a", "2.b", "2.b.1", "3", "4", "5", "6"]
RUSH = {"urgent": True, "amount": 2000.0}
RUSH_PATH = ["1", "2", "2.a", "2.b", "2.b.1", "X1", "4", "5"]


def trace(*steps: str, **actors: str) -> Trace:
    """Each step done once, by `actors[step]` (ids with dots: use `_`) or else the clerk."""
    who = {k.replace("_", "."): v for k, v in actors.items()}
    events = [Event(step=s, actor=who.get(s, "clerk")) for s in steps]
    return Trace(events=events)


def normal(**actors: str) -> list[Event]:
    return trace(*NORMAL, **{"3": "officer"}, **actors).events  # type: ignore[arg-type]


def found(result: CheckResult) -> list[tuple[str, str, str | None]]:
    return [(v.type, v.step, v.related) for v in result.violations]


def test_normal_path_is_compliant(mini: Procedure) -> None:
    result = check(mini, Trace(events=normal()))
    assert result.verdict == "COMPLIANT" and result.violations == []
    assert result.required == NORMAL
    assert result.fired_exceptions == []


def test_missing_step(mini: Procedure) -> None:
    events = [e for e in normal() if e.step != "6"]
    assert found(check(mini, Trace(events=events))) == [("missing_step", "6", None)]


def test_order(mini: Procedure) -> None:
    events = normal()
    events[0], events[1] = events[1], events[0]  # 2 before 1
    result = check(mini, Trace(events=events))
    assert result.verdict == "NON-COMPLIANT"
    assert found(result) == [("order", "2", "1")]


def test_after_with_an_absent_predecessor_is_only_missing(mini: Procedure) -> None:
    events = [e for e in normal() if e.step != "2.a"]
    assert found(check(mini, Trace(events=events))) == [("missing_step", "2.a", None)]


def test_prerequisite_done_late(mini: Procedure) -> None:
    events = normal()
    steps = [e.step for e in events]
    three = events.pop(steps.index("3"))
    events.insert(1, three)  # 1, 3, 2, 2.a, ...
    # 3 also closes step 2's block, so 2's children now come too late
    assert found(check(mini, Trace(events=events))) == [
        ("hierarchy", "2.a", "3"),
        ("hierarchy", "2.b", "3"),
        ("hierarchy", "2.b.1", "3"),
        ("prerequisite", "3", "2"),
    ]


def test_prerequisite_done_late_in_a_flat_pair(mini: Procedure) -> None:
    events = trace(*RUSH_PATH, X1="manager").events
    x1 = events.pop(RUSH_PATH.index("X1"))
    events.insert(1, x1)  # the manager approves before the review (X1 requires 2)
    assert found(check(mini, Trace(events=events), RUSH)) == [("prerequisite", "X1", "2")]


def test_prerequisite_never_done(mini: Procedure) -> None:
    events = [e for e in normal() if e.step != "2"]
    assert found(check(mini, Trace(events=events))) == [
        ("missing_step", "2", None),
        ("hierarchy", "2.a", "2"),
        ("hierarchy", "2.b", "2"),
        ("prerequisite", "3", "2"),
    ]


def test_authority(mini: Procedure) -> None:
    result = check(mini, trace(*NORMAL))  # the clerk approves step 3
    assert found(result) == [("authority", "3", None)]
    assert "clerk" in result.violations[0].message and "officer" in result.violations[0].message


def test_higher_role_may_do_any_step(mini: Procedure) -> None:
    assert check(mini, Trace(events=normal(**{"1": "manager", "6": "officer"}))).compliant


def test_event_without_actor_is_not_judged_for_authority(mini: Procedure) -> None:
    events = [Event(step=e.step, actor=None) for e in normal()]
    assert check(mini, Trace(events=events)).compliant


def test_authority_is_judged_per_event(mini: Procedure) -> None:
    events = [*normal(), Event(step="3", actor="clerk")]  # approved again, by a clerk
    assert found(check(mini, Trace(events=events))) == [("authority", "3", None)]


def test_child_before_parent_is_hierarchy(mini: Procedure) -> None:
    events = normal()
    events[1], events[2] = events[2], events[1]  # 2.a before 2
    assert found(check(mini, Trace(events=events))) == [("hierarchy", "2.a", "2")]


def test_child_after_the_next_sibling_is_hierarchy(mini: Procedure) -> None:
    events = normal()
    steps = [e.step for e in events]
    late = events.pop(steps.index("2.b"))
    events.insert(steps.index("3"), late)  # ... 2.b.1, 3, 2.b
    result = check(mini, Trace(events=events))
    # 2.b after 3 leaves step 2's block; its own child 2.b.1 now comes before it
    assert found(result) == [("hierarchy", "2.b", "3"), ("hierarchy", "2.b.1", "2.b")]


def test_grandchild_of_a_last_child_is_bounded_by_the_next_step_above(mini: Procedure) -> None:
    events = normal()
    steps = [e.step for e in events]
    grandchild = events.pop(steps.index("2.b.1"))
    events.insert(steps.index("3"), grandchild)  # 3 before 2.b.1
    assert found(check(mini, Trace(events=events))) == [("hierarchy", "2.b.1", "3")]


def test_exception_followed_is_compliant(mini: Procedure) -> None:
    result = check(mini, trace(*RUSH_PATH, X1="manager"), RUSH)
    assert result.verdict == "COMPLIANT"
    assert result.fired_exceptions == ["rush"]
    assert result.required == ["1", "2", "2.a", "2.b", "2.b.1", "4", "5", "X1"]


def test_replaced_path_is_exception_ignored(mini: Procedure) -> None:
    result = check(mini, Trace(events=normal()), RUSH)
    assert found(result) == [
        ("exception_ignored", "3", "rush"),
        ("forbidden_step", "6", "rush"),
        ("missing_step", "X1", None),
    ]


def test_forbidden_step(mini: Procedure) -> None:
    result = check(mini, trace(*RUSH_PATH, "6", X1="manager"), RUSH)
    assert found(result) == [("forbidden_step", "6", "rush")]
    status = {f.step: f.status for f in result.findings}
    assert status["6"] == "forbidden" and status["3"] == "replaced"


def test_requirement_on_a_replaced_step_is_vacuous(mini: Procedure) -> None:
    # 4 requires 3; rush replaces 3, so 4 is fine without it (the RUSH_PATH has no 3)
    result = check(mini, trace(*RUSH_PATH, X1="manager"), RUSH)
    assert [f.violations for f in result.findings if f.step == "4"] == [[]]


def test_added_steps_are_checked_like_any_other(mini: Procedure) -> None:
    result = check(mini, trace(*RUSH_PATH), RUSH)  # a clerk does the manager's X1
    assert found(result) == [("authority", "X1", None)]


def test_guarded_step_is_not_required_when_its_guard_fails(mini: Procedure) -> None:
    ctx = {"channel": "portal"}
    path = ["1", "2", "2.a", "2.b", "2.b.1", "3", "4", "P1", "6"]
    result = check(mini, trace(*path, **{"3": "officer"}), ctx)
    assert result.compliant and "5" not in result.required
    # doing the not-required step anyway is no fault by itself
    result = check(mini, trace(*path, "5", **{"3": "officer"}), ctx)
    assert result.compliant
    assert [f.status for f in result.findings if f.step == "5"] == ["not_required"]


def test_steps_of_unfired_exceptions_are_not_required(mini: Procedure) -> None:
    result = check(mini, Trace(events=[*normal(), Event(step="P1", actor="clerk")]))
    assert result.compliant
    assert {f.step: f.status for f in result.findings}["P1"] == "not_required"


def test_non_observable_step_is_never_missing(mini: Procedure) -> None:
    events = [e for e in normal() if e.step != "4"]
    result = check(mini, Trace(events=events))
    # 5 requires 4, but 4's position is unknowable: not checked
    assert result.compliant
    assert {f.step: f.status for f in result.findings}["4"] == "unobserved"


def test_non_observable_step_when_present_is_ordered(mini: Procedure) -> None:
    events = normal()
    steps = [e.step for e in events]
    four = events.pop(steps.index("4"))
    events.append(four)  # 4 after 5
    assert found(check(mini, Trace(events=events))) == [("prerequisite", "5", "4")]


def test_distractors_never_matter(mini: Procedure) -> None:
    noise = [Event(step=None, actor=None, detail="coffee"), Event(step=None, actor="visitor")]
    events = [noise[0], *normal()[:4], noise[1], *normal()[4:], noise[0]]
    assert check(mini, Trace(events=events)).compliant


def test_findings_are_complete_and_in_document_order(mini: Procedure) -> None:
    events = [e for e in normal() if e.step != "6"]
    events.insert(0, Event(step=None, detail="noise"))
    result = check(mini, Trace(events=events), None)
    assert [f.step for f in result.findings] == [*NORMAL, "X1", "P1"]
    by_step = {f.step: f for f in result.findings}
    assert (by_step["1"].status, by_step["1"].event_index, by_step["1"].actor) == (
        "done",
        1,
        "clerk",
    )
    assert by_step["3"].actor == "officer"
    assert (by_step["6"].status, by_step["6"].violations) == ("missing", ["missing_step"])
    assert by_step["X1"].status == "not_required" and by_step["X1"].event_index is None


def test_unknown_step_in_trace(mini: Procedure) -> None:
    with pytest.raises(DataError, match=r"names step '2\.c'.*did you mean"):
        check(mini, trace("1", "2.c"))


def test_unknown_role_in_trace(mini: Procedure) -> None:
    with pytest.raises(DataError, match="actor 'offcer'.*did you mean 'officer'"):
        check(mini, trace("1", **{"1": "offcer"}))


@pytest.mark.parametrize(
    ("ctx", "fragment"),
    [
        ({"urgnt": True}, "unknown context variable 'urgnt' (did you mean 'urgent'?)"),
        ({"urgent": "yes"}, "'urgent' must be a bool"),
        ({"amount": True}, "'amount' must be a float"),
        ({"channel": "fax"}, "'channel' must be a str (one of mail, portal)"),
    ],
)
def test_bad_context(mini: Procedure, ctx: dict[str, object], fragment: str) -> None:
    with pytest.raises(ProclabError) as info:
        check(mini, Trace(events=normal()), ctx)
    assert fragment in info.value.what


def test_int_is_accepted_for_a_float_variable(mini: Procedure) -> None:
    assert fired_exceptions(mini, {"urgent": True, "amount": 1000}) == ["rush"]


def test_required_and_fired_helpers(mini: Procedure) -> None:
    assert required_steps(mini) == NORMAL
    assert fired_exceptions(mini, {"urgent": True}) == []  # amount 100 < 1000
    both = {"urgent": True, "amount": 1500.0, "channel": "portal"}
    assert fired_exceptions(mini, both) == ["rush", "portal-upload"]
    assert required_steps(mini, both) == ["1", "2", "2.a", "2.b", "2.b.1", "4", "X1", "P1"]


# -- canonical traces and the relations the perturbation engine uses --------------------------


def test_canonical_orders(mini: Procedure) -> None:
    assert canonical_order(mini) == NORMAL
    assert canonical_order(mini, RUSH) == RUSH_PATH
    # an added step without replaced steps goes right after what it depends on
    portal = canonical_order(mini, {"channel": "portal"})
    assert portal == ["1", "2", "2.a", "2.b", "2.b.1", "3", "4", "P1", "6"]


@pytest.mark.parametrize("ctx", [None, RUSH, {"channel": "portal"}, {**RUSH, "channel": "portal"}])
@pytest.mark.parametrize("actor", ["minimum", "maximum", "random"])
def test_canonical_trace_is_compliant(mini: Procedure, ctx: dict | None, actor: str) -> None:
    import random

    t = canonical_trace(mini, ctx, actor=actor, rng=random.Random(7))  # type: ignore[arg-type]
    assert check(mini, t, ctx).compliant


def test_canonical_actor_choices(mini: Procedure) -> None:
    import random

    lowest = canonical_trace(mini)
    assert [e.actor for e in lowest.events if e.step == "3"] == ["officer"]
    assert {e.actor for e in canonical_trace(mini, actor="maximum").events} == {"manager"}
    rolled = canonical_trace(mini, actor="random", rng=random.Random(0))
    ranks = {"clerk": 0, "officer": 1, "manager": 2}
    assert all(ranks[e.actor or ""] >= (1 if e.step == "3" else 0) for e in rolled.events)
    with pytest.raises(ValueError, match="needs an rng"):
        canonical_trace(mini, actor="random")


def test_ordered_pairs(mini: Procedure) -> None:
    assert ordered_pairs(mini) == [
        ("1", "2", "after"),
        ("2.a", "2.b", "after"),
        ("2", "3", "requires"),
        ("3", "6", "after"),
    ]
    hidden = set(ordered_pairs(mini, observable_only=False)) - set(ordered_pairs(mini))
    assert hidden == {("3", "4", "requires"), ("4", "5", "requires")}
    assert ("2", "X1", "requires") in ordered_pairs(mini, RUSH)


def test_unordered_pairs_swap_compliantly(mini: Procedure) -> None:
    assert unordered_pairs(mini) == [("5", "6")]
    # X1 only requires 2 to have started; 2.b.1 is bounded by 3, which rush replaces
    assert unordered_pairs(mini, RUSH) == [("2.b.1", "X1")]


def test_authority_bound_steps(mini: Procedure) -> None:
    assert authority_bound_steps(mini) == ["3"]
    assert authority_bound_steps(mini, RUSH) == ["X1"]


def test_find_firing_context(mini: Procedure) -> None:
    ctx = find_firing_context(mini, "rush")
    assert ctx is not None and fired_exceptions(mini, ctx) == ["rush"]
    ctx = find_firing_context(mini, "portal-upload", base={"amount": 10.0})
    assert ctx == {"urgent": False, "amount": 10.0, "channel": "portal"}
    with pytest.raises(ProclabError, match="has no exception 'nope'"):
        find_firing_context(mini, "nope")


# -- the worked examples of docs/semantics.md, on the bundled spill procedure ----------------

SPILL_CASES = [
    ("1 2 3 4 4.a 4.b 5 6 7 8@researcher", {}, []),
    ("1 ~ 2 3 4 4.a 4.b 5 6 7 8@researcher", {}, []),
    ("1 2 3 4 4.a 4.b 5 7 8@researcher", {}, [("missing_step", "6", None)]),
    ("2 1 3 4 4.a 4.b 5 6 7 8@researcher", {}, [("order", "2", "1")]),
    ("1 2 4 4.a 4.b 3 5 6 7 8@researcher", {}, [("prerequisite", "4", "3")]),
    (
        "1 2 3 4 4.a 4.b 5 6 8@researcher",
        {},
        [("missing_step", "7", None), ("prerequisite", "8", "7")],
    ),
    ("1 2 3 4 4.a 4.b 5 6 7 8@student", {}, [("authority", "8", None)]),
    ("1 2 3 4.a 4 4.b 5 6 7 8@researcher", {}, [("hierarchy", "4.a", "4")]),
    ("1 2 3 4 4.a 5 4.b 6 7 8@researcher", {}, [("hierarchy", "4.b", "5")]),
    ("1 2 3 X2 X3 7 8@researcher", {"spill_volume_l": 2.5}, []),
    (
        "1 2 3 4 4.a 4.b 5 6 7 8@researcher",
        {"spill_volume_l": 2.5},
        [
            *[
                ("exception_ignored", s, "large-spill-escalation")
                for s in ["4", "4.a", "4.b", "5", "6"]
            ],
            ("missing_step", "X2", None),
            ("missing_step", "X3", None),
        ],
    ),
    ("1 X1 2 3 4 4.a 4.b 5 7 8@researcher", {"substance_flammable": True}, []),
    (
        "1 X1 2 3 4 4.a 4.b 5 6 7 8@researcher",
        {"substance_flammable": True},
        [("forbidden_step", "6", "flammable-ignition-control")],
    ),
]


def spill_trace(text: str) -> Trace:
    events = []
    for item in text.split():
        step, _, actor = item.partition("@")
        events.append(Event(step=None if step == "~" else step, actor=actor or "student"))
    return Trace(events=events)


@pytest.mark.parametrize(("text", "ctx", "expected"), SPILL_CASES)
def test_semantics_doc_examples(text: str, ctx: dict, expected: list) -> None:
    from proclab.procedures.corpus import get_procedure

    result = check(get_procedure("lab-minor-chemical-spill"), spill_trace(text), ctx)
    assert found(result) == expected
    assert result.compliant is (expected == [])


def test_semantics_doc_non_observable_example() -> None:
    from proclab.procedures.corpus import get_procedure

    spill = get_procedure("lab-minor-chemical-spill")
    steps = list(spill.steps)
    steps[1] = steps[1].model_copy(update={"observable": False})  # step 2, hypothetically
    variant = spill.model_copy(update={"steps": steps})
    result = check(variant, spill_trace("1 3 4 4.a 4.b 5 6 7 8@researcher"))
    assert result.compliant
    assert {f.step: f.status for f in result.findings}["2"] == "unobserved"
    result = check(variant, spill_trace("1 3 2 4 4.a 4.b 5 6 7 8@researcher"))
    assert found(result) == [("prerequisite", "3", "2")]

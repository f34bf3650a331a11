"""Every corpus procedure x every perturbation type: the checker must agree with the intent."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from proclab.procedures.checker import check
from proclab.procedures.schema import Procedure
from proclab.procedures.trace import COMPLIANT, NON_COMPLIANT
from proclab.scenarios.perturbations import PERTURBATIONS, NotApplicable
from proclab.scenarios.types import PERTURBATION_IDS

SEEDS = range(3)


def test_registry_holds_exactly_the_ten_types() -> None:
    assert tuple(PERTURBATIONS) == PERTURBATION_IDS
    assert len(PERTURBATION_IDS) == 10


@pytest.mark.parametrize("pid", PERTURBATION_IDS)
def test_drafts_match_the_checker_on_the_whole_corpus(pid: str, corpus: list[Procedure]) -> None:
    outcomes: Counter[str] = Counter()
    for proc in corpus:
        for seed in SEEDS:
            try:
                draft = PERTURBATIONS[pid](proc, random.Random(seed))
            except NotApplicable as err:
                assert err.reason
                outcomes["not_applicable"] += 1
                continue
            assert draft.perturbation == pid
            assert draft.meta["targets"] is not None and "length_ref" in draft.meta
            result = check(proc, draft.trace, draft.context)
            assert result.verdict == draft.intended_label, (proc.id, seed, result.violations)
            if result.verdict == NON_COMPLIANT:
                types = result.violation_types()
                assert types & set(draft.meta["expect"]), (proc.id, seed, types)
                assert types <= set(draft.meta["allow"]), (proc.id, seed, types)
                # the targeted steps are the ones the checker blames
                blamed = {v.step for v in result.violations} | {v.related for v in result.violations}
                assert blamed & set(draft.meta["targets"]), (proc.id, seed)
            outcomes[draft.intended_label] += 1
    # Most procedures support most types: NotApplicable is the exception, not the rule.
    assert outcomes["not_applicable"] <= len(corpus) * len(SEEDS) // 4, outcomes


@pytest.mark.parametrize("pid", ["baseline_compliant", "lexical_paraphrase",
                                 "adversarial_surface_compliant"])
def test_compliant_types_fire_no_exception(pid: str, corpus: list[Procedure]) -> None:
    for proc in corpus[::5]:
        draft = PERTURBATIONS[pid](proc, random.Random(3))
        assert check(proc, draft.trace, draft.context).fired_exceptions == []


@pytest.mark.parametrize("pid", ["exception_trigger", "distractor_injection"])
def test_fifty_fifty_types_yield_both_labels(pid: str, spill: Procedure) -> None:
    labels = Counter(PERTURBATIONS[pid](spill, random.Random(s)).intended_label for s in range(40))
    assert labels[COMPLIANT] >= 10 and labels[NON_COMPLIANT] >= 10, labels


def test_exception_trigger_states_the_firing_exception(spill: Procedure) -> None:
    for seed in range(10):
        draft = PERTURBATIONS["exception_trigger"](spill, random.Random(seed))
        fired = check(spill, draft.trace, draft.context).fired_exceptions
        assert draft.meta["exception"] in fired


def test_distractors_are_events_without_a_step(spill: Procedure) -> None:
    draft = PERTURBATIONS["distractor_injection"](spill, random.Random(2))
    extra = [e for e in draft.trace.events if e.step is None]
    assert 1 <= len(extra) == draft.meta["distractors"] <= 3
    assert all(e.detail and e.actor in spill.roles for e in extra)


@pytest.mark.parametrize(
    ("pid", "why"),
    [
        ("prerequisite_omission", "prerequisite"),
        ("step_reorder_invalid", "requires/after"),
        ("hierarchy_violation", "lowest role"),
        ("exception_trigger", "exception"),
    ],
)
def test_unsupported_types_raise_not_applicable(pid: str, why: str, flat: Procedure) -> None:
    with pytest.raises(NotApplicable, match=why):
        PERTURBATIONS[pid](flat, random.Random(0))


def test_same_seed_same_draft(spill: Procedure) -> None:
    for pid in PERTURBATION_IDS:
        a = PERTURBATIONS[pid](spill, random.Random(9))
        b = PERTURBATIONS[pid](spill, random.Random(9))
        assert (a.trace, a.context, a.intended_label, a.meta) == (b.trace, b.context, b.intended_label, b.meta)

from __future__ import annotations

import random
from collections import Counter

import pytest

from proclab.errors import ConfigError
from proclab.procedures.checker import check
from proclab.procedures.schema import Procedure
from proclab.scenarios.generate import REJECTION_REASONS, generate
from proclab.scenarios.types import PERTURBATION_IDS, Candidate, Rejection


def test_every_kept_label_is_the_checkers_verdict_and_the_intent(pool) -> None:
    for proc, pid, seed, got in pool:
        if isinstance(got, Rejection):
            continue
        result = check(proc, got.trace, got.context)
        assert got.label == result.verdict, (proc.id, pid, seed)
        assert got.violations == result.violations
        assert got.perturbation == pid
        if pid in ("baseline_compliant", "lexical_paraphrase", "adversarial_surface_compliant"):
            assert got.label == "COMPLIANT"
        elif pid not in ("exception_trigger", "distractor_injection"):
            assert got.label == "NON-COMPLIANT"
        assert got.meta["templates"] and "targets" in got.meta and got.meta["mode"]


def test_rejections_are_counted_not_raised_and_rare(pool) -> None:
    reasons: Counter[tuple[str, str]] = Counter()
    for _, pid, _, got in pool:
        if isinstance(got, Rejection):
            assert got.reason in REJECTION_REASONS and got.detail
            reasons[(pid, got.reason)] += 1
    kept = sum(isinstance(g, Candidate) for *_, g in pool)
    failed = sum(n for (_, why), n in reasons.items() if why != "not_applicable")
    assert kept >= 0.8 * len(pool), reasons
    assert failed <= 0.05 * len(pool), reasons


def test_texts_never_name_the_verdict(pool) -> None:
    for *_, got in pool:
        if isinstance(got, Candidate):
            low = got.scenario_text.lower()
            assert "skipped" not in low and "violated" not in low and "non-compliant" not in low


def test_not_applicable_becomes_a_rejection(flat: Procedure) -> None:
    got = generate(flat, "prerequisite_omission", random.Random(0))
    assert isinstance(got, Rejection)
    assert (got.procedure_id, got.reason) == ("flat-two-steps", "not_applicable")


@pytest.mark.parametrize("pid", PERTURBATION_IDS)
def test_same_seed_same_instance(pid: str, spill: Procedure) -> None:
    a = generate(spill, pid, random.Random(42))
    b = generate(spill, pid, random.Random(42))
    assert a == b
    if isinstance(a, Candidate):
        c = generate(spill, pid, random.Random(43))
        assert not isinstance(c, Candidate) or c.scenario_text != a.scenario_text


def test_unknown_perturbation_suggests_the_closest(spill: Procedure) -> None:
    with pytest.raises(ConfigError, match="did you mean 'step_reorder_invalid'"):
        generate(spill, "step_reorder_invlid", random.Random(0))


def test_modes_follow_the_perturbation(pool) -> None:
    forced = {
        "lexical_paraphrase": {"paraphrase"},
        "adversarial_surface_compliant": {"mishap", "clock", "shuffle"},
        "adversarial_surface_noncompliant": {"reassure", "verbatim", "clock", "shuffle"},
    }
    for _, pid, _, got in pool:
        if isinstance(got, Candidate) and pid in forced:
            assert forced[pid] <= set(got.meta["style"]), (pid, got.meta["style"])

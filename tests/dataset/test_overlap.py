"""Lexical overlap features and the copy metric: copied text scores near 1, unrelated text
near 0, the order and relation features read what a string matcher would, and the copy share
has the exact value its definition gives."""

from __future__ import annotations

import random

import numpy as np
import pytest
from tests.dataset.dataset_fakes import record

from proclab.dataset.config import ProbeConfig
from proclab.dataset.overlap import (
    FEATURES,
    OverlapFeaturizer,
    ProcedureUnits,
    copy_report,
    copy_share,
    units_from_text,
    units_of,
)
from proclab.dataset.probes import run_probes
from proclab.dataset.recurrence import recurrence_report
from proclab.procedures.corpus import get_procedure

STEPS = (
    "Warn the people nearby and keep them clear of the spill area.",
    "Identify the spilled substance from its container label or safety data sheet.",
    "Put on chemical splash goggles, nitrile gloves and a buttoned lab coat.",
    "Ring the spill with absorbent socks from the outside edge inward.",
    "Bag the used absorbent in a sealed hazardous-waste bag and attach a waste tag.",
    "Record the spill in the lab incident log.",
)
# step 2 (index 1) requires step 1 (index 0) ... each step requires the one before
UNITS = ProcedureUnits(
    steps=STEPS,
    ordered=tuple((i, i + 1) for i in range(len(STEPS) - 1)),
    requires=tuple((i, i + 1) for i in range(len(STEPS) - 1)),
)
PROCEDURE = "SPILL\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(STEPS, 1))
UNRELATED = (
    "The quarterly budget meeting ran long. Finance asked for revised travel estimates, and "
    "the committee postponed its vote on the new parking policy until the spring session."
)


PID = record("r", "x", PROCEDURE, "").procedure_id


def features(scenario: str) -> dict[str, float]:
    featurizer = OverlapFeaturizer({PID: UNITS})
    row = featurizer.transform([record("r", "x", PROCEDURE, scenario)])[0]
    return dict(zip(FEATURES, row.tolist(), strict=True))


def narrate(steps: tuple[str, ...]) -> str:
    return " ".join(f"Then Avery did this: {s}" for s in steps)


def test_a_copied_scenario_scores_near_one_and_an_unrelated_one_near_zero() -> None:
    copied = features(narrate(STEPS))
    for name in ("share_2", "share_3", "mean_3", "min_3", "half_3", "matched_steps"):
        assert copied[name] == pytest.approx(1.0), name
    assert copied["zero_3"] == 0.0 and copied["unconditional_unmentioned"] == 0.0
    # the narration's own words ("Then Avery did this:") are not copied
    assert 0.4 < copied["copy_5"] < 1.0 and copied["longest_copied_run"] >= 12
    unrelated = features(UNRELATED)
    for name in ("share_3", "mean_3", "max_3", "matched_steps", "copy_5", "longest_copied_run"):
        assert unrelated[name] == 0.0, name
    assert unrelated["zero_3"] == 1.0 and unrelated["unconditional_unmentioned"] == len(STEPS)


def test_order_features_follow_the_narrated_order() -> None:
    forward, backward = features(narrate(STEPS)), features(narrate(STEPS[::-1]))
    assert forward["order_tau"] == 1.0 and forward["order_discordant"] == 0.0
    assert backward["order_tau"] == -1.0 and backward["order_discordant"] == 1.0
    assert forward["pairs_inverted"] == 0.0 and backward["pairs_inverted"] == len(STEPS) - 1
    assert forward["first_step_pos"] < 0.1 and backward["first_step_pos"] > 0.8


def test_a_skipped_prerequisite_is_what_a_string_matcher_sees() -> None:
    skipped = features(narrate(STEPS[:2] + STEPS[3:]))  # step 3 never narrated
    assert skipped["requires_unmentioned"] == 1.0  # step 4 is mentioned, its prerequisite not
    assert skipped["unconditional_unmentioned"] == 1.0
    assert skipped["min_3"] < 0.2 and skipped["mean_3"] < 0.9


def test_conditional_steps_and_parts_come_from_the_procedure() -> None:
    units = units_of(get_procedure("lab-minor-chemical-spill"))
    assert len(units.steps) == 10 and len(units.added) == 3  # 1-8 with 4.a, 4.b; X1-X3
    assert not any(units.conditional)  # no step of the spill procedure has an "only if"
    assert (3, 4) in units.parent and (3, 5) in units.parent  # step 4 holds 4.a and 4.b
    assert (1, 2) in units.requires and (0, 1) in units.ordered  # 3 requires 2; 2 after 1


def test_batch_rows_equal_single_rows_and_text_fallback_works() -> None:
    rng = random.Random(0)
    scenarios = [narrate(tuple(rng.sample(STEPS, rng.randrange(1, 6)))) for _ in range(12)]
    records = [record(f"r{i}", "x", PROCEDURE, s, "COMPLIANT") for i, s in enumerate(scenarios)]
    batch = OverlapFeaturizer({PID: UNITS}).transform(records)
    single = np.stack([OverlapFeaturizer({PID: UNITS}).transform([r])[0] for r in records])
    assert np.array_equal(batch, single)
    lines = OverlapFeaturizer().transform(records)  # no units: the procedure's lines
    assert lines.shape == batch.shape and np.isfinite(lines).all()
    assert units_from_text(PROCEDURE).steps[1] == "1. " + STEPS[0]


def test_copy_share_exact_value() -> None:
    procedure = "Wipe the bench with detergent and let it dry."
    # 5-grams: "then i wipe the bench", "i wipe the bench with", "wipe the bench with
    # detergent" (copied), "the bench with detergent twice", "bench with detergent twice
    # quickly": 1 of 5 distinct.
    scenario = "Then I wipe the bench with detergent twice, quickly."
    assert copy_share(scenario, procedure) == pytest.approx(1 / 5)
    assert copy_share("Wipe the bench.", procedure) == 0.0  # shorter than five words
    # a repeated 5-gram counts once: 2 distinct, 1 copied
    assert copy_share("wipe the bench with detergent wipe", procedure) == pytest.approx(1 / 2)
    rec = record("c", "x", procedure, scenario, "COMPLIANT")
    row = OverlapFeaturizer().transform([rec])[0]
    assert row[FEATURES.index("copy_5")] == pytest.approx(1 / 5)


def test_copy_report_goal_skips_the_exempt_type() -> None:
    quoting = record("a", "h", PROCEDURE, narrate(STEPS), "NON-COMPLIANT")
    quoting = quoting.model_copy(update={"perturbation": "adversarial_surface_noncompliant"})
    plain = record("b", "h", PROCEDURE, UNRELATED, "COMPLIANT", "baseline_compliant")
    featurizer = OverlapFeaturizer()
    report = copy_report(
        [quoting, plain], featurizer, goal=0.1, exempt=["adversarial_surface_noncompliant"]
    )
    assert report["by_perturbation"]["baseline_compliant"] == 0.0
    assert report["by_perturbation"]["adversarial_surface_noncompliant"] > 0.5
    assert report["goal"] == {
        "measure": "highest mean copy share of a perturbation type outside "
        "adversarial_surface_noncompliant",
        "value": 0.0,
        "worst": "baseline_compliant",
        "goal": 0.1,
        "met": True,
    }
    strict = copy_report([quoting, plain], featurizer, goal=0.1, exempt=[])
    assert (
        not strict["goal"]["met"] and strict["goal"]["worst"] == "adversarial_surface_noncompliant"
    )


def test_recurring_lines_counts_records_not_repeats() -> None:
    recs = [
        record(
            "a", "h", "P", "The heating hummed quietly. Avery wiped the bench down.", "COMPLIANT"
        ),
        record(
            "b", "h", "P", "The heating hummed quietly. The heating hummed quietly.", "COMPLIANT"
        ),
        record("c", "h", "P", "Blake logged the spill at once. Short one.", "COMPLIANT"),
    ]
    report = recurrence_report(recs, top=2)
    assert report["top"][0] == ["the heating hummed quietly.", 2, 0.6667]
    assert report["max_share"] == 0.6667
    assert "short one." not in {line for line, _, _ in report["top"]}  # under four words


def _omission_data(seed: int, n: int) -> list:
    """Scenarios narrating every step (COMPLIANT) or all but one (NON-COMPLIANT), in shuffled
    order and with the same words around them."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = "COMPLIANT" if i % 2 else "NON-COMPLIANT"
        steps = rng.sample(STEPS, len(STEPS))
        if label == "NON-COMPLIANT":
            steps.pop()
        out.append(record(f"o{seed}-{i}", "x", PROCEDURE, narrate(tuple(steps)), label))
    return out


def test_overlap_probe_finds_an_omission_shortcut() -> None:
    report, _ = run_probes(_omission_data(1, 200), {"held": _omission_data(2, 100)}, ProbeConfig())
    probes = report["probes"]
    assert probes["overlap_gbt"]["heldout"]["held"] == 1.0
    assert not report["goals"]["overlap"]["met"]
    assert report["goals"]["overlap"]["value"] == 1.0
    assert set(report["overlap_features"]) == set(FEATURES)
    assert report["copy"]["by_perturbation"]["baseline_compliant"] > 0.5

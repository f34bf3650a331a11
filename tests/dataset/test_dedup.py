"""Dedup: exact and near duplicates planted by hand, checked against a set-based reference."""

from __future__ import annotations

import numpy as np
import pytest
from tests.dataset.dataset_fakes import edit, ref_jaccard, text

from proclab.dataset.config import DedupConfig
from proclab.dataset.dedup import Deduper, DedupItem, dedup, jaccard, shingles

PROC_A = "1. Warn people nearby.\n2. Identify the substance.\n3. Put on goggles and gloves."
PROC_B = "Section 4 The claims clerk shall file the denial notice and log it in the ledger."


@pytest.mark.parametrize("seed", range(5))
def test_jaccard_matches_set_reference(seed: int) -> None:
    a, b = text(seed), edit(text(seed), 10 + seed)
    assert jaccard(shingles(a, 5), shingles(b, 5)) == pytest.approx(ref_jaccard(a, b))


def test_short_texts_are_one_shingle() -> None:
    assert shingles("Two words", 5).size == 1
    assert shingles("", 5).size == 0
    assert jaccard(shingles("", 5), shingles("", 5)) == 1.0


def test_exact_duplicate_ignores_case_and_whitespace() -> None:
    scen = text(1)
    decisions = dedup(
        [
            DedupItem(PROC_A, scen, "COMPLIANT", "train"),
            DedupItem(PROC_A.upper(), "  " + scen.replace(" ", "\n  "), "COMPLIANT", "train"),
        ],
        DedupConfig(),
    )
    assert [d.kind for d in decisions] == ["kept", "exact"]
    assert decisions[1].match == 0 and not decisions[1].label_conflict


def test_exact_duplicate_with_other_label_is_a_conflict() -> None:
    deduper = Deduper(DedupConfig())
    deduper.offer(DedupItem(PROC_A, text(2), "COMPLIANT", "train"))
    decision = deduper.offer(DedupItem(PROC_A, text(2), "NON-COMPLIANT", "train"))
    assert decision.kind == "exact" and decision.label_conflict
    assert deduper.stats.exact_label_conflicts == 1


def test_planted_near_duplicates_are_found_and_distinct_texts_kept() -> None:
    base = [text(100 + i) for i in range(40)]
    items = [DedupItem(PROC_A, t, "COMPLIANT", "train") for t in base]
    # Three planted near twins (J >= 0.8) and one edited too far to count (J < 0.8).
    planted = {3: 2, 17: 3, 29: 1}
    for i, n in planted.items():
        assert ref_jaccard(base[i], edit(base[i], n)) >= 0.8
        items.append(DedupItem(PROC_A, edit(base[i], n), "COMPLIANT", "train"))
    far = edit(base[5], 30)
    assert ref_jaccard(base[5], far) < 0.8
    items.append(DedupItem(PROC_A, far, "COMPLIANT", "train"))
    decisions = dedup(items, DedupConfig())
    assert [d.kind for d in decisions[:40]] == ["kept"] * 40
    near = decisions[40:43]
    assert [d.kind for d in near] == ["near"] * 3
    assert [d.match for d in near] == list(planted)
    for d, (i, n) in zip(near, planted.items(), strict=True):
        assert d.similarity == pytest.approx(ref_jaccard(base[i], edit(base[i], n)))
    assert decisions[43].kind == "kept"


def test_same_split_opposite_label_twins_are_kept() -> None:
    scen = text(7)
    decisions = dedup(
        [
            DedupItem(PROC_A, scen, "COMPLIANT", "train"),
            DedupItem(PROC_A, edit(scen, 2), "NON-COMPLIANT", "train"),
        ],
        DedupConfig(),
    )
    assert [d.kind for d in decisions] == ["kept", "kept"]


def test_cross_split_twins_are_duplicates_whatever_the_label() -> None:
    scen = text(8)
    decisions = dedup(
        [
            DedupItem(PROC_A, scen, "COMPLIANT", "train"),
            DedupItem(PROC_A, edit(scen, 2), "NON-COMPLIANT", "heldout_x"),
        ],
        DedupConfig(),
    )
    assert decisions[1].kind == "near" and decisions[1].cross_split


def test_same_scenario_under_a_different_procedure_is_not_a_duplicate() -> None:
    scen = text(9)
    decisions = dedup(
        [
            DedupItem(PROC_A, scen, "COMPLIANT", "train"),
            DedupItem(PROC_B, edit(scen, 1), "COMPLIANT", "train"),
            DedupItem(PROC_B, edit(scen, 1), "COMPLIANT", "heldout_x"),
        ],
        DedupConfig(),
    )
    assert [d.kind for d in decisions] == ["kept", "kept", "exact"]


def test_threshold_is_configurable() -> None:
    a = text(11)
    b = edit(a, 12)
    j = ref_jaccard(a, b)
    assert 0.5 < j < 0.8
    strict = dedup(
        [DedupItem(PROC_A, a, "C", "t"), DedupItem(PROC_A, b, "C", "t")], DedupConfig(threshold=0.8)
    )
    loose = dedup(
        [DedupItem(PROC_A, a, "C", "t"), DedupItem(PROC_A, b, "C", "t")], DedupConfig(threshold=0.5)
    )
    assert strict[1].kind == "kept" and loose[1].kind == "near"


def test_shingles_are_sorted_unique_uint32() -> None:
    sh = shingles(text(12), 5)
    assert sh.dtype == np.uint32 and np.all(np.diff(sh.astype(np.int64)) > 0)


def test_recall_near_the_threshold() -> None:
    """Planted twins with Jaccard in [0.8, 0.9): LSH banding must find nearly all of them."""
    base = [text(1000 + i, 120) for i in range(200)]
    twins = []
    for i, t in enumerate(base):
        for n in range(1, 30):
            cand = edit(t, n)
            if ref_jaccard(t, cand) < 0.9:
                break
        assert 0.8 <= ref_jaccard(t, cand) < 0.9, i
        twins.append(cand)
    items = [DedupItem(PROC_A, t, "COMPLIANT", "train") for t in base + twins]
    decisions = dedup(items, DedupConfig())
    assert all(d.kind == "kept" for d in decisions[:200])
    found = sum(d.kind == "near" for d in decisions[200:])
    assert found >= 194  # >= 97%; the banding targets 98% at exactly 0.8

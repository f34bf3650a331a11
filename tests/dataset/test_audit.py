"""Leakage audit: exact maximum and count, against a brute-force reference, with planted leaks."""

from __future__ import annotations

import random
from itertools import combinations

import pytest
from tests.dataset.dataset_fakes import edit, record, ref_jaccard, text

from proclab.dataset.audit import leakage_audit
from proclab.dataset.config import DedupConfig

PROCS = [
    "1. Warn people nearby and keep them clear.\n2. Identify the substance.\n3. Wear gloves.",
    "1. Warn people nearby and keep them clear.\n2. Identify the substance.\n3. Wear goggles.",
    "Section 4 The claims clerk shall file the denial notice and log it in the ledger today.",
    "Card A: switch off the laser, fit the beam block, then sign the alignment sheet twice.",
]


def brute_force(records, threshold: float = 0.8) -> tuple[float, int]:
    best, above = 0.0, 0
    for a, b in combinations(records, 2):
        if a.split == b.split:
            continue
        sim = min(
            ref_jaccard(a.procedure_text, b.procedure_text),
            ref_jaccard(a.scenario_text, b.scenario_text),
        )
        best = max(best, sim)
        above += sim >= threshold
    return best, above


def random_records(seed: int, n: int = 30):
    rng = random.Random(seed)
    recs = []
    for i in range(n):
        base = text(rng.randrange(6), 60)
        scen = edit(base, rng.randrange(1, 40))
        split = rng.choice(["train", "heldout_a", "heldout_b"])
        recs.append(record(f"r{i}", split, rng.choice(PROCS), scen))
    return recs


@pytest.mark.parametrize("seed", range(4))
def test_audit_matches_brute_force(seed: int) -> None:
    recs = random_records(seed)
    splits: dict[str, list] = {}
    for r in recs:
        splits.setdefault(r.split, []).append(r)
    report = leakage_audit(splits, [], DedupConfig())
    best, above = brute_force(recs)
    assert report["max_cross_split_similarity"] == pytest.approx(best, abs=1e-6)
    assert report["pairs_above_threshold"] == above
    assert report["passed"] == (above == 0)


def test_planted_leak_is_counted_and_named() -> None:
    scen = text(50)
    train = [record("t0", "train", PROCS[0], scen), record("t1", "train", PROCS[2], text(51))]
    held = [
        record("h0", "heldout", PROCS[0], edit(scen, 2)),
        record("h1", "heldout", PROCS[3], text(52)),
    ]
    report = leakage_audit({"train": train, "heldout": held}, [], DedupConfig())
    assert report["pairs_above_threshold"] == 1
    assert not report["passed"]
    assert {report["max_pair"]["a"], report["max_pair"]["b"]} == {"t0", "h0"}
    assert report["max_cross_split_similarity"] == pytest.approx(ref_jaccard(scen, edit(scen, 2)))


def test_pairs_file_records_are_audited_too() -> None:
    scen = text(60)
    train = [record("t0", "train", PROCS[2], scen)]
    held = [record("h0", "heldout", PROCS[3], text(61))]
    pair_member = record("p0", "heldout", PROCS[2], scen)
    clean = leakage_audit({"train": train, "heldout": held}, [], DedupConfig())
    leaky = leakage_audit({"train": train, "heldout": held}, [pair_member], DedupConfig())
    assert clean["pairs_above_threshold"] == 0
    assert leaky["pairs_above_threshold"] == 1


def test_same_split_similarity_is_not_leakage() -> None:
    scen = text(70)
    train = [record("t0", "train", PROCS[0], scen), record("t1", "train", PROCS[0], scen)]
    held = [record("h0", "heldout", PROCS[3], text(71))]
    report = leakage_audit({"train": train, "heldout": held}, [], DedupConfig())
    assert report["pairs_above_threshold"] == 0
    assert report["max_cross_split_similarity"] < 0.5

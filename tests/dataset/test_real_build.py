"""The tiny shipped config on the real corpus, styles and generators (a few seconds)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from proclab.dataset.build import build
from proclab.dataset.config import load_config
from proclab.dataset.output import write_build
from proclab.procedures.checker import check
from proclab.procedures.corpus import get_procedure
from proclab.procedures.styles import render
from proclab.procedures.trace import Trace

TINY = Path(__file__).parents[2] / "configs" / "data" / "tiny.yaml"


@pytest.fixture(scope="module")
def result():
    return build(load_config(TINY))


def test_sizes_splits_and_audit(result) -> None:
    config = result.config
    cohorts = Counter(r.cohort for split in result.splits.values() for r in split)
    assert cohorts == {c.name: c.size for c in config.cohorts}
    train_procs = {r.procedure_id for r in result.splits["train"]}
    for split in config.heldout_splits():
        assert train_procs.isdisjoint({r.procedure_id for r in result.splits[split]})
    assert {r.source for r in result.splits["heldout_style"]} == {"step_cards"}
    assert "step_cards" not in {r.source for r in result.splits["train"]}
    assert {r.domain for r in result.splits["heldout_procedures"]} == {"lab_safety", "fda", "cms"}
    assert result.audit["passed"] and result.audit["pairs_above_threshold"] == 0


def test_every_label_is_the_checkers_verdict(result) -> None:
    records = [r for split in result.splits.values() for r in split] + result.pairs
    for rec in records:
        proc = get_procedure(rec.procedure_id)
        verdict = check(proc, Trace(events=rec.trace), rec.context)
        assert verdict.verdict == rec.label, rec.id
        assert sorted(v.type for v in verdict.violations) == sorted(v.type for v in rec.violations)
        assert rec.procedure_text == render(proc, rec.source)


def test_counterfactual_pairs_in_train_and_heldout(result) -> None:
    by_pair: dict[str, list] = {}
    for rec in result.pairs:
        by_pair.setdefault(rec.pair_id, []).append(rec)
    assert {r.split for r in result.pairs} == {"train", "heldout_procedures"}
    for members in by_pair.values():
        assert [m.pair_role for m in members][0] == "base"
        assert len({(m.split, m.source, m.procedure_id) for m in members}) == 1
        flip = [m for m in members if m.pair_role == "flip"]
        assert all(m.label != members[0].label for m in flip)


def test_real_build_is_byte_identical_on_rerun(result, tmp_path) -> None:
    first = write_build(result, tmp_path / "first")
    second = write_build(build(load_config(TINY)), tmp_path / "second")
    for path in sorted(first.rglob("*")):
        if path.is_file() and path.name != "timings.json":
            assert path.read_bytes() == (second / path.relative_to(first)).read_bytes(), path.name


def test_probes_report_overlap_copy_and_recurring_lines(result, tmp_path) -> None:
    probes = result.probes
    for name in ("scenario_bow", "length_lr", "length_stump", "overlap_lr", "overlap_gbt"):
        assert set(probes["probes"][name]["heldout"]) == set(result.config.heldout_splits())
    goals = probes["goals"]
    assert set(goals) == {
        "scenario_only",
        "scenario_per_perturbation",
        "length_only",
        "overlap",
        "copy",
    }
    assert goals["overlap"]["goal"] == 0.65 and goals["copy"]["goal"] == 0.10
    overlap = max(
        max(probes["probes"][n]["heldout"].values()) for n in ("overlap_lr", "overlap_gbt")
    )
    assert goals["overlap"]["value"] == overlap
    assert goals["overlap"]["met"] == (overlap <= 0.65)
    copy = probes["copy"]
    records = [r for split in result.splits.values() for r in split]
    assert copy["records"] == len(records)
    assert set(copy["by_perturbation"]) == {r.perturbation for r in records}
    outside = [
        v for p, v in copy["by_perturbation"].items() if p != "adversarial_surface_noncompliant"
    ]
    assert goals["copy"]["value"] == max(outside)
    assert 0 < probes["recurring_lines"]["max_share"] <= 1
    out = write_build(result, tmp_path / "data")
    written = json.loads((out / "probes.json").read_text())
    assert written["copy"] == copy and written["goals"] == goals
    card = (out / "datacard.md").read_text()
    assert "## Copied text" in card and "overlap_gbt" in card

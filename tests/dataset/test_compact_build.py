"""The compact view on the real corpus: a tiny build whose procedures are `<id>--c5` cuts,
labels the checker's verdict on the cut procedure, no filler, the default's held-out choice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from proclab.dataset.build import build
from proclab.dataset.config import load_config, parse_config
from proclab.procedures.checker import check
from proclab.procedures.compact import parse_compact_id
from proclab.procedures.corpus import get_procedure
from proclab.procedures.styles import render
from proclab.procedures.trace import Trace
from proclab.scenarios.lexicon import load_lexicon
from proclab.yamlsafe import load_yaml

CONFIGS = Path(__file__).parents[2] / "configs" / "data"


def _tiny_compact():
    raw = load_yaml((CONFIGS / "tiny.yaml").read_text(), where="tiny.yaml")
    return parse_config({**raw, "name": "tiny-compact", "compact": {"max_steps": 5}})


@pytest.fixture(scope="module")
def result():
    return build(_tiny_compact())


def test_records_use_compact_procedures_and_proven_labels(result):
    records = [r for split in result.splits.values() for r in split]
    assert records
    for rec in records:
        base, n = parse_compact_id(rec.procedure_id)
        assert n == 5
        proc = get_procedure(rec.procedure_id)
        assert len([s for top in proc.steps for s in top.walk()]) <= 5
        assert rec.procedure_text == render(proc, rec.source)
        verdict = check(proc, Trace(events=list(rec.trace)), rec.context).verdict
        assert verdict == rec.label, rec.id
    # All ten perturbation types survive the cut.
    assert len(Counter(r.perturbation for r in records)) == 10


def test_no_neutral_filler_and_the_default_held_out_choice(result):
    full = build(load_config(CONFIGS / "tiny.yaml"))
    held = {parse_compact_id(p)[0] for p in result.plan.heldout_procedures}
    assert held == set(full.plan.heldout_procedures)
    for domain in ("lab_safety", "fda", "cms"):
        pool = {line for line, _ in load_lexicon().fillers_for(domain)}
        for rec in (r for split in result.splits.values() for r in split if r.domain == domain):
            assert not any(line in rec.scenario_text for line in pool), rec.id


def test_unset_compact_keeps_the_full_view_hash():
    # The hashes these configs had before the compact view existed (they name earlier builds).
    assert load_config(CONFIGS / "tiny.yaml").sha256() == (
        "b0b887732c6bd34f1a91dac227f234c759c3c590f499ed576f12804680f0c787")
    assert load_config(CONFIGS / "default.yaml").sha256() == (
        "5ad6cb5a055922ada93db8ca822165530315055cfe3cdd2e7d3847602e8aa276")
    plain = {**load_yaml((CONFIGS / "tiny.yaml").read_text(), where="t"), "name": "tiny-compact"}
    assert _tiny_compact().sha256() != parse_config(plain).sha256()


def test_the_shipped_compact_config_validates():
    config = load_config(CONFIGS / "compact.yaml")
    assert config.compact is not None and config.compact.max_steps == 5
    assert not config.compact.filler


def test_seen_procedures_cohorts_use_training_procedures_only():
    from proclab.errors import ErrorList

    raw = load_yaml((CONFIGS / "tiny.yaml").read_text(), where="tiny.yaml")
    seen = {"name": "seen", "seed": 77, "size": 20, "procedures": "train",
            "seen_procedures": True, "perturbations": {"baseline_compliant": 1,
                                                       "baseline_noncompliant": 1}}
    config = parse_config({**raw, "cohorts": [*raw["cohorts"], seen],
                           "splits": {**raw["splits"], "seen_procedures": ["seen"]}})
    got = build(config)
    train_ids = {r.procedure_id for r in got.splits["train"]}
    seen_ids = {r.procedure_id for r in got.splits["seen_procedures"]}
    assert seen_ids and seen_ids <= set(got.plan.train_procedures)
    assert seen_ids & train_ids
    train_scenarios = {r.scenario_text for r in got.splits["train"]}
    assert not any(r.scenario_text in train_scenarios for r in got.splits["seen_procedures"])
    wrong = parse_config({**raw, "cohorts": [*raw["cohorts"], {**seen, "procedures": "heldout"}],
                          "splits": {**raw["splits"], "seen_procedures": ["seen"]}})
    with pytest.raises(ErrorList, match="held-out procedures"):
        build(wrong)
    in_train = [{**c, "seen_procedures": True} if c["name"] == "train_core" else c
                for c in raw["cohorts"]]
    with pytest.raises(ErrorList, match="is for held-out cohorts"):
        build(parse_config({**raw, "cohorts": in_train}))

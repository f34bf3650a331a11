"""Surface cues must not give the label away: the dataset's shortcut probes (bag-of-words and
length classifiers on held-out procedures) need both labels to look alike on the surface."""

from __future__ import annotations

import itertools
import random
import statistics
from collections import defaultdict

import pytest

from proclab.errors import ConfigError
from proclab.procedures.styles.wording import role_name
from proclab.procedures.trace import COMPLIANT, NON_COMPLIANT
from proclab.scenarios.generate import balancing_boosts, generate
from proclab.scenarios.lexicon import load_lexicon
from proclab.scenarios.narrative import BASE_RATES
from proclab.scenarios.types import PERTURBATION_IDS, Candidate


def _kept(pool) -> list[Candidate]:
    return [got for *_, got in pool if isinstance(got, Candidate)]


def _by_label(pool) -> dict[str, list[Candidate]]:
    out: dict[str, list[Candidate]] = defaultdict(list)
    for c in _kept(pool):
        out[c.label].append(c)
    return out


@pytest.mark.parametrize("feature", [*BASE_RATES, "shuffle"])
def test_style_features_are_as_common_with_either_label(pool, feature: str) -> None:
    rates = {
        label: sum(feature in c.meta["style"] for c in cs) / len(cs)
        for label, cs in _by_label(pool).items()
    }
    assert abs(rates["COMPLIANT"] - rates["NON-COMPLIANT"]) < 0.12, rates


@pytest.mark.parametrize("pair", list(itertools.combinations([*BASE_RATES, "shuffle"], 2)))
def test_feature_pairs_co_occur_as_often_with_either_label(pool, pair: tuple[str, str]) -> None:
    # bag-of-words bigrams see co-occurrences ("when, per protocol": a clock cue meeting a
    # reassuring prefix), so pairs of features must be balanced, not just single ones
    rates = {
        label: sum(set(pair) <= set(c.meta["style"]) for c in cs) / len(cs)
        for label, cs in _by_label(pool).items()
    }
    assert abs(rates["COMPLIANT"] - rates["NON-COMPLIANT"]) < 0.1, rates


def test_cue_phrases_appear_with_both_labels_in_balance(pool) -> None:
    cues = load_lexicon().cues
    families = {
        "mishap": [m.split("{name}")[-1][:25] for m in cues.mishaps + cues.hedges],
        "reassure": [r + "," for r in cues.reassure],
    }
    for family, markers in families.items():
        rates = {
            label: sum(any(m in c.scenario_text for m in markers) for c in cs) / len(cs)
            for label, cs in _by_label(pool).items()
        }
        assert min(rates.values()) > 0.2, (family, rates)
        assert abs(rates["COMPLIANT"] - rates["NON-COMPLIANT"]) < 0.12, (family, rates)


def test_noncompliant_scenarios_are_not_shorter(pool) -> None:
    per_proc: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for c in _kept(pool):
        per_proc[c.procedure_id][c.label].append(len(c.scenario_text))
    gaps = [
        statistics.mean(d["NON-COMPLIANT"]) / statistics.mean(d["COMPLIANT"]) - 1
        for d in per_proc.values()
        if d["COMPLIANT"] and d["NON-COMPLIANT"]
    ]
    # ~20 instances per procedure: which exception_trigger draws come out compliant moves with
    # any ordering edge in the corpus (main sat at -0.0298), so allow a little more than 3%
    assert abs(statistics.mean(gaps)) < 0.035, statistics.mean(gaps)
    labels = _by_label(pool)
    means = {k: statistics.mean(len(c.scenario_text) for c in v) for k, v in labels.items()}
    assert abs(means["NON-COMPLIANT"] / means["COMPLIANT"] - 1) < 0.05, means


def test_every_scenario_introduces_every_role(pool) -> None:
    for proc, _, _, got in pool:
        if isinstance(got, Candidate):
            for role in proc.roles:
                assert role_name(role) in got.scenario_text, (proc.id, role)


LABEL_BALANCED_MIX = {  # C types weighted up so that labels come out 50/50
    "baseline_compliant": 5, "lexical_paraphrase": 5, "adversarial_surface_compliant": 5,
    "baseline_noncompliant": 3, "step_reorder_invalid": 3, "prerequisite_omission": 3,
    "hierarchy_violation": 3, "adversarial_surface_noncompliant": 3, "exception_trigger": 3,
    "distractor_injection": 3,
}


def test_boosts_for_equal_and_label_balanced_mixes() -> None:
    equal = balancing_boosts(dict.fromkeys(PERTURBATION_IDS, 1.0))
    assert equal[COMPLIANT] == pytest.approx({"adversarial_noncompliant": 1 / 3})
    assert equal[NON_COMPLIANT] == pytest.approx(
        {"adversarial_compliant": 0.3, "paraphrase": 0.3})
    assert balancing_boosts() == balancing_boosts(LABEL_BALANCED_MIX)  # the default
    tilted = balancing_boosts(LABEL_BALANCED_MIX)
    assert tilted[COMPLIANT] == pytest.approx({"adversarial_noncompliant": 3 / 8})
    assert tilted[NON_COMPLIANT] == pytest.approx(
        {"adversarial_compliant": 1 / 3, "paraphrase": 1 / 3})
    with pytest.raises(ConfigError, match="bad perturbation mix"):
        balancing_boosts({"baseline_compliant": 1, "typo": 1})


def test_features_balance_under_a_weighted_mix(corpus) -> None:
    by_label: dict[str, list[Candidate]] = defaultdict(list)
    for proc in corpus[::2]:
        rng = random.Random(proc.id)
        for pid, weight in LABEL_BALANCED_MIX.items():
            for _ in range(weight):
                got = generate(proc, pid, rng, mix=LABEL_BALANCED_MIX)
                if isinstance(got, Candidate):
                    by_label[got.label].append(got)
    assert 0.4 < len(by_label[COMPLIANT]) / sum(map(len, by_label.values())) < 0.6
    for feature in [*BASE_RATES, "shuffle"]:
        rates = {k: sum(feature in c.meta["style"] for c in v) / len(v) for k, v in by_label.items()}
        assert abs(rates[COMPLIANT] - rates[NON_COMPLIANT]) < 0.1, (feature, rates)

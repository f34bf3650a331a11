"""Each metric against a hand-computed example, and against sklearn on random data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, matthews_corrcoef

from proclab.evaluate.metrics import METRICS, metrics_from_counts

# gold: C C C C N N N N N N ; answers: C C N U N N N C U N  (U = unparsed)
# cells (gold, answer): CC=2 CN=1 CU=1 NC=1 NN=4 NU=1
HAND = np.array([2, 1, 1, 1, 4, 1])


def test_hand_example_every_metric():
    m = {k: float(v) for k, v in metrics_from_counts(HAND).items()}
    assert set(m) == set(METRICS)
    assert m["accuracy"] == pytest.approx(6 / 10)
    assert m["recall_compliant"] == pytest.approx(2 / 4)
    assert m["recall_noncompliant"] == pytest.approx(4 / 6)
    assert m["balanced_accuracy"] == pytest.approx((2 / 4 + 4 / 6) / 2)
    # F1_C = 2*2 / (2*2 + FP 1 + FN 2) = 4/7 ; F1_N = 2*4 / (2*4 + FP 1 + FN 2) = 8/11
    assert m["macro_f1"] == pytest.approx((4 / 7 + 8 / 11) / 2)
    # Gorodkin: cov = 6*10 - (4*3 + 6*5) = 18; var_pred = 100 - (9+25+4); var_true = 100 - (16+36)
    assert m["mcc"] == pytest.approx(18 / math.sqrt(62 * 48))
    assert m["parse_rate"] == pytest.approx(8 / 10)


def test_hand_example_matches_sklearn_on_answer_strings():
    gold = ["C"] * 4 + ["N"] * 6
    answers = ["C", "C", "N", "U", "N", "N", "N", "C", "U", "N"]
    m = metrics_from_counts(HAND)
    assert float(m["mcc"]) == pytest.approx(matthews_corrcoef(gold, answers))
    assert float(m["macro_f1"]) == pytest.approx(
        f1_score(gold, answers, labels=["C", "N"], average="macro"))


def test_undefined_recall_is_nan_and_balanced_accuracy_uses_the_defined_one():
    # Only COMPLIANT gold samples: 3 right, 1 answered NON-COMPLIANT.
    m = metrics_from_counts(np.array([3, 1, 0, 0, 0, 0]))
    assert math.isnan(float(m["recall_noncompliant"]))
    assert float(m["balanced_accuracy"]) == pytest.approx(3 / 4)
    # F1_N is 0 (answered N once, never right) and counts: N occurs among the answers.
    assert float(m["macro_f1"]) == pytest.approx((2 * 3 / (6 + 1) + 0.0) / 2)


def test_all_unparsed_scores_zero_and_mcc_zero():
    m = metrics_from_counts(np.array([0, 0, 5, 0, 0, 5]))
    assert float(m["accuracy"]) == 0.0
    assert float(m["parse_rate"]) == 0.0
    assert float(m["mcc"]) == 0.0
    assert float(m["macro_f1"]) == 0.0


def test_vectorised_over_leading_axes_equals_row_by_row():
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 20, size=(7, 3, 6))
    batch = metrics_from_counts(counts)
    for i in range(7):
        for j in range(3):
            single = metrics_from_counts(counts[i, j])
            for name in METRICS:
                np.testing.assert_allclose(batch[name][i, j], single[name])


@pytest.mark.parametrize("seed", range(5))
def test_random_data_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    names = np.array(["C", "N", "U"])
    gold = rng.integers(0, 2, 60)
    pred = rng.integers(0, 3, 60)
    m = metrics_from_counts(np.bincount(gold * 3 + pred, minlength=6))
    assert float(m["accuracy"]) == pytest.approx(np.mean(gold == pred))
    assert float(m["mcc"]) == pytest.approx(matthews_corrcoef(names[gold], names[pred]))
    assert float(m["macro_f1"]) == pytest.approx(
        f1_score(names[gold], names[pred], labels=["C", "N"], average="macro"))

"""The vectorised cluster bootstrap against a plain loop that resamples procedures."""

from __future__ import annotations

import numpy as np
import pytest

from proclab.evaluate.bootstrap import (
    cluster_weights,
    estimate,
    estimates,
    interval,
    ratio_estimate,
)
from proclab.evaluate.metrics import metrics_from_counts


def test_weights_are_draw_counts_of_seeded_integers():
    w = cluster_weights(4, 3, seed=7)
    draws = np.random.default_rng(7).integers(0, 4, size=(3, 4))
    expected = np.stack([np.bincount(row, minlength=4) for row in draws])
    np.testing.assert_array_equal(w, expected)
    assert (w.sum(axis=1) == 4).all()


def test_matches_a_loop_over_resampled_procedures():
    # Three procedures with different accuracy; samples as (cluster, correct).
    correct = {0: [1, 1, 1, 0], 1: [0, 0, 1], 2: [1, 1]}
    resamples, seed = 200, 11
    draws = np.random.default_rng(seed).integers(0, 3, size=(resamples, 3))
    loop = []
    for row in draws:
        pooled = [c for k in row for c in correct[int(k)]]
        loop.append(np.mean(pooled))
    per_cluster = np.array([[sum(v), len(v)] for v in correct.values()], dtype=float)
    est = ratio_estimate(per_cluster[:, 0], per_cluster[:, 1],
                         cluster_weights(3, resamples, seed))
    assert est.value == pytest.approx(6 / 9)
    low, high = np.percentile(loop, [2.5, 97.5])
    assert est.ci_low == pytest.approx(low)
    assert est.ci_high == pytest.approx(high)


def test_estimates_of_metrics_bracket_the_value_and_repeat_with_the_seed():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 15, size=(12, 6))
    a = estimates(counts, metrics_from_counts, cluster_weights(12, 500, 1))
    b = estimates(counts, metrics_from_counts, cluster_weights(12, 500, 1))
    assert a == b
    acc = a["accuracy"]
    assert acc.ci_low < acc.value < acc.ci_high
    c = estimates(counts, metrics_from_counts, cluster_weights(12, 500, 2))
    assert c["accuracy"].value == acc.value
    assert c["accuracy"].ci_low != acc.ci_low


def test_identical_procedures_give_a_degenerate_interval():
    counts = np.tile(np.array([3, 1, 0, 1, 3, 0]), (5, 1))
    est = estimates(counts, metrics_from_counts, cluster_weights(5, 100, 0))["accuracy"]
    assert est.value == est.ci_low == est.ci_high == pytest.approx(0.75)


def test_undefined_values():
    assert interval(np.array([np.nan, np.nan])) is None
    assert estimate(float("nan"), np.array([0.5])).value is None
    no_boot = estimates(np.array([[1, 0, 0, 0, 1, 0]]), metrics_from_counts,
                        cluster_weights(1, 0, 0))["accuracy"]
    assert no_boot.value == 1.0 and no_boot.ci_low is None

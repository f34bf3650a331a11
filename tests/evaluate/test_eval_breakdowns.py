"""Failure grid, counterfactual pairs and prompt orders on hand-computed examples."""

from __future__ import annotations

import pytest
from tests.evaluate.eval_fakes import C, N, sample

from proclab.evaluate.analysis import analyze
from proclab.evaluate.grid import failure_grid
from proclab.evaluate.table import SampleTable


def test_grid_counts_errors_by_direction():
    rows = [
        sample("1", C, C, perturbation="p1", source="s1"),
        sample("2", C, N, perturbation="p1", source="s1"),  # false NON-COMPLIANT
        sample("3", N, C, perturbation="p1", source="s1"),  # false COMPLIANT
        sample("4", N, None, perturbation="p1", source="s1"),  # unparsed
        sample("5", N, N, perturbation="p2", source="s1"),
        sample("6", C, None, perturbation="p1", source="s2", domain="d2"),
    ]
    grid = failure_grid(SampleTable.from_samples(rows))
    cells = {(c.perturbation, c.group): c for c in grid.by_source}
    assert set(cells) == {("p1", "s1"), ("p1", "s2"), ("p2", "s1")}
    a = cells[("p1", "s1")]
    assert (a.n, a.errors, a.false_compliant, a.false_noncompliant, a.unparsed) == (4, 3, 1, 1, 1)
    assert a.error_rate == pytest.approx(0.75)
    b = cells[("p1", "s2")]
    assert (b.n, b.errors, b.false_compliant, b.false_noncompliant, b.unparsed) == (1, 1, 0, 0, 1)
    assert cells[("p2", "s1")].errors == 0
    by_domain = {(c.perturbation, c.group): c.n for c in grid.by_domain}
    assert by_domain == {("p1", "d1"): 4, ("p1", "d2"): 1, ("p2", "d1"): 1}


def _pair_rows(order: str = "PSQ") -> list:
    def m(rid, gold, pred, pid, role, proc="p1"):
        return sample(f"{rid}-{order}", gold, pred, order=order, pair_id=pid, pair_role=role,
                      proc=proc)

    return [
        m("a0", C, C, "A", "base"), m("a1", N, N, "A", "flip"),  # consistent, answer changed
        m("b0", C, C, "B", "base"), m("b1", N, C, "B", "flip", proc="p2"),  # missed the flip
        m("c0", C, C, "C", "base"), m("c1", C, N, "C", "preserve"),  # invariance broken
        m("d0", N, N, "D", "base"), m("d1", N, N, "D", "preserve"),  # invariant, consistent
        m("e0", C, C, "E", "base"),  # partner cut off: not a pair
        sample(f"x-{order}", C, N, order=order),  # not a pair member
    ]


def test_pair_statistics():
    stats = analyze(_pair_rows(), resamples=50).pairs
    assert stats is not None and stats.flip is not None and stats.preserve is not None
    assert (stats.flip.pairs, stats.flip.samples) == (2, 4)
    assert stats.flip.accuracy.value == pytest.approx(3 / 4)
    assert stats.flip.consistency.value == pytest.approx(1 / 2)
    assert stats.flip.changed_rate == pytest.approx(1 / 2)
    assert (stats.preserve.pairs, stats.preserve.samples) == (2, 4)
    assert stats.preserve.accuracy.value == pytest.approx(3 / 4)
    assert stats.preserve.consistency.value == pytest.approx(1 / 2)
    assert stats.consistency.value == pytest.approx(2 / 4)
    assert stats.invariance_flip_rate is not None
    assert stats.invariance_flip_rate.value == pytest.approx(1 / 2)


def test_pairs_are_counted_per_order_and_absent_without_pairs():
    both = analyze(_pair_rows("PSQ") + _pair_rows("SPQ"), resamples=0).pairs
    assert both is not None and both.flip is not None and both.flip.pairs == 4
    assert analyze([sample("x", C, C)], resamples=0).pairs is None


def test_order_accuracy_and_agreement():
    rows = [
        sample("a", C, C, order="PSQ"), sample("b", N, N, order="PSQ"),
        sample("c", C, None, order="PSQ"), sample("d", C, C, order="PSQ"),
        sample("a", C, C, order="SPQ"), sample("b", N, C, order="SPQ"),
        sample("c", C, None, order="SPQ"),
    ]
    stats = analyze(rows, ["PSQ", "SPQ"], resamples=50).orders
    assert stats.orders == ["PSQ", "SPQ"]
    assert stats.n == {"PSQ": 4, "SPQ": 3}
    assert stats.accuracy["PSQ"].value == pytest.approx(3 / 4)
    assert stats.accuracy["SPQ"].value == pytest.approx(1 / 3)
    assert stats.ids_compared == 3  # d was not asked in SPQ
    assert stats.agreement == pytest.approx(2 / 3)  # b changed; c is unparsed in both
    assert stats.all_correct == pytest.approx(1 / 3)


def test_single_order_has_no_agreement_and_metrics_pool_orders():
    result = analyze([sample("a", C, C), sample("b", N, C)], resamples=10)
    assert result.orders.agreement is None and result.orders.ids_compared == 0
    assert result.metrics["accuracy"].value == pytest.approx(0.5)
    assert result.per_class[C].n == 1 and result.per_class[N].recall.value == 0.0

"""Statistics over pairs and the stage grouping, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from proclab.interp import stats
from proclab.interp.stages import assign_stages, layer_band


def test_sign_flip_p_is_exact_for_few_pairs() -> None:
    rng = np.random.default_rng(0)
    x = np.array([[1.0, 1.0], [2.0, -2.0], [3.0, 3.0], [4.0, -4.0], [5.0, 5.0]])
    p = stats.sign_flip_p(x, rng)
    # all-positive column: only the all-+ and all-- patterns are as extreme -> 2/32
    assert p[0] == pytest.approx(2 / 32)
    # mean 3/5 = 0.6; patterns with |sum| >= 3 out of the 32 sign assignments of 1..5
    sums = [abs(sum(s * v for s, v in zip(signs, range(1, 6), strict=True)))
            for signs in np.array(np.meshgrid(*[[1, -1]] * 5)).T.reshape(-1, 5)]  # fmt: skip
    assert p[1] == pytest.approx(sum(s >= 3 for s in sums) / 32)


def test_sign_flip_p_sampled_for_many_pairs_and_nan_for_unpatched() -> None:
    rng = np.random.default_rng(1)
    x = np.column_stack([np.full(30, 0.5), rng.normal(size=30), np.full(30, np.nan)])
    p = stats.sign_flip_p(x, rng, permutations=999)
    assert p[0] == pytest.approx(1 / 1000)  # nothing beats a constant shift; +1 smoothing
    assert p[1] > 0.01
    assert np.isnan(p[2])


def test_bh_qvalues_match_the_step_up_rule() -> None:
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.5])
    q = stats.bh_qvalues(p)
    # sorted 0.01, 0.03, 0.04, 0.5 with m = 4: 0.04, 0.0533, 0.0533, 0.5
    np.testing.assert_allclose(q[[0, 2, 1, 4]], [0.04, 0.16 / 3, 0.16 / 3, 0.5])
    assert np.isnan(q[3])


def test_spearman_matches_scipy_with_ties() -> None:
    a = np.array([1.0, 2.0, 2.0, 5.0, 3.0, np.nan])
    b = np.array([2.0, 1.0, 4.0, 9.0, 3.0, 1.0])
    assert stats.spearman(a, b) == pytest.approx(spearmanr(a[:5], b[:5]).statistic)


def test_top_k_and_overlap_use_absolute_scores() -> None:
    a = np.array([[0.1, -3.0], [2.0, np.nan]])
    b = np.array([[5.0, 0.2], [-1.0, 4.0]])
    assert stats.top_k(a, 2) == [1, 2]
    # defined in both: entries 0, 1, 2; top-2 of a = {1, 2}, of b = {0, 2}
    assert stats.top_k_overlap(a, b, 2) == 0.5


def test_mean_ci_brackets_the_mean_and_is_nan_for_one_pair() -> None:
    rng = np.random.default_rng(0)
    x = np.array([[1.0], [2.0], [3.0], [10.0]])
    mean, lo, hi = stats.mean_ci(x, rng, resamples=500)
    assert mean[0] == 4.0 and lo[0] < 4.0 < hi[0] and lo[0] >= 1.0 and hi[0] <= 10.0
    _, lo1, hi1 = stats.mean_ci(x[:1], rng)
    assert np.isnan(lo1[0]) and np.isnan(hi1[0])


def _summary(pair_set: str, span: str, significant: dict[tuple[int, int], float]) -> dict:
    heads = {}
    for layer in range(6):
        for head in range(2):
            d = significant.get((layer, head), 0.01)
            heads[f"L{layer}.H{head}"] = {
                "layer": layer, "head": head, "delta": d, "delta_ci": [d - 0.1, d + 0.1],
                "q": 0.001 if (layer, head) in significant else 0.9,
                "significant": (layer, head) in significant,
            }  # fmt: skip
    return {"pair_set": pair_set, "span": span, "heads": heads}


def test_stages_come_from_span_band_and_pair_set() -> None:
    assert [layer_band(i, 6, (1 / 3, 2 / 3)) for i in range(6)] == [
        "early", "early", "middle", "middle", "late", "late"]  # fmt: skip
    conditions = {
        "decision@scenario": _summary("decision", "scenario", {(0, 1): 0.8, (3, 0): 0.5}),
        "decision@final": _summary("decision", "final", {(2, 0): 1.2, (3, 1): 0.7, (5, 0): 0.4}),
        "mapping@final": _summary("mapping", "final", {(5, 1): 2.0, (3, 1): 0.9}),
    }
    out = assign_stages(conditions, 6, (1 / 3, 2 / 3))
    assert [r["head"] for r in out["symbol_abstraction"]] == ["L0.H1"]
    # L3.H1 also matters on the mapping swap, so it carries the word: not induction
    assert [r["head"] for r in out["symbolic_induction"]] == ["L2.H0"]
    assert [r["head"] for r in out["retrieval"]] == ["L5.H1"]
    assert {r["head"] for r in out["unassigned"]} == {"L3.H0", "L3.H1", "L5.H0"}
    assert out["not_assessed"] == {}


def test_stages_not_assessed_without_their_condition() -> None:
    out = assign_stages({"decision@final": _summary("decision", "final", {})}, 6, (0.3, 0.7))
    assert set(out["not_assessed"]) == {"symbol_abstraction", "retrieval"}
    assert out["symbolic_induction"] == []


def _study_condition(ids: list[str], per_pair: list[list[list[float]]]) -> dict:
    arr = np.array(per_pair)
    heads = {f"L{layer}.H{h}": {"delta": float(arr[:, layer, h].mean())}
             for layer in range(arr.shape[1]) for h in range(arr.shape[2])}  # fmt: skip
    return {"pair_set": "decision", "span": "final", "heads": heads,
            "per_pair": {"pair_ids": ids, "delta": per_pair}}  # fmt: skip


def test_compare_is_paired_over_shared_pairs_else_two_sample() -> None:
    from proclab.interp.compare import compare_condition

    rng = np.random.default_rng(0)
    a = _study_condition(["p1", "p2", "p3", "p4"], [[[0.0, 1.0]], [[0.1, 1.0]], [[0.2, 1.0]],
                                                    [[0.3, 1.0]]])  # fmt: skip
    b = _study_condition(["p4", "p3", "p2", "p1"], [[[2.3, 1.0]], [[2.2, 1.0]], [[2.1, 1.0]],
                                                    [[2.0, 1.0]]])  # fmt: skip
    paired = compare_condition(a, b, rng, resamples=200, permutations=200)
    assert paired["paired"] and paired["shared_pairs"] == 4
    # matched by pair id, every per-pair difference is exactly 2.0
    assert paired["heads"]["L0.H0"]["delta"] == pytest.approx(2.0)
    assert paired["heads"]["L0.H0"]["delta_ci"] == [pytest.approx(2.0), pytest.approx(2.0)]
    assert paired["heads"]["L0.H0"]["p"] == pytest.approx(2 / 16)
    assert paired["heads"]["L0.H1"]["delta"] == 0.0
    b["per_pair"]["pair_ids"] = ["q1", "q2", "q3", "q4"]
    unpaired = compare_condition(a, b, rng, resamples=200, permutations=500)
    assert not unpaired["paired"]
    assert unpaired["heads"]["L0.H0"]["delta"] == pytest.approx(2.0)
    # 4 vs 4 fully separated groups: 2 of the 70 label splits are as extreme
    assert unpaired["heads"]["L0.H0"]["p"] < 0.06
    assert unpaired["top"][0] == "L0.H0"

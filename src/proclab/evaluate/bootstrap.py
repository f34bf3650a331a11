"""Cluster bootstrap: resample procedures (not samples) with replacement, because samples of
one procedure share its wording and difficulty and are not independent.

Resampling works on per-cluster sufficient statistics: each resample is a weight vector (how
often each cluster was drawn), so B resamples of any count-based statistic are one matrix
product `weights @ per_cluster_counts`. Nothing loops over samples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from proclab.evaluate.logs import Estimate

CONFIDENCE = 0.95


def cluster_weights(n_clusters: int, resamples: int, seed: int) -> np.ndarray:
    """[resamples, n_clusters] draw counts: resample b draws `n_clusters` cluster indices
    uniformly with replacement from `np.random.default_rng(seed).integers`."""
    if n_clusters == 0 or resamples == 0:
        return np.zeros((resamples, n_clusters), dtype=np.int64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_clusters, size=(resamples, n_clusters))
    flat = draws + n_clusters * np.arange(resamples)[:, None]
    return np.bincount(flat.ravel(), minlength=resamples * n_clusters).reshape(
        resamples, n_clusters
    )


def resample_counts(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Counts [n_clusters, ...] summed under each resample's weights -> [resamples, ...]."""
    return np.tensordot(weights, counts, axes=(1, 0))


def interval(samples: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Percentile interval of the defined (non-NaN) bootstrap values; None if none is."""
    values = np.asarray(samples, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def estimate(value: float | np.floating, boot: np.ndarray | None) -> Estimate:
    """An Estimate from a point value and its bootstrap values (NaN value -> None)."""
    point = float(value)
    if np.isnan(point):
        return Estimate(value=None)
    ci = interval(boot) if boot is not None else None
    if ci is None:
        return Estimate(value=point)
    return Estimate(value=point, ci_low=ci[0], ci_high=ci[1])


def estimates(
    counts: np.ndarray,
    statistic: Callable[[np.ndarray], dict[str, np.ndarray]],
    weights: np.ndarray,
) -> dict[str, Estimate]:
    """Estimates of every statistic of per-cluster `counts` [n_clusters, ...]: the value on the
    summed counts, the interval over the resampled sums."""
    point = statistic(counts.sum(axis=0))
    boot = statistic(resample_counts(counts, weights)) if weights.size else {}
    return {name: estimate(point[name], boot.get(name)) for name in point}


def ratio_estimate(hits: np.ndarray, totals: np.ndarray, weights: np.ndarray) -> Estimate:
    """Estimate of sum(hits) / sum(totals) from per-cluster arrays (e.g. pairs consistent of
    pairs seen per procedure)."""
    counts = np.stack([hits, totals], axis=-1).astype(np.float64)

    def ratio(c: np.ndarray) -> dict[str, np.ndarray]:
        num, den = c[..., 0], c[..., 1]
        out = np.full(num.shape, np.nan)
        np.divide(num, den, out=out, where=den != 0)
        return {"ratio": out}

    return estimates(counts, ratio, weights)["ratio"]

"""Statistics over pairs for per-head scores: mean with a bootstrap CI, a sign-flip permutation
test (H0: the per-pair effect is symmetric about 0), Benjamini-Hochberg q-values, and rank
agreement between two score maps. All randomness comes from one `numpy` Generator.

Arrays are `[pairs, ...]`: every statistic is computed for all heads at once.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

CONFIDENCE = 0.95
_EXACT_UP_TO = 12  # pairs; 2**12 sign patterns are enumerated instead of sampled


def mean_ci(
    x: np.ndarray, rng: np.random.Generator, *, resamples: int = 2000,
    confidence: float = CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NaN-aware mean over axis 0 and a percentile-bootstrap interval over pairs.
    With one pair (or no defined value) the interval is NaN."""
    x = np.asarray(x, dtype=np.float64)
    # heads that were not patched are all-NaN columns: their interval is NaN, silently
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = _nanmean(x, axis=0)
        n = x.shape[0]
        if n < 2 or resamples < 1:
            nan = np.full(x.shape[1:], np.nan)
            return mean, nan, nan
        draws = rng.integers(0, n, size=(resamples, n))
        boots = _nanmean(x[draws], axis=1)  # [resamples, ...]
        tail = (1.0 - confidence) / 2.0
        lo = np.nanquantile(boots, tail, axis=0)
        hi = np.nanquantile(boots, 1.0 - tail, axis=0)
    return mean, lo, hi


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    counts = np.sum(~np.isnan(x), axis=axis)
    sums = np.nansum(x, axis=axis)
    with np.errstate(all="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def sign_flip_p(x: np.ndarray, rng: np.random.Generator, *, permutations: int = 2000) -> np.ndarray:
    """Two-sided p-value of mean(x) != 0 by flipping the sign of each pair's value; exact
    enumeration for up to 12 pairs, else `permutations` random flips (+1 smoothing). NaN
    values (heads not patched) give p = NaN."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n == 0:
        return np.full(x.shape[1:], np.nan)
    if n <= _EXACT_UP_TO:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        smooth = 0
    else:
        signs = rng.choice(np.array([1.0, -1.0]), size=(permutations, n))
        smooth = 1
    flat = x.reshape(n, -1)
    observed = np.abs(flat.mean(axis=0))
    null = np.abs(signs @ flat) / n  # [patterns, heads]
    # A tiny tolerance so patterns equal to the observed one count as "as extreme".
    extreme = (null >= observed - 1e-12 * np.maximum(1.0, observed)).sum(axis=0)
    p = (extreme + smooth) / (signs.shape[0] + smooth)
    p = np.where(np.isnan(flat).any(axis=0), np.nan, p)
    return p.reshape(x.shape[1:])


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values over all defined entries (NaN stays NaN)."""
    p = np.asarray(p, dtype=np.float64)
    flat = p.ravel()
    ok = ~np.isnan(flat)
    q = np.full_like(flat, np.nan)
    vals = flat[ok]
    if vals.size:
        order = np.argsort(vals)
        ranked = vals[order] * vals.size / np.arange(1, vals.size + 1)
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        out = np.empty_like(vals)
        out[order] = np.minimum(ranked, 1.0)
        q[ok] = out
    return q.reshape(p.shape)


def _ranks(v: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), 1-based."""
    order = np.argsort(v, kind="stable")
    ranks = np.empty(v.size, dtype=np.float64)
    sorted_v = v[order]
    i = 0
    while i < v.size:
        j = i
        while j + 1 < v.size and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation over entries defined in both; NaN with < 3 or no variance."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    ok = ~(np.isnan(a) | np.isnan(b))
    if ok.sum() < 3:
        return float("nan")
    ra, rb = _ranks(a[ok]), _ranks(b[ok])
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """Flat indices of the k largest |score| (NaN never chosen), largest first; ties by index."""
    flat = np.abs(np.asarray(scores, dtype=np.float64).ravel())
    flat = np.where(np.isnan(flat), -np.inf, flat)
    order = np.lexsort((np.arange(flat.size), -flat))
    return [int(i) for i in order[:k] if np.isfinite(flat[i])]


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """|top-k(a) ∩ top-k(b)| / k by absolute score, over entries defined in both."""
    both = ~(np.isnan(np.asarray(a, float)) | np.isnan(np.asarray(b, float)))
    a = np.where(both, a, np.nan)
    b = np.where(both, b, np.nan)
    k = min(k, int(both.sum()))
    if k == 0:
        return float("nan")
    return len(set(top_k(a, k)) & set(top_k(b, k))) / k

"""Classification metrics as functions of the 2 x 3 confusion counts (gold COMPLIANT /
NON-COMPLIANT x predicted COMPLIANT / NON-COMPLIANT / unparsed).

Every metric is vectorised over leading axes, so one call scores the full data and all
bootstrap resamples at once. Conventions (docs/evaluation.md):
- an unparsed answer is wrong: it lowers accuracy and the recall of its gold class;
- a recall (and so balanced accuracy) is undefined (NaN) when its class has no gold sample;
- macro-F1 averages F1 over the verdict classes that occur in gold or in the parsed answers;
- MCC is the K-category correlation (Gorodkin) with "unparsed" as a third answer category,
  0 when undefined -- the same as sklearn's `matthews_corrcoef` on the answer strings.
"""

from __future__ import annotations

import numpy as np

METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "mcc",
    "recall_compliant",
    "recall_noncompliant",
    "parse_rate",
)


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with NaN where den is 0 (no warnings)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _nanmean2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean of the defined values of a and b, NaN where neither is defined."""
    stacked = np.stack([a, b])
    valid = ~np.isnan(stacked)
    total = np.where(valid, stacked, 0.0).sum(axis=0)
    return _div(total, valid.sum(axis=0))


def metrics_from_counts(counts: np.ndarray) -> dict[str, np.ndarray]:
    """All METRICS from confusion counts of shape [..., 6] (index gold * 3 + pred)."""
    c = np.asarray(counts, dtype=np.float64)
    cc, cn, cu, nc, nn, nu = (c[..., i] for i in range(6))
    n = c.sum(axis=-1)
    gold_c, gold_n = cc + cn + cu, nc + nn + nu
    recall_c, recall_n = _div(cc, gold_c), _div(nn, gold_n)
    return {
        "accuracy": _div(cc + nn, n),
        "balanced_accuracy": _nanmean2(recall_c, recall_n),
        "macro_f1": _macro_f1(cc, cn, cu, nc, nn, nu),
        "mcc": _mcc(c, n),
        "recall_compliant": recall_c,
        "recall_noncompliant": recall_n,
        "parse_rate": _div(n - cu - nu, n),
    }


def _macro_f1(cc, cn, cu, nc, nn, nu) -> np.ndarray:
    # F1 = 2TP / (2TP + FP + FN); an unparsed answer is a false negative of its gold class.
    f1_c = _div(2 * cc, 2 * cc + nc + cn + cu)
    f1_n = _div(2 * nn, 2 * nn + cn + nc + nu)
    return _nanmean2(f1_c, f1_n)


def _mcc(c: np.ndarray, n: np.ndarray) -> np.ndarray:
    true_k = np.stack([c[..., 0] + c[..., 1] + c[..., 2], c[..., 3] + c[..., 4] + c[..., 5]])
    pred_k = np.stack([c[..., 0] + c[..., 3], c[..., 1] + c[..., 4], c[..., 2] + c[..., 5]])
    agree = c[..., 0] + c[..., 4]
    cov = agree * n - (true_k[0] * pred_k[0] + true_k[1] * pred_k[1])
    var_pred = n**2 - (pred_k**2).sum(axis=0)
    var_true = n**2 - (true_k**2).sum(axis=0)
    mcc = _div(cov, np.sqrt(var_pred * var_true))
    return np.where(np.isnan(mcc), 0.0, mcc)

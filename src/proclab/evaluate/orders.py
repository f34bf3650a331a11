"""Prompt-order robustness: accuracy per block order (PSQ, SPQ, ...) and, over the ids answered
in every order, how often the answer is the same in all of them (unparsed is an answer too)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from proclab.evaluate.bootstrap import estimates
from proclab.evaluate.logs import OrderStats
from proclab.evaluate.table import SampleTable, factorize


def _accuracy(c: np.ndarray) -> dict[str, np.ndarray]:
    hits, total = c[..., 0], c[..., 1]
    out = np.full(hits.shape, np.nan)
    np.divide(hits, total, out=out, where=total != 0)
    return {"accuracy": out}


def order_stats(table: SampleTable, orders: Sequence[str], cluster: np.ndarray,
                n_clusters: int, weights: np.ndarray) -> OrderStats:
    """Per-order accuracy with cluster-bootstrap intervals, plus cross-order agreement."""
    names = list(orders)
    position = {o: k for k, o in enumerate(names)}
    order_code = np.fromiter((position[o] for o in table.orders), np.int64, len(table))
    counts = np.zeros((n_clusters, len(names), 2), dtype=np.float64)
    np.add.at(counts, (cluster, order_code, 0), table.correct.astype(np.float64))
    np.add.at(counts, (cluster, order_code, 1), 1.0)
    per_order = []
    for k in range(len(names)):
        per_order.append(estimates(counts[:, k, :], _accuracy, weights)["accuracy"])
    agreement, all_correct, compared = _agreement(table, order_code, len(names))
    return OrderStats(
        orders=names,
        n={o: int(counts[:, k, 1].sum()) for k, o in enumerate(names)},
        accuracy=dict(zip(names, per_order, strict=True)),
        ids_compared=compared,
        agreement=agreement,
        all_correct=all_correct,
    )


def _agreement(table: SampleTable, order_code: np.ndarray,
               n_orders: int) -> tuple[float | None, float | None, int]:
    if n_orders < 2:
        return None, None, 0
    ids, id_code = factorize(table.ids)
    answers = np.full((len(ids), n_orders), -1, dtype=np.int64)
    answers[id_code, order_code] = table.pred
    right = np.zeros((len(ids), n_orders), dtype=bool)
    right[id_code, order_code] = table.correct
    complete = (answers >= 0).all(axis=1)
    compared = int(complete.sum())
    if compared == 0:
        return None, None, 0
    full = answers[complete]
    same = (full == full[:, :1]).all(axis=1)
    return float(same.mean()), float(right[complete].all(axis=1).mean()), compared

"""Counterfactual pairs: members share a `pair_id`; roles are "base", "flip" (a minimal edit
that flips the label) and "preserve" (a minimal edit that keeps it). A pair is scored once per
prompt order. Intervals resample procedures, like every other metric.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from proclab.evaluate.bootstrap import ratio_estimate
from proclab.evaluate.logs import Estimate, PairKindStats, PairStats
from proclab.evaluate.table import SampleTable

KINDS = ("flip", "preserve")


@dataclass(frozen=True)
class _Pair:
    kind: str
    cluster: int
    members: int
    correct: int
    changed: bool  # members' answers (unparsed included) are not all the same
    base_changed: bool | None  # preserve pairs with a base member: answer differs from base's


def _pairs(table: SampleTable, cluster: np.ndarray) -> list[_Pair]:
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, pid in enumerate(table.pair_ids):
        if pid is not None:
            groups[(pid, table.orders[i])].append(i)
    correct, pred = table.correct, table.pred
    out: list[_Pair] = []
    for rows in groups.values():
        roles = [table.pair_roles[i] for i in rows]
        kind = next((k for k in KINDS if k in roles), None)
        if kind is None or len(rows) < 2:  # a lone member (e.g. cut off by --limit)
            continue
        answers = {int(pred[i]) for i in rows}
        base_changed = None
        if kind == "preserve" and "base" in roles:
            base = int(pred[rows[roles.index("base")]])
            base_changed = any(int(pred[i]) != base for i, r in zip(rows, roles, strict=True)
                               if r == "preserve")
        out.append(_Pair(kind, int(cluster[rows[0]]), len(rows), int(correct[rows].sum()),
                         len(answers) > 1, base_changed))
    return out


def _sums(pairs: list[_Pair], n_clusters: int, value) -> np.ndarray:
    out = np.zeros(n_clusters, dtype=np.float64)
    for p in pairs:
        out[p.cluster] += value(p)
    return out


def _kind_stats(pairs: list[_Pair], n_clusters: int, weights: np.ndarray) -> PairKindStats:
    n_pairs = _sums(pairs, n_clusters, lambda p: 1)
    samples = _sums(pairs, n_clusters, lambda p: p.members)
    return PairKindStats(
        pairs=len(pairs),
        samples=int(samples.sum()),
        accuracy=ratio_estimate(_sums(pairs, n_clusters, lambda p: p.correct), samples, weights),
        consistency=ratio_estimate(
            _sums(pairs, n_clusters, lambda p: p.correct == p.members), n_pairs, weights
        ),
        changed_rate=sum(p.changed for p in pairs) / len(pairs),
    )


def pair_stats(table: SampleTable, cluster: np.ndarray, n_clusters: int,
               weights: np.ndarray) -> PairStats | None:
    """Pair statistics of the pair members in `table` (None when it holds no whole pair).
    `cluster` gives each row's bootstrap cluster; `weights` are the resample weights."""
    pairs = _pairs(table, cluster)
    if not pairs:
        return None
    by_kind = {k: [p for p in pairs if p.kind == k] for k in KINDS}
    with_base = [p for p in by_kind["preserve"] if p.base_changed is not None]
    invariance: Estimate | None = None
    if with_base:
        invariance = ratio_estimate(
            _sums(with_base, n_clusters, lambda p: p.base_changed),
            _sums(with_base, n_clusters, lambda p: 1), weights,
        )
    return PairStats(
        flip=_kind_stats(by_kind["flip"], n_clusters, weights) if by_kind["flip"] else None,
        preserve=(_kind_stats(by_kind["preserve"], n_clusters, weights)
                  if by_kind["preserve"] else None),
        consistency=ratio_estimate(
            _sums(pairs, n_clusters, lambda p: p.correct == p.members),
            _sums(pairs, n_clusters, lambda p: 1), weights,
        ),
        invariance_flip_rate=invariance,
    )

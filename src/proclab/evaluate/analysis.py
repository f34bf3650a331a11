"""All statistics of a set of logged samples, computed from the log alone (so a resumed run
scores nothing twice and `results.json` can always be rebuilt from `samples.jsonl`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proclab.evaluate.bootstrap import cluster_weights, estimates
from proclab.evaluate.breakdowns import breakdowns as metadata_breakdowns
from proclab.evaluate.grid import failure_grid
from proclab.evaluate.logs import (
    BreakdownCell,
    ClassStats,
    Estimate,
    GridStats,
    OrderStats,
    PairStats,
    SampleLog,
)
from proclab.evaluate.metrics import metrics_from_counts
from proclab.evaluate.orders import order_stats
from proclab.evaluate.pairs import pair_stats
from proclab.evaluate.table import SampleTable, cluster_counts
from proclab.procedures.trace import COMPLIANT, NON_COMPLIANT

DEFAULT_RESAMPLES = 1000
NOT_APPLICABLE = {
    "grid": "the failure grid needs proclab's perturbation, source and domain of each record; "
    "mapped data has none (see `breakdowns` for its metadata columns)",
    "pairs": "counterfactual pairs need proclab's pair ids; mapped data has none",
}


@dataclass(frozen=True)
class Analysis:
    n: int
    metrics: dict[str, Estimate]
    per_class: dict[str, ClassStats]
    grid: GridStats | None
    pairs: PairStats | None
    orders: OrderStats
    clusters: int
    breakdowns: dict[str, list[BreakdownCell]]
    not_applicable: dict[str, str]


def analyze(
    samples: Sequence[SampleLog],
    orders: Sequence[str] | None = None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    breakdown: Sequence[str] | None = None,
    mapped: bool = False,
) -> Analysis:
    """Metrics (pooled over orders) with 95% intervals from a bootstrap over procedures (mapped
    data: over group ids), order statistics and per-metadata-column breakdowns (`breakdown`
    columns; None = automatic), and for proclab data the failure grid and pairs (for `mapped`
    data they are listed in `not_applicable`). `orders` fixes the order list (default: as
    seen)."""
    table = SampleTable.from_samples(samples)
    names, cluster = table.clusters()
    weights = cluster_weights(len(names), resamples, seed)
    counts = cluster_counts(cluster, table.cells, len(names))
    metrics = estimates(counts, metrics_from_counts, weights)
    gold_totals = counts.sum(axis=0)
    per_class = {
        COMPLIANT: ClassStats(n=int(gold_totals[:3].sum()), recall=metrics["recall_compliant"]),
        NON_COMPLIANT: ClassStats(n=int(gold_totals[3:].sum()),
                                  recall=metrics["recall_noncompliant"]),
    }
    seen_orders = list(dict.fromkeys(table.orders))
    order_list = list(orders) if orders is not None else seen_orders
    order_list += [o for o in seen_orders if o not in order_list]
    return Analysis(
        n=len(table),
        metrics=metrics,
        per_class=per_class,
        grid=None if mapped else failure_grid(table),
        pairs=pair_stats(table, cluster, len(names), weights) if not mapped else None,
        orders=order_stats(table, order_list, cluster, len(names), weights),
        clusters=len(names),
        breakdowns=metadata_breakdowns(table, breakdown, cluster, len(names), weights),
        not_applicable=dict(NOT_APPLICABLE) if mapped else {},
    )

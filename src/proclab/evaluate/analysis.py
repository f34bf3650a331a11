"""All statistics of a set of logged samples, computed from the log alone (so a resumed run
scores nothing twice and `results.json` can always be rebuilt from `samples.jsonl`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proclab.evaluate.bootstrap import cluster_weights, estimates
from proclab.evaluate.grid import failure_grid
from proclab.evaluate.logs import ClassStats, Estimate, GridStats, OrderStats, PairStats, SampleLog
from proclab.evaluate.metrics import metrics_from_counts
from proclab.evaluate.orders import order_stats
from proclab.evaluate.pairs import pair_stats
from proclab.evaluate.table import SampleTable, cluster_counts
from proclab.procedures.trace import COMPLIANT, NON_COMPLIANT

DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class Analysis:
    n: int
    metrics: dict[str, Estimate]
    per_class: dict[str, ClassStats]
    grid: GridStats
    pairs: PairStats | None
    orders: OrderStats


def analyze(
    samples: Sequence[SampleLog],
    orders: Sequence[str] | None = None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Analysis:
    """Metrics (pooled over orders) with 95% intervals from a bootstrap over procedures, the
    failure grid, pair and order statistics. `orders` fixes the order list (default: as seen)."""
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
        grid=failure_grid(table),
        pairs=pair_stats(table, cluster, len(names), weights),
        orders=order_stats(table, order_list, cluster, len(names), weights),
    )

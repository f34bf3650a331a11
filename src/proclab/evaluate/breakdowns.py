"""Accuracy per value of a metadata column (the extra columns of mapped data: a dataset's
"slice", "jurisdiction", "source" ...), with the same clustered bootstrap as every metric."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from proclab.errors import ConfigError
from proclab.evaluate.bootstrap import estimates
from proclab.evaluate.logs import BreakdownCell
from proclab.evaluate.metrics import metrics_from_counts
from proclab.evaluate.table import CELLS, SampleTable, factorize
from proclab.registry import suggest

# Without `--breakdown`, every metadata column with 2 to this many distinct values is broken
# down (more is an id or free text, not a category).
MAX_AUTO_VALUES = 20
MISSING = "(missing)"


def _value(v: object) -> str | None:
    """The category a metadata value falls in; None for values that are not scalars."""
    if v is None:
        return MISSING
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str | int | float):
        return str(v)
    return None


def auto_columns(metas: Sequence[dict[str, object]]) -> list[str]:
    """Metadata columns whose values are scalars with 2..MAX_AUTO_VALUES distinct values."""
    seen: dict[str, set[str] | None] = {}
    for meta in metas:
        for key, v in meta.items():
            values = seen.setdefault(key, set())
            value = _value(v)
            if values is None:
                continue
            if value is None or len(values) > MAX_AUTO_VALUES:
                seen[key] = None
            else:
                values.add(value)
    return [k for k, vals in seen.items() if vals is not None and 2 <= len(vals) <= MAX_AUTO_VALUES]


def breakdowns(table: SampleTable, columns: Sequence[str] | None, cluster: np.ndarray,
               n_clusters: int, weights: np.ndarray) -> dict[str, list[BreakdownCell]]:
    """Per column of `columns` (None: `auto_columns`), one cell per value, in value order."""
    known = list(dict.fromkeys(k for meta in table.meta for k in meta))
    if columns is None:
        columns = auto_columns(table.meta)
    for name in columns:
        if name not in known:
            raise ConfigError(f"--breakdown {name}: no metadata column of that name"
                              f"{suggest(name, known)}",
                              fix=f"use one of: {', '.join(known) or '(the data has none)'}")
    cells = table.cells
    return {name: _column(table, name, cells, cluster, n_clusters, weights) for name in columns}


def _column(table: SampleTable, name: str, cells: np.ndarray, cluster: np.ndarray,
            n_clusters: int, weights: np.ndarray) -> list[BreakdownCell]:
    values, codes = factorize([_value(m.get(name)) or "(other)" for m in table.meta])
    k = len(values)
    flat = np.bincount((cluster * k + codes) * CELLS + cells, minlength=n_clusters * k * CELLS)
    counts = flat.reshape(n_clusters, k, CELLS)
    out = []
    for v in sorted(range(k), key=lambda i: str(values[i])):
        c = counts[:, v, :]
        total = c.sum(axis=0)
        n = int(total.sum())
        out.append(BreakdownCell(
            value=str(values[v]), n=n,
            accuracy=estimates(c, metrics_from_counts, weights)["accuracy"],
            errors=n - int(total[0] + total[4]), false_compliant=int(total[3]),
            false_noncompliant=int(total[1]), unparsed=int(total[2] + total[5]),
        ))
    return out

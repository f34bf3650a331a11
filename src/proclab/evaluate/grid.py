"""The failure-pattern grid: error counts per (perturbation x source) and (perturbation x
domain) cell, with the errors split by direction (false COMPLIANT vs false NON-COMPLIANT)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from proclab.evaluate.logs import GridCell, GridStats
from proclab.evaluate.table import SampleTable, cluster_counts, factorize


def grid_cells(perturbations: Sequence[str], groups: Sequence[str],
               cells: np.ndarray) -> list[GridCell]:
    """One GridCell per occurring (perturbation, group), sorted by perturbation then group."""
    p_names, p_codes = factorize(perturbations)
    g_names, g_codes = factorize(groups)
    key = p_codes * len(g_names) + g_codes
    counts = cluster_counts(key, cells, len(p_names) * len(g_names))
    out: list[GridCell] = []
    for k in np.flatnonzero(counts.sum(axis=1)):
        c = counts[k]
        n = int(c.sum())
        # cells: 0 CC, 1 CN, 2 CU, 3 NC, 4 NN, 5 NU (gold, answer)
        errors = n - int(c[0] + c[4])
        out.append(GridCell(
            perturbation=str(p_names[k // len(g_names)]),
            group=str(g_names[k % len(g_names)]),
            n=n,
            errors=errors,
            error_rate=errors / n,
            false_compliant=int(c[3]),
            false_noncompliant=int(c[1]),
            unparsed=int(c[2] + c[5]),
        ))
    return sorted(out, key=lambda cell: (cell.perturbation, cell.group))


def failure_grid(table: SampleTable) -> GridStats:
    """Both grids of a sample table."""
    cells = table.cells
    return GridStats(
        by_source=grid_cells(table.perturbations, table.sources, cells),
        by_domain=grid_cells(table.perturbations, table.domains, cells),
    )

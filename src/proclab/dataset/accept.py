"""Acceptance bookkeeping per (domain, source, perturbation) cell.

`drawn` counts generator calls; `accepted` the candidates the generator verified (the checker's
label matched the perturbation's intent and the narrative round-tripped); `kept` the ones that
also survived the label quota and dedup. Accept rate = accepted / drawn.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Cell = tuple[str, str, str]  # (domain, source, perturbation)


@dataclass
class AcceptStats:
    drawn: Counter[Cell] = field(default_factory=Counter)
    accepted_n: Counter[Cell] = field(default_factory=Counter)
    kept_n: Counter[Cell] = field(default_factory=Counter)
    rejected: Counter[tuple[Cell, str]] = field(default_factory=Counter)
    skipped: Counter[tuple[Cell, str]] = field(default_factory=Counter)

    def reject(self, cell: Cell, reason: str) -> None:
        self.drawn[cell] += 1
        self.rejected[cell, reason] += 1

    def accepted(self, cell: Cell) -> None:
        self.drawn[cell] += 1
        self.accepted_n[cell] += 1

    def skip(self, cell: Cell, reason: str) -> None:
        self.skipped[cell, reason] += 1

    def kept(self, cell: Cell) -> None:
        self.kept_n[cell] += 1

    def to_json(self) -> dict[str, Any]:
        """Cells plus marginals by perturbation, domain and source; JSON-ready and sorted."""
        cells = [self._row(cell) for cell in sorted(self.drawn)]
        return {
            "overall": self._total(lambda c: True),
            "by_perturbation": self._margin(2),
            "by_domain": self._margin(0),
            "by_source": self._margin(1),
            "cells": cells,
        }

    def _row(self, cell: Cell) -> dict[str, Any]:
        domain, source, perturbation = cell
        return {"domain": domain, "source": source, "perturbation": perturbation} | self._total(
            lambda c: c == cell
        )

    def _margin(self, axis: int) -> dict[str, dict[str, Any]]:
        keys = sorted({cell[axis] for cell in self.drawn})
        return {k: self._total(lambda c, k=k: c[axis] == k) for k in keys}

    def _total(self, match) -> dict[str, Any]:
        drawn = sum(n for c, n in self.drawn.items() if match(c))
        accepted = sum(n for c, n in self.accepted_n.items() if match(c))
        kept = sum(n for c, n in self.kept_n.items() if match(c))
        reasons: Counter[str] = Counter()
        for (c, reason), n in self.rejected.items():
            if match(c):
                reasons[reason] += n
        skipped: Counter[str] = Counter()
        for (c, reason), n in self.skipped.items():
            if match(c):
                skipped[reason] += n
        return {
            "drawn": drawn,
            "accepted": accepted,
            "accept_rate": round(accepted / drawn, 4) if drawn else None,
            "kept": kept,
            "rejections": dict(sorted(reasons.items())),
            "skipped": dict(sorted(skipped.items())),
        }

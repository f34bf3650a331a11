"""Counterfactual pairs for every split: minimal edits of one trace whose label flips or holds.

Each cohort draws `pairs_per_procedure` batches per procedure from the pair generator with its
own seeded `random.Random`; every member of a pair shares one house style, and a pair whose
texts repeat an earlier pair exactly is dropped. Pair members are written to `pairs.jsonl` with
the cohort's split, `pair_id` and `pair_role` ("base", "flip", "preserve").
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable

from proclab.dataset.dedup import normalise
from proclab.dataset.records import Instance, ProcedureTexts, make_instance
from proclab.dataset.splits import CohortPlan
from proclab.procedures.schema import Procedure
from proclab.scenarios.types import Candidate

PairGenerator = Callable[[Procedure, random.Random], list[Candidate]]


class PairBuilder:
    """Builds the pair records of one cohort at a time; exact repeats are dropped globally."""

    def __init__(self, generate_pairs: PairGenerator, texts: ProcedureTexts):
        self._generate = generate_pairs
        self._texts = texts
        self._seen: set[str] = set()
        self.duplicates = 0

    def cohort_pairs(self, plan: CohortPlan) -> list[Instance]:
        rng = random.Random(f"{plan.cohort.seed}:pairs")
        style_use: Counter[str] = Counter()
        out: list[Instance] = []
        for proc in plan.procedures:
            for _ in range(plan.cohort.pairs_per_procedure):
                for members in _group(self._generate(proc, rng)):
                    styles = plan.styles[proc.id]
                    style = min(styles, key=lambda s: (style_use[s], styles.index(s)))
                    text = self._texts.get(proc, style)
                    key = _pair_key(text, members)
                    if key in self._seen:
                        self.duplicates += 1
                        continue
                    self._seen.add(key)
                    style_use[style] += 1
                    pair_id = f"{plan.cohort.name}-pair-{key[:16]}"
                    out.extend(
                        make_instance(
                            c,
                            proc,
                            style,
                            text,
                            plan.cohort.name,
                            plan.split,
                            pair_id=pair_id,
                            member=i,
                        )
                        for i, c in enumerate(members)
                    )
        return out


def _group(candidates: list[Candidate]) -> list[list[Candidate]]:
    """Members grouped by the generator's pair_id, in first-seen order."""
    groups: dict[str, list[Candidate]] = {}
    for cand in candidates:
        groups.setdefault(cand.pair_id or "", []).append(cand)
    return [g for g in groups.values() if len(g) >= 2]


def _pair_key(procedure_text: str, members: list[Candidate]) -> str:
    parts = [normalise(procedure_text)]
    parts += [f"{c.pair_role}\x00{normalise(c.scenario_text)}" for c in members]
    return hashlib.sha256("\n\x00\n".join(parts).encode()).hexdigest()

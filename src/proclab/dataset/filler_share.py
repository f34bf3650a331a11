"""How often the same filler line recurs across a build's scenarios.

A filler line that shows up in many scenarios is a fingerprint of the generator (and a feature a
bag-of-words probe can learn). `filler_recurrence` counts, for every filler line of the
narrator's lexicon, the share of instances whose scenario contains it (with or without the
sequence cue a filler moment may open with), and reports the largest share overall and within
each domain (a domain's own lines can only occur in that domain).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from proclab.dataset.records import Instance
from proclab.scenarios.accept import split_sentences
from proclab.scenarios.filler import filler_lines

# The share of instances any one filler line may appear in (a goal, reported in the datacard).
FILLER_SHARE_GOAL = 0.05


def filler_recurrence(instances: Iterable[Instance]) -> dict[str, Any]:
    """{"instances", "max_share", "line", "by_domain": {domain: {...}}, "mean_lines", "goal"};
    shares count instances, not occurrences (a line appears at most once per scenario)."""
    total = 0
    lines_total = 0
    overall: Counter[str] = Counter()
    per_domain: dict[str, Counter[str]] = defaultdict(Counter)
    domain_n: Counter[str] = Counter()
    for inst in instances:
        found = filler_lines(split_sentences(inst.scenario_text), inst.domain)
        total += 1
        domain_n[inst.domain] += 1
        lines_total += len(found)
        overall.update(found)
        per_domain[inst.domain].update(found)
    return {
        "instances": total,
        "mean_lines": round(lines_total / total, 3) if total else 0.0,
        **_top(overall, total),
        "by_domain": {d: _top(per_domain[d], domain_n[d]) for d in sorted(domain_n)},
        "goal": FILLER_SHARE_GOAL,
    }


def _top(counts: Counter[str], n: int) -> dict[str, Any]:
    if not counts or not n:
        return {"max_share": 0.0, "line": None, "distinct_lines": 0}
    line, hits = max(counts.items(), key=lambda item: (item[1], item[0]))
    return {"max_share": round(hits / n, 4), "line": line, "distinct_lines": len(counts)}

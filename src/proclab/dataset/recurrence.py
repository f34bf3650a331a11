"""Recurring lines: the sentences that appear word for word in many scenarios (background
filler, stock openings). A line that recurs across a large share of items is a cue a model can
learn to ignore or exploit, and it makes the benchmark read as machine-made."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'‘“(])")
MIN_WORDS = 4  # shorter fragments ("Then it rained.") recur by chance


def sentences(text: str) -> set[str]:
    """The distinct sentences of `text` of at least MIN_WORDS words, lowercased."""
    # Scenarios are written with single spaces, so counting spaces counts words.
    return {p.lower() for p in _SENTENCE.split(text) if p.count(" ") >= MIN_WORDS - 1}


def recurrence_report(records: Sequence[Any], top: int) -> dict[str, Any]:
    """How many records contain each sentence (lowercased); the highest share and the `top`
    lines."""
    counts: Counter[str] = Counter()
    for rec in records:
        text = rec["scenario_text"] if isinstance(rec, Mapping) else rec.scenario_text
        counts.update(sentences(text))
    n = len(records)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "records": n,
        "distinct_lines": len(counts),
        "max_share": round(ranked[0][1] / n, 4) if ranked and n else 0.0,
        "top": [[line, c, round(c / n, 4)] for line, c in ranked[:top]],
    }

"""Yang et al.'s three stages, as candidate groups read off where a head's effect lives.

- symbol abstraction: early layers, effect when patched over the content tokens (a decision
  pair patched on a span other than the final position, e.g. `scenario`);
- symbolic induction: middle layers, effect at the final position on decision pairs but not on
  the answer-mapping swap (it carries the judgement, not the word);
- retrieval: late layers, effect at the final position on the answer-mapping swap (it maps the
  judgement to the literal answer word).

A head counts as having an effect in a condition when its δ is significant there (BH q <= α).
These are candidates from patching evidence, not proofs of mechanism.
"""

from __future__ import annotations

from typing import Any

STAGES: tuple[str, ...] = ("symbol_abstraction", "symbolic_induction", "retrieval")
_BAND_OF_STAGE = {"symbol_abstraction": "early", "symbolic_induction": "middle", "retrieval": "late"}


def layer_band(layer: int, n_layers: int, bands: tuple[float, float]) -> str:
    """early | middle | late by the layer's relative depth (its centre, (layer + 0.5) / n)."""
    depth = (layer + 0.5) / n_layers
    if depth < bands[0]:
        return "early"
    return "late" if depth >= bands[1] else "middle"


def _significant(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: h for name, h in summary["heads"].items() if h["significant"]}


def assign_stages(
    conditions: dict[str, dict[str, Any]], n_layers: int, bands: tuple[float, float]
) -> dict[str, Any]:
    """Stage candidates from condition summaries (as `study.summarize` writes them)."""
    decision_final = conditions.get("decision@final")
    spans = {name: c for name, c in conditions.items()
             if c["pair_set"] == "decision" and c["span"] != "final"}  # fmt: skip
    mapping = conditions.get("mapping@final")
    evidence: dict[str, list[tuple[str, dict[str, Any]]]] = {s: [] for s in STAGES}
    not_assessed: dict[str, str] = {}

    if spans:
        for cond_name, cond in spans.items():
            evidence["symbol_abstraction"] += [(cond_name, h) for h in _significant(cond).values()]
    else:
        not_assessed["symbol_abstraction"] = "needs a span patch of decision pairs (--span scenario)"
    if decision_final is not None:
        on_word = set(_significant(mapping)) if mapping else set()
        evidence["symbolic_induction"] = [
            ("decision@final", h) for name, h in _significant(decision_final).items()
            if name not in on_word
        ]
    else:
        not_assessed["symbolic_induction"] = "needs decision pairs patched at the final position"
    if mapping is not None:
        evidence["retrieval"] = [("mapping@final", h) for h in _significant(mapping).values()]
    else:
        not_assessed["retrieval"] = "needs the answer-mapping swap set (--mapping)"

    out: dict[str, Any] = {"bands": list(bands), "not_assessed": not_assessed}
    placed: set[str] = set()
    for stage in STAGES:
        rows = []
        for cond_name, h in evidence[stage]:
            band = layer_band(h["layer"], n_layers, bands)
            if band == _BAND_OF_STAGE[stage]:
                rows.append(_row(cond_name, h, band))
                placed.add(_name(h))
        out[stage] = sorted(rows, key=lambda r: -abs(r["delta"]))
    effects = [
        (cond_name, h) for cond_name, cond in conditions.items()
        for h in _significant(cond).values() if _name(h) not in placed
    ]  # fmt: skip
    out["unassigned"] = sorted(
        (_row(c, h, layer_band(h["layer"], n_layers, bands)) for c, h in effects),
        key=lambda r: -abs(r["delta"]),
    )
    return out


def _name(h: dict[str, Any]) -> str:
    return f"L{h['layer']}.H{h['head']}"


def _row(condition: str, h: dict[str, Any], band: str) -> dict[str, Any]:
    return {"head": _name(h), "condition": condition, "band": band, "delta": h["delta"],
            "delta_ci": h["delta_ci"], "q": h["q"]}  # fmt: skip

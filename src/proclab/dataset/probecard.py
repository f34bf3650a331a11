"""The datacard's shortcut sections, rendered from the probe report (`probes.json`): the
probes' accuracies and goals, the copy metric, and the most recurring scenario lines."""

from __future__ import annotations

from typing import Any

from proclab.dataset.mdtable import fmt, table

_C, _N = "COMPLIANT", "NON-COMPLIANT"
_GOAL_NAMES = {
    "scenario_only": "scenario-only (BoW)",
    "scenario_per_perturbation": "scenario-only (BoW), per perturbation",
    "length_only": "length-only",
    "overlap": "lexical overlap",
    "copy": "copied 5-grams",
}


def render_probes(p: dict[str, Any]) -> str:
    parts = [_probes(p) if "probes" in p else _skipped(p)]
    if "copy" in p:
        parts.append(_copy(p["copy"]))
    if "recurring_lines" in p:
        parts.append(_recurring(p["recurring_lines"]))
    return "\n\n".join(parts)


def _skipped(p: dict[str, Any]) -> str:
    return f"## Shortcut probes\n\nSkipped: {p.get('skipped', 'no report')}."


def goal_lines(goals: dict[str, dict[str, Any]]) -> list[str]:
    """One line per goal: what is measured, the value, the bound, met or not."""
    out = []
    for name, g in goals.items():
        worst = f" ({g['worst']})" if g.get("worst") else ""
        out.append(
            f"{_GOAL_NAMES.get(name, name)}: {g['measure']} {fmt(g['value'])}{worst}, goal <= "
            f"{g['goal']}: {'met' if g['met'] else 'NOT met'}"
        )
    return out


def _probes(p: dict[str, Any]) -> str:
    probes = p["probes"]
    splits = list(next(iter(probes.values()))["heldout"])
    rows = [
        [name, r["train_accuracy"], *[r["heldout"][s] for s in splits], r["heldout_all"]]
        for name, r in probes.items()
    ]
    perts = sorted({q for r in probes["scenario_bow"]["per_perturbation"].values() for q in r})
    shown = [n for n in ("scenario_bow", "overlap_gbt", "length_lr") if n in probes]
    prow = [
        [q] + [probes[n]["per_perturbation"][s].get(q) for n in shown for s in splits]
        for q in perts
    ]
    heads = [f"{n} {s}" for n in shown for s in splits]
    chars = [[s, v.get(_C), v.get(_N)] for s, v in p["mean_chars_by_label"].items()]
    cues = "\n".join(
        f"- {label}: " + ", ".join(f"`{t}` ({c:+.2f})" for t, c in feats)
        for label, feats in p["top_features"].items()
    )
    weights = ", ".join(f"`{f}` ({c:+.2f})" for f, c in p.get("overlap_weights", [])[:8])
    goals = "\n".join(f"- {line}" for line in goal_lines(p["goals"]))
    return f"""## Shortcut probes

Trained on train, scored on each held-out split. `scenario_bow`: TF-IDF uni+bigrams of the
scenario only (it never sees the procedure); `length_lr` / `length_stump`: scenario length
(characters, words) only; `overlap_lr` / `overlap_gbt`: lexical overlap between the procedure
and the scenario only (shares of step 2- and 3-grams found in the scenario, per-step coverage
statistics, Kendall's tau between step order and first-match order, the procedure's stated
relations read off the steps the scenario quotes, copied 5-grams), logistic regression /
gradient-boosted trees - they read both texts but can only match strings; `majority`: the
majority training label.

{table(["probe", "train", *splits, "all held-out"], rows)}

Goals:

{goals}

Per perturbation (accuracy; single-label perturbations measure how often the probe says that
label):

{table(["perturbation", *heads], prow)}

Strongest scenario cues of the bag-of-words probe (coefficient sign: toward that label):

{cues}

Strongest overlap features (logistic probe, standardised; + toward NON-COMPLIANT): {weights}.

Mean scenario length (characters) by label:

{table(["split", "COMPLIANT", "NON-COMPLIANT"], chars)}"""


def _copy(c: dict[str, Any]) -> str:
    g = c["goal"]
    rows = [[q, v, "exempt" if q in c["exempt"] else ""] for q, v in c["by_perturbation"].items()]
    splits = [[s, v] for s, v in c["by_split"].items()]
    return f"""## Copied text

Mean share of a scenario's distinct word {c["n"]}-grams that also occur in its procedure text
(words lowercased, punctuation stripped), over all {c["records"]} instances: overall
{fmt(c["overall"])}; outside {", ".join(f"`{e}`" for e in c["exempt"]) or "no type"}
{fmt(c["outside_exempt"])}. Goal: every perturbation type outside the exempt ones (which quote
the procedure on purpose) <= {g["goal"]} - highest {fmt(g["value"])} (`{g["worst"]}`),
**{"met" if g["met"] else "NOT met"}**.

{table(["perturbation", "mean copy share", ""], rows)}

{table(["split", "mean copy share"], splits)}"""


def _recurring(r: dict[str, Any]) -> str:
    rows = [[line.replace("|", "\\|"), n, share] for line, n, share in r["top"]]
    return f"""## Recurring lines

Scenario sentences (of at least four words, normalised) that recur word for word across
instances: {r["distinct_lines"]} distinct lines in {r["records"]} instances; the most frequent
appears in a share **{fmt(r["max_share"])}** of them.

{table(["line", "instances", "share"], rows)}"""

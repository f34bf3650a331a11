"""One verified instance: draft -> checker -> render -> round trip -> Candidate or Rejection.

Surface balance. Three perturbation types render in a mode that forces a bundle of surface
features onto one label: `adversarial_surface_compliant` (failure-sounding mishaps, clock
times, out-of-order telling) and `lexical_paraphrase` (re-wording) on COMPLIANT,
`adversarial_surface_noncompliant` (reassurance, quoted procedure wording, clock times,
out-of-order telling) on NON-COMPLIANT. `balancing_boosts` gives plain renderings of the other
label the same bundle at the rate that makes P(bundle | COMPLIANT) = P(bundle | NON-COMPLIANT)
for a given mix of perturbation types. With F the weight of a label's instances in that mode, T
its total weight and P the weight of its plain instances, the label with the smaller share
gets, on its plain renderings,
    boost = (F_other / T_other - F_own / T_own) * T_own / P_own.
Whole bundles (not single features) are balanced so that feature co-occurrences, which
bag-of-words bigrams see ("when, per protocol"), are balanced too. For the label-balanced
`DEFAULT_MIX`: the adversarial-compliant and paraphrase bundles at 1/3 on NON-COMPLIANT, the
adversarial-noncompliant bundle at 3/8 on COMPLIANT; for ten equally weighted types 0.3 and 1/3.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from functools import lru_cache

from proclab.errors import ConfigError, ProclabError
from proclab.procedures.checker import check
from proclab.procedures.schema import Procedure
from proclab.procedures.trace import COMPLIANT, NON_COMPLIANT, Verdict
from proclab.registry import lookup
from proclab.scenarios.accept import intent_problem, roundtrip_problems
from proclab.scenarios.narrative import Style, draw_style, render_scenario
from proclab.scenarios.perturbations import PERTURBATIONS, NotApplicable
from proclab.scenarios.plan import event_chars
from proclab.scenarios.types import PERTURBATION_IDS, Candidate, Draft, Rejection

RENDER_MODES: dict[str, str] = {
    "lexical_paraphrase": "paraphrase",
    "adversarial_surface_compliant": "adversarial_compliant",
    "adversarial_surface_noncompliant": "adversarial_noncompliant",
}
# The share of each type's instances that carry each label.
LABEL_SHARES: dict[str, dict[Verdict, float]] = {
    pid: {COMPLIANT: 0.5, NON_COMPLIANT: 0.5}
    if pid in ("exception_trigger", "distractor_injection")
    else {COMPLIANT: 1.0}
    if pid in ("baseline_compliant", "lexical_paraphrase", "adversarial_surface_compliant")
    else {NON_COMPLIANT: 1.0}
    for pid in PERTURBATION_IDS
}
REJECTION_REASONS = ("label_mismatch", "roundtrip", "not_applicable", "render_error")
# The mix assumed when a caller does not say: labels balanced 50/50, the types of a label
# equally often, the two mixed-label types weighted like a NON-COMPLIANT-only type.
DEFAULT_MIX: dict[str, float] = {
    pid: 5.0 if LABEL_SHARES[pid] == {COMPLIANT: 1.0} else 3.0 for pid in PERTURBATION_IDS
}


def balancing_boosts(mix: Mapping[str, float] | None = None) -> dict[Verdict, dict[str, float]]:
    """label -> {rendering mode: chance that a plain rendering of that label also takes on the
    mode's surface bundle}, balancing the bundles across labels when perturbation types are
    drawn in proportion to `mix` (default: `DEFAULT_MIX`, label-balanced)."""
    weights = dict(DEFAULT_MIX if mix is None else mix)
    unknown = sorted(set(weights) - set(PERTURBATION_IDS))
    if unknown or any(w < 0 for w in weights.values()):
        raise ConfigError(f"bad perturbation mix {weights}", fix="use the ten perturbation ids "
                          "with non-negative weights")
    return _boosts(tuple(sorted(weights.items())))


@lru_cache(maxsize=64)
def _boosts(mix: tuple[tuple[str, float], ...]) -> dict[Verdict, dict[str, float]]:
    out: dict[Verdict, dict[str, float]] = {COMPLIANT: {}, NON_COMPLIANT: {}}
    for bundle in sorted(set(RENDER_MODES.values())):
        forced = {COMPLIANT: 0.0, NON_COMPLIANT: 0.0}
        plain = dict(forced)
        total = dict(forced)
        for pid, weight in mix:
            mode = mode_for(pid)
            for label, share in LABEL_SHARES[pid].items():
                total[label] += weight * share
                forced[label] += weight * share * (mode == bundle)
                plain[label] += weight * share * (mode == "plain")
        if not all(total.values()):
            continue  # one label never occurs: nothing to balance against
        share = {label: forced[label] / total[label] for label in total}
        low = min(share, key=share.__getitem__)
        high = NON_COMPLIANT if low == COMPLIANT else COMPLIANT
        gap = share[high] - share[low]
        if gap > 0 and plain[low] > 0:
            out[low][bundle] = min(1.0, gap * total[low] / plain[low])
    return out


def mode_for(perturbation: str) -> str:
    """The rendering mode of a perturbation type ("plain" unless it is about wording)."""
    return RENDER_MODES.get(perturbation, "plain")


def generate(
    procedure: Procedure,
    perturbation: str,
    rng: random.Random,
    *,
    mix: Mapping[str, float] | None = None,
    filler: bool = True,
) -> Candidate | Rejection:
    """One instance of `perturbation` for `procedure`, verified, or the reason it was not.
    `mix`: the relative weights with which the caller draws the ten types (default:
    `DEFAULT_MIX`), so that surface features can be balanced across labels. `filler=False`:
    no neutral filler lines (the compact view)."""
    make = lookup(PERTURBATIONS, perturbation, kind="perturbation")
    try:
        draft = make(procedure, rng)
    except NotApplicable as err:
        return Rejection(procedure.id, perturbation, "not_applicable", err.reason)
    mode = mode_for(perturbation)
    boost = balancing_boosts(mix)[draft.intended_label] if mode == "plain" else None
    return accept(procedure, draft, rng, mode=mode, style=draw_style(mode, rng, boost=boost),
                  filler=filler)


def accept(
    procedure: Procedure,
    draft: Draft,
    rng: random.Random,
    *,
    mode: str = "plain",
    style: Style | None = None,
    filler: bool = True,
) -> Candidate | Rejection:
    """Check, render and round-trip `draft`; a Candidate only if all three agree."""
    result = check(procedure, draft.trace, draft.context)
    problem = intent_problem(draft, result)
    if problem is not None:
        return Rejection(procedure.id, draft.perturbation, "label_mismatch", problem)
    # Pad to the reference length so a dropped step never shortens the story.
    pad = int(draft.meta.get("length_ref", 0)) - event_chars(procedure, draft.trace.events)
    try:
        rendered = render_scenario(
            procedure, draft.trace, draft.context, rng, mode=mode, style=style, pad_chars=pad,
            filler=filler,
        )
    except ProclabError as err:
        return Rejection(procedure.id, draft.perturbation, "render_error", err.render())
    problems = roundtrip_problems(procedure, draft.trace, draft.context, rendered)
    if problems:
        return Rejection(procedure.id, draft.perturbation, "roundtrip", "; ".join(problems[:3]))
    meta = {
        **draft.meta,
        "mode": mode,
        "style": rendered.style.flags(),
        "templates": rendered.template_ids,
        "cast": rendered.cast,
    }
    return Candidate(
        procedure_id=procedure.id,
        perturbation=draft.perturbation,
        trace=draft.trace,
        context=draft.context,
        label=result.verdict,
        violations=list(result.violations),
        scenario_text=rendered.text,
        meta=meta,
    )

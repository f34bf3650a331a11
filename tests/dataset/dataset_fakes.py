"""A small fake upstream for builder tests: procedures, a renderer and generators whose
variety is known, so sizes, dedup and determinism can be asserted exactly."""

from __future__ import annotations

import random

from proclab.dataset.build import Upstream
from proclab.dataset.records import Instance
from proclab.dataset.splits import HouseStyles
from proclab.procedures.schema import Procedure, Step
from proclab.procedures.trace import COMPLIANT, NON_COMPLIANT, Event, Trace, Violation
from proclab.scenarios.types import Candidate, Rejection

LAB = ("terse_numbered", "checklist", "step_cards")
STYLES = HouseStyles(lab=LAB, known=LAB + ("fda_manual", "cms_manual"))
_TOPICS = {
    "lab_safety": ["spill", "laser", "glovebox", "cryogen", "autoclave", "fumehood"],
    "fda": ["recall", "audit", "intake"],
    "cms": ["modifier", "denial", "refund"],
}
_VERBS = ["inspect", "record", "label", "seal", "notify", "verify", "clean", "store"]
_OBJECTS = [
    "the bench",
    "the cabinet",
    "the log",
    "the bottle",
    "the form",
    "the badge",
    "the valve",
    "the drawer",
    "the tray",
    "the ledger",
]
_NAMES = ["Avery", "Blake", "Casey", "Devon", "Emery", "Frankie", "Harper", "Jordan"]
C_ONLY = {"baseline_compliant", "lexical_paraphrase", "adversarial_surface_compliant"}
MIXED = {"exception_trigger", "distractor_injection"}


def make_procedures() -> list[Procedure]:
    procs = []
    for domain, topics in _TOPICS.items():
        source = {"lab_safety": "terse_numbered", "fda": "fda_manual", "cms": "cms_manual"}[domain]
        prefix = {"lab_safety": "lab", "fda": "fda", "cms": "cms"}[domain]
        for t, topic in enumerate(topics):
            steps = [
                Step(
                    id=str(i + 1),
                    text=f"{_VERBS[(i + t) % 8].capitalize()} {_OBJECTS[(i * 3 + t) % 10]} "
                    f"for the {topic} task, stage {i + 1}.",
                    actor="worker",
                )
                for i in range(6)
            ]
            procs.append(
                Procedure(
                    id=f"{prefix}-{topic}",
                    title=f"{topic} procedure",
                    domain=domain,
                    source=source,
                    roles=["worker", "lead"],
                    steps=steps,
                )
            )
    return procs


def render(proc: Procedure, style: str) -> str:
    if style == "checklist":
        body = [f"[ ] {s.text}" for s in proc.steps]
    elif style == "step_cards":
        body = [
            f"CARD {s.id} :: {s.text.upper()} :: owner {s.actor} :: sign when done"
            for s in proc.steps
        ]
    elif style.endswith("_manual"):
        body = [
            f"Section {i}.0 The responsible party shall {s.text.lower()} Refer to annex {i}."
            for i, s in enumerate(proc.steps, 1)
        ]
    else:
        body = [f"{s.id}. {s.text}" for s in proc.steps]
    return "\n".join([proc.title.upper(), *body])


def _label(perturbation: str, rng: random.Random) -> str:
    if perturbation in C_ONLY:
        return COMPLIANT
    if perturbation in MIXED:
        return rng.choice([COMPLIANT, NON_COMPLIANT])
    return NON_COMPLIANT


def make_generator(variety: int = 40, reject_rate: float = 0.1):
    """A generator with `8 * variety` distinct scenarios per (procedure, perturbation, label)."""

    def generate(proc: Procedure, perturbation: str, rng: random.Random, *, mix=None):
        if rng.random() < reject_rate:
            return Rejection(proc.id, perturbation, "label_mismatch", "fake")
        label = _label(perturbation, rng)
        name = rng.choice(_NAMES)
        minutes = rng.randrange(variety)
        steps = list(proc.steps)
        violations = []
        if label == NON_COMPLIANT:
            dropped = steps.pop(rng.randrange(len(steps)))
            violations = [Violation(type="missing_step", step=dropped.id, message="skipped")]
        events = [Event(step=s.id, actor="worker", detail=s.text) for s in steps]
        lines = [f"At minute {minutes} {name} began the {perturbation.replace('_', ' ')} shift."]
        lines += [f"{name} went on to {s.text[0].lower() + s.text[1:]}" for s in steps]
        return Candidate(
            proc.id,
            perturbation,
            Trace(events=events),
            {"minutes": minutes},
            label,
            violations,
            " ".join(lines),
            meta={"fake": True, "name": name},
        )

    return generate


def generate_pairs(proc: Procedure, rng: random.Random) -> list[Candidate]:
    name = rng.choice(_NAMES)
    steps = list(proc.steps)
    i = rng.randrange(len(steps) - 1)
    swapped = steps[:i] + [steps[i + 1], steps[i]] + steps[i + 2 :]
    out = []
    for role, order, label in (("base", steps, COMPLIANT), ("flip", swapped, NON_COMPLIANT)):
        text = " ".join(f"{name} did: {s.text}" for s in order)
        viol = (
            []
            if label == COMPLIANT
            else [
                Violation(type="order", step=steps[i].id, related=steps[i + 1].id, message="swap")
            ]
        )
        out.append(
            Candidate(
                proc.id,
                "step_reorder_invalid",
                Trace(events=[Event(step=s.id, actor="worker") for s in order]),
                {},
                label,
                viol,
                text,
                pair_id="p0",
                pair_role=role,
            )
        )
    return out


def fake_upstream(variety: int = 40, reject_rate: float = 0.1) -> Upstream:
    return Upstream(
        tuple(make_procedures()),
        render,
        make_generator(variety, reject_rate),
        generate_pairs,
        STYLES,
    )


def tiny_config_dict(**overrides) -> dict:
    """A config that fits the fake corpus: 3 training cohorts, 3 held-out ones."""
    cfg = {
        "name": "fake-tiny",
        "heldout": {"fraction_per_domain": 0.34, "seed": 3, "styles": ["step_cards"]},
        "cohorts": [
            {"name": "train_a", "seed": 1, "size": 120, "pairs_per_procedure": 1},
            {
                "name": "train_b",
                "seed": 2,
                "size": 60,
                "perturbations": {
                    "baseline_compliant": 2,
                    "baseline_noncompliant": 2,
                    "exception_trigger": 1,
                },
            },
            {
                "name": "heldout_procedures",
                "seed": 3,
                "size": 40,
                "procedures": "heldout",
                "pairs_per_procedure": 1,
            },
            {
                "name": "heldout_adversarial",
                "seed": 4,
                "size": 30,
                "procedures": "heldout",
                "perturbations": {
                    "adversarial_surface_compliant": 1,
                    "adversarial_surface_noncompliant": 1,
                },
            },
            {
                "name": "heldout_style",
                "seed": 5,
                "size": 30,
                "procedures": "heldout",
                "styles": ["step_cards"],
            },
        ],
        "splits": {
            "train": ["train_a", "train_b"],
            "heldout_procedures": ["heldout_procedures"],
            "heldout_adversarial": ["heldout_adversarial"],
            "heldout_style": ["heldout_style"],
        },
    }
    cfg.update(overrides)
    return cfg


def record(
    rid: str,
    split: str,
    procedure_text: str,
    scenario_text: str,
    label: str = COMPLIANT,
    perturbation: str = "baseline_compliant",
) -> Instance:
    """A bare dataset record for audit / probe tests."""
    return Instance(
        id=rid,
        procedure_id="p-" + procedure_text[:8],
        domain="lab_safety",
        source="terse_numbered",
        cohort=split,
        split=split,
        perturbation=perturbation,
        label=label,
        procedure_text=procedure_text,
        scenario_text=scenario_text,
        violations=[],
        meta={},
        trace=[],
        context={},
    )


# -- texts with known shingle overlap (dedup / audit tests) --------------------------------

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
]


def text(seed: int, n: int = 80) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n))


def ref_jaccard(a: str, b: str, k: int = 5) -> float:
    def grams(t: str) -> set[str]:
        w = t.lower().split()
        return {" ".join(w[i : i + k]) for i in range(len(w) - k + 1)}

    ga, gb = grams(a), grams(b)
    return len(ga & gb) / len(ga | gb)


def edit(t: str, n_words: int) -> str:
    """Replace the last `n_words` words: a near duplicate of a long text."""
    words = t.split()
    return " ".join(words[:-n_words] + ["zulu"] * n_words)

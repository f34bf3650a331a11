"""Data passed from the scenario generator to the dataset builder.

The contract between `proclab.scenarios` and `proclab.dataset`: the generator yields
`Candidate`s (already verified: the checker's verdict equals the perturbation's intent and the
narrative round-trips) or `Rejection`s (counted per source x perturbation cell by the builder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proclab.errors import ProclabError
from proclab.procedures.trace import Context, Trace, Verdict, Violation

PERTURBATION_IDS: tuple[str, ...] = (
    "baseline_compliant",
    "baseline_noncompliant",
    "lexical_paraphrase",
    "step_reorder_invalid",
    "prerequisite_omission",
    "hierarchy_violation",
    "exception_trigger",
    "distractor_injection",
    "adversarial_surface_compliant",
    "adversarial_surface_noncompliant",
)


class RenderError(ProclabError):
    """A trace cannot be told: an unknown step or role, a step or value without narration, or
    a timeline the procedure's timings and scenes cannot fit."""


@dataclass(frozen=True)
class Draft:
    """What a perturbation produces before rendering: the structured scenario and its intent."""

    perturbation: str
    trace: Trace
    context: Context
    intended_label: Verdict
    # Which steps the perturbation targets, what it did ("dropped", "swapped", ...), etc.
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """An accepted instance before dedup/splitting: verified label + rendered scenario."""

    procedure_id: str
    perturbation: str
    trace: Trace
    context: Context
    label: Verdict
    violations: list[Violation]
    scenario_text: str
    meta: dict[str, Any] = field(default_factory=dict)
    # Counterfactual pair link: same pair_id on both members; role is "base", "flip" or
    # "preserve" (see DESIGN.md §3). None for ordinary instances.
    pair_id: str | None = None
    pair_role: str | None = None


@dataclass(frozen=True)
class Rejection:
    """A draft that failed acceptance; `reason` is one of: label_mismatch, roundtrip,
    not_applicable, render_error."""

    procedure_id: str
    perturbation: str
    reason: str
    detail: str = ""

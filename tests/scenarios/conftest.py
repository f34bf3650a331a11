"""Shared fixtures: the corpus, a tiny hand-written procedure, and one pool of generated
instances (every corpus procedure x every perturbation type, two seeds) reused by the tests."""

from __future__ import annotations

import random

import pytest

from proclab.procedures.corpus import get_procedure, load_corpus
from proclab.procedures.schema import Procedure
from proclab.scenarios.generate import generate
from proclab.scenarios.types import PERTURBATION_IDS, Candidate, Rejection

POOL_SEEDS = (0, 1)


@pytest.fixture(scope="session")
def corpus() -> list[Procedure]:
    return load_corpus()


@pytest.fixture(scope="session")
def spill() -> Procedure:
    return get_procedure("lab-minor-chemical-spill")


@pytest.fixture(scope="session")
def flat() -> Procedure:
    """No prerequisites, no order, no children, no exceptions, one role: most types cannot
    apply to it."""
    return Procedure.model_validate(
        {
            "id": "flat-two-steps",
            "title": "Two independent steps",
            "domain": "lab_safety",
            "source": "terse_numbered",
            "roles": ["student"],
            "steps": [
                {"id": "1", "text": "Close the window above the bench.", "actor": "student",
                 "narration": ["shut the window over the bench", "pulled the bench window to"]},
                {"id": "2", "text": "Switch off the bench lamp.", "actor": "student",
                 "narration": ["turned the bench lamp off", "switched the lamp at the bench off"]},
            ],
        }
    )


@pytest.fixture(scope="session")
def pool(corpus: list[Procedure]) -> list[tuple[Procedure, str, int, Candidate | Rejection]]:
    out = []
    for proc in corpus:
        for pid in PERTURBATION_IDS:
            for seed in POOL_SEEDS:
                rng = random.Random(f"{proc.id}/{pid}/{seed}")
                out.append((proc, pid, seed, generate(proc, pid, rng)))
    return out

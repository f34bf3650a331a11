from __future__ import annotations

import random
import re
from collections import Counter, defaultdict

import pytest

from proclab.procedures.checker import check
from proclab.procedures.schema import Procedure
from proclab.scenarios.pairs import PAIR_KINDS, generate_pairs
from proclab.scenarios.types import Candidate


@pytest.fixture(scope="module")
def pairs(corpus: list[Procedure]) -> dict[str, list[Candidate]]:
    by_id: dict[str, list[Candidate]] = defaultdict(list)
    for proc in corpus[::3]:
        for member in generate_pairs(proc, random.Random(proc.id)):
            by_id[member.pair_id or ""].append(member)
    return by_id


# A swap moves the two events' own times (delays and durations belong to steps); every other
# time stays put. Day changes are told on the sentence whose step makes the day jump.
_TIMES = re.compile(r"\b\d{1,2}:\d{2}\b")


def _tokens(text: str) -> Counter[str]:
    return Counter(_TIMES.sub("T", text).lower().split())


def test_every_kind_occurs_and_members_are_linked(pairs) -> None:
    kinds = Counter(members[0].meta["pair_kind"] for members in pairs.values())
    assert set(kinds) == set(PAIR_KINDS)
    for pair_id, members in pairs.items():
        assert pair_id and len(members) == 2
        base, other = members
        assert base.pair_role == "base" and base.perturbation == "baseline_compliant"
        assert base.meta["pair_kind"] == other.meta["pair_kind"]
        assert base.context == other.context and base.procedure_id == other.procedure_id


def test_flip_pairs_flip_and_preserve_pairs_keep_the_label(pairs, corpus) -> None:
    procs = {p.id: p for p in corpus}
    for base, other in pairs.values():
        kind = base.meta["pair_kind"]
        assert base.label == "COMPLIANT"
        assert check(procs[other.procedure_id], other.trace, other.context).verdict == other.label
        if kind == "unordered_swap":
            assert (other.pair_role, other.label, other.perturbation) == (
                "preserve", "COMPLIANT", "baseline_compliant")
        else:
            assert other.pair_role == "flip" and other.label == "NON-COMPLIANT"
            types = {v.type for v in other.violations}
            want = {"order_swap": {"order", "prerequisite"}, "actor_swap": {"authority"}}[kind]
            assert types and types <= want
            assert other.perturbation == {
                "order_swap": "step_reorder_invalid", "actor_swap": "hierarchy_violation"}[kind]


def test_pair_texts_differ_only_where_the_edit_is(pairs) -> None:
    for base, other in pairs.values():
        a, b = _tokens(base.scenario_text), _tokens(other.scenario_text)
        shared = sum((a & b).values())
        assert shared / max(sum(a.values()), sum(b.values())) >= 0.97, base.meta["pair_kind"]
        assert len(base.scenario_text.split(". ")) == len(other.scenario_text.split(". "))
        if base.meta["pair_kind"] == "actor_swap":
            # same sentences in the same order; only first names differ
            assert base.trace.step_ids() == other.trace.step_ids()
            names = {full.split()[0] for full in base.meta["cast"].values()}
            diff = [
                (x, y)
                for x, y in zip(base.scenario_text.split(". "), other.scenario_text.split(". "),
                                strict=True)
                if x != y
            ]
            assert 1 <= len(diff) <= 2
            for x, y in diff:
                changed = {w.strip(",.") for w in set(x.split()) ^ set(y.split())}
                assert changed and changed <= names, changed
        else:
            assert a == b  # a swap of two sentences keeps every word
            assert base.scenario_text != other.scenario_text


def test_pairs_are_deterministic(spill: Procedure) -> None:
    a = generate_pairs(spill, random.Random(11))
    b = generate_pairs(spill, random.Random(11))
    assert [(c.pair_id, c.scenario_text) for c in a] == [(c.pair_id, c.scenario_text) for c in b]
    c = generate_pairs(spill, random.Random(12))
    assert {x.pair_id for x in a}.isdisjoint({x.pair_id for x in c})

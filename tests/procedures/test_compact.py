"""The compact view: every corpus procedure cut to a valid smaller procedure, found by id."""

from __future__ import annotations

import pytest

from proclab.errors import ConfigError
from proclab.procedures.compact import compact_id, compact_procedure, parse_compact_id
from proclab.procedures.corpus import get_procedure, load_corpus
from proclab.procedures.validate import validate_procedure


@pytest.mark.parametrize("n", [4, 6, 9])
def test_every_corpus_procedure_has_a_valid_compact_view(n):
    for proc in load_corpus():
        small = compact_procedure(proc, n)
        main = [s for top in small.steps for s in top.walk()]
        assert 1 <= len(main) <= n
        assert small.id == compact_id(proc.id, n)
        assert validate_procedure(small) == []
        # A prefix of the original's top-level steps, texts unchanged.
        assert [s.id for s in small.steps] == [s.id for s in proc.steps[: len(small.steps)]]
        known = {s.id for s in small.all_steps()}
        for step in small.all_steps():
            assert set(step.requires) | set(step.after) <= known
        for exc in small.exceptions:
            assert set(exc.replaces) | set(exc.forbids) <= known
        assert set(small.context) <= set(proc.context)


def test_dropped_references_and_unread_context_are_removed():
    proc = get_procedure("lab-minor-chemical-spill")
    small = compact_procedure(proc, 6)
    ids = {s.id for s in small.all_steps()}
    assert "5" not in ids and "4.b" in ids
    exceptions = {e.id: e for e in small.exceptions}
    # The large-spill exception replaced steps 4-6: it now replaces the kept 4, 4.a, 4.b.
    assert exceptions["large-spill-escalation"].replaces == ["4", "4.a", "4.b"]
    # The flammable one forbade step 6 (gone) and still adds its own step.
    assert exceptions["flammable-ignition-control"].forbids == []
    assert [s.id for s in exceptions["flammable-ignition-control"].adds] == ["X1"]
    assert set(small.context) == {"spill_volume_l", "substance_flammable"}


def test_compact_ids_resolve_to_the_same_procedure_everywhere():
    proc = get_procedure("cms-duplicate-claim-edit")
    cid = compact_id(proc.id, 6)
    assert parse_compact_id(cid) == (proc.id, 6)
    assert parse_compact_id(proc.id) is None
    assert get_procedure(cid) == compact_procedure(proc, 6)
    with pytest.raises(ConfigError):
        get_procedure("no-such-procedure--c6")


def test_too_few_steps_is_a_config_error():
    with pytest.raises(ConfigError, match="at least"):
        compact_procedure(get_procedure("lab-minor-chemical-spill"), 2)

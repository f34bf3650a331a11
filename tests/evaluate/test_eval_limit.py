"""`--limit` takes a fixed sample spread over the split, not the first N lines."""

from tests.evaluate.eval_fakes import make_records

from proclab.dataset.records import limit_sample


def test_limit_spreads_over_a_sorted_file_and_extends_by_prefix():
    # Split files are sorted by perturbation/label: all COMPLIANT first, then NON-COMPLIANT.
    records = sorted(make_records(per_label=6), key=lambda r: r.label)
    assert records[0].label != records[-1].label
    small, large = limit_sample(records, 6), limit_sample(records, 12)
    assert len(large) == 12 < len(records)
    assert {r.label for r in large} == {"COMPLIANT", "NON-COMPLIANT"}
    assert {r.id for r in small} <= {r.id for r in large}  # a larger limit extends the log
    positions = [records.index(r) for r in large]
    assert positions == sorted(positions)  # file order is kept
    assert limit_sample(records, 6) == small  # deterministic
    assert len(limit_sample(records, 10_000)) == len(records)


def test_limit_keeps_counterfactual_pairs_whole():
    records = make_records(per_label=20)
    # Pair up records two by two, as pairs.jsonl members appended to a split would be.
    paired = [r.model_copy(update={"pair_id": f"p{i // 2}"}) if i < 24 else r
              for i, r in enumerate(records)]
    for limit in range(2, len(paired), 3):
        taken = limit_sample(paired, limit)
        assert len(taken) == limit
        members: dict[str, int] = {}
        for r in taken:
            if r.pair_id:
                members[r.pair_id] = members.get(r.pair_id, 0) + 1
        assert sum(1 for n in members.values() if n == 1) <= 1, limit  # only the cut one
    plain = limit_sample(records, 9)
    assert [r.id for r in plain] == [r.id for r in limit_sample(records, 9)]

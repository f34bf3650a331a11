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

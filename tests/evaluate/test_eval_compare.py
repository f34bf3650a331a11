"""McNemar's exact test: hand-computed p-values and a comparison of two real run dirs."""

from __future__ import annotations

import pytest
from tests.evaluate.eval_fakes import C, FakeEvaluator, make_records, write_records

from proclab.errors import DataError
from proclab.evaluate.compare import compare_runs, mcnemar_exact
from proclab.evaluate.config import make_config
from proclab.evaluate.runner import run_eval


def test_mcnemar_hand_values():
    # b=1, c=6: P(X<=1 | n=7) = (1 + 7) / 128, doubled.
    assert mcnemar_exact(1, 6) == pytest.approx(2 * 8 / 128)
    assert mcnemar_exact(6, 1) == pytest.approx(2 * 8 / 128)
    # b=0, c=5: 2 * (1/32)
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 0) == 1.0


def test_compare_two_runs(tmp_path):
    data = write_records(tmp_path / "data.jsonl", make_records())
    cfg = make_config(backend="fake", data=str(data))
    run_eval(cfg, tmp_path / "a", evaluator=FakeEvaluator())  # always right
    # B answers COMPLIANT everywhere: right on the 8 C records, wrong on the 8 N ones.
    run_eval(cfg.model_copy(update={"seed": 1}), tmp_path / "b",
             evaluator=FakeEvaluator(lambda rec, _: f"Final answer: {C}"))
    c = compare_runs(tmp_path / "a", tmp_path / "b")
    assert (c.shared, c.both_correct, c.a_only_correct, c.b_only_correct, c.both_wrong) == (
        16, 8, 8, 0, 0)
    assert c.accuracy_a == 1.0 and c.accuracy_b == 0.5
    assert c.p_value == pytest.approx(2 / 256)
    assert c.same_data and c.only_a == c.only_b == 0


def test_compare_needs_shared_samples(tmp_path):
    recs = make_records()
    a = write_records(tmp_path / "a.jsonl", recs[:4])
    b = write_records(tmp_path / "b.jsonl", recs[4:8])
    run_eval(make_config(backend="oracle", data=str(a)), tmp_path / "ra")
    run_eval(make_config(backend="oracle", data=str(b)), tmp_path / "rb")
    with pytest.raises(DataError, match="share no scored sample"):
        compare_runs(tmp_path / "ra", tmp_path / "rb")
    with pytest.raises(DataError, match="no samples.jsonl"):
        compare_runs(tmp_path / "ra", tmp_path / "missing")

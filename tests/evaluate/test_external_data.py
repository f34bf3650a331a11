"""Data proclab did not build: a file in another layout is read through `--map` / `--label-map`
(or the same keys in an eval config), in every supported format, and every metric that needs no
proclab structure is computed on it; the rest is reported as not applicable."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from tests.evaluate.eval_fakes import FakeEvaluator

from proclab.cli import main
from proclab.errors import ProclabError
from proclab.evaluate.adapters import inspect_task, load_records, map_docs
from proclab.evaluate.config import make_config
from proclab.evaluate.data import load_eval_data
from proclab.evaluate.logs import load_results
from proclab.evaluate.runner import run_eval

MAP = "procedure_text=rule,scenario_text=facts,label=holding,group_id=rule_id"
LABELS = "upheld=COMPLIANT,breached=NON-COMPLIANT,unclear=skip"


def _rows(n: int = 24) -> list[dict]:
    """A rule-application set in its own layout: rule text, case facts, a Yes/No-like holding,
    a rule id to cluster by and a metadata column (court level)."""
    rows = []
    for i in range(n):
        days = i % 6
        rows.append({
            "case_no": f"C-{i:03d}",
            "rule_id": f"R{i % 4}",
            "rule": f"Rule R{i % 4}: a tenant gives written notice at least 3 days before leaving.",
            "facts": f"The tenant wrote to the landlord {days} days before moving out.",
            "holding": "upheld" if days >= 3 else "breached",
            "court": "appeal" if i % 3 == 0 else "trial",
        })
    rows[5]["holding"] = "unclear"
    return rows


def _write(path: Path, rows: list[dict]) -> Path:
    if path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _exit(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def _by_verdict(rec, _prompt: str) -> str:
    """Right on appeal-court cases, always COMPLIANT on the others (a known accuracy split)."""
    guess = rec.label if rec.meta.get("court") == "appeal" else "COMPLIANT"
    return f"Final answer: {guess}"


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_every_format_maps_to_the_same_records(tmp_path, suffix):
    path = _write(tmp_path / f"cases{suffix}", _rows())
    data = load_eval_data(path, field_map=dict(p.split("=") for p in MAP.split(",")),
                          label_map=dict(p.split("=") for p in LABELS.split(",")))
    assert len(data.records) == 23 and data.mapping.skipped == 1
    first = data.records[0]
    assert first.procedure_text.startswith("Rule R0") and first.group_id == "R0"
    assert first.label == "NON-COMPLIANT" and first.perturbation is None
    assert first.meta == {"case_no": "C-000", "court": "appeal"}
    assert data.mapping.label_counts == {"upheld": 11, "breached": 12, "unclear": 1}


def test_a_datasets_save_to_disk_folder(tmp_path):
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "hf"
    datasets.DatasetDict({"test": datasets.Dataset.from_list(_rows())}).save_to_disk(folder)
    data = load_eval_data(folder, "test", field_map={"procedure_text": "rule",
                          "scenario_text": "facts", "label": "holding"},
                          label_map={"upheld": "COMPLIANT", "breached": "NON-COMPLIANT",
                                     "unclear": "skip"})
    assert len(data.records) == 23 and data.records[0].meta["court"] == "appeal"


def test_metrics_on_mapped_data_and_not_applicable_ones(tmp_path):
    path = _write(tmp_path / "cases.csv", _rows())
    config = make_config(data=str(path), backend="fake", orders=["PSQ", "SPQ"], resamples=200,
                         map=dict(p.split("=") for p in MAP.split(",")),
                         label_map=dict(p.split("=") for p in LABELS.split(",")))
    res = run_eval(config, tmp_path / "run", evaluator=FakeEvaluator(_by_verdict)).results
    appeal = [r for r in _rows() if r["court"] == "appeal" and r["holding"] != "unclear"]
    trial = [r for r in _rows() if r["court"] == "trial" and r["holding"] != "unclear"]
    want = (len(appeal) + sum(r["holding"] == "upheld" for r in trial)) / 23
    assert res.metrics["accuracy"].value == pytest.approx(want)
    lo, hi = res.metrics["accuracy"].ci_low, res.metrics["accuracy"].ci_high
    assert lo < want < hi  # clustered by rule id: 4 clusters
    court = {b.value: b for b in res.breakdowns["court"]}
    assert court["appeal"].accuracy.value == 1.0 and court["appeal"].n == 2 * len(appeal)
    assert court["trial"].false_compliant == 2 * sum(r["holding"] == "breached" for r in trial)
    assert set(res.orders.orders) == {"PSQ", "SPQ"}
    assert "grid" in res.not_applicable and "pairs" in res.not_applicable
    assert res.data.mapping.columns["group_id"] == "rule_id"


def test_cli_map_and_config_file_agree(tmp_path, capsys):
    path = _write(tmp_path / "cases.jsonl", _rows())
    base = ["eval", "run", "--data", str(path), "--backend", "majority", "--no-progress",
            "--resamples", "100"]
    assert _exit([*base, "--out", str(tmp_path / "a"), "--map", MAP,
                  "--label-map", LABELS]) == 0
    conf = tmp_path / "eval.yaml"
    conf.write_text(yaml.safe_dump({"data": str(path), "backend": "majority",
                                    "map": dict(p.split("=") for p in MAP.split(",")),
                                    "label_map": dict(p.split("=") for p in LABELS.split(","))}))
    assert _exit(["eval", "run", "--config", str(conf), "--out", str(tmp_path / "b"),
                  "--no-progress", "--resamples", "100"]) == 0
    a, b = load_results(tmp_path / "a"), load_results(tmp_path / "b")
    assert a.metrics["accuracy"].value == b.metrics["accuracy"].value == 12 / 23
    assert a.data.sha256 == b.data.sha256


def test_unmapped_required_field_lists_columns_and_suggests(tmp_path, capsys):
    path = _write(tmp_path / "cases.csv", _rows())
    code = _exit(["eval", "run", "--data", str(path), "--backend", "majority", "--no-progress",
                  "--out", str(tmp_path / "r"), "--map", "scenario_text=facts,label=holding",
                  "--label-map", LABELS])
    err = capsys.readouterr().err
    assert code == 2
    assert "required field 'procedure_text'" in err and "--map procedure_text=rule" in err
    assert "case_no, rule_id, rule, facts, holding, court" in err


def test_a_label_outside_the_map_names_the_row(tmp_path, capsys):
    path = _write(tmp_path / "cases.csv", _rows())
    code = _exit(["eval", "run", "--data", str(path), "--backend", "majority", "--no-progress",
                  "--out", str(tmp_path / "r"), "--map", MAP,
                  "--label-map", "upheld=COMPLIANT,breached=NON-COMPLIANT"])
    err = capsys.readouterr().err
    assert code == 2 and "cases.csv:7" in err and "'unclear' is not in the label map" in err
    assert "'breached' x12" in err


@pytest.mark.parametrize("content", ["", "case_no,rule,facts,holding\n"])
def test_an_empty_file_is_an_error(tmp_path, capsys, content):
    path = tmp_path / "cases.csv"
    path.write_text(content, encoding="utf-8")
    code = _exit(["eval", "run", "--data", str(path), "--backend", "majority", "--no-progress",
                  "--out", str(tmp_path / "r"), "--map", MAP, "--label-map", LABELS])
    assert code == 2 and "no rows" in capsys.readouterr().err


def test_adapters_take_the_same_maps(tmp_path):
    path = _write(tmp_path / "cases.csv", _rows())
    records = load_records(path, field_map=MAP, label_map=LABELS)
    assert len(records) == 23 and records[0]["label"] == "NON-COMPLIANT"
    fields = inspect_task.record_to_sample_fields(records[0])
    assert fields["target"] == "NON-COMPLIANT" and fields["metadata"]["court"] == "appeal"
    assert "Rule R0" in fields["input"] and "4 days" not in fields["input"]
    docs = map_docs(_rows(), field_map=MAP, label_map=LABELS)
    assert [d["scenario_text"] for d in docs] == [r["scenario_text"] for r in records]
    with pytest.raises(ProclabError, match="not in the label map"):
        map_docs(_rows(), field_map=MAP, label_map="upheld=COMPLIANT,breached=NON-COMPLIANT")
    with pytest.raises(ProclabError, match="unknown field 'rules'"):
        load_records(path, field_map="rules=rule", label_map=LABELS)

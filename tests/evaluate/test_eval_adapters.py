"""The Inspect and lm-evaluation-harness adapters build proclab's prompt and grade with its
parser; the task YAML names functions that exist."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from tests.evaluate.eval_fakes import make_records

import proclab.evaluate.adapters as adapters
from proclab.errors import ProclabError
from proclab.evaluate.adapters import inspect_task
from proclab.evaluate.runner import prompt_messages

LM_EVAL_DIR = Path(adapters.__file__).parent / "lm_eval"


def _row():
    rec = make_records(per_label=1)[1]
    return rec, json.loads(json.dumps(rec.to_row()))  # exactly what the JSONL line holds


def _load_utils():
    spec = importlib.util.spec_from_file_location("proclab_lm_eval_utils",
                                                  LM_EVAL_DIR / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lm_eval_yaml_names_existing_functions():
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: ("function", node.value))
    config = yaml.load((LM_EVAL_DIR / "proclab.yaml").read_text(), Loader=Loader)
    assert config["task"] == "proclab" and config["output_type"] == "generate_until"
    utils = _load_utils()
    for key in ("doc_to_text", "doc_to_target", "process_results", "process_docs"):
        kind, name = config[key]
        assert kind == "function" and callable(getattr(utils, name.split(".")[1]))
    assert {m["metric"] for m in config["metric_list"]} == {"acc", "parse_rate"}


def test_lm_eval_utils_prompt_and_scores():
    rec, row = _row()
    utils = _load_utils()
    assert utils.doc_to_text(row) == prompt_messages(rec, "PSQ")[0]["content"]
    assert utils.doc_to_target(row) == rec.label == "NON-COMPLIANT"
    assert utils.process_results(row, ["...\nFinal answer: NON-COMPLIANT"]) == {
        "acc": 1.0, "parse_rate": 1.0}
    assert utils.process_results(row, ["Final answer: COMPLIANT"]) == {
        "acc": 0.0, "parse_rate": 1.0}
    assert utils.process_results(row, ["no idea"]) == {"acc": 0.0, "parse_rate": 0.0}


def test_inspect_sample_fields():
    rec, row = _row()
    fields = inspect_task.record_to_sample_fields(row, order="SQP")
    assert fields["id"] == rec.id and fields["target"] == "NON-COMPLIANT"
    assert fields["input"] == prompt_messages(rec, "SQP")[0]["content"]
    assert fields["metadata"]["procedure_id"] == rec.procedure_id


def test_inspect_task_without_inspect_explains_itself():
    if inspect_task.HAVE_INSPECT:
        pytest.skip("inspect-ai is installed")
    with pytest.raises(ProclabError, match="inspect-ai"):
        inspect_task.proclab(data="x.jsonl")


def test_inspect_task_builds_when_inspect_is_installed(tmp_path):
    pytest.importorskip("inspect_ai")
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r.to_row()) + "\n" for r in make_records(per_label=1)))
    built = inspect_task.proclab(data=str(path))
    assert len(built.dataset) == 8


def test_lm_eval_process_docs_maps_by_environment(monkeypatch):
    datasets = pytest.importorskip("datasets")
    utils = _load_utils()
    rows = [{"rule": "Lock the door.", "facts": "Ana locked it.", "ok": "y"},
            {"rule": "Lock the door.", "facts": "Ana left it open.", "ok": "n"}]
    ds = datasets.Dataset.from_list(rows)
    assert utils.process_docs(ds) is ds  # proclab's own records pass through
    monkeypatch.setenv("PROCLAB_MAP", "procedure_text=rule,scenario_text=facts,label=ok")
    monkeypatch.setenv("PROCLAB_LABEL_MAP", "y=COMPLIANT,n=NON-COMPLIANT")
    mapped = utils.process_docs(ds)
    assert [d["label"] for d in mapped] == ["COMPLIANT", "NON-COMPLIANT"]
    assert "Ana left it open." in utils.doc_to_text(mapped[1])

"""`proclab eval run|compare|report` through the real entry point: exit codes and messages."""

from __future__ import annotations

import json

import pytest
from tests.evaluate.eval_fakes import make_records, write_records

from proclab.cli import main
from proclab.evaluate.cli import parse_options
from proclab.evaluate.logs import load_results


@pytest.fixture()
def data_file(tmp_path):
    return write_records(tmp_path / "data.jsonl", make_records())


def _exit_code(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def test_run_compare_report(data_file, tmp_path, capsys):
    base = ["eval", "run", "--data", str(data_file), "--no-progress", "--resamples", "100"]
    assert _exit_code([*base, "--backend", "oracle", "--out", str(tmp_path / "o"),
                       "--orders", "all"]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert load_results(tmp_path / "o").orders.orders == ["PSQ", "PQS", "SPQ", "SQP", "QPS",
                                                          "QSP"]
    assert _exit_code([*base, "--backend", "majority", "--out", str(tmp_path / "m")]) == 0
    capsys.readouterr()
    assert _exit_code(["eval", "compare", str(tmp_path / "o"), str(tmp_path / "m"),
                       "--json"]) == 0
    comparison = json.loads(capsys.readouterr().out)
    assert comparison["shared"] == 16 and comparison["a_only_correct"] == 8
    assert _exit_code(["eval", "report", str(tmp_path / "o"), str(tmp_path / "m"),
                       "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "report.html").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--backend", "oracle", "--orders", "PSQ,XYZ"], "unknown prompt order 'XYZ'"),
        (["--backend", "oracel"], "did you mean 'oracle'"),
        (["--backend", "oracle", "--split", "nothing"], "holds no records"),
        (["--backend", "openai", "--model", "m"], "needs a base_url"),
        (["--backend", "oracle", "--option", "novalue"], "KEY=VALUE"),
    ],
)
def test_bad_input_exits_2_with_a_message(data_file, tmp_path, capsys, extra, message):
    argv = ["eval", "run", "--data", str(data_file), "--out", str(tmp_path / "r"),
            "--no-progress", *extra]
    assert _exit_code(argv) == 2
    assert message in capsys.readouterr().err


def test_malformed_line_and_unknown_model_path(data_file, tmp_path, capsys):
    lines = data_file.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([lines[0], "{not json", *lines[2:]]) + "\n")
    assert _exit_code(["eval", "run", "--backend", "oracle", "--data", str(bad),
                       "--out", str(tmp_path / "r")]) == 2
    assert f"{bad}:2" in capsys.readouterr().err
    missing = tmp_path / "no" / "such" / "model"
    assert _exit_code(["eval", "run", "--backend", "hf", "--model", str(missing), "--data",
                       str(data_file), "--out", str(tmp_path / "r2"), "--no-progress"]) == 2
    assert "model not found" in capsys.readouterr().err


def test_parse_options_reads_yaml_scalars():
    assert parse_options(["a=1", "b=true", "c=http://x:1/v1", "d="]) == {
        "a": 1, "b": True, "c": "http://x:1/v1", "d": ""}

"""The distillation runner end to end: oracle determinism, SFT rows, `datasets` loading, an API
teacher over real HTTP (reasoning + answer, validator, resume from the cache) and the CLI."""

from __future__ import annotations

import json

import pytest
from tests.teacher.fake_server import FakeServer
from tests.teacher.teacher_records import corpus_records, write_split

from proclab.cli import main
from proclab.prompts import build_messages, final_answer_line
from proclab.teacher.distill import (
    SFT_FILE,
    TEACHER_INSTRUCTION,
    distill,
    make_config,
    write_outputs,
)
from proclab.teacher.oracle import OracleTeacher
from proclab.teacher.scaffold import SIGNAL_TOKEN, strip_signals

_ROW_KEYS = {"id", "record_id", "messages", "teacher", "signals", "perturbation", "label",
             "sample_index"}


@pytest.fixture(scope="module")
def records():
    return corpus_records(limit=4)


@pytest.fixture()
def data_dir(records, tmp_path):
    return write_split(tmp_path / "data", records)


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_oracle_run_writes_sft_rows_for_every_record(records, data_dir, tmp_path):
    out = tmp_path / "out"
    cfg = make_config({"data": data_dir, "out": out, "samples": 2, "seed": 3})
    summary = write_outputs(distill(cfg))
    rows = _rows(out / SFT_FILE)
    assert len(rows) == 2 * len(records) == summary["kept"] and summary["keep_rate"] == 1.0
    assert (out / "rejected.jsonl").read_text() == ""
    by_id = {r.id: r for r in records}
    for row in rows:
        record = by_id[row["record_id"]]
        assert set(row) == _ROW_KEYS and row["teacher"] == "oracle"
        assert row["id"] == f"{record.id}.s{row['sample_index']}"
        user, assistant = row["messages"]
        assert user == build_messages(record.model_dump())[0]
        assert TEACHER_INSTRUCTION not in user["content"]
        assert assistant["role"] == "assistant"
        assert SIGNAL_TOKEN.findall(assistant["content"]) == row["signals"]
        assert assistant["content"].startswith("[SIG=ELABORATION] ")
        assert assistant["content"].endswith(f"[SIG=RESPONSE] {final_answer_line(record.label)}")
        expected = OracleTeacher(seed=3).write(record, row["sample_index"]).text
        assert strip_signals(assistant["content"]) == expected
        assert (row["label"], row["perturbation"]) == (record.label, record.perturbation)
    assert summary["signals"]["route_shares"] == {"keyword": 1.0, "validator": 0.0, "default": 0.0}
    saved = json.loads((out / "summary.json").read_text())
    assert saved["per_perturbation"] == summary["per_perturbation"]
    assert saved["records"] == len(records) and saved["schema_version"] == 1
    assert "keep rate 100.0%" in (out / "summary.md").read_text()


def test_oracle_runs_are_byte_identical_per_seed(data_dir, tmp_path):
    def run(name, seed):
        out = tmp_path / name
        write_outputs(distill(make_config({"data": data_dir, "out": out, "seed": seed})))
        return [(out / f).read_bytes() for f in ("sft.jsonl", "summary.json", "summary.md")]

    first, again, other = run("a", 0), run("b", 0), run("c", 1)
    assert first[0] == again[0] and first[2] == again[2]
    # summary.json names its own output directory, so compare the rest of it.
    strip = [{k: v for k, v in json.loads(x[1]).items() if k != "config"} for x in (first, again)]
    assert strip[0] == strip[1]
    assert first[0] != other[0]


def test_sft_file_loads_with_datasets(data_dir, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "out"
    write_outputs(distill(make_config({"data": data_dir, "out": out, "limit": 5})))
    ds = datasets.load_dataset("json", data_files=str(out / SFT_FILE), split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == 5
    assert ds[0]["messages"][1]["role"] == "assistant"
    assert isinstance(ds[0]["signals"], list)


def _api_reply(records):
    """The fake endpoint: reasoning in `reasoning_content`, the answer line in `content`;
    validation prompts get every proposal confirmed except step 1, relabelled EXAMPLE."""
    oracle = OracleTeacher(seed=9)
    by_prompt = {build_messages(r.model_dump())[0]["content"]: r for r in records}

    def reply(body):
        prompt = body["messages"][0]["content"]
        if prompt.startswith("You label the steps"):
            proposals = prompt.split("(proposed: ")[1:]
            lines = [f"{i}: {'EXAMPLE' if i == 1 else p.split(')')[0]}"
                     for i, p in enumerate(proposals, start=1)]
            return {"role": "assistant", "content": "\n".join(lines)}
        record = by_prompt[prompt.removesuffix(f"\n\n{TEACHER_INSTRUCTION}")]
        trace = oracle.write(record)
        return {"role": "assistant", "reasoning_content": trace.text.rsplit("\n\n", 1)[0],
                "content": final_answer_line(record.label)}

    return reply


def test_api_teacher_with_validator_resumes_from_its_cache(records, data_dir, tmp_path):
    out = tmp_path / "out"
    with FakeServer(reply=_api_reply(records)) as server:
        cfg = make_config({"data": data_dir, "out": out, "teacher": "openai", "model": "r1-fake",
                           "base_url": server.base_url, "api_key_env": None, "validator": True})
        summary = write_outputs(distill(cfg))
        first_count = server.count
        first = (out / SFT_FILE).read_bytes()
        again = write_outputs(distill(cfg))
        assert server.count == first_count  # the rerun is served entirely from the cache
    assert first_count == 2 * len(records)  # one teacher call and one validation per record
    assert (out / SFT_FILE).read_bytes() == first
    assert again["tokens"]["cached_samples"] == len(records) and again["cost_usd"] == 0.0
    assert summary["kept"] == len(records)
    rows = _rows(out / SFT_FILE)
    assert {row["teacher"] for row in rows} == {"r1-fake"}
    for row in rows:
        content = row["messages"][1]["content"]
        # The reasoning is scaffolded step by step, then the answer line.
        assert content.startswith("[SIG=EXAMPLE] ")
        assert content.count("[SIG=") > 5 and content.endswith("[SIG=RESPONSE] Final answer: "
                                                               + row["label"])
    n_steps = summary["signals"]["steps"]
    assert summary["signals"]["routes"]["validator"] == len(records)
    assert summary["signals"]["routes"]["keyword"] == n_steps - len(records)
    assert summary["validator"]["corrected_steps"] == len(records)


def test_cli_distils_and_reports(data_dir, tmp_path, capsys):
    out = tmp_path / "cli-out"
    main(["distill", "--data", str(data_dir), "--out", str(out), "--limit", "3", "--no-progress"])
    assert len(_rows(out / SFT_FILE)) == 3
    assert "kept 3/3" in capsys.readouterr().out


def test_cli_dry_run_sends_nothing(data_dir, tmp_path, capsys):
    main(["distill", "--data", str(data_dir), "--out", str(tmp_path / "o"), "--teacher", "openai",
          "--base-url", "http://127.0.0.1:9/v1", "--api-key-env", "PROCLAB_TEST_NO_KEY",
          "--limit", "2", "-k", "2", "--dry-run"])
    text = capsys.readouterr().out
    assert "POST http://127.0.0.1:9/v1/chat/completions" in text
    assert text.count("requests: 2 to send, 0 already cached") == 2
    assert not (tmp_path / "o").exists()


def test_cli_names_every_invalid_option(data_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["distill", "--data", str(data_dir), "--out", str(tmp_path / "o"),
              "--teacher", "gpt", "--samples", "0"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "teacher" in err and "samples" in err


def test_cli_help(capsys):
    main(["distill", "--help"])  # returns normally (exit status 0)
    text = capsys.readouterr().out
    assert "distill [OPTIONS]" in text and "--teacher" in text and "--dry-run" in text

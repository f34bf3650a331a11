"""The sample log: whole lines only, partial tails ignored and cut, bad lines named."""

from __future__ import annotations

import pytest
from tests.evaluate.eval_fakes import C, N, sample

from proclab.errors import DataError
from proclab.evaluate.logs import (
    SampleLog,
    SampleWriter,
    cut_partial_tail,
    prompt_sha256,
    read_samples,
)


def test_writer_appends_whole_lines_that_read_back(tmp_path):
    path = tmp_path / "samples.jsonl"
    rows = [sample("a", C, C), sample("b", N, None)]
    with SampleWriter(path) as writer:
        writer.write(rows[:1])
        writer.write(rows[1:])
        writer.write([])
    assert read_samples(path) == rows
    assert path.read_bytes().count(b"\n") == 2


def test_partial_trailing_line_is_ignored_then_cut_before_appending(tmp_path):
    path = tmp_path / "samples.jsonl"
    whole = sample("a", C, C).model_dump_json() + "\n"
    partial = sample("b", N, N).model_dump_json()[:40]
    path.write_text(whole + partial, encoding="utf-8")
    assert [s.id for s in read_samples(path)] == ["a"]
    with SampleWriter(path) as writer:  # cuts the partial tail first
        writer.write([sample("c", N, N)])
    assert [s.id for s in read_samples(path)] == ["a", "c"]
    assert cut_partial_tail(path) == 0


def test_malformed_line_is_named(tmp_path):
    path = tmp_path / "samples.jsonl"
    good = sample("a", C, C).model_dump_json()
    path.write_text(f"{good}\n{{\"id\": 3}}\n{good}\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_samples(path)
    assert err.value.where == f"{path}:2"


def test_missing_log_reads_as_empty(tmp_path):
    assert read_samples(tmp_path / "none.jsonl") == []


def test_prompt_hash_depends_on_content_and_order_of_messages():
    a = [{"role": "user", "content": "x"}]
    b = [{"role": "user", "content": "y"}]
    assert prompt_sha256(a) == prompt_sha256([{"content": "x", "role": "user"}])
    assert prompt_sha256(a) != prompt_sha256(b)
    assert len(prompt_sha256(a)) == 64


def test_sample_key():
    s: SampleLog = sample("id7", C, N, order="SQP")
    assert s.key == ("id7", "SQP") and s.correct is False

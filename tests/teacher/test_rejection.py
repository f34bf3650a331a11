"""Rejection sampling: a trace is kept only when it is well formed and its parsed final verdict
equals the gold label; keep rates are reported per perturbation."""

from __future__ import annotations

import pytest
from tests.teacher.teacher_records import corpus_records, write_split

from proclab.teacher.completion import ChatResult
from proclab.teacher.distill import (
    Sample,
    distill,
    judge,
    make_config,
    summarize,
    teacher_messages,
)
from proclab.teacher.oracle import OracleTeacher


@pytest.fixture(scope="module")
def records():
    return corpus_records(limit=3)


def _sample(record, content, **kw):
    return Sample(record=record, index=0, content=content, **kw)


@pytest.mark.parametrize(
    ("content", "extra", "verdict", "reason"),
    [
        ("Reasoning.\n\nFinal answer: {gold}", {}, "gold", None),
        ("Reasoning.\n\n**Final answer: {gold}**\n\n", {}, "gold", None),
        ("Reasoning.\n\nFinal answer: {other}", {}, "other", "wrong_verdict"),
        ("Reasoning.\n\nFinal answer: {gold}", {"finish_reason": "length"}, "gold", "truncated"),
        ("I think it is {gold}.", {}, "gold", "no_answer_line"),
        ("Final answer: {gold}\n\nSome afterthought.", {}, "gold", "no_answer_line"),
        ("Reasoning.\n\nFinal answer: it depends", {}, None, "unparsed"),
        ("No verdict anywhere.", {}, None, "unparsed"),
        ("", {"error": "http_500", "finish_reason": None}, None, "api_error:http_500"),
    ],
)
def test_judge_reasons(records, content, extra, verdict, reason):
    record = next(r for r in records if r.label == "NON-COMPLIANT")
    words = {"gold": record.label, "other": "COMPLIANT"}
    got = judge(_sample(record, content.format(**words), **extra))
    assert got == (words.get(verdict) if verdict else None, reason)


def test_not_compliant_variant_counts_as_the_negative_verdict(records):
    record = next(r for r in records if r.label == "NON-COMPLIANT")
    assert judge(_sample(record, "x\n\nFinal answer: not compliant")) == ("NON-COMPLIANT", None)
    positive = next(r for r in records if r.label == "COMPLIANT")
    assert judge(_sample(positive, "x\n\nFinal answer: not compliant")) == (
        "NON-COMPLIANT", "wrong_verdict")


def test_oracle_traces_are_always_kept(records):
    teacher = OracleTeacher(seed=4)
    for record in records:
        for index in range(3):
            sample = Sample(record=record, index=index, content=teacher.write(record, index).text)
            assert judge(sample) == (record.label, None)


class _ScriptedTeacher:
    """An API teacher stand-in: the oracle's trace, but always answering COMPLIANT for
    `wrong` perturbations, cut short for `truncated` ones and failing for `failing` ones."""

    def __init__(self, records, wrong=(), truncated=(), failing=()):
        self.by_prompt = {teacher_messages(r)[0]["content"]: r for r in records}
        assert len(self.by_prompt) == len(records)
        self.oracle = OracleTeacher()
        self.wrong, self.truncated, self.failing = wrong, truncated, failing
        self.seeds = []

    async def chat_many(self, messages_list, *, progress=True, seed=0, **params):
        self.seeds.append(seed)
        return [self._answer(m[0]["content"], seed) for m in messages_list]

    def _answer(self, prompt, seed):
        record = self.by_prompt[prompt]
        if record.perturbation in self.failing:
            return ChatResult(error="http_503")
        text = self.oracle.write(record, seed).text
        if record.perturbation in self.wrong:
            text = text.rsplit("\n", 1)[0] + "\nFinal answer: COMPLIANT"
        finish = "length" if record.perturbation in self.truncated else "stop"
        return ChatResult(content=text, finish_reason=finish, prompt_tokens=100,
                          completion_tokens=50)


def test_keep_rates_and_reasons_per_perturbation(records, tmp_path):
    data = write_split(tmp_path / "data", records)
    cfg = make_config({"data": data, "out": tmp_path / "out", "teacher": "openai",
                       "samples": 2, "price_per_mtok_in": 1.0, "price_per_mtok_out": 2.0})
    client = _ScriptedTeacher(records, wrong=("baseline_noncompliant",),
                              truncated=("step_reorder_invalid",), failing=("hierarchy_violation",))
    result = distill(cfg, client=client)
    summary = summarize(result)
    assert client.seeds == [0, 1]  # one pass per sample index, each with its own seed
    per = summary["per_perturbation"]
    assert per["baseline_noncompliant"] == {"samples": 6, "kept": 0, "keep_rate": 0.0}
    assert per["step_reorder_invalid"]["kept"] == 0
    assert per["hierarchy_violation"]["kept"] == 0
    assert per["baseline_compliant"] == {"samples": 6, "kept": 6, "keep_rate": 1.0}
    assert summary["reject_reasons"] == {"api_error:http_503": 6, "truncated": 6,
                                         "wrong_verdict": 6}
    kept = summary["kept"]
    assert kept == summary["samples"] - 18 == len(result.kept)
    assert summary["keep_rate"] == round(kept / summary["samples"], 4)
    assert {row["reason"] for row in result.rejected} == set(summary["reject_reasons"])
    assert all(row["label"] != "COMPLIANT" or row["perturbation"] != "baseline_noncompliant"
               for row in result.rejected)
    ok = summary["samples"] - 6
    assert summary["tokens"]["prompt"] == 100 * ok
    assert summary["cost_usd"] == round(ok * (100 * 1.0 + 50 * 2.0) / 1e6, 6)

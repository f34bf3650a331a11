"""Segmentation, keyword signal assignment, taxonomy loading and the LLM validator pass."""

from __future__ import annotations

import asyncio

import pytest
from tests.teacher.fake_server import serve

from proclab.errors import ConfigError, ErrorList
from proclab.teacher.client import ClientConfig, TeacherClient
from proclab.teacher.completion import ChatResult
from proclab.teacher.scaffold import (
    TAXONOMIES,
    ScaffoldedTrace,
    apply_validation,
    assign_signals,
    load_taxonomy,
    parse_validation,
    scaffold,
    segment,
    strip_signals,
    validate_scaffolds,
    validation_messages,
)

SEVEN = ["ELABORATION", "EXAMPLE", "RECALL", "CONTRAST", "REASONING", "CONCLUSION", "RESPONSE"]


@pytest.fixture(scope="module")
def rules():
    return load_taxonomy()


def test_default_taxonomy_is_the_seven_signals_of_design(rules):
    assert rules.names == SEVEN
    assert rules.default_signal == "REASONING"
    assert load_taxonomy("reasoning_scaffolding") is rules


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("one\n\ntwo", ["one", "two"]),
        ("  one  \n \t \n\n\n two\nstill two\n\n", ["one", "two\nstill two"]),
        ("one\r\n\r\ntwo", ["one", "two"]),
        ("single line", ["single line"]),
        ("", []),
        ("\n\n  \n", []),
        # The final-answer line always becomes its own step, so it is tagged RESPONSE.
        ("So it fails.\nFinal answer: NON-COMPLIANT", ["So it fails.", "Final answer: NON-COMPLIANT"]),
        ("a\n\nb\n**Final answer:** COMPLIANT\n", ["a", "b", "**Final answer:** COMPLIANT"]),
        # ... but a final-answer line inside an earlier paragraph is left alone.
        ("Final answer: X\nmore\n\nlast", ["Final answer: X\nmore", "last"]),
    ],
)
def test_segment_splits_on_blank_lines(text, steps):
    assert segment(text) == steps


@pytest.mark.parametrize(
    ("step", "signal", "route"),
    [
        ("Okay, so I need to figure out whether this complied.", "ELABORATION", "keyword"),
        ("The task is to decide whether the clean-up complied.", "ELABORATION", "keyword"),
        ("Step 3 says to put on goggles.", "RECALL", "keyword"),
        ("According to the procedure, the log comes last.", "RECALL", "keyword"),
        ("Looking at step 4.a: ring the spill.", "RECALL", "keyword"),
        ("The scenario states that Dana warned everyone.", "REASONING", "keyword"),
        ("Now, the supervisor was told after the wipe-down.", "REASONING", "keyword"),
        ("However, nobody put on goggles.", "CONTRAST", "keyword"),
        ("Wait, step 7 came before step 6.", "CONTRAST", "keyword"),
        ("But the log was written by a student.", "CONTRAST", "keyword"),
        ("For instance, a researcher could have written the log.", "EXAMPLE", "keyword"),
        ("Imagine the steps in the right order.", "EXAMPLE", "keyword"),
        ("So far, steps 1 to 3 check out.", "CONCLUSION", "keyword"),
        ("Therefore the actions comply.", "CONCLUSION", "keyword"),
        ("Final answer: COMPLIANT", "RESPONSE", "keyword"),
        ("**Final Answer:** NON-COMPLIANT", "RESPONSE", "keyword"),
        ("> however, the order is wrong", "CONTRAST", "keyword"),
        ("Blue whales are the largest animals.", "REASONING", "default"),
        ("[SIG=RECALL] However, nothing matches.", "CONTRAST", "keyword"),
    ],
)
def test_keyword_rules_assign_signals(rules, step, signal, route):
    assert assign_signals([step], rules) == [(signal, route)]


def test_rules_are_tried_in_order(rules):
    # "So the task ..." is ELABORATION (an earlier rule) although "So, the ..." summarises.
    assert rules.classify("So the task is to check the spill log.") == ("ELABORATION", "keyword")
    assert rules.classify("So the actions comply.") == ("CONCLUSION", "keyword")
    # A step that merely mentions a keyword later on is not matched by it.
    assert rules.classify("Dana said however she liked it.") == ("REASONING", "default")


def test_scaffold_writes_a_signal_before_each_step(rules):
    trace = scaffold("The task is to check.\n\nStep 2 says wait.\n\nFinal answer: COMPLIANT", rules)
    assert trace.text == (
        "[SIG=ELABORATION] The task is to check.\n\n"
        "[SIG=RECALL] Step 2 says wait.\n\n"
        "[SIG=RESPONSE] Final answer: COMPLIANT"
    )
    assert trace.routes == ("keyword", "keyword", "keyword")
    assert trace.route_counts() == {"keyword": 3}


def test_scaffolding_is_idempotent_and_strippable(rules):
    text = "Okay, the question.\n\nSomething odd happened.\nSecond line.\n\nFinal answer: COMPLIANT"
    once = scaffold(text, rules)
    assert scaffold(once.text, rules) == once  # existing tokens are replaced, not stacked
    assert strip_signals(once.text) == "\n\n".join(segment(text))
    assert once.routes == ("keyword", "default", "keyword")


def test_a_swapped_taxonomy_file_changes_the_labels(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(
        "name: two\ndefault_signal: THINK\n"
        "signals:\n  - {name: THINK, description: anything else}\n"
        "  - {name: ANSWER, description: the answer}\n"
        "rules:\n  - {signal: ANSWER, patterns: ['final answer']}\n",
        encoding="utf-8",
    )
    two = load_taxonomy(path)
    trace = scaffold("However, step 3.\n\nFinal answer: COMPLIANT", two)
    assert trace.signals == ("THINK", "ANSWER")
    assert trace.routes == ("default", "keyword")


def test_unknown_taxonomy_name_suggests_the_closest():
    with pytest.raises(ConfigError, match="did you mean 'reasoning_scaffolding'"):
        load_taxonomy("reasoning_scafolding")
    assert "reasoning_scaffolding" in TAXONOMIES


def test_invalid_taxonomy_reports_every_problem(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\ndefault_signal: NOPE\n"
        "signals:\n  - {name: A, description: first}\n  - {name: A, description: again}\n"
        "rules:\n  - {signal: B, patterns: ['(unclosed']}\n",
        encoding="utf-8",
    )
    with pytest.raises(ErrorList) as info:
        load_taxonomy(path)
    text = info.value.render()
    for expected in ("signal A is listed twice", "default_signal NOPE", "unknown signal B",
                     "rules[0].patterns[0] is not a valid regex", str(path)):
        assert expected in text


# -- validator --------------------------------------------------------------------------------


def _trace(rules) -> ScaffoldedTrace:
    return scaffold("Some preamble here.\n\nStep 3 says goggles.\n\nFinal answer: COMPLIANT", rules)


def test_parse_validation_needs_a_valid_signal_for_every_step(rules):
    assert parse_validation("1: ELABORATION\n2: RECALL\n3: RESPONSE", 3, rules) == [
        "ELABORATION", "RECALL", "RESPONSE"]
    assert parse_validation("Sure!\n1. **elaboration**\n2) RECALL\n3 - RESPONSE", 3, rules) == [
        "ELABORATION", "RECALL", "RESPONSE"]
    assert parse_validation("1: ELABORATION\n3: RESPONSE", 3, rules) is None
    assert parse_validation("1: ELABORATION\n2: MUSING\n3: RESPONSE", 3, rules) is None
    assert parse_validation(None, 1, rules) is None


def test_apply_validation_marks_only_changed_steps(rules):
    trace = _trace(rules)
    assert trace.routes == ("default", "keyword", "keyword")
    fixed = apply_validation(trace, ["ELABORATION", "RECALL", "RESPONSE"])
    assert fixed.signals == ("ELABORATION", "RECALL", "RESPONSE")
    assert fixed.routes == ("validator", "keyword", "keyword")
    assert fixed.text.startswith("[SIG=ELABORATION] Some preamble here.")


def test_validation_prompt_lists_signals_and_proposals(rules):
    content = validation_messages(_trace(rules), rules)[0]["content"]
    assert all(f"- {name}:" in content for name in SEVEN)
    assert "[2] (proposed: RECALL)\nStep 3 says goggles." in content


class _FakeClient:
    """Answers validation prompts from a fixed list of replies (None = an API error)."""

    def __init__(self, replies):
        self.replies = replies
        self.calls = []

    async def chat_many(self, messages_list, **params):
        self.calls.append((messages_list, params))
        return [ChatResult(content=r or "", error=None if r is not None else "http_500",
                           prompt_tokens=10, completion_tokens=3)
                for r, _ in zip(self.replies, messages_list, strict=True)]


def test_validate_scaffolds_relabels_and_counts(rules):
    traces = [_trace(rules), _trace(rules), _trace(rules)]
    client = _FakeClient(["1: ELABORATION\n2: RECALL\n3: RESPONSE", "garbage", None])
    out, stats = asyncio.run(validate_scaffolds(traces, rules, client, temperature=0.0))
    assert out[0].routes == ("validator", "keyword", "keyword")
    assert out[1] == traces[1] and out[2] == traces[2]  # keyword labels kept on failure
    assert stats.as_dict() == {"traces": 3, "failed": 2, "confirmed_steps": 2,
                               "corrected_steps": 1, "cached": 0, "prompt_tokens": 30,
                               "completion_tokens": 9}
    assert client.calls[0][1] == {"temperature": 0.0}


def test_validator_through_the_real_client_and_a_local_server(rules, tmp_path):
    def reply(body):
        n = body["messages"][0]["content"].count("(proposed: ")
        lines = ["1: EXAMPLE"] + [f"{i}: CONCLUSION" for i in range(2, n + 1)]
        return {"role": "assistant", "content": "\n".join(lines)}

    async def run(base_url):
        config = ClientConfig(base_url=base_url, model="judge", api_key_env=None,
                              cache_path=tmp_path / "cache.sqlite")
        async with TeacherClient(config) as client:
            return await validate_scaffolds([_trace(rules)], rules, client, progress=False)

    with serve(reply=reply) as base_url:
        (out,), stats = asyncio.run(run(base_url))
    assert out.signals == ("EXAMPLE", "CONCLUSION", "CONCLUSION")
    assert out.routes == ("validator", "validator", "validator")
    assert stats.corrected_steps == 3 and stats.failed == 0

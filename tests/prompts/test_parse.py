import pytest

from proclab.prompts import (
    DEFAULT_LABELS,
    LabelWords,
    final_answer_line,
    parse_verdict,
    score_output,
    verdict_reward,
)

C, N = "COMPLIANT", "NON-COMPLIANT"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Final answer: COMPLIANT", C),
        ("Final answer: NON-COMPLIANT", N),
        ("final answer: non-compliant", N),
        ("The scenario was Non Compliant.", N),
        ("It is noncompliant", N),
        ("The lab was not compliant with step 3.", N),
        ("NOT   COMPLIANT", N),
        # the last verdict wins, in both directions
        ("At first it looks NON-COMPLIANT, but on reflection it is COMPLIANT.", C),
        ("It seemed COMPLIANT.\n\nFinal answer: NON-COMPLIANT", N),
        # hyphenated negative word never scores as its positive substring
        ("**NON-COMPLIANT**", N),
        ("Verdict: (NON-COMPLIANT)", N),
        ("NON-COMPLIANT\n", N),
        # nothing that is a verdict
        ("", None),
        ("The procedure covers compliance reviews.", None),
        ("uncompliant", None),
        ("COMPLIANTLY done", None),
        ("I cannot tell.", None),
    ],
)
def test_parse_verdict_tricky_outputs(text, expected):
    assert parse_verdict(text) == expected


def test_none_text_is_unparsed():
    assert parse_verdict(None) is None


def test_custom_label_words_including_negation():
    words = LabelWords(compliant="FOLLOWED", noncompliant="BREACHED")
    assert parse_verdict("It was BREACHED, then FOLLOWED", words) == C
    assert parse_verdict("it was not followed", words) == N
    assert parse_verdict("Final answer: COMPLIANT", words) is None


def test_final_answer_line_round_trips():
    for verdict in (C, N):
        assert parse_verdict(final_answer_line(verdict)) == verdict
    assert final_answer_line(N, DEFAULT_LABELS) == "Final answer: NON-COMPLIANT"


def test_score_and_reward_share_the_grader():
    assert score_output("Final answer: NON-COMPLIANT", N) == 1.0
    assert score_output("Final answer: NON-COMPLIANT", C) == 0.0
    assert score_output("no idea", C) == 0.0
    completions = ["x COMPLIANT", [{"role": "assistant", "content": "NON-COMPLIANT"}], "??"]
    assert verdict_reward(completions, label=[C, N, N]) == [1.0, 1.0, 0.0]

import pytest

from proclab.errors import ConfigError, ProclabError
from proclab.prompts import ORDERS, REFERENCE_ORDER, build_messages, build_user_message, render_chat
from proclab.prompts.format import parse_order_list

RECORD = {
    "id": "r1",
    "procedure_text": "1. Do A.\n2. Do B.",
    "scenario_text": "Ann did A, then B.",
    "question": "Did this comply?",
}


def test_reference_prompt_is_exact():
    msgs = build_messages(RECORD)
    assert msgs == [
        {
            "role": "user",
            "content": "Procedure:\n1. Do A.\n2. Do B.\n\nScenario:\nAnn did A, then B."
            "\n\nQuestion:\nDid this comply?",
        }
    ]
    assert REFERENCE_ORDER == "PSQ"


def test_six_orders_are_distinct_permutations():
    assert len(ORDERS) == 6
    texts = {build_user_message("p", "s", "q", order=o) for o in ORDERS}
    assert len(texts) == 6
    assert build_user_message("p", "s", "q", order="QSP").startswith("Question:\nq\n\nScenario:")


def test_unknown_order_suggests():
    with pytest.raises(ConfigError, match="did you mean 'PSQ'"):
        build_user_message("p", "s", "q", order="PSQQ")
    assert parse_order_list("all") == list(ORDERS)
    assert parse_order_list("psq, SPQ") == ["PSQ", "SPQ"]
    with pytest.raises(ConfigError):
        parse_order_list(" , ")


def test_missing_fields_and_missing_chat_template():
    with pytest.raises(ConfigError, match="scenario_text"):
        build_messages({"procedure_text": "p", "question": "q"})

    class NoTemplate:
        chat_template = None
        name_or_path = "base-model"

    with pytest.raises(ProclabError, match="no chat template"):
        render_chat(NoTemplate(), [{"role": "user", "content": "x"}])

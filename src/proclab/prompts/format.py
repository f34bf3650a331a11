"""The reference prompt: one user message, no system message, three labelled blocks.

    Procedure:\n<procedure>\n\nScenario:\n<scenario>\n\nQuestion:\n<question>

The six permutations of the blocks are named by their initials; `PSQ` is the reference order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import permutations
from typing import Annotated, Any

from pydantic import AfterValidator

from proclab.errors import ConfigError, ProclabError
from proclab.registry import lookup

BLOCKS: tuple[str, ...] = ("procedure", "scenario", "question")
_HEADINGS = {"procedure": "Procedure:", "scenario": "Scenario:", "question": "Question:"}

ORDERS: dict[str, tuple[str, str, str]] = {
    "".join(b[0].upper() for b in perm): perm  # type: ignore[misc]
    for perm in permutations(BLOCKS)
}
REFERENCE_ORDER = "PSQ"

Message = dict[str, str]


def build_user_message(
    procedure_text: str, scenario_text: str, question: str, *, order: str = REFERENCE_ORDER
) -> str:
    """The user turn's text with the three blocks in `order` (e.g. "PSQ", "SQP")."""
    blocks = lookup(ORDERS, order, kind="prompt order")
    texts = {"procedure": procedure_text, "scenario": scenario_text, "question": question}
    return "\n\n".join(f"{_HEADINGS[b]}\n{texts[b].strip()}" for b in blocks)


def build_messages(record: Mapping[str, Any], *, order: str = REFERENCE_ORDER) -> list[Message]:
    """Chat messages for a dataset record (needs procedure_text, scenario_text, question)."""
    missing = [k for k in ("procedure_text", "scenario_text", "question") if k not in record]
    if missing:
        raise ConfigError(
            f"record {record.get('id', '?')!r} lacks {', '.join(missing)}",
            fix="use records written by `proclab dataset build`",
        )
    text = build_user_message(
        record["procedure_text"], record["scenario_text"], record["question"], order=order
    )
    return [{"role": "user", "content": text}]


def render_chat(tokenizer: Any, messages: Sequence[Message]) -> str:
    """Render through the model's own chat template, ending with the generation prompt."""
    if not getattr(tokenizer, "chat_template", None):
        name = getattr(tokenizer, "name_or_path", "this tokenizer")
        raise ProclabError(
            f"{name} has no chat template",
            fix="use an instruct/chat model, or set tokenizer.chat_template before running",
        )
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)


def parse_order_list(spec: str) -> list[str]:
    """`"all"` or a comma list like `"PSQ,SPQ"` -> validated order names."""
    if spec.strip().lower() == "all":
        return list(ORDERS)
    names = [s.strip().upper() for s in spec.split(",") if s.strip()]
    if not names:
        raise ConfigError("no prompt order given", fix=f"use 'all' or some of {', '.join(ORDERS)}")
    for name in names:
        lookup(ORDERS, name, kind="prompt order")
    return names


def _valid_order_list(value: str) -> str:
    try:
        parse_order_list(value)
    except ConfigError as err:
        raise ValueError(err.what) from None
    return value


# A config field holding a prompt-order list ("PSQ", "all", "PSQ,SPQ"), checked on load.
OrderList = Annotated[str, AfterValidator(_valid_order_list)]

"""Training examples: distilled SFT rows -> token ids, labels and a `[SIG=...]` token mask; dataset
records -> GRPO prompts; prompt-order augmentation for both.

Assistant-only loss uses the chat template's `{% generation %}` markers through
`apply_chat_template(..., return_assistant_tokens_mask=True)`, exactly as TRL's
`assistant_only_loss=True` does; a template without markers gets TRL's training variant of it
(`get_training_chat_template`), which renders the same text. Labels are -100 outside the
assistant turns; `sig_mask` is 1 on assistant tokens that overlap a `[SIG=NAME]` tag.

`target="answer"` (answer-only SFT) keeps each row's prompt and replaces its assistant turn by
the final-answer line of the row's gold label, so the loss covers only that line.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from proclab.dataset.records import Instance, load_split
from proclab.errors import DataError, ProclabError
from proclab.limits import jsonl_lines
from proclab.procedures.trace import Verdict
from proclab.prompts import REFERENCE_ORDER, build_messages, final_answer_line, render_chat
from proclab.teacher.scaffold import SIGNAL_TOKEN

IGNORE_INDEX = -100


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    content: str


class SFTRow(BaseModel):
    """One line of a distilled `sft.jsonl` (other fields are carried but not needed here)."""

    model_config = ConfigDict(extra="ignore")

    id: str = ""
    record_id: str | None = None
    label: Verdict | None = None
    messages: list[ChatMessage]


@dataclass
class DataStats:
    """What preparation kept and dropped; written to the run manifest."""

    examples: int = 0
    dropped_overlong: int = 0
    tokens: int = 0
    loss_tokens: int = 0
    signal_tokens: int = 0
    orders: dict[str, int] = field(default_factory=dict)
    target: str | None = None  # SFT: scaffold | answer (what the assistant turns hold)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load_sft_rows(path: str | Path, *, limit: int | None = None) -> list[SFTRow]:
    """Validated rows of an SFT JSONL file; a row without an assistant turn is an error."""
    path = Path(path)
    if not path.is_file():
        raise DataError("SFT file not found", where=str(path),
                        fix="write it with `proclab distill --data DIR --out OUT`")
    rows: list[SFTRow] = []
    for lineno, line in jsonl_lines(path):
        where = f"{path}:{lineno}"
        try:
            row = SFTRow.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as err:
            raise DataError(f"not an SFT row: {_short(err)}", where=where,
                            fix="each line needs `messages`: [{role, content}, ...]") from None
        if not any(m.role == "assistant" for m in row.messages):
            raise DataError("the row has no assistant turn, so there is nothing to train on",
                            where=where,
                            fix="use distilled traces (`proclab distill`), whose rows end "
                            "with the teacher's assistant answer")
        rows.append(row)
        if limit and len(rows) >= limit:
            break
    if not rows:
        raise DataError("no SFT rows", where=str(path), fix="distil some traces first")
    return rows


def training_template(tokenizer: Any) -> str | None:
    """None when the tokenizer's own template marks assistant tokens with `{% generation %}`;
    else TRL's training variant of it. Templates neither has are an error."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if has_generation_markers(tokenizer.chat_template):
        return None
    try:
        return get_training_chat_template(tokenizer)
    except ValueError:
        raise ProclabError(
            "the chat template has no {% generation %} markers, so assistant tokens cannot be "
            "told apart from the prompt",
            where="model",
            fix="wrap the assistant content (and its end-of-turn token) in {% generation %} ... "
            "{% endgeneration %} in the tokenizer's chat template",
        ) from None


def tokenize_chat(tokenizer: Any, messages: Sequence[dict[str, str]],
                  chat_template: str | None = None) -> dict[str, list[int]]:
    """`input_ids`, `labels` (-100 outside assistant turns) and `sig_mask` for one conversation."""
    kwargs = {"chat_template": chat_template} if chat_template else {}
    enc = tokenizer.apply_chat_template(list(messages), tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True, **kwargs)
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, **kwargs)
    ids, mask = list(enc["input_ids"]), list(enc["assistant_masks"])
    if not any(mask):
        raise ProclabError("the chat template marks no assistant token in this conversation",
                           where="model", fix="check the template's {% generation %} markers")
    # The tag itself, without the space after it (byte-level BPE glues that to the next word).
    spans = [(m.start(), m.start() + len(m.group(0).rstrip())) for m in SIGNAL_TOKEN.finditer(text)]
    sig = [0] * len(ids)
    if spans:
        k = 0
        for i, (start, end) in enumerate(enc.encodings[0].offsets):
            while k < len(spans) and start >= spans[k][1]:
                k += 1
            if k == len(spans):
                break
            sig[i] = int(bool(mask[i]) and end > spans[k][0])
    labels = [t if m else IGNORE_INDEX for t, m in zip(ids, mask, strict=True)]
    return {"input_ids": ids, "labels": labels, "sig_mask": sig}


def pick_orders(orders: Sequence[str], mode: str, rng: random.Random) -> list[str]:
    """The prompt orders one example is used in: all of them (expand) or one drawn (sample)."""
    if list(orders) == [REFERENCE_ORDER]:
        return [REFERENCE_ORDER]
    return list(orders) if mode == "expand" else [rng.choice(list(orders))]


def reorder(messages: list[dict[str, str]], record: Instance | None, order: str,
            where: str) -> list[dict[str, str]]:
    """`messages` with the first user turn rebuilt from `record` in block `order`."""
    if order == REFERENCE_ORDER:
        return messages
    if record is None:
        raise DataError("prompt-order augmentation needs the row's dataset record", where=where,
                        fix="set data.records to the dataset the traces were distilled from")
    first = next(i for i, m in enumerate(messages) if m["role"] == "user")
    return [*messages[:first], build_messages(record.model_dump(), order=order)[0],
            *messages[first + 1:]]


def answer_only(messages: list[dict[str, str]], label: Verdict | None,
                where: str) -> list[dict[str, str]]:
    """The conversation up to its first assistant turn, whose content becomes the final-answer
    line of `label` (answer-only SFT)."""
    if label is None:
        raise DataError("answer-only SFT needs the row's gold label, and this row has none",
                        where=where, fix="use rows written by `proclab distill` (they carry "
                        "`label`), or set data.records to the dataset they came from")
    first = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return [*messages[:first], {"role": "assistant", "content": final_answer_line(label)}]


def sft_examples(rows: Sequence[SFTRow], tokenizer: Any, *, orders: Sequence[str],
                 order_mode: str, records: dict[str, Instance] | None, max_length: int,
                 seed: int, target: str = "scaffold",
                 ) -> tuple[list[dict[str, list[int]]], DataStats]:
    """Tokenized examples for `rows` (each in its prompt order(s)); over-long ones dropped.
    `target="answer"`: the assistant turn is the final-answer line only."""
    template = training_template(tokenizer)
    rng = random.Random(seed)
    stats, out = DataStats(target=target), []
    for row in rows:
        messages = [m.model_dump() for m in row.messages]
        record = (records or {}).get(row.record_id or "")
        if target == "answer":
            messages = answer_only(messages, row.label or (record.label if record else None),
                                   row.id or "sft row")
        for order in pick_orders(orders, order_mode, rng):
            example = tokenize_chat(tokenizer, reorder(messages, record, order, row.id), template)
            if len(example["input_ids"]) > max_length:
                stats.dropped_overlong += 1
                continue
            out.append(example)
            stats.orders[order] = stats.orders.get(order, 0) + 1
            stats.tokens += len(example["input_ids"])
            stats.loss_tokens += sum(t != IGNORE_INDEX for t in example["labels"])
            stats.signal_tokens += sum(example["sig_mask"])
    stats.examples = len(out)
    if not out:
        raise DataError(f"every example is longer than data.max_length={max_length} tokens",
                        fix="raise data.max_length (up to the model's context length)")
    return out, stats


def load_records(directory: Path, split: str) -> dict[str, Instance]:
    return {r.id: r for r in load_split(directory, split)}


def grpo_prompts(records: Sequence[Instance], tokenizer: Any, *, orders: Sequence[str],
                 order_mode: str, max_prompt_tokens: int,
                 seed: int) -> tuple[list[dict[str, Any]], DataStats]:
    """GRPO rows `{prompt, label, record_id, order}`: the reference prompt as chat messages
    (no scaffold instruction), with the gold label the reward compares against."""
    rng = random.Random(seed)
    stats, out = DataStats(), []
    for record in records:
        for order in pick_orders(orders, order_mode, rng):
            prompt = build_messages(record.model_dump(), order=order)
            length = len(tokenizer(render_chat(tokenizer, prompt), add_special_tokens=False)
                         ["input_ids"])
            if length > max_prompt_tokens:
                stats.dropped_overlong += 1
                continue
            out.append({"prompt": prompt, "label": record.label, "record_id": record.id,
                        "order": order})
            stats.orders[order] = stats.orders.get(order, 0) + 1
            stats.tokens += length
    stats.examples = len(out)
    if not out:
        raise DataError(f"every prompt is longer than {max_prompt_tokens} tokens",
                        fix="raise data.max_length or lower grpo.max_completion_length")
    return out, stats


def oracle_eval_rows(records_dir: Path, split: str, *, limit: int | None, seed: int,
                     out: Path) -> list[SFTRow]:
    """SFT rows for a held-out split from the offline oracle teacher (for eval loss); nothing
    is written (`out` only fills the distill config)."""
    from proclab.teacher.distill import DistillConfig, distill

    result = distill(DistillConfig(data=records_dir, out=out, split=split,
                                   teacher="oracle", limit=limit, seed=seed))
    if not result.kept:
        raise DataError(f"the oracle kept no trace for split {split}", where=str(records_dir))
    return [SFTRow.model_validate(row) for row in result.kept]


def _short(err: Exception) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(err).splitlines()[0]

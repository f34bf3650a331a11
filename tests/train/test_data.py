"""Example preparation: assistant-only labels (checked against the prompt rendering and against
TRL's own `assistant_only_loss`), the [SIG=...] mask, prompt-order augmentation, GRPO prompts
and the data errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proclab.dataset.records import load_split
from proclab.errors import DataError, ProclabError
from proclab.prompts import ORDERS, build_messages
from proclab.train.data import (
    IGNORE_INDEX,
    grpo_prompts,
    load_records,
    load_sft_rows,
    oracle_eval_rows,
    sft_examples,
    tokenize_chat,
    training_template,
)
from proclab.train.runtime import load_tokenizer


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    return load_tokenizer(str(tiny_model))


def _examples(rows, tokenizer, **kw):
    args = {"orders": ["PSQ"], "order_mode": "sample", "records": None, "max_length": 8192,
            "seed": 0, **kw}
    return sft_examples(rows, tokenizer, **args)


def test_labels_are_ignored_exactly_on_prompt_tokens(distilled_dir, tokenizer):
    rows = load_sft_rows(distilled_dir / "sft.jsonl")
    examples, stats = _examples(rows, tokenizer)
    assert stats.examples == len(rows) == 4
    for row, ex in zip(rows, examples, strict=True):
        messages = [m.model_dump() for m in row.messages]
        prompt = tokenizer.apply_chat_template(messages[:1], tokenize=True, return_dict=True,
                                               add_generation_prompt=True)["input_ids"]
        answer = tokenizer(messages[1]["content"] + "<|im_end|>",
                           add_special_tokens=False)["input_ids"]
        ids, labels = ex["input_ids"], ex["labels"]
        assert ids[: len(prompt)] == prompt
        assert ids[len(prompt): len(prompt) + len(answer)] == answer
        # Every prompt token is ignored, every assistant token (end-of-turn included) is trained;
        # the template's newline after <|im_end|> is not the assistant's.
        assert all(t == IGNORE_INDEX for t in labels[: len(prompt)])
        assert labels[len(prompt): len(prompt) + len(answer)] == answer
        assert labels[len(prompt) + len(answer):] == [IGNORE_INDEX] * (
            len(ids) - len(prompt) - len(answer))


def test_labels_equal_trls_assistant_only_loss(distilled_dir, tokenizer, tiny_model, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    rows = load_sft_rows(distilled_dir / "sft.jsonl")
    mine, _ = _examples(rows, tokenizer)
    conversations = Dataset.from_list([{"messages": [m.model_dump() for m in r.messages]}
                                       for r in rows])
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model), processing_class=tokenizer,
        train_dataset=conversations,
        args=SFTConfig(str(tmp_path), assistant_only_loss=True, max_length=None, bf16=False,
                       report_to="none", gradient_checkpointing=False),
    )
    theirs = trainer.train_dataset
    assert theirs["input_ids"] == [e["input_ids"] for e in mine]
    assert theirs["labels"] == [e["labels"] for e in mine]


def test_signal_mask_covers_exactly_the_tags_of_the_assistant_turn(distilled_dir, tokenizer):
    row = load_sft_rows(distilled_dir / "sft.jsonl")[0]
    messages = [m.model_dump() for m in row.messages]
    # A tag-like string in the prompt must not be weighted: it is not the student's output.
    messages[0]["content"] = "[SIG=RECALL] " + messages[0]["content"]
    ex = tokenize_chat(tokenizer, messages)
    tagged = [t for t, s in zip(ex["input_ids"], ex["sig_mask"], strict=True) if s]
    assert all(lab != IGNORE_INDEX for lab, s in zip(ex["labels"], ex["sig_mask"],
                                                     strict=True) if s)
    expected = "".join(f"[SIG={name}]" for name in json.loads(
        (distilled_dir / "sft.jsonl").read_text().splitlines()[0])["signals"])
    assert tokenizer.decode(tagged) == expected


def test_order_augmentation_rebuilds_the_prompt_from_the_record(data_dir, tokenizer):
    rows = load_sft_rows(data_dir / "sft.jsonl", limit=2)
    records = load_records(data_dir, "train")
    examples, stats = _examples(rows, tokenizer, orders=list(ORDERS), order_mode="expand",
                                records=records)
    assert stats.examples == 12 and stats.orders == dict.fromkeys(ORDERS, 2)
    expected = [
        tokenize_chat(tokenizer, [build_messages(records[row.record_id].model_dump(), order=o)[0],
                                  row.messages[1].model_dump()])
        for row in rows for o in ORDERS
    ]
    assert examples == expected
    assert len({tuple(e["input_ids"]) for e in examples}) == 12
    sampled, stats = _examples(rows, tokenizer, orders=["SPQ", "QSP"], order_mode="sample",
                               records=records, seed=3)
    assert stats.examples == 2 and set(stats.orders) <= {"SPQ", "QSP"}
    again, _ = _examples(rows, tokenizer, orders=["SPQ", "QSP"], order_mode="sample",
                         records=records, seed=3)
    assert sampled == again


def test_order_augmentation_without_the_record_is_an_error(data_dir, tokenizer):
    rows = load_sft_rows(data_dir / "sft.jsonl", limit=1)
    with pytest.raises(DataError, match="needs the row's dataset record"):
        _examples(rows, tokenizer, orders=["SPQ"], records={})


def test_overlong_examples_are_dropped_and_counted(data_dir, tokenizer):
    rows = load_sft_rows(data_dir / "sft.jsonl")
    examples, _ = _examples(rows, tokenizer)
    cut = sorted(len(e["input_ids"]) for e in examples)[len(examples) // 2]
    kept, stats = _examples(rows, tokenizer, max_length=cut)
    assert stats.dropped_overlong == sum(len(e["input_ids"]) > cut for e in examples) > 0
    assert len(kept) == len(rows) - stats.dropped_overlong
    with pytest.raises(DataError, match="every example is longer than data.max_length=16"):
        _examples(rows, tokenizer, max_length=16)


def test_a_row_without_an_assistant_turn_is_an_error(tmp_path, data_dir):
    line = json.loads((data_dir / "sft.jsonl").read_text().splitlines()[0])
    line["messages"] = line["messages"][:1]
    path = tmp_path / "sft.jsonl"
    path.write_text((data_dir / "sft.jsonl").read_text().splitlines()[1] + "\n"
                    + json.dumps(line) + "\n")
    with pytest.raises(DataError, match="no assistant turn") as err:
        load_sft_rows(path)
    assert err.value.where == f"{path}:2"


def test_a_tokenizer_without_chat_template_is_an_error(tmp_path, tokenizer):
    tokenizer.save_pretrained(tmp_path)
    for name in ("chat_template.jinja", "chat_template.json"):
        (tmp_path / name).unlink(missing_ok=True)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ProclabError, match="has no chat template"):
        load_tokenizer(str(tmp_path))


def test_a_template_without_generation_markers_is_an_error(tokenizer):
    class Plain:
        chat_template = "{% for m in messages %}{{ m.content }}{% endfor %}"

        def apply_chat_template(self, *args, **kwargs):
            return tokenizer.apply_chat_template(*args, chat_template=self.chat_template,
                                                 **kwargs)

    assert training_template(tokenizer) is None
    with pytest.raises(ProclabError, match=r"no \{% generation %\} markers"):
        training_template(Plain())


def test_grpo_prompts_are_the_reference_prompts_with_gold_labels(data_dir, tokenizer):
    records = load_split(data_dir, "train")
    rows, stats = grpo_prompts(records, tokenizer, orders=["PSQ"], order_mode="sample",
                               max_prompt_tokens=4096, seed=0)
    assert [r["prompt"] for r in rows] == [build_messages(r.model_dump()) for r in records]
    assert [r["label"] for r in rows] == [r.label for r in records]
    assert stats.examples == len(records) and stats.dropped_overlong == 0


def test_oracle_eval_rows_are_distilled_traces_of_the_split(distilled_dir: Path, tmp_path):
    rows = oracle_eval_rows(distilled_dir, "heldout", limit=None, seed=0, out=tmp_path)
    assert [r.record_id for r in rows] == [r.id for r in load_split(distilled_dir, "heldout")]
    assert all(r.messages[-1].role == "assistant" and "[SIG=" in r.messages[-1].content
               for r in rows)
    assert not any(tmp_path.iterdir())

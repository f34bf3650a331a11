from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from proclab.cli import main
from proclab.errors import ErrorList
from proclab.models.tiny import (
    CHAT_TEMPLATE,
    build_tiny_model,
    corpus_texts,
    tiny_model_path,
)

SMALL_TEXTS = [
    "Warn the people nearby and keep them clear of the spill area.",
    "Identify the spilled substance from its container label or safety data sheet.",
    "Record the spill in the lab incident log before leaving the room.",
] * 20
SMALL = {"vocab_size": 300, "num_layers": 1, "hidden_size": 32, "num_heads": 2, "num_kv_heads": 1}


def test_reloads_with_auto_classes(tiny_model_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert model.config.tie_word_embeddings is True
    assert model.config.vocab_size == len(tok) == 2048
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (2, 64)
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [0, 1, 2]
    assert (tok.eos_token, tok.pad_token) == ("<|im_end|>", "<|endoftext|>")
    assert model.generation_config.eos_token_id == tok.eos_token_id
    assert tok.chat_template == CHAT_TEMPLATE


def test_byte_level_round_trip(tiny_model_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = "Procedure:\n1. Wipe the bench — 0.5 L of ethanol, café 温度\n\n  Scenario:\tdone"
    assert tok.decode(tok(text)["input_ids"]) == text
    # trained on the corpus: a common procedure word is one token, not bytes
    assert len(tok(" procedure")["input_ids"]) == 1


def test_chat_template_renders_chatml(tiny_model_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    messages = [
        {"role": "user", "content": "Did it comply?"},
        {"role": "assistant", "content": "Final answer: COMPLIANT"},
    ]
    assert tok.apply_chat_template(messages, tokenize=False) == (
        "<|im_start|>user\nDid it comply?<|im_end|>\n"
        "<|im_start|>assistant\nFinal answer: COMPLIANT<|im_end|>\n"
    )
    assert tok.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True) == (
        "<|im_start|>user\nDid it comply?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_assistant_mask_covers_exactly_the_assistant_turns(tiny_model_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    messages = [
        {"role": "user", "content": "Procedure:\n1. Warn people.\n\nQuestion:\nOk?"},
        {"role": "assistant", "content": "[SIG=RECALL] Step 1 says warn.\n\nFinal answer: COMPLIANT"},
        {"role": "user", "content": "Sure?"},
        {"role": "assistant", "content": "Final answer: NON-COMPLIANT"},
    ]
    out = tok.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = out["input_ids"], out["assistant_masks"]
    assert len(ids) == len(mask)
    trained = tok.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert trained == (
        "[SIG=RECALL] Step 1 says warn.\n\nFinal answer: COMPLIANT<|im_end|>"
        "Final answer: NON-COMPLIANT<|im_end|>"
    )
    # the two spans are separate: the second user turn in between is masked out
    runs = sum(1 for k in range(len(mask)) if mask[k] and (k == 0 or not mask[k - 1]))
    assert runs == 2
    assert tok.decode([i for i, m in zip(ids, mask, strict=True) if not m]).count("<|im_start|>") == 4


def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    a = build_tiny_model(tmp_path / "a", texts=SMALL_TEXTS, seed=3, **SMALL)
    b = build_tiny_model(tmp_path / "b", texts=SMALL_TEXTS, seed=3, **SMALL)
    c = build_tiny_model(tmp_path / "c", texts=SMALL_TEXTS, seed=4, **SMALL)
    names = sorted(p.name for p in a.iterdir())
    assert {"model.safetensors", "tokenizer.json", "config.json"} <= set(names)
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "model.safetensors").read_bytes() != (c / "model.safetensors").read_bytes()
    assert (a / "tokenizer.json").read_bytes() == (c / "tokenizer.json").read_bytes()


def test_invalid_size_names_every_problem(tmp_path: Path) -> None:
    with pytest.raises(ErrorList) as info:
        build_tiny_model(tmp_path, texts=SMALL_TEXTS, vocab_size=100, hidden_size=30, num_heads=4)
    text = info.value.render()
    assert "vocab_size=100" in text and "hidden_size=30" in text
    assert len(info.value.errors) == 2
    assert not (tmp_path / "config.json").exists()


def test_cache_is_reused(tiny_model_dir: Path) -> None:
    stamp = (tiny_model_dir / "model.safetensors").stat().st_mtime_ns
    assert tiny_model_path() == tiny_model_dir
    assert (tiny_model_dir / "model.safetensors").stat().st_mtime_ns == stamp
    assert tiny_model_dir.name.startswith("tiny-")


def test_corpus_texts_include_house_style_renderings() -> None:
    texts = corpus_texts()
    assert "Minor chemical spill clean-up" in texts
    assert any(t.count("\n") > 5 for t in texts)  # whole rendered procedures, not only steps


def test_cli_builds_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["models", "tiny", "--out", str(tmp_path / "m"), "--layers", "1", "--hidden", "32",
          "--heads", "2", "--kv-heads", "1", "--vocab", "512"])
    out = capsys.readouterr().out
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    params = sum(p.numel() for p in model.parameters())
    assert f"{params:,} parameters" in out and "vocab 512" in out and "1 layers" in out


def test_cli_bad_size_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["models", "tiny", "--out", str(tmp_path), "--hidden", "30"])
    assert info.value.code == 2
    assert "hidden_size=30: must be divisible by num_heads=8" in capsys.readouterr().err

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

from proclab.errors import ProclabError
from proclab.infer import hf
from proclab.infer.base import Backend, GenerationConfig
from proclab.infer.hf import HFBackend, prefill_rows
from proclab.models.tiny import build_tiny_model
from proclab.procedures.corpus import load_corpus

TEXTS = ["Warn the people nearby and keep them clear of the spill area."] * 30


def _prompts(n: int) -> list[list[dict[str, str]]]:
    procs = load_corpus()
    prompts = []
    for i in range(n):
        proc = procs[(7 * i) % len(procs)]
        steps = "\n".join(f"{k + 1}. {s.text}" for k, s in enumerate(proc.steps))
        # lengths differ a lot, so sorting, padding and order restoration all matter
        steps = steps[: 60 + (i * 131) % 700]
        content = f"Procedure:\n{steps}\n\nScenario:\nThe {proc.roles[0]} did it.\n\nQuestion:\nOk?"
        prompts.append([{"role": "user", "content": content}])
    return prompts


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path) -> HFBackend:
    return HFBackend(tiny_model_dir)


def _adapter_for(base_dir: Path, out: Path) -> Path:
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    lora = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    lora.save_pretrained(out)
    return out


def test_batched_greedy_equals_one_at_a_time_in_input_order(backend: HFBackend) -> None:
    prompts = _prompts(9)
    config = GenerationConfig(max_new_tokens=12, batch_size=4)
    batched = backend.generate(prompts, config)
    singles = [backend.generate([p], GenerationConfig(max_new_tokens=12, batch_size=1))[0]
               for p in prompts]
    assert batched == singles
    assert [g.prompt_tokens for g in batched] == [len(backend.encode(p)) for p in prompts]
    assert len({g.prompt_tokens for g in batched}) == 9  # the lengths really differ
    assert len({g.text for g in batched}) > 1 and all(g.text for g in batched)


def test_padded_batch_prefill_fallback_agrees(
    backend: HFBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Models whose cache cannot take per-prompt prefill (sliding windows, ...) go this way.
    prompts = _prompts(5)
    config = GenerationConfig(max_new_tokens=8, batch_size=5)
    fast = backend.generate(prompts, config)
    monkeypatch.setattr(hf, "prefill_rows", lambda *args, **kwargs: None)
    assert backend.generate(prompts, config) == fast


def test_prefill_rows_declines_one_token_prompts(backend: HFBackend) -> None:
    assert prefill_rows(backend.model, [[5], [5, 6, 7]], max_cache_len=8) is None
    cache = prefill_rows(backend.model, [[5, 6], [5, 6, 7]], max_cache_len=8)
    assert cache is not None and int(cache.get_seq_length()) == 2


def test_sampling_is_seeded(backend: HFBackend) -> None:
    prompts = _prompts(3)
    hot = GenerationConfig(max_new_tokens=10, temperature=1.0, seed=7)
    first, again = backend.generate(prompts, hot), backend.generate(prompts, hot)
    greedy = backend.generate(prompts, GenerationConfig(max_new_tokens=10))
    other = backend.generate(prompts, GenerationConfig(max_new_tokens=10, temperature=1.0, seed=8))
    assert first == again
    assert first != greedy and first != other


def test_hits_max_new_tokens_is_length(backend: HFBackend) -> None:
    [gen] = backend.generate(_prompts(1), GenerationConfig(max_new_tokens=5))
    assert (gen.finish_reason, gen.completion_tokens) == ("length", 5)


def test_stops_at_eos_and_strips_it(tiny_model_dir: Path) -> None:
    backend = HFBackend(tiny_model_dir)
    prompt = _prompts(1)
    free = backend.model.generate(
        input_ids=torch.tensor([backend.encode(prompt[0])]),
        max_new_tokens=8, do_sample=False,
    )[0, -8:].tolist()
    # the first token the model emits that it has not emitted before now ends the answer
    stop = next(i for i in range(1, len(free)) if free[i] not in free[:i])
    backend.eos_ids = [free[stop]]
    [gen] = backend.generate(prompt, GenerationConfig(max_new_tokens=8))
    assert gen.finish_reason == "stop"
    assert gen.completion_tokens == stop + 1
    assert gen.text == backend.tokenizer.decode(free[:stop], skip_special_tokens=True).strip()


def test_satisfies_backend_protocol(backend: HFBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.name == "hf"


def test_unknown_model_path(tmp_path: Path) -> None:
    with pytest.raises(ProclabError, match="model not found: .*nope") as info:
        HFBackend(tmp_path / "nope")
    assert "proclab models tiny" in info.value.render()


def test_folder_without_model(tmp_path: Path) -> None:
    with pytest.raises(ProclabError, match="no config.json"):
        HFBackend(tmp_path)


def test_fitting_adapter_loads(tiny_model_dir: Path, tmp_path: Path) -> None:
    adapter = _adapter_for(tiny_model_dir, tmp_path / "ok")
    backend = HFBackend(tiny_model_dir, adapter)
    assert isinstance(backend.model, PeftModel)
    [gen] = backend.generate(_prompts(1), GenerationConfig(max_new_tokens=3))
    assert gen.completion_tokens == 3


def test_adapter_with_other_shapes_is_rejected(tiny_model_dir: Path, tmp_path: Path) -> None:
    other = build_tiny_model(tmp_path / "small", texts=TEXTS, vocab_size=300, hidden_size=32,
                             num_heads=2, num_kv_heads=1)
    adapter = _adapter_for(other, tmp_path / "small-lora")
    with pytest.raises(ProclabError, match="does not fit base model") as info:
        HFBackend(tiny_model_dir, adapter)
    assert str(adapter) in info.value.what and str(tiny_model_dir) in info.value.what


def test_adapter_with_other_depth_is_rejected(tiny_model_dir: Path, tmp_path: Path) -> None:
    # Same widths, one more layer: PEFT only warns here, proclab must refuse.
    deeper = build_tiny_model(tmp_path / "deep", texts=TEXTS, num_layers=3)
    adapter = _adapter_for(deeper, tmp_path / "deep-lora")
    with pytest.raises(ProclabError, match="adapter tensors have no place in the model") as info:
        HFBackend(tiny_model_dir, adapter)
    assert "layers.2." in info.value.what


def test_missing_adapter_path(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ProclabError, match="adapter not found"):
        HFBackend(tiny_model_dir, tmp_path / "no-adapter")


def test_bad_generation_settings(backend: HFBackend) -> None:
    with pytest.raises(ProclabError, match="batch_size and max_new_tokens"):
        backend.generate(_prompts(1), GenerationConfig(batch_size=0))

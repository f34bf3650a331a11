"""Model handling: unmerged PEFT adapters give the merged model's results, unsupported
architectures are refused by name, and hooks never outlive their block."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from proclab.errors import ProclabError
from proclab.interp.attribution import attribution_scores
from proclab.interp.encode import encode_pair
from proclab.interp.hooks import head_layout, hooks, o_proj_point
from proclab.interp.load import load_for_interp
from proclab.interp.pairs import decision_pairs, load_pair_records
from proclab.interp.patching import exact_head_effects


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter on q/v/o with random (non-zero) B matrices, so it changes the model."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    config = LoraConfig(r=4, lora_alpha=4, target_modules=["q_proj", "v_proj", "o_proj"],
                        init_lora_weights=False)  # fmt: skip
    out = tmp_path_factory.mktemp("adapter")
    get_peft_model(base, config).save_pretrained(out)
    return out


def test_unmerged_adapter_matches_the_merged_model(tiny, tiny_model_dir, adapter_dir, pairs_path):
    plain, tok = tiny
    pair = encode_pair(tok, decision_pairs(load_pair_records(pairs_path))[0])
    from peft import PeftModel

    unmerged, _ = load_for_interp(tiny_model_dir, adapter_dir, device="cpu")
    assert isinstance(unmerged, PeftModel)
    assert head_layout(unmerged) == head_layout(plain)
    merged, _ = load_for_interp(tiny_model_dir, adapter_dir, device="cpu")
    merged = merged.merge_and_unload()
    assert type(merged).__name__ == "Qwen2ForCausalLM"

    a, b = exact_head_effects(unmerged, pair), exact_head_effects(merged, pair)
    assert a.ld_exp == pytest.approx(b.ld_exp, abs=1e-4)
    torch.testing.assert_close(a.delta, b.delta, atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(attribution_scores(unmerged, pair).scores,
                               attribution_scores(merged, pair).scores, atol=1e-4, rtol=1e-3)
    # the adapter matters, so the agreement above is not between two copies of the base model
    assert not torch.allclose(a.delta, exact_head_effects(plain, pair).delta, atol=1e-3)


def test_unsupported_architecture_is_refused_with_the_supported_list(tmp_path: Path) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=8, vocab_size=16))
    with pytest.raises(ProclabError) as err:
        head_layout(model)
    assert "'gpt2' is not supported" in err.value.what
    assert "Qwen2/Qwen2.5" in err.value.fix and "Llama" in err.value.fix
    model.save_pretrained(tmp_path / "gpt2")
    with pytest.raises(ProclabError, match="not supported"):
        load_for_interp(tmp_path / "gpt2", device="cpu")


def test_llama_and_mistral_layouts_are_read() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

    small = {"hidden_size": 16, "intermediate_size": 8, "num_hidden_layers": 3,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 16}  # fmt: skip
    for model in (LlamaForCausalLM(LlamaConfig(**small)),
                  MistralForCausalLM(MistralConfig(**small))):  # fmt: skip
        layout = head_layout(model)
        assert (layout.n_layers, layout.n_heads, layout.n_kv_heads, layout.head_dim) == (3, 4, 2, 4)


def test_hooks_are_removed_even_when_the_block_raises(tiny) -> None:
    model, _ = tiny
    module = model.model.layers[0].self_attn.o_proj
    before = len(module._forward_pre_hooks)
    with pytest.raises(RuntimeError, match="boom"), hooks(model, pre={o_proj_point(0): lambda x: None}):
        assert len(module._forward_pre_hooks) == before + 1
        raise RuntimeError("boom")
    assert len(module._forward_pre_hooks) == before
    bad = {o_proj_point(0): lambda x: None, o_proj_point(9): lambda x: None}
    with pytest.raises(ProclabError, match="no module model.layers.9"), hooks(model, pre=bad):
        pass
    assert len(module._forward_pre_hooks) == before


def test_attention_summaries_read_eager_patterns_and_restore_sdpa(tiny, pairs_path) -> None:
    from proclab.interp.attention import final_patterns, summarize_heads

    model, tok = tiny
    pair = encode_pair(tok, decision_pairs(load_pair_records(pairs_path))[0])
    assert model.config._attn_implementation == "sdpa"
    patterns = final_patterns(model, pair.base, [1])
    assert model.config._attn_implementation == "sdpa"
    assert patterns[1].shape == (model.config.num_attention_heads, len(pair.base))
    assert patterns[1].sum(axis=1) == pytest.approx([1.0] * model.config.num_attention_heads, abs=1e-5)
    out = summarize_heads(model, tok, [pair.base, pair.exp], [(1, 2), (0, 0)])
    assert list(out) == ["L1.H2", "L0.H0"]
    mass = out["L1.H2"]["mass"]
    assert set(mass) == {"procedure", "scenario", "question", "other"}
    assert sum(mass.values()) == pytest.approx(1.0, abs=1e-3)
    assert out["L1.H2"]["pairs"] == 2 and len(out["L1.H2"]["top_tokens"]) == 5

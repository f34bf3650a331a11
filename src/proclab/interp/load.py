"""Load a model for probing: SDPA attention (patching runs; `attention.eager_attention` switches
to eager where patterns are read), frozen weights, and an optional PEFT adapter kept unmerged
(the hooks see the adapted o_proj inputs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from proclab.errors import ProclabError
from proclab.interp.hooks import check_supported, head_layout


def load_for_interp(
    model: str | Path,
    adapter: str | Path | None = None,
    *,
    device: str | None = None,
    dtype: str | torch.dtype | None = None,
) -> tuple[nn.Module, Any]:
    """(model, tokenizer) ready for patching; unsupported architectures fail before the
    weights load."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from proclab.infer.hf import load_adapter, pick_dtype
    from proclab.infer.locate import load_failure, resolve_model

    where = resolve_model(model)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        check_supported(AutoConfig.from_pretrained(where))
        tokenizer = AutoTokenizer.from_pretrained(where)
        lm = AutoModelForCausalLM.from_pretrained(
            where, dtype=pick_dtype(device, dtype), attn_implementation="sdpa"
        )
    except (OSError, ValueError) as err:
        raise load_failure("model", str(model), err) from err
    if adapter is not None:
        lm = load_adapter(lm, str(adapter), base_name=str(model))
    lm = lm.to(device).eval()
    lm.requires_grad_(False)  # attribution differentiates w.r.t. activations only
    head_layout(lm)
    if getattr(tokenizer, "chat_template", None) is None:
        raise ProclabError(
            f"{model} has no chat template",
            fix="use an instruct/chat model (its tokenizer must define chat_template)",
        )
    return lm, tokenizer

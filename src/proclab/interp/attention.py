"""Attention-pattern summaries of chosen heads at the decision position (eager attention):
how the final query's attention splits over the prompt blocks, its entropy, and the tokens it
attends to most, averaged over pairs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from proclab.errors import ProclabError
from proclab.interp.encode import BLOCK_SPANS, Encoded
from proclab.interp.hooks import OutputHook, attn_point, head_name, hooks, unwrap
from proclab.interp.patching import Site
from proclab.interp.runner import device_of

TOP_TOKENS = 5


@contextmanager
def eager_attention(model: nn.Module) -> Iterator[None]:
    """Run the block with eager attention (the only kind that returns its weights); SDPA is ~10x
    faster on long prompts, so patching keeps whatever the model was loaded with."""
    lm = unwrap(model)
    before = lm.config._attn_implementation
    if before != "eager":
        lm.set_attn_implementation("eager")
    try:
        yield
    finally:
        if before != "eager":
            lm.set_attn_implementation(before)


@torch.no_grad()
def final_patterns(model: nn.Module, side: Encoded, layers: Sequence[int]) -> dict[int, np.ndarray]:
    """The final query's attention `[heads, seq]` in each of `layers` for one prompt."""
    store: dict[int, np.ndarray] = {}

    def grab(layer: int) -> OutputHook:
        def fn(output: Any) -> None:
            weights = output[1] if isinstance(output, tuple) and len(output) > 1 else None
            if weights is None:
                raise ProclabError(
                    "attention weights are not available from this model",
                    fix="read patterns inside `eager_attention(model)` (final_patterns does)",
                )
            store[layer] = weights[0, :, -1].float().cpu().numpy()

        return fn

    tokens = torch.tensor([list(side.ids)], device=device_of(model))
    post = {attn_point(layer): grab(layer) for layer in set(layers)}
    with eager_attention(model), hooks(model, post=post):
        unwrap(model)(input_ids=tokens, logits_to_keep=1)
    return store


def summarize_heads(
    model: nn.Module, tokenizer: Any, sides: Sequence[Encoded], sites: Sequence[Site]
) -> dict[str, dict[str, Any]]:
    """Per head: mean attention mass on each block (and the chat/answer scaffolding as
    `other`), mean entropy in nats, and the most-attended tokens (mean weight per pair)."""
    if not sites or not sides:
        return {}
    layers = sorted({layer for layer, _ in sites})
    mass: dict[Site, dict[str, list[float]]] = {s: defaultdict(list) for s in sites}
    entropy: dict[Site, list[float]] = {s: [] for s in sites}
    tokens: dict[Site, dict[str, float]] = {s: defaultdict(float) for s in sites}
    for side in sides:
        patterns = final_patterns(model, side, layers)
        pieces = tokenizer.convert_ids_to_tokens(list(side.ids))
        for layer, head in sites:
            row = patterns[layer][head]
            inside = 0.0
            for block in BLOCK_SPANS:
                a, b = side.blocks.get(block, (0, 0))
                share = float(row[a:b].sum())
                mass[(layer, head)][block].append(share)
                inside += share
            mass[(layer, head)]["other"].append(max(0.0, 1.0 - inside))
            entropy[(layer, head)].append(float(-(row * np.log(np.clip(row, 1e-12, None))).sum()))
            for pos in np.argsort(-row)[:TOP_TOKENS]:
                tokens[(layer, head)][_readable(tokenizer, pieces[pos])] += float(row[pos])
    out = {}
    for site in sites:
        best = sorted(tokens[site].items(), key=lambda kv: -kv[1])[:TOP_TOKENS]
        out[head_name(*site)] = {
            "mass": {k: round(float(np.mean(v)), 4) for k, v in mass[site].items()},
            "entropy": round(float(np.mean(entropy[site])), 4),
            "top_tokens": [[tok, round(w / len(sides), 4)] for tok, w in best],
            "pairs": len(sides),
        }
    return out


def _readable(tokenizer: Any, piece: str) -> str:
    text = tokenizer.convert_tokens_to_string([piece])
    return text if text.strip() else repr(text)

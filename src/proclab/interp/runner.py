"""Forward passes over a cached prefix: run a prompt's shared beginning once, then only the
tail for each batch of patched rows, with the cached keys/values expanded across the batch.

Caches are kept as plain per-layer `(keys, values)` tensors `[1, kv_heads, t, head_dim]` and a
fresh `DynamicCache` is built per call, so one prefix serves any number of batches.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from proclab.interp.hooks import TensorHook, hooks, unwrap

KV = list[tuple[torch.Tensor, torch.Tensor]]


def cache_kwarg(model: nn.Module) -> str:
    # transformers 5.x names it `cache` (`past_key_values` is deprecated); 4.x only knows the latter.
    params = inspect.signature(unwrap(model).forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def new_cache(past: KV | None, batch: int) -> object:
    from transformers import DynamicCache

    cache = DynamicCache()
    for layer, (keys, values) in enumerate(past or []):
        cache.update(keys.expand(batch, -1, -1, -1), values.expand(batch, -1, -1, -1), layer)
    return cache


def read_cache(cache: object) -> KV:
    layers = getattr(cache, "layers", None)
    if layers is not None:
        return [(layer.keys, layer.values) for layer in layers]
    return list(zip(cache.key_cache, cache.value_cache, strict=True))  # type: ignore[attr-defined]


def device_of(model: nn.Module) -> torch.device:
    return next(unwrap(model).parameters()).device


@torch.no_grad()
def run(
    model: nn.Module,
    ids: Sequence[int],
    *,
    past: KV | None = None,
    batch: int = 1,
    pre: Mapping[str, TensorHook] | None = None,
    keep_cache: bool = False,
) -> tuple[torch.Tensor, KV | None]:
    """Run `ids` (the same row `batch` times) after the cached `past`; returns the last
    position's logits `[batch, vocab]` and, with `keep_cache`, row 0's extended cache."""
    lm = unwrap(model)
    tokens = torch.tensor([list(ids)], device=device_of(model)).expand(batch, -1)
    cache = new_cache(past, batch)
    kwargs = {cache_kwarg(model): cache, "use_cache": True, "logits_to_keep": 1}
    with hooks(model, pre=pre):
        out = lm(input_ids=tokens, **kwargs)
    new = [(k[:1], v[:1]) for k, v in read_cache(cache)] if keep_cache else None
    return out.logits[:, -1], new


def extend(model: nn.Module, past: KV | None, ids: Sequence[int]) -> KV | None:
    """The cache after running `ids` on top of `past` (unchanged when `ids` is empty)."""
    if not ids:
        return past
    return run(model, ids, past=past, keep_cache=True)[1]


def fork_prefixes(
    model: nn.Module, base: Sequence[int], exp: Sequence[int], base_stop: int, exp_stop: int
) -> tuple[KV | None, KV | None]:
    """Caches of `base[:base_stop]` and `exp[:exp_stop]`; their common leading tokens run once."""
    common = 0
    limit = min(base_stop, exp_stop)
    while common < limit and base[common] == exp[common]:
        common += 1
    shared = extend(model, None, base[:common])
    return (
        extend(model, shared, base[common:base_stop]),
        extend(model, shared, exp[common:exp_stop]),
    )

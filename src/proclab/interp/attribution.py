"""Attribution patching (AtP): a first-order estimate of every head's patching effect from two
forwards and one backward per pair: δ̂(l, h) = Σ_pos (z_base - z_exp)[l, pos, h] · ∂LD/∂z_exp.

Optional AtP* QK fix (Kramár et al., 2024): the gradient through an attention softmax is a poor
guide when the softmax saturates. For final-position patches, each head's direct effect on every
later layer's query (and key) at the decision position is recomputed with an exact softmax, and
the linearised share of that same path is swapped out (see `qkfix.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from proclab.errors import ConfigError
from proclab.interp.encode import EncodedPair, span_offsets
from proclab.interp.hooks import (
    HeadLayout,
    TensorHook,
    head_layout,
    hooks,
    o_proj_point,
    residual_point,
    unwrap,
)
from proclab.interp.metric import Metric, verdict_metric
from proclab.interp.runner import cache_kwarg, device_of, new_cache, read_cache


@dataclass(frozen=True)
class AttributionResult:
    """Clean metrics of both sides and the estimated δ of every head `[layers, heads]`."""

    ld_base: float
    ld_exp: float
    scores: torch.Tensor  # [layers, heads], float32 on CPU


def attribution_scores(
    model: nn.Module,
    pair: EncodedPair,
    *,
    span: str = "final",
    metric: Metric | None = None,
    qk_fix: bool = False,
) -> AttributionResult:
    """Estimated effect of patching each head's output over `span` from base into exp."""
    layout = head_layout(model)
    metric = metric or verdict_metric(pair.base_token, pair.exp_token)
    offsets = span_offsets(pair, span)
    if qk_fix and span != "final":
        raise ConfigError(
            "the AtP* QK fix is implemented for final-position patches only",
            fix="use --span final with --qk-fix, or drop --qk-fix",
        )
    with torch.no_grad():
        base_z, base_logits, _ = _forward(model, layout, pair.base.ids, len(offsets), grad=False)
    exp_z, exp_logits, extras = _forward(model, layout, pair.exp.ids, len(offsets), grad=True,
                                         qk=qk_fix)  # fmt: skip
    ld_exp = metric(exp_logits)[0]
    n = len(offsets)
    grads = torch.autograd.grad(ld_exp, exp_z)  # w.r.t. whole o_proj inputs, sliced below
    shape = (n, layout.n_heads, layout.head_dim)
    grad = torch.stack([g[0, g.shape[1] - n :].reshape(shape) for g in grads]).float()
    exp_heads = torch.stack([z[0, z.shape[1] - n :].detach().reshape(shape) for z in exp_z])
    diff = (torch.stack(base_z) - exp_heads).float()  # [layers, positions, heads, head_dim]
    scores = (diff * grad).sum(dim=(1, 3))
    if qk_fix:
        from proclab.interp.qkfix import qk_correction

        scores = scores + qk_correction(model, layout, extras, diff[:, -1], grad[:, -1])
    return AttributionResult(
        ld_base=float(metric(base_logits)[0]),
        ld_exp=float(ld_exp.detach()),
        scores=scores.detach().cpu(),
    )


def _forward(
    model: nn.Module, layout: HeadLayout, ids: tuple[int, ...], n_pos: int, *, grad: bool,
    qk: bool = False,
) -> tuple[list[torch.Tensor], torch.Tensor, dict]:
    """Full forward; per layer the o_proj input (the whole `[1, seq, heads*head_dim]` tensor,
    in the autograd graph, when `grad`; else the last `n_pos` positions as heads), the last
    position's logits, and with `qk` the residuals and K/V the QK fix needs."""
    lm = unwrap(model)
    tokens = torch.tensor([list(ids)], device=device_of(model))
    embeds = lm.get_input_embeddings()(tokens).detach()
    if grad:
        embeds.requires_grad_(True)
    heads: dict[int, torch.Tensor] = {}
    resid: dict[int, torch.Tensor] = {}

    def grab(layer: int) -> TensorHook:
        def fn(x: torch.Tensor) -> None:
            if grad:
                heads[layer] = x  # gradients are taken w.r.t. the tensor the graph used
            else:
                tail = x[0, x.shape[1] - n_pos :]
                heads[layer] = tail.reshape(n_pos, layout.n_heads, layout.head_dim).clone()

        return fn

    def grab_resid(layer: int) -> TensorHook:
        def fn(x: torch.Tensor) -> None:
            resid[layer] = x[0, -1].detach()

        return fn

    pre = {o_proj_point(layer): grab(layer) for layer in range(layout.n_layers)}
    if qk:
        pre.update({residual_point(layer): grab_resid(layer) for layer in range(layout.n_layers)})
    cache = new_cache(None, 1)
    kwargs = {cache_kwarg(model): cache, "use_cache": True} if qk else {}
    with torch.set_grad_enabled(grad), hooks(model, pre=pre):
        logits = lm(inputs_embeds=embeds, logits_to_keep=1, **kwargs).logits[:, -1]
    extras: dict = {}
    if qk:
        kv = read_cache(cache)
        extras = {
            "resid": torch.stack([resid[layer] for layer in range(layout.n_layers)]),
            "keys": [k[0].detach() for k, _ in kv],
            "values": [v[0].detach() for _, v in kv],
        }
    return [heads[layer] for layer in range(layout.n_layers)], logits, extras

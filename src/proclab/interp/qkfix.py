"""The AtP* QK fix for final-position head patches.

Patching head (l, h) at the decision position changes the residual there by Δr = o_proj(Δz_h).
Every later layer l' reads that residual into its query (and its own key) at the same position,
and its attention softmax can saturate, where a gradient sees almost nothing. For each node and
each later layer we therefore compute, along the direct path r -> r + Δr:

    exact  = Σ_{h', s} ∂LD/∂A[h', s] · (softmax(S(r + Δr)) - softmax(S(r)))[h', s]
    linear = Σ_{h', s} ∂LD/∂S[h', s] · (J_S(r) Δr)[h', s]

where S(r) are the attention scores of the final query against all keys (keys at earlier
positions are unaffected: they cannot see the final position). The estimate becomes
AtP + Σ_{l' > l} (exact - linear): the linearised softmax of that path is replaced by the exact
one, everything else stays first-order. Intermediate layers between l and l' are not re-run.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from proclab.errors import ProclabError
from proclab.interp.hooks import HeadLayout, resolve, unwrap


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _rope(model: nn.Module, position: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    rotary = getattr(getattr(unwrap(model), "model", None), "rotary_emb", None)
    if rotary is None:
        raise ProclabError(
            "the QK fix needs the model-level rotary embedding (model.model.rotary_emb)",
            fix="upgrade transformers (>= 4.48) or run without --qk-fix",
        )
    pos = torch.tensor([[position]], device=like.device)
    cos, sin = rotary(like[None, None], pos)
    return cos[0, 0], sin[0, 0]  # [head_dim]


def _scores_fn(
    model: nn.Module, layout: HeadLayout, layer: int, keys: torch.Tensor, position: int
) -> Callable[[torch.Tensor], torch.Tensor]:
    """r [n, hidden] -> attention scores of the final query [n, heads, seq] at `layer`."""
    block = resolve(model, f"model.layers.{layer}")
    attn = block.self_attn
    groups = layout.n_heads // layout.n_kv_heads
    keys_rep = keys.repeat_interleave(groups, dim=0)  # [heads, seq, head_dim]
    cos, sin = _rope(model, position, keys)

    def scores(r: torch.Tensor) -> torch.Tensor:
        x = block.input_layernorm(r)
        q = attn.q_proj(x).view(-1, layout.n_heads, layout.head_dim)
        k = attn.k_proj(x).view(-1, layout.n_kv_heads, layout.head_dim)
        q = q * cos + _rotate_half(q) * sin
        k = (k * cos + _rotate_half(k) * sin).repeat_interleave(groups, dim=1)
        past = torch.einsum("nhd,hsd->nhs", q, keys_rep[:, :-1])
        last = (q * k).sum(-1, keepdim=True)  # the final key moves with the final residual
        return torch.cat([past, last], dim=-1).float() * attn.scaling

    return scores


def _node_writes(model: nn.Module, layout: HeadLayout, diff: torch.Tensor) -> torch.Tensor:
    """Δr of every head: o_proj applied to that head's Δz alone -> [layers, heads, hidden]."""
    out = []
    width = layout.n_heads * layout.head_dim
    for layer in range(layout.n_layers):
        o_proj = resolve(model, f"model.layers.{layer}.self_attn.o_proj")
        z = torch.zeros(layout.n_heads, layout.n_heads, layout.head_dim, device=diff.device)
        z[torch.arange(layout.n_heads), torch.arange(layout.n_heads)] = diff[layer]
        dtype = next(o_proj.parameters()).dtype
        zero = o_proj(torch.zeros(1, width, device=diff.device, dtype=dtype))
        out.append((o_proj(z.view(layout.n_heads, width).to(dtype)) - zero).float())
    return torch.stack(out)


def qk_correction(
    model: nn.Module, layout: HeadLayout, extras: dict, diff: torch.Tensor, grad: torch.Tensor
) -> torch.Tensor:
    """Per-head correction [layers, heads] to add to plain AtP; `diff`/`grad` are the final
    position's Δz and ∂LD/∂z, `extras` the exp run's residuals and K/V (from `_forward`)."""
    with torch.no_grad():
        writes = _node_writes(model, layout, diff)
    out = torch.zeros(layout.n_layers, layout.n_heads, device=diff.device)
    position = extras["keys"][0].shape[1] - 1
    groups = layout.n_heads // layout.n_kv_heads
    for later in range(1, layout.n_layers):
        r = extras["resid"][later]
        dtype = r.dtype
        scores = _scores_fn(model, layout, later, extras["keys"][later], position)
        values = extras["values"][later].repeat_interleave(groups, dim=0).float()
        with torch.no_grad():
            clean = torch.softmax(scores(r[None]), dim=-1)[0]  # [heads, seq]
            d_attn = torch.einsum("hd,hsd->hs", grad[later], values)  # ∂LD/∂A
            d_scores = clean * (d_attn - (clean * d_attn).sum(-1, keepdim=True))
            nodes = writes[:later].reshape(-1, r.shape[-1]).to(dtype)
            moved = torch.softmax(scores(r[None] + nodes), dim=-1)
            exact = ((moved - clean) * d_attn).sum(dim=(1, 2))
        _, tangent = torch.func.jvp(scores, (r[None].expand_as(nodes).contiguous(),), (nodes,))
        linear = (tangent.detach() * d_scores).sum(dim=(1, 2))
        out[:later] += (exact - linear).view(later, layout.n_heads)
    return out.cpu()

"""Exact activation patching of attention-head outputs (the input of `o_proj`, viewed as
`[batch, seq, heads, head_dim]`), from the base prompt into the experimental prompt.

One generic function, `generic_patch`, takes a *setter* (what to write into the chosen heads)
and a *metric*; the variants are partials. A job is a set of (layer, head) sites patched together
in one row; rows are batched (`batch_size`, by default all heads of one layer per forward).
With `reuse_prefix`, everything before the first patched position runs once (the two prompts'
common beginning once for both) and each batch re-runs only the tail on the cached keys/values.

Every run of a pair — both clean runs and all patched batches — uses the same batch size and the
same prefix split, so an unpatched row is bitwise the clean run and a no-op patch scores δ = 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from proclab.errors import ConfigError
from proclab.interp.encode import EncodedPair, span_offsets
from proclab.interp.hooks import HeadLayout, TensorHook, head_layout, o_proj_point
from proclab.interp.metric import Metric, verdict_metric
from proclab.interp.runner import KV, fork_prefixes, run

Site = tuple[int, int]  # (layer, head), 0-indexed
# setter(x, rows, heads, source): edit x [batch, positions, heads, head_dim] in place for the
# given (row, head) index pairs; source [n, positions, head_dim] holds the base activations.
Setter = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], None]


def replace_heads(x: torch.Tensor, rows: torch.Tensor, heads: torch.Tensor, source: torch.Tensor) -> None:
    """Activation patching: write the base run's head outputs."""
    x[rows, :, heads] = source.to(x.dtype)


def zero_heads(x: torch.Tensor, rows: torch.Tensor, heads: torch.Tensor, source: torch.Tensor) -> None:
    """Zero-ablation: silence the heads (the source is ignored)."""
    x[rows, :, heads] = 0


@dataclass(frozen=True)
class PatchResult:
    """Clean metrics of both sides and the patched metric of each job (same order as jobs)."""

    ld_base: float
    ld_exp: float
    patched: torch.Tensor  # [n_jobs], float32 on CPU

    @property
    def delta(self) -> torch.Tensor:
        """Raw effect in logits: patched - clean experimental."""
        return self.patched - self.ld_exp


def generic_patch(
    model: nn.Module,
    pair: EncodedPair,
    jobs: Sequence[Sequence[Site]],
    *,
    setter: Setter,
    metric: Metric | None = None,
    span: str = "final",
    batch_size: int | None = None,
    reuse_prefix: bool = True,
) -> PatchResult:
    """Run every job (a set of sites patched together) on `pair.exp` with `setter` applied at
    the `span` positions, and score each run with `metric` (default: the verdict LD)."""
    layout = head_layout(model)
    batch = batch_size or layout.n_heads
    if batch < 1:
        raise ConfigError("batch_size must be at least 1", fix="pass a positive batch size")
    metric = metric or verdict_metric(pair.base_token, pair.exp_token)
    offsets = span_offsets(pair, span)
    base_start = len(pair.base) + offsets[0] if reuse_prefix else 0
    exp_start = len(pair.exp) + offsets[0] if reuse_prefix else 0
    base_kv, exp_kv = fork_prefixes(model, pair.base.ids, pair.exp.ids, base_start, exp_start)
    base_tail, exp_tail = pair.base.ids[base_start:], pair.exp.ids[exp_start:]

    source, base_logits = _capture(model, layout, base_tail, base_kv, batch, len(offsets))
    exp_logits, _ = run(model, exp_tail, past=exp_kv, batch=batch)
    scores = []
    for first in range(0, len(jobs), batch):
        chunk = jobs[first : first + batch]
        pre = _patch_hooks(layout, chunk, source, setter, len(exp_tail), len(offsets), batch)
        logits, _ = run(model, exp_tail, past=exp_kv, batch=batch, pre=pre)
        scores.append(metric(logits[: len(chunk)]).cpu())
    return PatchResult(
        ld_base=float(metric(base_logits[:1])[0]),
        ld_exp=float(metric(exp_logits[:1])[0]),
        patched=torch.cat(scores) if scores else torch.zeros(0),
    )


def _capture(
    model: nn.Module, layout: HeadLayout, tail: Sequence[int], past: KV | None, batch: int, n_pos: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the base tail unpatched; returns its head outputs at the last `n_pos` positions
    `[layers, n_pos, heads, head_dim]` (row 0) and its logits."""
    store: dict[int, torch.Tensor] = {}

    def grab(layer: int) -> TensorHook:
        def fn(x: torch.Tensor) -> None:
            row = x[0, x.shape[1] - n_pos :]
            store[layer] = row.reshape(n_pos, layout.n_heads, layout.head_dim).clone()

        return fn

    pre = {o_proj_point(layer): grab(layer) for layer in range(layout.n_layers)}
    logits, _ = run(model, tail, past=past, batch=batch, pre=pre)
    return torch.stack([store[layer] for layer in range(layout.n_layers)]), logits


def _patch_hooks(
    layout: HeadLayout,
    chunk: Sequence[Sequence[Site]],
    source: torch.Tensor,
    setter: Setter,
    tail_len: int,
    n_pos: int,
    batch: int,
) -> dict[str, TensorHook]:
    by_layer: dict[int, tuple[list[int], list[int]]] = {}
    for row, job in enumerate(chunk):
        for layer, head in job:
            if not (0 <= layer < layout.n_layers and 0 <= head < layout.n_heads):
                raise ConfigError(
                    f"no head L{layer}.H{head}",
                    fix=f"layers 0..{layout.n_layers - 1}, heads 0..{layout.n_heads - 1}",
                )
            rows, heads = by_layer.setdefault(layer, ([], []))
            rows.append(row)
            heads.append(head)

    def hook_for(layer: int, rows: list[int], heads: list[int]) -> TensorHook:
        rows_t, heads_t = torch.tensor(rows), torch.tensor(heads)
        src = source[layer][:, heads_t].transpose(0, 1)  # [n, n_pos, head_dim]

        def fn(x: torch.Tensor) -> torch.Tensor:
            x = x.clone()
            view = x.view(batch, tail_len, layout.n_heads, layout.head_dim)
            setter(view[:, tail_len - n_pos :], rows_t.to(x.device), heads_t.to(x.device),
                   src.to(x.device))  # fmt: skip
            return x

        return fn

    return {o_proj_point(layer): hook_for(layer, *rh) for layer, rh in by_layer.items()}


def every_head(layout: HeadLayout, sites: Sequence[Site] | None = None) -> list[list[Site]]:
    """One job per head (layer-major), or per listed site."""
    chosen = sites if sites is not None else [
        (layer, head) for layer in range(layout.n_layers) for head in range(layout.n_heads)
    ]
    return [[site] for site in chosen]


def head_effects(
    model: nn.Module,
    pair: EncodedPair,
    *,
    sites: Sequence[Site] | None = None,
    setter: Setter = replace_heads,
    metric: Metric | None = None,
    span: str = "final",
    batch_size: int | None = None,
    reuse_prefix: bool = True,
) -> PatchResult:
    """Patch each head alone (all heads, or `sites`); `patched`/`delta` follow layer-major order."""
    jobs = every_head(head_layout(model), sites)
    return generic_patch(model, pair, jobs, setter=setter, metric=metric, span=span,
                         batch_size=batch_size, reuse_prefix=reuse_prefix)  # fmt: skip


# The variants: the fast default, the naive reference (one full forward per head), ablation.
exact_head_effects = partial(head_effects, setter=replace_heads)
naive_head_effects = partial(head_effects, setter=replace_heads, batch_size=1, reuse_prefix=False)
ablation_head_effects = partial(head_effects, setter=zero_heads)


def patch_all_heads(
    model: nn.Module, pair: EncodedPair, *, span: str = "final", reuse_prefix: bool = True
) -> PatchResult:
    """Patch every head of every layer at once (one job): at the final position this turns the
    experimental run's decision into the base run's."""
    layout = head_layout(model)
    job = [(layer, head) for layer in range(layout.n_layers) for head in range(layout.n_heads)]
    return generic_patch(model, pair, [job], setter=replace_heads, span=span, batch_size=1,
                         reuse_prefix=reuse_prefix)  # fmt: skip

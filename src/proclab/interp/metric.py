"""The patching metric: the logit difference between the two verdict continuations at the
decision position, and the per-pair scores built on it.

Sign convention: LD = logit(base answer token) - logit(exp answer token). A model that answers
both sides right has LD_base > 0 > LD_exp; δ(head) = LD_patched - LD_exp (Yang et al.'s raw
effect, in logits); recovery = δ / (LD_base - LD_exp), 1 when the patch restores the base gap.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

# logits at the decision position [batch, vocab] -> one score per row [batch]
Metric = Callable[[torch.Tensor], torch.Tensor]


def logit_diff(logits: torch.Tensor, *, good: int, bad: int) -> torch.Tensor:
    """logit[good] - logit[bad] along the last axis, in float32."""
    return (logits[..., good] - logits[..., bad]).float()


def verdict_metric(base_token: int, exp_token: int) -> Metric:
    """The LD metric for a pair whose base answer starts with `base_token`."""
    return partial(logit_diff, good=base_token, bad=exp_token)


def recovery(delta: torch.Tensor, ld_base: float, ld_exp: float, eps: float = 1e-6) -> torch.Tensor:
    """δ normalised by the full flip; NaN when the two sides barely differ."""
    gap = ld_base - ld_exp
    if abs(gap) < eps:
        return torch.full_like(delta, float("nan"))
    return delta / gap


def answered_right(ld_base: float, ld_exp: float, margin: float) -> bool:
    """The correctness filter: each side prefers its own answer by more than `margin` logits."""
    return ld_base > margin and -ld_exp > margin

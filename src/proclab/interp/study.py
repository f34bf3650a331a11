"""The head study behind `proclab interp heads`: for each condition (pair set x span), screen
every head with attribution patching, keep the pairs the model answers right on both sides,
confirm with exact patching, and aggregate per head over pairs.

`run_study` returns a JSON-ready document; `report.write_report` turns it into files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from proclab.errors import ProclabError
from proclab.interp import stats
from proclab.interp.attention import summarize_heads
from proclab.interp.attribution import attribution_scores
from proclab.interp.config import InterpConfig
from proclab.interp.encode import EncodedPair, encode_pair, end_anchored
from proclab.interp.hooks import HeadLayout, head_layout, head_name, parse_head
from proclab.interp.load import load_for_interp
from proclab.interp.metric import answered_right
from proclab.interp.pairs import PatchPair, decision_pairs, load_pair_records, mapping_pairs
from proclab.interp.patching import Site, exact_head_effects
from proclab.interp.stages import assign_stages

Progress = Callable[[str], None]


@dataclass
class ConditionRun:
    """Per-pair scores of one condition; arrays are `[pairs, layers, heads]` (NaN = not patched)."""

    pair_set: str
    span: str
    tried: int = 0
    dropped_filter: int = 0
    dropped_unaligned: int = 0
    kept: list[EncodedPair] = field(default_factory=list)
    ld_base: list[float] = field(default_factory=list)
    ld_exp: list[float] = field(default_factory=list)
    atp: np.ndarray | None = None
    delta: np.ndarray | None = None

    @property
    def name(self) -> str:
        return f"{self.pair_set}@{self.span}"

    @property
    def recovery(self) -> np.ndarray:
        gap = np.asarray(self.ld_base) - np.asarray(self.ld_exp)
        with np.errstate(all="ignore"):
            gap = np.where(np.abs(gap) < 1e-6, np.nan, gap)
            return self.delta / gap[:, None, None]


def pair_sets(cfg: InterpConfig) -> dict[str, list[PatchPair]]:
    """The decision pairs (label flips of `cfg.kinds`) and, with `cfg.mapping`, the
    answer-mapping swap pairs built from the same records."""
    records = load_pair_records(cfg.pairs)
    sets = {"decision": decision_pairs(records, kinds=cfg.kinds, labels=cfg.labels)}
    if not sets["decision"]:
        raise ProclabError(
            f"no {' or '.join(cfg.kinds)} pairs in {cfg.pairs}",
            fix="build the dataset with pairs_per_procedure >= 1, or choose other --kinds",
        )
    if cfg.mapping:
        sets["mapping"] = mapping_pairs(records, labels=cfg.labels)
    return sets


def _encode_all(tokenizer: Any, cfg: InterpConfig, pairs: list[PatchPair], span: str,
                run: ConditionRun) -> list[EncodedPair]:  # fmt: skip
    encoded = [encode_pair(tokenizer, p, answer_prefix=cfg.answer_prefix, order=cfg.order)
               for p in pairs]  # fmt: skip
    if end_anchored(span):
        return encoded
    unaligned = [e.pair_id for e in encoded if not e.aligned]
    if unaligned and not cfg.aligned_only:
        raise ProclabError(
            f"{len(unaligned)} of {len(encoded)} pairs have base and experimental prompts of "
            f"different token lengths (e.g. {', '.join(unaligned[:3])}), so span {span!r} "
            "cannot be patched position by position",
            fix="patch the final position (--span final), or pass --aligned-only to drop them",
        )
    run.dropped_unaligned = len(unaligned)
    return [e for e in encoded if e.aligned]


def run_condition(
    model: nn.Module, tokenizer: Any, cfg: InterpConfig, pairs: list[PatchPair],
    pair_set: str, span: str, progress: Progress | None = None,
) -> ConditionRun:
    """Screen, filter and confirm one condition (see the module docstring)."""
    layout = head_layout(model)
    run = ConditionRun(pair_set, span)
    screens = []
    for enc in _encode_all(tokenizer, cfg, pairs, span, run):
        run.tried += 1
        screen = attribution_scores(model, enc, span=span, qk_fix=cfg.qk_fix and span == "final")
        if cfg.margin is not None and not answered_right(screen.ld_base, screen.ld_exp, cfg.margin):
            run.dropped_filter += 1
            continue
        run.kept.append(enc)
        screens.append(screen.scores.numpy())
        if len(run.kept) == cfg.max_pairs:
            break
    if not run.kept:
        raise ProclabError(
            f"{run.name}: the model answers none of the {run.tried} pairs correctly on both "
            f"sides (margin {cfg.margin} logits), so there is nothing to patch",
            fix="check the model and adapter, lower --margin, or pass --no-filter to keep all pairs",
        )
    run.atp = np.stack(screens).astype(np.float64)
    sites = _confirm_sites(layout, run.atp, cfg.confirm)
    run.delta = np.full_like(run.atp, np.nan)
    for i, enc in enumerate(run.kept):
        if progress:
            progress(f"{run.name}: exact patching pair {i + 1}/{len(run.kept)}")
        result = exact_head_effects(model, enc, sites=sites, span=span, batch_size=cfg.batch_size)
        for (layer, head), d in zip(sites, result.delta.tolist(), strict=True):
            run.delta[i, layer, head] = d
        run.ld_base.append(result.ld_base)
        run.ld_exp.append(result.ld_exp)
    return run


def _confirm_sites(layout: HeadLayout, atp: np.ndarray, confirm: int | None) -> list[Site]:
    every = [(layer, head) for layer in range(layout.n_layers) for head in range(layout.n_heads)]
    if confirm is None or confirm >= len(every):
        return every
    chosen = stats.top_k(atp.mean(axis=0), confirm)
    return sorted(every[i] for i in chosen)


def summarize(run: ConditionRun, cfg: InterpConfig, rng: np.random.Generator) -> dict[str, Any]:
    """Per-head mean, CI, permutation p and BH q of δ; recovery; AtP mean; agreement; top heads."""
    assert run.delta is not None and run.atp is not None
    delta, lo, hi = stats.mean_ci(run.delta, rng, resamples=cfg.resamples)
    rec, rec_lo, rec_hi = stats.mean_ci(run.recovery, rng, resamples=cfg.resamples)
    p = stats.sign_flip_p(run.delta, rng, permutations=cfg.permutations)
    q = stats.bh_qvalues(p)
    atp = run.atp.mean(axis=0)
    n_layers, n_heads = delta.shape
    heads = {}
    for layer in range(n_layers):
        for head in range(n_heads):
            ix = (layer, head)
            heads[head_name(layer, head)] = {
                "layer": layer, "head": head,
                "delta": _num(delta[ix]), "delta_ci": [_num(lo[ix]), _num(hi[ix])],
                "recovery": _num(rec[ix]), "recovery_ci": [_num(rec_lo[ix]), _num(rec_hi[ix])],
                "p": _num(p[ix]), "q": _num(q[ix]),
                "significant": bool(q[ix] <= cfg.alpha) if not np.isnan(q[ix]) else False,
                "atp": _num(atp[ix]),
            }  # fmt: skip
    k = min(cfg.top_k, int((~np.isnan(delta)).sum()))
    names = list(heads)
    return {
        "pair_set": run.pair_set, "span": run.span,
        "pairs": {"tried": run.tried, "kept": len(run.kept), "dropped_filter": run.dropped_filter,
                  "dropped_unaligned": run.dropped_unaligned},
        "clean": {"ld_base_mean": float(np.mean(run.ld_base)),
                  "ld_exp_mean": float(np.mean(run.ld_exp))},
        "heads": heads,
        "top": [names[i] for i in stats.top_k(delta, k)],
        "top_atp": [names[i] for i in stats.top_k(atp, k)],
        "agreement": _agreement(atp, delta, k),
        "per_pair": {
            "pair_ids": [e.pair_id for e in run.kept],
            "ld_base": [_num(v) for v in run.ld_base], "ld_exp": [_num(v) for v in run.ld_exp],
            "delta": _nested(run.delta), "atp": _nested(run.atp),
        },
    }  # fmt: skip


def _agreement(atp: np.ndarray, delta: np.ndarray, k: int) -> dict[str, Any]:
    """AtP vs exact δ: Spearman over every exact-patched head and over AtP's top k of them,
    and the overlap of the two top-k sets (by |score|)."""
    screened = np.where(np.isnan(delta), np.nan, atp)
    top = stats.top_k(screened, k)
    return {
        "k": k,
        "spearman": _num(stats.spearman(atp, delta)),
        "spearman_top_k": _num(stats.spearman(atp.ravel()[top], delta.ravel()[top])),
        "top_k_overlap": _num(stats.top_k_overlap(atp, delta, k)),
    }


def _num(v: float) -> float | None:
    v = float(v)
    return None if np.isnan(v) else round(v, 6)


def _nested(a: np.ndarray) -> list:
    return [[[_num(v) for v in row] for row in pair] for pair in a]


def run_study(
    cfg: InterpConfig,
    *,
    model: nn.Module | None = None,
    tokenizer: Any = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every condition of `cfg`, its per-head summary, stage candidates and attention summaries
    of the top heads, as one JSON-ready document (loads the model unless one is passed)."""
    sets = pair_sets(cfg)
    if model is None or tokenizer is None:
        model, tokenizer = load_for_interp(cfg.model, cfg.adapter, device=cfg.device,
                                           dtype=cfg.dtype)  # fmt: skip
    layout = head_layout(model)
    rng = np.random.default_rng(cfg.seed)
    runs = [run_condition(model, tokenizer, cfg, sets[pair_set], pair_set, span, progress)
            for pair_set, span in cfg.conditions]  # fmt: skip
    conditions = {run.name: summarize(run, cfg, rng) for run in runs}
    chosen = _attention_sites(conditions, cfg.attention_heads)
    if progress and chosen:
        progress(f"attention patterns of {len(chosen)} heads")
    sides = [enc.base for enc in runs[0].kept[: cfg.attention_pairs]]
    return {
        "layout": {"model_type": layout.model_type, "layers": layout.n_layers,
                   "heads": layout.n_heads, "kv_heads": layout.n_kv_heads,
                   "head_dim": layout.head_dim},
        "conditions": conditions,
        "stages": assign_stages(conditions, layout.n_layers, cfg.bands),
        "attention": summarize_heads(model, tokenizer, sides, chosen),
    }  # fmt: skip


def _attention_sites(conditions: dict[str, dict[str, Any]], n: int) -> list[Site]:
    """The top heads of every condition, interleaved by rank, at most `n` distinct."""
    chosen: list[Site] = []
    tops = [c["top"] for c in conditions.values()]
    for rank in range(max((len(t) for t in tops), default=0)):
        for top in tops:
            if rank < len(top) and parse_head(top[rank]) not in chosen and len(chosen) < n:
                chosen.append(parse_head(top[rank]))
    return chosen

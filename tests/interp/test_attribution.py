"""Attribution patching: pass count, agreement with exact patching, and the AtP* QK fix on a
model whose decisive attention softmax is saturated."""

from __future__ import annotations

import pytest
import torch
from tests.interp.fakes import FILL, QUERY, A, B, P, Q, saturated_model, toy_pair

from proclab.errors import ConfigError
from proclab.interp.attribution import attribution_scores
from proclab.interp.encode import encode_pair
from proclab.interp.pairs import decision_pairs, load_pair_records
from proclab.interp.patching import exact_head_effects
from proclab.interp.stats import spearman


def _count_forwards(model: torch.nn.Module) -> tuple[list[int], object]:
    calls = [0]

    def hook(_module, _args):
        calls[0] += 1

    return calls, model.model.register_forward_pre_hook(hook)


@pytest.mark.parametrize("qk_fix", [False, True])
def test_the_screen_takes_two_forwards_and_one_backward(tiny, pairs_path, qk_fix) -> None:
    model, tok = tiny
    pair = encode_pair(tok, decision_pairs(load_pair_records(pairs_path))[0])
    calls, handle = _count_forwards(model)
    try:
        result = attribution_scores(model, pair, qk_fix=qk_fix)
    finally:
        handle.remove()
    assert calls[0] == 2
    config = model.config
    assert result.scores.shape == (config.num_hidden_layers, config.num_attention_heads)
    exact = exact_head_effects(model, pair)
    assert result.ld_exp == pytest.approx(exact.ld_exp, abs=1e-4)
    assert result.ld_base == pytest.approx(exact.ld_base, abs=1e-4)
    # first-order, but on this model it orders the heads much like exact patching does
    assert spearman(result.scores.flatten().numpy(), exact.delta.numpy()) > 0.6


def test_qk_fix_recovers_an_effect_hidden_by_a_saturated_softmax() -> None:
    model = saturated_model()
    pair = toy_pair([P, Q, A, FILL, QUERY], [P, Q, B, FILL, QUERY])
    exact = exact_head_effects(model, pair)
    assert exact.ld_base > 1.0 > -1.0 > exact.ld_exp
    effect = exact.delta[1].item()  # L0.H1 steers L1.H0's query
    assert effect > 2.5
    plain = attribution_scores(model, pair).scores
    fixed = attribution_scores(model, pair, qk_fix=True).scores
    assert abs(plain[0, 1].item()) < 0.05 * effect
    assert fixed[0, 1].item() == pytest.approx(effect, rel=0.2)
    # the last layer has no later softmax to fix, and silent heads stay silent
    torch.testing.assert_close(fixed[1], plain[1])
    assert fixed[0, 2].item() == pytest.approx(0.0, abs=1e-6)


def test_qk_fix_is_refused_for_span_patches(tiny, pairs_path) -> None:
    model, tok = tiny
    pair = encode_pair(tok, decision_pairs(load_pair_records(pairs_path))[0])
    with pytest.raises(ConfigError, match="final-position"):
        attribution_scores(model, pair, span="scenario", qk_fix=True)

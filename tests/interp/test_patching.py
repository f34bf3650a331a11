"""Exact patching on tiny models: the identities any correct implementation satisfies, agreement
of the fast path (layer batches + prefix reuse) with the naive one, and the planted head."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from tests.interp.fakes import FILL, NO, QUERY, YES, A, B, planted_model, toy_pair

from proclab.errors import ProclabError
from proclab.interp.attribution import attribution_scores
from proclab.interp.encode import encode_pair
from proclab.interp.hooks import head_layout
from proclab.interp.metric import logit_diff
from proclab.interp.pairs import decision_pairs, load_pair_records, mapping_pairs
from proclab.interp.patching import (
    ablation_head_effects,
    exact_head_effects,
    generic_patch,
    naive_head_effects,
    patch_all_heads,
    replace_heads,
)
from proclab.interp.runner import run


@pytest.fixture(scope="module")
def encoded(tiny, pairs_path):
    _, tok = tiny
    records = load_pair_records(pairs_path)
    order, _, actor = (encode_pair(tok, p) for p in decision_pairs(records))
    return {"order": order, "actor": actor,
            "mapping": encode_pair(tok, mapping_pairs(records)[1])}  # fmt: skip


@pytest.mark.parametrize("name", ["order", "actor", "mapping"])
def test_patching_a_head_with_its_own_activation_gives_zero_exactly(tiny, encoded, name) -> None:
    model, _ = tiny
    pair = encoded[name]
    own = replace(pair, base=pair.exp)
    n_heads = model.config.num_hidden_layers * model.config.num_attention_heads
    for effects in (exact_head_effects, naive_head_effects):
        result = effects(model, own)
        assert result.delta.shape == (n_heads,)
        assert torch.equal(result.delta, torch.zeros(n_heads))
    span = exact_head_effects(model, own, span="all" if name != "actor" else "last:6")
    assert torch.equal(span.delta, torch.zeros(n_heads))


@pytest.mark.parametrize("name", ["order", "actor"])
def test_patching_every_head_at_the_final_position_reproduces_the_base_logits(
    tiny, encoded, name
) -> None:
    model, _ = tiny
    pair = encoded[name]
    base_logits, _ = run(model, pair.base.ids)
    exp_logits, _ = run(model, pair.exp.ids)
    assert not torch.allclose(base_logits, exp_logits, atol=1e-3)

    def distance_to_base(logits: torch.Tensor) -> torch.Tensor:
        # the metric here is how far the whole logit vector is from the base run's
        return (logits - base_logits).abs().amax(dim=-1)

    layers, heads = model.config.num_hidden_layers, model.config.num_attention_heads
    every = [[(layer, head) for layer in range(layers) for head in range(heads)]]
    far = generic_patch(model, pair, every, setter=replace_heads, metric=distance_to_base)
    assert far.ld_exp > 0.1  # unpatched, the experimental run is far from the base run
    assert far.patched[0].item() < 2e-4
    ld = patch_all_heads(model, pair)
    assert ld.patched[0].item() == pytest.approx(ld.ld_base, abs=1e-4)
    assert logit_diff(base_logits, good=pair.base_token, bad=pair.exp_token)[0].item() == (
        pytest.approx(ld.ld_base, abs=1e-4))  # fmt: skip


def test_patching_every_head_at_every_position_reproduces_the_base_run(tiny, encoded) -> None:
    model, _ = tiny
    pair = encoded["order"]
    assert pair.aligned
    whole = patch_all_heads(model, pair, span="all")
    assert whole.patched[0].item() == pytest.approx(whole.ld_base, abs=1e-4)


@pytest.mark.parametrize("name", ["order", "actor", "mapping"])
def test_fast_path_matches_one_full_forward_per_head(tiny, encoded, name) -> None:
    model, _ = tiny
    pair = encoded[name]
    naive = naive_head_effects(model, pair)
    for batch in (None, 3, 8):
        fast = exact_head_effects(model, pair, batch_size=batch)
        assert fast.ld_exp == pytest.approx(naive.ld_exp, abs=1e-4)
        torch.testing.assert_close(fast.delta, naive.delta, atol=1e-4, rtol=1e-3)
    assert naive.delta.abs().max() > 1e-3  # the comparison is not between zeros


def test_span_patch_matches_naive_and_sites_subset(tiny, encoded) -> None:
    model, _ = tiny
    pair = encoded["order"]
    naive = naive_head_effects(model, pair, span="scenario")
    fast = exact_head_effects(model, pair, span="scenario", batch_size=4)
    torch.testing.assert_close(fast.delta, naive.delta, atol=1e-4, rtol=1e-3)
    subset = exact_head_effects(model, pair, span="scenario", sites=[(1, 2), (0, 3)])
    heads = model.config.num_attention_heads
    index = [1 * heads + 2, 0 * heads + 3]
    torch.testing.assert_close(subset.delta, naive.delta[index], atol=1e-4, rtol=1e-3)


def test_span_patching_refuses_pairs_of_different_lengths(tiny, encoded) -> None:
    model, _ = tiny
    with pytest.raises(ProclabError, match="position-by-position"):
        exact_head_effects(model, encoded["actor"], span="scenario")


def test_zero_ablation_is_another_setter_of_the_same_function(tiny, encoded) -> None:
    model, _ = tiny
    pair = encoded["order"]
    ablated = ablation_head_effects(model, pair)
    patched = exact_head_effects(model, pair)
    assert not torch.allclose(ablated.delta, patched.delta, atol=1e-4)


def test_the_planted_head_ranks_first_for_exact_and_attribution_patching() -> None:
    model = planted_model()
    assert head_layout(model).n_heads == 4
    pair = toy_pair([FILL, A, FILL, FILL, QUERY], [FILL, B, FILL, FILL, QUERY])
    exact = exact_head_effects(model, pair)
    assert exact.ld_base > 1.0 > -1.0 > exact.ld_exp  # the planted head decides the answer
    order = torch.argsort(exact.delta.abs(), descending=True).tolist()
    assert order[0] == 1 * 4 + 2  # L1.H2
    assert exact.delta[6] > 5 * exact.delta.abs()[torch.arange(8) != 6].max()
    atp = attribution_scores(model, pair).scores
    assert atp.shape == (2, 4)
    assert torch.argmax(atp.abs()).item() == 6
    assert atp[1, 2].item() == pytest.approx(exact.delta[6].item(), rel=0.3)
    assert (pair.base_token, pair.exp_token) == (YES, NO)

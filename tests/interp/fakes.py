"""Hand-written pair records and tiny Qwen2 models with planted heads for the interp tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

QUESTION = (
    "Did the actions described in the scenario comply with the procedure? "
    "Answer COMPLIANT or NON-COMPLIANT."
)
_PROC = (
    "1. Put on nitrile gloves.\n"
    "2. Open the reagent cabinet with the key.\n"
    "3. Record the bottle number in the log, only after step 2."
)
_PROC_ROLE = (
    "Roles, lowest first: technician, supervisor.\n"
    "1. Put on nitrile gloves (technician).\n"
    "2. Unlock the solvent store (supervisor).\n"
    "3. Sign the store register (technician)."
)
_S1 = "Dana put on nitrile gloves."
_S2 = "Dana opened the reagent cabinet with the key."
_S3 = "Dana recorded the bottle number in the log."


def _row(pair: str, role: str, kind: str, label: str, proc: str, scenario: str) -> dict[str, Any]:
    member = {"base": 0}.get(role, 1)
    return {
        "id": f"{pair}.{member}", "procedure_id": "test-proc", "split": "train",
        "label": label, "procedure_text": proc, "scenario_text": scenario,
        "question": QUESTION, "pair_id": pair, "pair_role": role,
        "meta": json.dumps({"pair_kind": kind, "targets": ["2", "3"]}),
    }  # fmt: skip


def pair_rows() -> list[dict[str, Any]]:
    """Two order swaps, one actor swap (unequal token lengths) and one label-keeping swap."""
    return [
        _row("p-order", "base", "order_swap", "COMPLIANT", _PROC, f"{_S1} {_S2} {_S3}"),
        _row("p-order", "flip", "order_swap", "NON-COMPLIANT", _PROC, f"{_S1} {_S3} {_S2}"),
        _row("p-order2", "base", "order_swap", "COMPLIANT", _PROC, f"{_S2} {_S1} {_S3}"),
        _row("p-order2", "flip", "order_swap", "NON-COMPLIANT", _PROC, f"{_S3} {_S1} {_S2}"),
        _row("p-actor", "base", "actor_swap", "COMPLIANT", _PROC_ROLE,
             "Sam put on nitrile gloves. Morgan, the supervisor, unlocked the solvent store. "
             "Sam signed the store register."),
        _row("p-actor", "flip", "actor_swap", "NON-COMPLIANT", _PROC_ROLE,
             "Sam put on nitrile gloves. Sam, the technician, unlocked the solvent store. "
             "Sam signed the store register."),
        _row("p-keep", "base", "unordered_swap", "COMPLIANT", _PROC, f"{_S1} {_S2} {_S3}"),
        _row("p-keep", "preserve", "unordered_swap", "COMPLIANT", _PROC, f"{_S2} {_S1} {_S3}"),
    ]  # fmt: skip


def write_pairs(path: Path, rows: list[dict[str, Any]] | None = None) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows if rows is not None else pair_rows():
            fh.write(json.dumps(row) + "\n")
    return path


# ---- planted models ------------------------------------------------------------------------
# Token ids of the toy vocabulary.
FILL, A, B, QUERY, YES, NO, P, Q = range(8)
HIDDEN, HEADS, HEAD_DIM = 16, 4, 4


def _config(**extra: Any) -> Any:
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=8, hidden_size=HIDDEN, intermediate_size=8, num_hidden_layers=2,
        num_attention_heads=HEADS, num_key_value_heads=2, tie_word_embeddings=False,
        # Rotary angles ~1e-5 rad per position: the planted q.k products stay as designed.
        rope_parameters={"rope_type": "default", "rope_theta": 1e10},
        attn_implementation="eager", **extra,
    )  # fmt: skip


def _cols(head: int) -> slice:
    return slice(head * HEAD_DIM, (head + 1) * HEAD_DIM)


def planted_model(seed: int = 0) -> Any:
    """L1.H2 alone carries the decision: it attends uniformly (zero q/k), reads A-vs-B into its
    value, and o_proj + lm_head turn that into logit(YES) - logit(NO). Every other head and the
    MLPs keep small random weights, so they have small but non-zero effects."""
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(_config(initializer_range=0.02)).eval()
    with torch.no_grad():
        embed = torch.eye(8, HIDDEN)
        embed[QUERY, QUERY] = 10.0  # dominates the final norm, so LD is ~linear in dim 15
        model.model.embed_tokens.weight.copy_(embed)
        attn = model.model.layers[1].self_attn
        kv = 2 // 2  # heads 2 and 3 share key/value head 1
        attn.q_proj.weight[_cols(2)] = 0
        attn.q_proj.bias[_cols(2)] = 0
        attn.k_proj.weight[_cols(kv)] = 0
        attn.k_proj.bias[_cols(kv)] = 0
        attn.v_proj.weight[_cols(kv)] = 0
        attn.v_proj.bias[_cols(kv)] = 0
        attn.v_proj.weight[kv * HEAD_DIM, A] = 1.0
        attn.v_proj.weight[kv * HEAD_DIM, B] = -1.0
        attn.o_proj.weight[:, _cols(2)] = 0
        attn.o_proj.weight[15, 2 * HEAD_DIM] = 5.0
        model.lm_head.weight[YES, 15] = 1.0
        model.lm_head.weight[NO, 15] = -1.0
    return model


def saturated_model() -> Any:
    """L0.H1 writes A-vs-B into residual dim 14 at every position; L1.H0's query reads dim 14
    with a huge gain, so its attention snaps to token P (base) or Q (exp), whose values drive the
    decision. The softmax is saturated: plain AtP sees ~0 for L0.H1, the exact effect is large."""
    from transformers import Qwen2ForCausalLM

    model = Qwen2ForCausalLM(_config(initializer_range=0.02)).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.zero_()
        for norm in [model.model.norm] + [
            n for layer in model.model.layers for n in (layer.input_layernorm,
                                                         layer.post_attention_layernorm)
        ]:  # fmt: skip
            norm.weight.fill_(1.0)
        embed = torch.eye(8, HIDDEN)
        embed[QUERY, QUERY] = 20.0  # dominates the final norm, so LD is ~linear in dim 15
        model.model.embed_tokens.weight.copy_(embed)
        first = model.model.layers[0].self_attn  # L0.H1 uses key/value head 0 (zero q/k)
        first.v_proj.weight[0, A] = 1.0
        first.v_proj.weight[0, B] = -1.0
        first.o_proj.weight[14, _cols(1).start] = 1.0
        second = model.model.layers[1].self_attn  # L1.H0 uses key/value head 0
        second.q_proj.weight[1, 14] = 50.0
        second.k_proj.weight[1, P] = 1.0
        second.k_proj.weight[1, Q] = -1.0
        second.v_proj.weight[0, P] = 1.0
        second.v_proj.weight[0, Q] = -1.0
        second.o_proj.weight[15, 0] = 1.0
        model.lm_head.weight[YES, 15] = 1.0
        model.lm_head.weight[NO, 15] = -1.0
    return model


def toy_pair(base: list[int], exp: list[int], pair_id: str = "toy") -> Any:
    """An EncodedPair straight from token ids: YES is the base answer, NO the other."""
    from proclab.interp.encode import Encoded, EncodedPair

    return EncodedPair(pair_id, "order_swap", Encoded(tuple(base)), Encoded(tuple(exp)), YES, NO)

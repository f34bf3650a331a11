"""Seconds per pair for the attribution screen and exact head patching on a random-initialised
Qwen2.5-7B-architecture model (bf16, SDPA) on one GPU; `--tiny` runs the same code on a small
config (CPU is fine) to check the logic.

    python bench/gpu_interp.py                      # on a GPU box: 7B architecture, bf16
    python bench/gpu_interp.py --tiny --device cpu  # a small config through the same code

No download: weights are random and prompts are synthetic token ids shaped like proclab pairs
(a long shared beginning, two swapped segments in the "scenario", the same final tokens).
The naive baseline (one full forward per head) is timed on `--naive-heads` heads and
extrapolated to all heads; the exact fast path is timed in full.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

QWEN25_7B = {  # the published Qwen2.5-7B(-Instruct) shape
    "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
    "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
    "max_position_embeddings": 32768, "rope_parameters": {"rope_type": "default", "rope_theta": 1e6},
    "rms_norm_eps": 1e-6, "tie_word_embeddings": False,
}  # fmt: skip
TINY = {
    "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4,
    "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512,
    "max_position_embeddings": 4096, "tie_word_embeddings": False,
}  # fmt: skip


def build_model(shape: dict, device: str, dtype: torch.dtype) -> torch.nn.Module:
    """A random Qwen2ForCausalLM of `shape`, created directly on `device` in `dtype`."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(**shape, attn_implementation="sdpa")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Qwen2ForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.requires_grad_(False)
    return model.eval()


def synthetic_pair(vocab: int, tokens: int, seed: int):
    """Base and experimental prompts of `tokens` ids: two 24-token segments at ~70% swap
    places (an order swap), so the two sides share their first ~70% and their last tokens."""
    from proclab.interp.encode import Encoded, EncodedPair

    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(10, vocab, (tokens,), generator=gen).tolist()
    seg, at = 24, int(tokens * 0.7)
    exp = ids[:at] + ids[at + seg : at + 2 * seg] + ids[at : at + seg] + ids[at + 2 * seg :]
    return EncodedPair(f"synthetic-{seed}", "order_swap", Encoded(tuple(ids)),
                       Encoded(tuple(exp)), 3, 4)  # fmt: skip


def _timed(fn, device: str) -> tuple[float, object]:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def bench(args: argparse.Namespace) -> dict:
    from proclab.interp.attribution import attribution_scores
    from proclab.interp.hooks import head_layout
    from proclab.interp.patching import exact_head_effects, naive_head_effects

    dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32}[args.dtype]
    shape = TINY if args.tiny else QWEN25_7B
    built, model = _timed(lambda: build_model(shape, args.device, dtype), args.device)
    layout = head_layout(model)
    pairs = [synthetic_pair(shape["vocab_size"], args.tokens, seed) for seed in range(args.pairs + 1)]
    exact_head_effects(model, pairs[0])  # warm-up (kernels, allocator)
    attribution_scores(model, pairs[0])
    rows = {"screen_s": [], "screen_qk_s": [], "exact_s": [], "naive_per_head_s": []}
    sample = [(layer, 0) for layer in range(0, layout.n_layers, max(1, layout.n_layers // args.naive_heads))]
    for pair in pairs[1:]:
        rows["screen_s"].append(_timed(lambda p=pair: attribution_scores(model, p), args.device)[0])
        rows["screen_qk_s"].append(
            _timed(lambda p=pair: attribution_scores(model, p, qk_fix=True), args.device)[0]
        )
        rows["exact_s"].append(_timed(lambda p=pair: exact_head_effects(model, p), args.device)[0])
        naive_s, _ = _timed(lambda p=pair: naive_head_effects(model, p, sites=sample), args.device)
        # naive_head_effects also runs the two clean forwards: (sites + 2) full forwards
        rows["naive_per_head_s"].append(naive_s / (len(sample) + 2))
    mean = {k: sum(v) / len(v) for k, v in rows.items()}
    naive_total = mean["naive_per_head_s"] * (layout.n_sites + 2)
    return {
        "model": "tiny Qwen2 config" if args.tiny else "Qwen2.5-7B architecture, random weights",
        "layers": layout.n_layers, "heads": layout.n_heads, "dtype": args.dtype,
        "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else platform.processor() or "cpu",
        "tokens": args.tokens, "pairs": args.pairs, "build_s": round(built, 2),
        "screen_s_per_pair": round(mean["screen_s"], 4),
        "screen_qkfix_s_per_pair": round(mean["screen_qk_s"], 4),
        "exact_all_heads_s_per_pair": round(mean["exact_s"], 4),
        "naive_all_heads_s_per_pair_extrapolated": round(naive_total, 2),
        "naive_over_exact": round(naive_total / mean["exact_s"], 1),
        "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1)
        if args.device.startswith("cuda") else None,
    }  # fmt: skip


def markdown(result: dict) -> str:
    return "\n".join([
        f"### {result['model']} on {result['device']} ({result['dtype']}, {result['tokens']} tokens)",
        "",
        "| screen s/pair | screen + QK fix s/pair | exact, all heads, s/pair | naive s/pair (extrap.) | naive / exact | peak GiB |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {result['screen_s_per_pair']} | {result['screen_qkfix_s_per_pair']} | "
        f"{result['exact_all_heads_s_per_pair']} | {result['naive_all_heads_s_per_pair_extrapolated']} | "
        f"{result['naive_over_exact']}x | {result['peak_gpu_gib']} |", "",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small config (logic check)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default=None, choices=["bfloat16", "float32"])
    parser.add_argument("--tokens", type=int, default=None, help="prompt length (default 1500/256)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--naive-heads", type=int, default=4, help="heads timed for the baseline")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    parser.add_argument("--append", type=Path, default=None, help="append Markdown here")
    args = parser.parse_args()
    args.dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    args.tokens = args.tokens or (256 if args.tiny else 1500)
    result = bench(args)
    print(json.dumps(result, indent=1))
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.append:
        with args.append.open("a", encoding="utf-8") as fh:
            fh.write(markdown(result))


if __name__ == "__main__":
    main()

"""Inference benchmark: the Hugging Face backend batched vs one prompt at a time.

`--part hf` runs the tiny local model batched (longest-first batches, left padding) and one
prompt at a time, then (`--decompose`, on by default) splits the batched run into per-row work
(prefill, decode attention) and what batching amortises, and reports the best ratio batching
could reach on this machine.

    .venv/bin/python bench/bench_eval.py --part hf               # print + write the results
    .venv/bin/python bench/bench_eval.py --part hf --prompts 32 --no-record

Prompts are real dataset records: procedures rendered in their house styles plus generated
scenarios (the reference prompt), drawn with a fixed seed. Throughput is completion tokens
per second of wall time, model loaded and warmed up beforehand; the baseline is the
one-at-a-time run measured in the same process. The random tiny model never emits <|im_end|>,
so both runs generate exactly `--max-new-tokens` per prompt. Results go to
`bench/RESULTS-infer.md` (merged into docs/benchmarks.md by the lead).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proclab.infer.hf import HFBackend

ROOT = Path(__file__).resolve().parents[1]
GOAL = 4.0


def dataset_prompts(n: int, seed: int = 11) -> list[list[dict[str, str]]]:
    """`n` reference-format prompts from the real generator, procedures round-robin."""
    from proclab.dataset.build import default_upstream
    from proclab.dataset.records import QUESTION
    from proclab.prompts import build_messages
    from proclab.scenarios.types import PERTURBATION_IDS, Rejection

    up = default_upstream()
    procs = sorted(up.procedures, key=lambda p: p.id)
    rng = random.Random(seed)
    prompts: list[list[dict[str, str]]] = []
    draw = 0
    while len(prompts) < n:
        proc = procs[draw % len(procs)]
        perturbation = PERTURBATION_IDS[draw % len(PERTURBATION_IDS)]
        styles = up.styles.defaults(proc)
        style = styles[draw % len(styles)]
        draw += 1
        outcome = up.generate(proc, perturbation, rng)
        if isinstance(outcome, Rejection):
            continue
        record = {
            "procedure_text": up.render(proc, style),
            "scenario_text": outcome.scenario_text,
            "question": QUESTION,
        }
        prompts.append(build_messages(record))
    return prompts


def run_hf(args: argparse.Namespace) -> dict[str, float | int | str]:
    """Batched vs one-at-a-time throughput of HFBackend on the tiny model."""
    import torch

    from proclab.infer.base import GenerationConfig
    from proclab.infer.hf import HFBackend
    from proclab.models.tiny import tiny_model_path

    torch.set_num_threads(args.threads)
    prompts = dataset_prompts(args.prompts)
    backend = HFBackend(tiny_model_path(), device=args.device)
    lengths = [len(backend.encode(p)) for p in prompts]
    batched_cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    single_cfg = GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=1)
    backend.generate(prompts[:2], batched_cfg)  # warm-up: kernels, allocator

    start, cpu = time.perf_counter(), time.process_time()
    batched = backend.generate(prompts, batched_cfg)
    batched_s, batched_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    single = [backend.generate([p], single_cfg)[0] for p in prompts]
    single_s, single_cpu = time.perf_counter() - start, time.process_time() - cpu

    batched_tokens = sum(g.completion_tokens for g in batched)
    single_tokens = sum(g.completion_tokens for g in single)
    result = {
        "prompts": len(prompts),
        "prompt_tokens_mean": round(sum(lengths) / len(lengths)),
        "prompt_tokens_min": min(lengths),
        "prompt_tokens_max": max(lengths),
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "device": f"{args.device} ({backend.dtype})".replace("torch.", ""),
        "batched_s": round(batched_s, 2),
        "single_s": round(single_s, 2),
        "batched_tok_s": round(batched_tokens / batched_s, 1),
        "single_tok_s": round(single_tokens / single_s, 1),
        "batched_cpu_s": round(batched_cpu, 2),
        "single_cpu_s": round(single_cpu, 2),
        "cpu_ratio": round((single_cpu / single_tokens) / (batched_cpu / batched_tokens), 2),
        "identical_outputs": sum(a == b for a, b in zip(batched, single, strict=True)),
    }
    result["ratio"] = round(float(result["batched_tok_s"]) / float(result["single_tok_s"]), 2)
    # The timing wrapper needs synchronous (CPU) kernels, and a decode step to split.
    if args.decompose and args.device == "cpu" and args.max_new_tokens > 1:
        result.update(decompose(backend, prompts, args, single_s))
    return result


def timed_attention(run: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds of `run()`, seconds of it spent inside scaled_dot_product_attention).

    transformers looks `torch.nn.functional.scaled_dot_product_attention` up at each call, so
    a timing wrapper sees every attention call; on CPU the kernels are synchronous.
    """
    import torch.nn.functional as F

    original = F.scaled_dot_product_attention
    spent = 0.0

    def timed(*args: object, **kwargs: object) -> object:
        nonlocal spent
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent += time.perf_counter() - start

    F.scaled_dot_product_attention = timed
    try:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start, spent
    finally:
        F.scaled_dot_product_attention = original


def decompose(
    backend: HFBackend,
    prompts: list[list[dict[str, str]]],
    args: argparse.Namespace,
    single_s: float,
) -> dict[str, float | int | str]:
    """Where the batched run's time goes, and the ratio it could reach at best.

    Prefill (every prompt run alone) and decode attention (each row attends over its own KV
    cache) are per-row work batching cannot share; the rest of a decode step (projections,
    MLP, sampling, generate's bookkeeping) is what batching amortises. The ceiling is the
    baseline's time over the batched run's per-row work alone, i.e. the ratio if everything
    else cost nothing. The same split on one-prompt-at-a-time runs (first `--decompose-single`
    prompts) gives the per-step cost a single row pays outside attention.
    """
    from proclab.infer.base import GenerationConfig

    def batched(n: int) -> Callable[[], object]:
        cfg = GenerationConfig(max_new_tokens=n, batch_size=args.batch_size)
        return lambda: backend.generate(prompts, cfg)

    few = prompts[: args.decompose_single]

    def single(n: int) -> Callable[[], object]:
        cfg = GenerationConfig(max_new_tokens=n, batch_size=1)
        return lambda: [backend.generate([p], cfg) for p in few]

    new = args.max_new_tokens - 1  # decode steps after the step that ends the prefill
    prefill_s, prefill_attn = timed_attention(batched(1))
    full_s, full_attn = timed_attention(batched(args.max_new_tokens))
    decode_attn = full_attn - prefill_attn
    other = (full_s - prefill_s) - decode_attn
    steps = new * -(-len(prompts) // args.batch_size)
    s_prefill, s_prefill_attn = timed_attention(single(1))
    s_full, s_full_attn = timed_attention(single(args.max_new_tokens))
    s_steps = new * len(few)
    s_other = (s_full - s_prefill) - (s_full_attn - s_prefill_attn)
    floor = prefill_s + decode_attn
    return {
        "d_prefill_s": round(prefill_s, 2),
        "d_decode_attention_s": round(decode_attn, 2),
        "d_decode_other_s": round(other, 2),
        "d_batched_steps": steps,
        "d_batched_step_other_ms": round(1000 * other / steps, 3),
        "d_single_step_other_ms": round(1000 * s_other / s_steps, 3),
        "d_single_step_attention_ms": round(1000 * (s_full_attn - s_prefill_attn) / s_steps, 3),
        "d_decompose_single": len(few),
        "d_ceiling": round(single_s / floor, 2),
        # what the non-attention decode time of the batched run may be for the goal to hold
        "d_other_budget_s": round(single_s / GOAL - floor, 2),
    }


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                 if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    return (f"{platform.system()} {platform.machine()} ({cpu}), {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, torch {torch.__version__}")


def markdown(r: dict[str, float | int | str]) -> str:
    verdict = "meets" if float(r["ratio"]) >= GOAL else "misses"
    return "\n".join([
        "# Inference benchmarks",
        "",
        f"## HF backend: batched vs one prompt at a time ({date.today().isoformat()})",
        "",
        f"Machine: {machine()}; torch threads: {r['threads']}.",
        "Model: the tiny corpus-trained Qwen2 model (`proclab models tiny`) on "
        f"{r['device']}.",
        f"Prompts: {r['prompts']} dataset-style prompts (procedure in its house style + "
        f"generated scenario), {r['prompt_tokens_min']}-{r['prompt_tokens_max']} tokens "
        f"(mean {r['prompt_tokens_mean']}); greedy, {r['max_new_tokens']} new tokens each.",
        "",
        "| run | wall s | completion tokens/s | process CPU s |",
        "|---|---:|---:|---:|",
        f"| one at a time (baseline) | {r['single_s']} | {r['single_tok_s']} "
        f"| {r['single_cpu_s']} |",
        f"| batched, batch {r['batch_size']}, longest first, left padding "
        f"| {r['batched_s']} | {r['batched_tok_s']} | {r['batched_cpu_s']} |",
        "",
        f"Ratio (wall-clock tokens/s): **{r['ratio']}x** ({verdict} the {GOAL:g}x goal); "
        f"per CPU-second: {r['cpu_ratio']}x. Outputs identical to the one-at-a-time run: "
        f"{r['identical_outputs']}/{r['prompts']}.",
        "",
        "Notes: on a shared machine wall times carry contention; process CPU time is given "
        "beside them. Where the time goes: each prompt is prefilled alone (the unmasked "
        "causal kernel, which a padded batch would lose), then decoding runs batched on a "
        "static KV cache. With ~2k-token "
        "prompts the tiny model is attention-bound (the KV cache is as wide as its hidden "
        "state), so batching amortises per-step overhead but not per-row attention; the "
        "ratio grows with the number of new tokens (prefill is a fixed per-prompt cost).",
        "",
        *(decomposition(r) if "d_ceiling" in r else []),
        "Reproduce: `.venv/bin/python bench/bench_eval.py --part hf`.",
        "",
    ])


def decomposition(r: dict[str, float | int | str]) -> list[str]:
    goal_step = 1000 * float(r["d_other_budget_s"]) / int(r["d_batched_steps"])
    return [
        "### Where the batched run's time goes (`--decompose`, same process)",
        "",
        "| part | seconds | note |",
        "|---|---:|---|",
        f"| prefill (each prompt alone) + first step | {r['d_prefill_s']} | per-row work |",
        f"| decode, inside attention | {r['d_decode_attention_s']} | per-row work: each row "
        "attends over its own KV cache |",
        f"| decode, everything else | {r['d_decode_other_s']} | what batching amortises: "
        f"{r['d_batched_step_other_ms']} ms per batched step of {r['batch_size']} rows |",
        "",
        f"Ceiling: the baseline's time over the per-row work alone is **{r['d_ceiling']}x**, "
        "the ratio if everything but prefill and attention cost nothing. The "
        f"{GOAL:g}x goal leaves {r['d_other_budget_s']} s for everything else, "
        f"{goal_step:.2f} ms per batched step of {r['batch_size']} rows, while one row alone "
        f"spends {r['d_single_step_other_ms']} ms per step outside attention (and "
        f"{r['d_single_step_attention_ms']} ms inside; measured on the first "
        f"{r['d_decompose_single']} prompts one at a time).",
        "",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["hf"], default="hf")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    # 512 = GenerationConfig's default, what evaluation decodes with; the random model never
    # stops early, so every prompt really generates all of them.
    parser.add_argument("--max-new-tokens", type=int, default=512)
    # One thread by default: on a small shared CPU, tiny matmuls split over threads spend
    # milliseconds waiting on each other, which would measure contention, not batching.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu",
                        help="cpu, or cuda for a GPU run (bf16; no --decompose there)")
    parser.add_argument(
        "--decompose", action=argparse.BooleanOptionalAction, default=True,
        help="also split the batched run into prefill, decode attention and the rest, "
        "and report the best ratio batching could reach (about a minute more)",
    )
    parser.add_argument("--decompose-single", type=int, default=8,
                        help="prompts for the one-at-a-time per-step split")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS-infer.md")
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args(argv)
    result = run_hf(args)
    for key, value in result.items():
        print(f"{key:>20}: {value}")
    if not args.no_record:
        args.out.write_text(markdown(result), encoding="utf-8")
        print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()

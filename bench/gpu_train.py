"""One LoRA SFT configuration on a randomly initialised Qwen2.5-7B-architecture model: tokens/s,
peak GPU memory and MFU, through proclab's own SFT path (`proclab.train.sft.build_trainer`:
the collator, the [SIG=...]-weighted loss, TRL's fused LM head).

No weights are downloaded: the model is built from the architecture alone, directly on the GPU
in bf16. The data are synthetic token sequences with the shape of distilled traces (a prompt
share whose labels are -100, an assistant share that is trained, a few signal tokens).
`--arch tiny` runs the same code on CPU with the tiny test size (what the tests exercise).

MFU counts model FLOPs per trained sequence of s tokens, for LoRA with a frozen base:
  linear layers  4 * P_block * s          (forward + activation gradients; frozen weights get
                                           no weight gradients, so not the usual 6N)
  LM head        4 * d * V * a            (fused head: only the a loss tokens are projected)
  attention      6 * L * d * s^2 / 2      (QK^T and AV, forward + 2x backward, causal half)
  LoRA           6 * P_lora * s           (forward + both gradients)
Recomputation by activation checkpointing is not counted (that would be hardware FLOPs).

    python bench/gpu_train.py [--arch qwen2.5-7b] [--steps 20] [--warmup 3] [--batch 4]
        [--seq-min 1024] [--seq-max 4096] [--no-checkpointing] [--json FILE] [--append MD]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

ARCHS: dict[str, dict[str, Any]] = {
    # Qwen2.5-7B-Instruct's config.json (architecture fields only).
    "qwen2.5-7b": {"vocab_size": 152064, "hidden_size": 3584, "intermediate_size": 18944,
                   "num_hidden_layers": 28, "num_attention_heads": 28,
                   "num_key_value_heads": 4, "max_position_embeddings": 32768,
                   "rope_theta": 1e6, "rms_norm_eps": 1e-6, "tie_word_embeddings": False},
    "tiny": {"vocab_size": 2048, "hidden_size": 64, "intermediate_size": 128,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "max_position_embeddings": 4096, "tie_word_embeddings": True},
}
# Dense bf16 peak, FLOP/s (vendor datasheets, SXM parts).
PEAKS = {"H200": 989e12, "H100": 989e12, "A100": 312e12}


def build_model(arch: str, device: str, dtype: torch.dtype) -> Any:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(**ARCHS[arch], attn_implementation="sdpa")
    torch.manual_seed(0)
    with torch.device(device):
        return Qwen2ForCausalLM._from_config(config, dtype=dtype)


def synthetic_examples(n: int, vocab: int, seq_min: int, seq_max: int, prompt_share: float,
                       seed: int = 0) -> list[dict[str, list[int]]]:
    """Token sequences shaped like distilled traces: lengths uniform in [seq_min, seq_max],
    the first `prompt_share` untrained, a signal tag every 64 assistant tokens."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.randint(seq_min, seq_max)
        prompt = int(length * prompt_share)
        ids = [rng.randrange(16, vocab) for _ in range(length)]
        out.append({"input_ids": ids, "labels": [-100] * prompt + ids[prompt:],
                    "sig_mask": [0] * prompt + [int(i % 64 < 4) for i in range(length - prompt)]})
    return out


def model_flops(model: Any, rows: list[tuple[int, int]], lora_params: int) -> float:
    """Model FLOPs of training on sequences `rows` = [(tokens, loss tokens)] (module docstring)."""
    cfg = model.config
    d, layers, vocab = cfg.hidden_size, cfg.num_hidden_layers, cfg.vocab_size
    block = sum(p.numel() for n, p in model.named_parameters()
                if ".layers." in n and p.dim() == 2 and "lora_" not in n)
    return sum(4 * block * s + 4 * d * vocab * a + 3 * layers * d * s * s + 6 * lora_params * s
               for s, a in rows)


class Meter:
    """Records (tokens, loss tokens) of every sequence a training step sees, and the clock and
    row count when step `warmup` ends (CUDA synchronised), so only later steps are measured.

    The collator notes each batch's sequences (it runs a batch ahead of training, so they
    queue) and each training step takes the oldest batch off the queue."""

    def __init__(self, trainer: Any, warmup: int):
        from collections import deque

        from transformers import TrainerCallback

        self.rows: list[tuple[int, int]] = []
        self.start_row, self.t0 = 0, 0.0
        queued: deque[list[tuple[int, int]]] = deque()
        collate, step, meter = trainer.data_collator, trainer.training_step, self

        def data_collator(examples):
            queued.append([(len(e["input_ids"]), sum(t != -100 for t in e["labels"][1:]))
                           for e in examples])
            return collate(examples)

        def training_step(model, inputs, *args, **kwargs):
            meter.rows += queued.popleft()
            return step(model, inputs, *args, **kwargs)

        class _Mark(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == warmup:
                    _sync()
                    if torch.cuda.is_available():
                        torch.cuda.reset_peak_memory_stats()
                    meter.start_row, meter.t0 = len(meter.rows), time.perf_counter()

        trainer.data_collator = data_collator
        trainer.training_step = training_step
        trainer.add_callback(_Mark())

    def measured(self) -> tuple[list[tuple[int, int]], float]:
        _sync()
        return self.rows[self.start_row:], time.perf_counter() - self.t0


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def run(args: argparse.Namespace) -> dict[str, Any]:
    from datasets import Dataset
    from transformers import AutoTokenizer

    from proclab.models.tiny import tiny_model_path
    from proclab.train.config import parse_config
    from proclab.train.runtime import lora_config
    from proclab.train.sft import build_trainer

    gpu = torch.cuda.is_available()
    device, dtype = ("cuda", torch.bfloat16) if gpu else ("cpu", torch.float32)
    model = build_model(args.arch, device, dtype)
    # Only the pad id and the chat template are read from it; the data are token ids.
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path())
    n = (args.warmup + args.steps) * args.batch * args.grad_accum
    examples = synthetic_examples(n, model.config.vocab_size, args.seq_min, args.seq_max,
                                  args.prompt_share)
    config = parse_config({
        "method": "sft", "model": f"random-{args.arch}", "seed": 0,
        "output_dir": tempfile.mkdtemp(prefix="gpu-train-"),
        "data": {"sft_file": "synthetic", "max_length": args.seq_max},
        "lora": {"r": args.lora_r, "alpha": 2 * args.lora_r, "dropout": 0.0},
        "optim": {"max_steps": args.warmup + args.steps, "batch_size": args.batch,
                  "grad_accum": args.grad_accum},
        "sft": {"signal_beta": args.beta, "group_by_length": True},
        "runtime": {"precision": "bf16" if gpu else "fp32",
                    "gradient_checkpointing": args.checkpointing},
        "logging": {"report_to": ["none"], "save_steps": 10**9, "logging_steps": 10**9},
    })
    trainer = build_trainer(config, model, tokenizer, lora_config(config, model),
                            Dataset.from_list(examples), None, [])
    meter = Meter(trainer, args.warmup)
    trainer.train()
    rows, seconds = meter.measured()
    tokens = sum(s for s, _ in rows)
    lora = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    flops = model_flops(trainer.model, rows, lora)
    name = torch.cuda.get_device_name() if gpu else (platform.processor() or "cpu")
    peak = next((v for k, v in PEAKS.items() if gpu and k in name), None)
    return {
        "arch": args.arch, "device": name, "steps_measured": args.steps,
        "sequences": len(rows), "tokens": tokens, "all_tokens": sum(s for s, _ in meter.rows),
        "seconds": seconds, "tokens_per_s": tokens / seconds,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if gpu else None,
        "model_tflops_per_s": flops / seconds / 1e12,
        "mfu": flops / seconds / peak if peak else None, "lora_params": lora,
        "settings": {k: v for k, v in vars(args).items() if k not in ("json", "append")},
    }


def markdown(result: dict[str, Any]) -> str:
    mfu = f"{result['mfu']:.1%}" if result["mfu"] is not None else "n/a"
    mem = (f"{result['peak_memory_gib']:.1f} GiB" if result["peak_memory_gib"] is not None
           else "n/a")
    return (f"\n## GPU LoRA SFT, random {result['arch']} ({dt.date.today().isoformat()}, "
            f"{result['device']})\n\n| tokens/s | peak memory | model TFLOP/s | MFU |\n"
            f"|---:|---:|---:|---:|\n| {result['tokens_per_s']:.0f} | {mem} | "
            f"{result['model_tflops_per_s']:.1f} | {mfu} |\n\nSettings: "
            f"{json.dumps(result['settings'])}\n")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ARCHS), default="qwen2.5-7b")
    parser.add_argument("--steps", type=int, default=20, help="measured optimizer steps")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured first steps")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--seq-min", type=int, default=1024)
    parser.add_argument("--seq-max", type=int, default=4096)
    parser.add_argument("--prompt-share", type=float, default=0.6)
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--beta", type=float, default=0.5)
    parser.add_argument("--no-checkpointing", dest="checkpointing", action="store_false")
    parser.add_argument("--json", help="write the result as JSON here")
    parser.add_argument("--append", help="append a Markdown section to this file")
    args = parser.parse_args(argv)
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be at least 1")
    result = run(args)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.append:
        with open(args.append, "a", encoding="utf-8") as fh:
            fh.write(markdown(result))
    return result


if __name__ == "__main__":
    main()

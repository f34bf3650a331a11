"""CPU SFT throughput: proclab's SFT path vs TRL `SFTTrainer` with default settings.

Both train the tiny local chat model with the same LoRA adapter on the same oracle-distilled
traces (the real length distribution of `proclab distill` output on the tiny dataset config),
for the same number of optimizer steps at the same batch size, with loss on assistant tokens
only. The baseline is `SFTConfig` left at its defaults except what makes the runs comparable
(output_dir, steps, batch size, seed, no reporting, `assistant_only_loss=True`,
`max_length=4096`, since TRL's default 1024 would cut most traces, and `use_cpu=True`, without
which transformers refuses TRL's default bf16 on a CPU-only machine). The metric is useful
(non-padding) tokens per second of `trainer.train()`; process CPU seconds are reported beside
wall time because the bench machine is shared. `--ablations` adds one-change variants that
attribute the difference.

`--part orders` measures prompt-order augmentation instead: two SFT runs that differ only in
`data.prompt_orders` (PSQ vs all six orders), then each run's eval loss on held-out oracle
traces with the prompt in each of the six block orders; the spread across orders is the
order sensitivity.

    .venv/bin/python bench/bench_train.py [--part speed|orders] [--steps 8] [--batch 4]
        [--data DIR] [--sft FILE] [--ablations] [--repeats 1] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.3
MAX_LENGTH = 4096  # the tiny model's context
LORA = {"r": 8, "alpha": 16, "dropout": 0.0}


class CountingCollator:
    """Wraps a collator and adds up the real (non-padding) tokens it is given."""

    def __init__(self, inner: Any):
        self.inner, self.tokens = inner, 0

    def __call__(self, examples: list[dict[str, Any]]) -> Any:
        self.tokens += sum(len(e["input_ids"]) for e in examples)
        return self.inner(examples)


def distilled_traces(work: Path, data: Path | None, sft: Path | None) -> tuple[Path, Path]:
    """The tiny dataset (built unless given) and its oracle-distilled traces (offline, ~20 s)."""
    proclab = [sys.executable, "-m", "proclab.cli"]
    if data is None:
        data = work / "data"
        subprocess.run([*proclab, "dataset", "build", "--config",
                        str(ROOT / "configs/data/tiny.yaml"), "--out", str(data),
                        "--no-progress"], check=True, stdout=subprocess.DEVNULL)
    if sft is None:
        subprocess.run([*proclab, "distill", "--data", str(data), "--out", str(work / "distill"),
                        "--no-progress"], check=True, stdout=subprocess.DEVNULL)
        sft = work / "distill" / "sft.jsonl"
    return data, sft


def fitting_rows(sft: Path, tokenizer: Any, n: int, out: Path) -> tuple[Path, list[int]]:
    """The first `n` rows that fit the context, written to `out`; and their token lengths."""
    from proclab.train.data import load_sft_rows, tokenize_chat

    kept, lengths = [], []
    for row in load_sft_rows(sft):
        ids = tokenize_chat(tokenizer, [m.model_dump() for m in row.messages])["input_ids"]
        if len(ids) <= MAX_LENGTH:
            kept.append(row.model_dump())
            lengths.append(len(ids))
        if len(kept) == n:
            break
    out.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    return out, lengths


def trl_default(model_path: str, rows: Path, out: Path, steps: int, batch: int) -> Any:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from proclab.train.config import DEFAULT_TARGETS

    data = Dataset.from_list([{"messages": json.loads(line)["messages"]}
                              for line in rows.read_text().splitlines()])
    args = SFTConfig(str(out), max_steps=steps, per_device_train_batch_size=batch, seed=0,
                     report_to="none", assistant_only_loss=True, max_length=MAX_LENGTH,
                     save_strategy="no", disable_tqdm=True, use_cpu=True)
    lora = LoraConfig(r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                      target_modules=list(DEFAULT_TARGETS), task_type="CAUSAL_LM")
    return SFTTrainer(model=AutoModelForCausalLM.from_pretrained(model_path), args=args,
                      train_dataset=data, processing_class=AutoTokenizer.from_pretrained(
                          model_path), peft_config=lora)


def proclab_path(model_path: str, rows: Path, out: Path, steps: int, batch: int,
                 **changes: Any) -> Any:
    """The SFT recipe with the tiny-cpu-sft.yaml runtime choices (and one-change ablations)."""
    from proclab.train.config import parse_config
    from proclab.train.sft import SFTRecipe

    sft = {"signal_beta": 0.0, "group_by_length": True, "padding_free": False,
           "keep_attention_mask": False, **changes.pop("sft", {})}
    config = parse_config({
        "method": "sft", "model": model_path, "output_dir": str(out), "seed": 0,
        "data": {"sft_file": str(rows), "max_length": MAX_LENGTH}, "lora": LORA,
        "optim": {"max_steps": steps, "batch_size": batch}, "sft": sft,
        "runtime": {"precision": "auto", "gradient_checkpointing": "auto",
                    **changes.pop("runtime", {})},
        "logging": {"report_to": ["none"], "save_steps": 10_000, "logging_steps": 10_000},
    })
    recipe = SFTRecipe(config)
    recipe.setup()
    return recipe.trainer


def measure(trainer: Any) -> dict[str, float]:
    counter = CountingCollator(trainer.data_collator)
    trainer.data_collator = counter
    wall, cpu = time.perf_counter(), time.process_time()
    trainer.train()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"tokens": counter.tokens, "wall_s": wall, "cpu_s": cpu,
            "tok_s": counter.tokens / wall, "tok_cpu_s": counter.tokens / cpu}


VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "TRL SFTTrainer defaults (baseline)": ("trl", {}),
    "proclab SFT path (tiny-cpu-sft.yaml)": ("proclab", {}),
}
ABLATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "proclab + attention mask on padded batches (TRL's default)": (
        "proclab", {"sft": {"keep_attention_mask": True}}),
    "proclab + activation checkpointing (TRL's default)": (
        "proclab", {"runtime": {"gradient_checkpointing": True}}),
    "proclab + bf16 autocast (TRL's default)": ("proclab", {"runtime": {"precision": "bf16"}}),
    "proclab, random batches (no length grouping)": ("proclab", {"sft": {"group_by_length": False}}),
    "proclab + padding-free batches": ("proclab", {"sft": {"padding_free": True}}),
}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    from proclab.models.tiny import tiny_model_path

    hf_logging.set_verbosity_error()
    model_path = str(tiny_model_path())
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    _, sft = distilled_traces(work, args.data and Path(args.data), args.sft and Path(args.sft))
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    rows, lengths = fitting_rows(sft, tokenizer, args.steps * args.batch, work / "rows.jsonl")
    variants = {**VARIANTS, **(ABLATIONS if args.ablations else {})}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    # One untimed step first: thread pools, allocator and kernel selection warm up here
    # instead of inside whichever variant happens to run first.
    proclab_path(model_path, rows, work / "warmup", 1, args.batch).train()
    for round_ in range(args.repeats):
        for i, (name, (kind, changes)) in enumerate(variants.items()):
            out = work / f"run-{round_}-{i}"
            torch.manual_seed(0)
            trainer = (trl_default(model_path, rows, out, args.steps, args.batch)
                       if kind == "trl" else
                       proclab_path(model_path, rows, out, args.steps, args.batch,
                                    **json.loads(json.dumps(changes))))
            results[name].append(measure(trainer))
            print(f"{name}: {results[name][-1]}", flush=True)
    return {"lengths": lengths, "results": results, "model": model_path}


def report(args: argparse.Namespace, found: dict[str, Any]) -> str:
    lengths, results = found["lengths"], found["results"]
    med = {n: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
           for n, runs in results.items()}
    base = med["TRL SFTTrainer defaults (baseline)"]
    ours = med["proclab SFT path (tiny-cpu-sft.yaml)"]
    ratio, cpu_ratio = ours["tok_s"] / base["tok_s"], ours["tok_cpu_s"] / base["tok_cpu_s"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"# SFT training throughput on CPU ({dt.date.today().isoformat()})", "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} "
        f"torch threads; load average at the end {load:.1f} (a shared machine: compare the CPU "
        "column across runs).",
        f"Model: the tiny corpus-trained Qwen2 chat model, LoRA r={LORA['r']} on all attention "
        f"and MLP projections. Data: {len(lengths)} oracle-distilled traces "
        f"({min(lengths)}-{max(lengths)} tokens, mean {statistics.mean(lengths):.0f}); "
        f"{args.steps} optimizer steps x batch {args.batch}; median of {args.repeats} run(s).",
        "", "| run | useful tokens | wall s | useful tok/s | CPU s | useful tok/CPU-s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, m in med.items():
        lines.append(f"| {name} | {m['tokens']:.0f} | {m['wall_s']:.1f} | {m['tok_s']:.0f} | "
                     f"{m['cpu_s']:.1f} | {m['tok_cpu_s']:.0f} |")
    verdict = "met" if ratio >= GOAL else "NOT met"
    lines += ["", f"Ratio, proclab / TRL defaults: **{ratio:.2f}x** useful tokens/s wall-clock "
              f"(goal >= {GOAL}x: {verdict}); {cpu_ratio:.2f}x per CPU-second.", "",
              f"Reproduce: `.venv/bin/python bench/bench_train.py --steps {args.steps} --batch "
              f"{args.batch} --repeats {args.repeats}{' --ablations' if args.ablations else ''}`."]
    return "\n".join(lines) + "\n"


HELDOUT = "heldout_procedures"


def orders_experiment(args: argparse.Namespace) -> str:
    """Eval loss per prompt order after SFT with and without order augmentation."""
    from datasets import Dataset
    from transformers.utils import logging as hf_logging

    from proclab.models.tiny import tiny_model_path
    from proclab.prompts import ORDERS
    from proclab.train.config import parse_config
    from proclab.train.data import load_records, oracle_eval_rows, sft_examples
    from proclab.train.sft import SFTRecipe

    hf_logging.set_verbosity_error()
    work = Path(tempfile.mkdtemp(prefix="bench-orders-"))
    data, sft = distilled_traces(work, args.data and Path(args.data),
                                 args.sft and Path(args.sft))
    rows = oracle_eval_rows(data, HELDOUT, limit=args.eval_examples, seed=0, out=work)
    heldout = load_records(data, HELDOUT)
    table: dict[str, dict[str, float]] = {}
    for label, orders in (("reference order only (PSQ)", "PSQ"), ("all six orders", "all")):
        config = parse_config({
            "method": "sft", "model": str(tiny_model_path()), "seed": 0,
            "output_dir": str(work / orders), "lora": LORA,
            "data": {"sft_file": str(sft), "records": str(data), "prompt_orders": orders,
                     "order_mode": "sample", "max_length": MAX_LENGTH},
            "optim": {"max_steps": args.steps, "batch_size": args.batch,
                      "learning_rate": args.lr},
            "sft": {"signal_beta": 0.0},
            "logging": {"report_to": ["none"], "save_steps": 10_000, "logging_steps": 10_000},
        })
        recipe = SFTRecipe(config)
        recipe.setup()
        recipe.trainer.train()
        table[label] = {}
        for order in ORDERS:
            examples, _ = sft_examples(rows, recipe.tokenizer, orders=[order],
                                       order_mode="sample", records=heldout,
                                       max_length=MAX_LENGTH, seed=0)
            metrics = recipe.trainer.evaluate(eval_dataset=Dataset.from_list(examples))
            table[label][order] = metrics["eval_loss"]
        print(label, table[label], flush=True)
    lines = [f"## Prompt-order augmentation on the tiny model ({dt.date.today().isoformat()})",
             "", f"SFT on oracle-distilled traces, {args.steps} steps x batch {args.batch}, "
             f"learning rate {args.lr}, beta 0; eval loss on {len(rows)} held-out ({HELDOUT}) oracle traces with the "
             "prompt blocks in each order.", "",
             "| training prompts | " + " | ".join(ORDERS) + " | spread (max - min) |",
             "|---|" + "---:|" * (len(ORDERS) + 1)]
    for label, losses in table.items():
        spread = max(losses.values()) - min(losses.values())
        lines.append(f"| {label} | " + " | ".join(f"{losses[o]:.3f}" for o in ORDERS)
                     + f" | {spread:.3f} |")
    lines += ["", "Reproduce: `.venv/bin/python bench/bench_train.py --part orders "
              f"--steps {args.steps} --batch {args.batch} --lr {args.lr}`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["speed", "orders"], default="speed")
    parser.add_argument("--data", help="an existing dataset folder (default: build the tiny one)")
    parser.add_argument("--eval-examples", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-3, help="--part orders learning rate")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--sft", help="an existing sft.jsonl (default: distil --data)")
    parser.add_argument("--ablations", action="store_true")
    parser.add_argument("--out", help="write the Markdown report here")
    args = parser.parse_args()
    text = orders_experiment(args) if args.part == "orders" else report(args, run(args))
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

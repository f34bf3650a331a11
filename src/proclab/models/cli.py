"""`proclab models ...`: build the tiny local chat model used by the tests and the demo."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Local models: build a tiny Qwen2-architecture chat model offline.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("tiny")
def tiny(
    out: Path | None = typer.Option(
        None, "--out", help="Folder to write; omitted: the shared cache ($PROCLAB_CACHE)."
    ),
    layers: int = typer.Option(2, "--layers", help="Transformer layers."),
    hidden: int = typer.Option(64, "--hidden", help="Hidden size (a multiple of --heads)."),
    heads: int = typer.Option(8, "--heads", help="Attention heads."),
    kv_heads: int = typer.Option(2, "--kv-heads", help="Key/value heads (divides --heads)."),
    vocab: int = typer.Option(2048, "--vocab", help="BPE vocabulary size, specials included."),
    seed: int = typer.Option(0, "--seed", help="Weight-initialisation seed."),
) -> None:
    """Train a byte-level BPE tokenizer on the corpus and save a random Qwen2 model with it."""
    from transformers.utils import logging as hf_logging

    from proclab.models.tiny import build_tiny_model, summarize, tiny_model_path

    hf_logging.disable_progress_bar()
    size = {
        "num_layers": layers,
        "hidden_size": hidden,
        "num_heads": heads,
        "num_kv_heads": kv_heads,
        "vocab_size": vocab,
        "seed": seed,
    }
    path = tiny_model_path(**size) if out is None else build_tiny_model(out, **size)
    info = summarize(path)
    typer.echo(
        f"built tiny Qwen2 chat model in {info.path}: {info.parameters:,} parameters, "
        f"vocab {info.vocab_size}, {info.layers} layers, hidden {info.hidden_size}"
    )

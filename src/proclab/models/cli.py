"""`proclab models ...`: build the tiny local chat model used by the tests and the demo, and
pretrain a small base model on training-split text."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Local models: build a tiny Qwen2-architecture chat model, or pretrain a small one, offline.",
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


@app.command("pretrain")
def pretrain_command(
    config: Path = typer.Option(..., "--config", help="Pretraining config (configs/models/mini.yaml)."),
    data: Path = typer.Option(..., "--data", help="Dataset directory from `proclab dataset build`."),
    out: Path | None = typer.Option(
        None, "--out", help="Folder to write; omitted: the shared cache ($PROCLAB_CACHE)."
    ),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a config field, e.g. --set train.max_steps=20 (repeatable)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace another run in --out."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Pretrain a small Qwen2 base model (full-parameter causal LM) on training-split text."""
    from proclab.models.pretrain import run_pretrain
    from proclab.models.pretrain_config import load_pretrain_config

    cfg = load_pretrain_config(config, overrides)
    outcome = run_pretrain(cfg, data, out, progress=not no_progress, overwrite=overwrite)
    m = outcome.manifest
    if outcome.reused:
        typer.echo(f"already pretrained: {outcome.path} (final loss {m.get('final_loss')})")
        return
    c = m["corpus"]
    typer.echo(
        f"pretrained {m['parameters']:,}-parameter Qwen2 base in {outcome.path}: "
        f"{c['documents']} documents, {c['tokens']:,} tokens, {m['steps']} steps, "
        f"final loss {m['final_loss']:.4f}, {m['tokens_per_s']:,.0f} tokens/s, "
        f"{m['wall_s']:.0f} s"
    )

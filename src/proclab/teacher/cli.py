"""`proclab distill`: a thin layer over `proclab.teacher.distill` (registered by the root CLI as
a single command, so `app` is a plain function)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from proclab.configfile import read_yaml_mapping

_console = Console()


def app(
    data: Path = typer.Option(None, "--data", help="Dataset directory (`proclab dataset build`)."),
    out: Path = typer.Option(None, "--out", help="Output directory."),
    split: str = typer.Option(None, "--split", help="Split to distil (default: train)."),
    teacher: str = typer.Option(None, "--teacher", help="oracle | openai (default: oracle)."),
    model: str = typer.Option(None, "--model", help="Teacher model (default: deepseek/deepseek-r1)."),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint URL."),
    api_key_env: str = typer.Option(None, "--api-key-env", help="Env variable holding the key."),
    samples: int = typer.Option(None, "--samples", "-k", help="Traces per record (default: 1)."),
    temperature: float = typer.Option(None, "--temperature", help="Sampling temperature."),
    max_tokens: int = typer.Option(None, "--max-tokens", help="Completion token limit."),
    concurrency: int = typer.Option(None, "--concurrency", help="Parallel requests."),
    rpm: int = typer.Option(None, "--rpm", help="Requests per minute limit."),
    seed: int = typer.Option(None, "--seed", help="Seed (oracle wording, API sampling)."),
    validator: bool = typer.Option(None, "--validator/--no-validator",
                                   help="Let an LLM confirm/correct the keyword signals."),
    validator_model: str = typer.Option(None, "--validator-model", help="Validator model."),
    taxonomy: str = typer.Option(None, "--taxonomy", help="Signal taxonomy name or YAML file."),
    limit: int = typer.Option(None, "--limit", help="Use only N records: a fixed sample spread over the split."),
    cache: Path = typer.Option(None, "--cache", help="Response cache file."),
    config: Path = typer.Option(None, "--config", help="YAML file of these options."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be sent; do nothing."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Distil scaffolded teacher traces for a dataset split into SFT-ready JSONL."""
    given = {k: v for k, v in locals().items() if k not in ("config", "dry_run", "progress")}
    from proclab.teacher.distill import distill, dry_run_text, make_config, write_outputs

    values = {**_read_config(config), **{k: v for k, v in given.items() if v is not None}}
    cfg = make_config(values, where=str(config) if config else "distill options")
    if dry_run:
        typer.echo(dry_run_text(cfg))
        return
    result = distill(cfg, progress=progress)
    summary = write_outputs(result)
    _print_summary(summary, cfg.out)


def _read_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    return read_yaml_mapping(path, allow_empty=True)

def _print_summary(summary: dict[str, Any], out: Path) -> None:
    table = Table("perturbation", "samples", "kept", "keep rate",
                  title=f"distilled with {summary['teacher']} -> {out}")
    for name, c in summary["per_perturbation"].items():
        table.add_row(name, str(c["samples"]), str(c["kept"]), f"{c['keep_rate']:.1%}")
    _console.print(table)
    shares = summary["signals"]["route_shares"]
    _console.print(
        f"kept {summary['kept']}/{summary['samples']} ({summary['keep_rate']:.1%}); rejected: "
        f"{summary['reject_reasons'] or 'none'}; signals by keyword {shares['keyword']:.1%}, "
        f"validator {shares['validator']:.1%}, default {shares['default']:.1%}; "
        f"tokens {summary['tokens']['prompt']} in / {summary['tokens']['completion']} out, "
        f"cost ${summary['cost_usd']:.4f}"
    )

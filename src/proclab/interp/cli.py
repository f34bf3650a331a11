"""`proclab interp heads|compare`: a thin layer over the head-study library."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(
    help="Per-head causal effects (δ), attribution patching, stages; compare two models.",
    no_args_is_help=True,
    add_completion=False,
)
out_console = Console()
err_console = Console(stderr=True)


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@app.command("heads")
def heads_command(
    model: str = typer.Option(..., "--model", help="Base model folder or hub id."),
    pairs: Path = typer.Option(..., "--pairs", help="pairs.jsonl (or the dataset folder)."),
    out: Path = typer.Option(..., "--out", help="Folder for scores.json, heatmaps, summary.md."),
    adapter: str | None = typer.Option(None, "--adapter", help="PEFT adapter (kept unmerged)."),
    kinds: list[str] = typer.Option(["order_swap,actor_swap"], "--kinds",
                                    help="Label-flipping pair kinds."),
    span: list[str] = typer.Option(["final"], "--span",
                                   help="Patch span(s) for decision pairs: final, last:K, "
                                        "procedure, scenario, question, all, A:B (repeat/comma)."),
    mapping: bool = typer.Option(True, "--mapping/--no-mapping",
                                 help="Also patch the answer-mapping swap set (retrieval)."),
    margin: float = typer.Option(0.0, "--margin", help="Correctness filter margin in logits."),
    no_filter: bool = typer.Option(False, "--no-filter", help="Keep pairs answered wrongly too."),
    max_pairs: int = typer.Option(32, "--max-pairs", help="Pairs kept per condition."),
    aligned_only: bool = typer.Option(False, "--aligned-only",
                                      help="Drop pairs of unequal token length for span patches."),
    confirm: int | None = typer.Option(None, "--confirm",
                                       help="Exact-patch only the AtP top-N heads (default all)."),
    top_k: int = typer.Option(10, "--top-k", help="Heads listed and compared per condition."),
    qk_fix: bool = typer.Option(False, "--qk-fix", help="AtP* QK fix for the screen."),
    batch_size: int | None = typer.Option(None, "--batch-size",
                                          help="Patched rows per forward (default: heads/layer)."),
    compliant_word: str = typer.Option("COMPLIANT", "--compliant-word"),
    noncompliant_word: str = typer.Option("NON-COMPLIANT", "--noncompliant-word"),
    resamples: int = typer.Option(2000, "--resamples", help="Bootstrap resamples for CIs."),
    permutations: int = typer.Option(2000, "--permutations", help="Sign-flip permutations."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and permutations."),
    device: str | None = typer.Option(None, "--device", help="cpu, cuda, cuda:1, ..."),
    dtype: str | None = typer.Option(None, "--dtype", help="float32 | bfloat16 | float16."),
) -> None:
    """Score every head on counterfactual pairs; write scores.json, heatmaps and summary.md."""
    from transformers.utils import logging as hf_logging

    from proclab.interp.config import make_config
    from proclab.interp.report import document, write_report
    from proclab.interp.study import run_study

    cfg = make_config(
        model=model, adapter=adapter, pairs=str(pairs), kinds=_split(kinds), spans=_split(span),
        mapping=mapping, margin=None if no_filter else margin, max_pairs=max_pairs,
        aligned_only=aligned_only, confirm=confirm, top_k=top_k, qk_fix=qk_fix,
        batch_size=batch_size, compliant_word=compliant_word,
        noncompliant_word=noncompliant_word, resamples=resamples,
        permutations=permutations, seed=seed, device=device, dtype=dtype,
    )
    hf_logging.disable_progress_bar()
    study = run_study(cfg, progress=lambda msg: err_console.print(f"[dim]{msg}[/dim]"))
    paths = write_report(document(cfg, study), out)
    for name, cond in study["conditions"].items():
        tops = ", ".join(
            f"{h} (δ {cond['heads'][h]['delta']:+.3f})" for h in cond["top"][:5]
        )
        out_console.print(f"{name}: {cond['pairs']['kept']} pairs; top heads {tops}")
    out_console.print(f"wrote {len(paths)} files to {out} (summary: {out / 'summary.md'})")


@app.command("compare")
def compare_command(
    run_a: Path = typer.Argument(..., help="Folder of study A (`interp heads --out`)."),
    run_b: Path = typer.Argument(..., help="Folder of study B."),
    out: Path | None = typer.Option(None, "--out",
                                    help="Output folder (default: beside A, compare-A-vs-B)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and permutations."),
) -> None:
    """Head-by-head difference of mean δ (B - A) with CIs and tests."""
    from proclab.interp.compare import compare_studies, write_comparison

    doc = compare_studies(run_a, run_b, seed=seed)
    target = out or run_a.parent / f"compare-{run_a.name}-vs-{run_b.name}"
    paths = write_comparison(doc, target)
    for name, cond in doc["conditions"].items():
        tops = ", ".join(f"{h} ({cond['heads'][h]['delta']:+.3f})" for h in cond["top"][:5])
        out_console.print(f"{name}: largest B - A: {tops}")
    out_console.print(f"wrote {len(paths)} files to {target}")

"""`proclab dataset build|stats|audit|sample`: a thin layer over the dataset library."""

from __future__ import annotations

import json
import random
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from proclab.errors import DataError
from proclab.limits import jsonl_lines

app = typer.Typer(
    help="Build and inspect the benchmark dataset.", no_args_is_help=True, add_completion=False
)
out_console = Console()
err_console = Console(stderr=True)


@app.command("build")
def build_command(
    config: Path = typer.Option(..., "--config", help="Dataset build config (YAML)."),
    out: Path = typer.Option(..., "--out", help="Output directory."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a different build."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Generate, deduplicate, split, audit and probe; write JSONL, Parquet and a datacard."""
    from proclab.dataset.build import build
    from proclab.dataset.config import load_config
    from proclab.dataset.output import check_out_dir, timing_report, write_build

    cfg = load_config(config)
    check_out_dir(out, cfg, overwrite=overwrite)  # fail before spending a minute on the build
    sizes = {c.name: c.size for c in cfg.cohorts}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, disable=not progress) as bar:
        tasks: dict[str, int] = {}

        def advance(cohort: str, n: int) -> None:
            if cohort not in tasks:
                tasks[cohort] = bar.add_task(f"cohort {cohort}", total=sizes[cohort])
            bar.advance(tasks[cohort], n)

        result = build(cfg, progress=advance)
    write_build(result, out, overwrite=overwrite)
    _print_summary(result.splits, result.audit, result.probes, timing_report(result), out)


def _print_summary(splits, audit: dict, probes: dict, timings: dict, out: Path) -> None:
    from proclab.dataset.probecard import goal_lines

    table = Table("split", "instances", title=f"dataset written to {out}")
    for split, records in splits.items():
        table.add_row(split, str(len(records)))
    out_console.print(table)
    out_console.print(_audit_line(audit))
    for line in goal_lines(probes.get("goals", {})):
        out_console.print(f"goal {line}", highlight=False)
    if copy := probes.get("copy"):
        per = ", ".join(f"{p} {v:.3f}" for p, v in copy["by_perturbation"].items())
        out_console.print(
            f"copied {copy['n']}-grams (mean share of scenario {copy['n']}-grams found in the "
            f"procedure): overall {copy['overall']:.3f}; by perturbation: {per}",
            highlight=False,
        )
    if lines := probes.get("recurring_lines"):
        top = lines["top"][0][0] if lines["top"] else "-"
        out_console.print(
            f"most recurring scenario line in a share {lines['max_share']:.3f} of instances: "
            f"{top!r}",
            highlight=False,
        )
    out_console.print(
        f"built {timings['instances']} instances in {timings['total_s']:.1f} s "
        f"({timings['total_cpu_s']:.1f} s CPU; {timings['instances_per_s']} instances/s); "
        f"stages (s): {timings['stages_s']}"
    )


def _audit_line(audit: dict) -> str:
    return (
        f"leakage audit: highest cross-split similarity {audit['max_cross_split_similarity']:.3f}"
        f", pairs >= {audit['threshold']}: {audit['pairs_above_threshold']} "
        f"({'PASSED' if audit['passed'] else 'FAILED'})"
    )


def _load_rows(data_dir: Path) -> tuple[dict, list[dict]]:
    from proclab.dataset.output import load_manifest

    manifest = load_manifest(data_dir)
    rows: list[dict] = []
    for split in manifest["splits"]:
        path = data_dir / f"{split}.jsonl"
        if not path.is_file():
            raise DataError("split file missing", where=str(path), fix="rebuild the dataset")
        rows.extend(json.loads(line) for _, line in jsonl_lines(path))
    return manifest, rows


@app.command("stats")
def stats_command(
    data_dir: Path = typer.Argument(..., help="A directory written by `dataset build`."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Counts per split x domain x source x perturbation with label balance, accept rates."""
    from proclab.dataset.datacard import count_cells, margin

    manifest, rows = _load_rows(data_dir)
    cells = count_cells(rows)
    if as_json:
        payload = {
            "splits": {s: i["records"] for s, i in manifest["splits"].items()},
            "cells": cells,
            "accept": manifest["accept"]["by_perturbation"],
            "dedup": manifest["dedup"],
            "pairs": manifest["pairs"],
        }
        typer.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    for keys in (("split", "domain"), ("split", "source"), ("split", "perturbation")):
        table = Table(*keys, "n", "COMPLIANT", "NON-COMPLIANT", title=" x ".join(keys))
        for row in margin(cells, *keys):
            table.add_row(
                *[str(row[k]) for k in keys],
                str(row["n"]),
                str(row["COMPLIANT"]),
                str(row["NON-COMPLIANT"]),
            )
        out_console.print(table)
    overall = manifest["accept"]["overall"]
    out_console.print(
        f"accept rate {overall['accept_rate']} ({overall['accepted']} of "
        f"{overall['drawn']} draws); pairs: {manifest['pairs']['pairs']}"
    )


@app.command("audit")
def audit_command(
    data_dir: Path = typer.Argument(..., help="A directory written by `dataset build`."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recompute the leakage audit from the data files; exit 1 if any pair leaks."""
    from proclab.dataset.audit import leakage_audit
    from proclab.dataset.config import DedupConfig
    from proclab.dataset.output import load_manifest
    from proclab.dataset.records import load_split

    manifest = load_manifest(data_dir)
    dedup = DedupConfig.model_validate(manifest["config"]["dedup"])
    splits = {s: load_split(data_dir, s) for s in manifest["splits"]}
    report = leakage_audit(splits, load_split(data_dir, "pairs"), dedup)
    if as_json:
        typer.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        out_console.print(_audit_line(report))
        for row in report["by_split_pair"]:
            out_console.print(
                f"  {' vs '.join(row['splits'])}: max {row['max_similarity']:.3f}, "
                f"above threshold {row['pairs_above_threshold']}, scenario-only "
                f"max {row['scenario_only_max_jaccard']:.3f}"
            )
    if not report["passed"]:
        raise typer.Exit(1)


@app.command("sample")
def sample_command(
    data_dir: Path = typer.Argument(..., help="A directory written by `dataset build`."),
    n: int = typer.Option(3, "-n", help="How many instances to print."),
    perturbation: str | None = typer.Option(None, "--perturbation", help="Only this type."),
    split: str | None = typer.Option(None, "--split", help="Only this split."),
    seed: int = typer.Option(0, "--seed", help="Which random sample."),
) -> None:
    """Print randomly chosen instances readably."""
    from proclab.dataset.output import load_manifest
    from proclab.dataset.records import load_split
    from proclab.registry import lookup
    from proclab.scenarios.types import PERTURBATION_IDS

    manifest = load_manifest(data_dir)
    if perturbation is not None:
        lookup({p: p for p in PERTURBATION_IDS}, perturbation, kind="perturbation type")
    splits = list(manifest["splits"])
    if split is not None:
        lookup({s: s for s in [*splits, "pairs"]}, split, kind="split")
        splits = [split]
    records = [
        r
        for s in splits
        for r in load_split(data_dir, s)
        if perturbation is None or r.perturbation == perturbation
    ]
    chosen = random.Random(seed).sample(records, min(n, len(records)))
    for rec in chosen:
        out_console.print(_panel(rec))
    if not chosen:
        out_console.print("no instance matches")


def _panel(rec) -> Panel:
    violations = (
        "\n".join(
            f"  - {v.type} at step {v.step}"
            + (f" (related {v.related})" if v.related else "")
            + f": {v.message}"
            for v in rec.violations
        )
        or "  (none)"
    )
    header = (
        f"split {rec.split} · procedure {rec.procedure_id} ({rec.domain}) · source "
        f"{rec.source} · perturbation {rec.perturbation} · cohort {rec.cohort}"
    )
    body = (
        f"{_esc(header)}\n\n[bold]Procedure[/bold]\n{_esc(rec.procedure_text)}\n\n"
        f"[bold]Scenario[/bold]\n{_esc(rec.scenario_text)}\n\n[bold]Question[/bold] "
        f"{_esc(rec.question)}\n[bold]Label[/bold] {rec.label}\n"
        f"[bold]Violations[/bold]\n{_esc(violations)}"
    )
    return Panel(body, title=_esc(rec.id), expand=False)


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)

"""`proclab eval run|compare|report`: a thin layer over the evaluation library."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from proclab.errors import ConfigError
from proclab.prompts import REFERENCE_ORDER
from proclab.yamlsafe import load_yaml

if TYPE_CHECKING:
    from proclab.evaluate.logs import Results

app = typer.Typer(help="Evaluate models and baselines; compare runs; write reports.",
                  no_args_is_help=True, add_completion=False)
out_console = Console()
err_console = Console(stderr=True)


def parse_options(pairs: list[str]) -> dict[str, object]:
    """`KEY=VALUE` strings -> a dict; values are read as YAML scalars (8 -> int, true -> bool)."""
    out: dict[str, object] = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"bad --option {item!r}", fix="write it as KEY=VALUE")
        out[key.strip()] = load_yaml(value, where=f"--option {key.strip()}") if value else ""
    return out


@app.command("run")
def run_command(
    out: Path = typer.Option(..., "--out", help="Run directory (created; resumed if it exists)."),
    config_file: Path | None = typer.Option(
        None, "--config", help="YAML file of these options (data, backend, map, label_map, ...); "
        "options given here override it."),
    data: str | None = typer.Option(
        None, "--data", help="A dataset directory, a JSONL/JSON/CSV/TSV/Parquet/Arrow file, or "
        "a `datasets` folder (save_to_disk output or hub layout)."),
    backend: str | None = typer.Option(
        None, "--backend", help="hf (default) | openai | vllm, or a baseline: oracle | majority "
        "| surface."),
    model: str | None = typer.Option(None, "--model", help="Model path or name (backends)."),
    adapter: str | None = typer.Option(None, "--adapter", help="PEFT adapter for the model."),
    split: str | None = typer.Option(None, "--split", help="Split to evaluate ('pairs' = pairs)."),
    pairs: bool | None = typer.Option(None, "--pairs/--no-pairs",
                                      help="Add the split's counterfactual pairs."),
    orders: str | None = typer.Option(None, "--orders", help="'all' or e.g. PSQ,SPQ (default "
                                      f"{REFERENCE_ORDER})."),
    limit: int | None = typer.Option(
        None, "--limit", help="Only N records: a fixed sample spread over the split (hashed ids)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed for decoding and the bootstrap "
                                    "(default 0)."),
    batch_size: int | None = typer.Option(None, "--batch-size",
                                          help="Prompts per batch (and per fsync; default 8)."),
    max_new_tokens: int | None = typer.Option(None, "--max-new-tokens", help="Default 512."),
    temperature: float | None = typer.Option(None, "--temperature", help="0 = greedy (default)."),
    resamples: int | None = typer.Option(None, "--resamples", help="Bootstrap resamples "
                                         "(default 1000)."),
    option: list[str] = typer.Option([], "--option", help="Backend option KEY=VALUE (repeat)."),
    field_map: list[str] = typer.Option(
        [], "--map", help="Data in another layout: FIELD=COLUMN (or FIELD=@FILE: one text for "
        "every row) for procedure_text, scenario_text, label, question, id, group_id; comma-"
        "separated or repeated."),
    label_map: list[str] = typer.Option(
        [], "--label-map", help="Their label values: e.g. Yes=NON-COMPLIANT,No=COMPLIANT "
        "(VALUE=skip leaves those rows out)."),
    breakdown: list[str] = typer.Option(
        [], "--breakdown", help="Metadata columns to break accuracy down by (default: every "
        "column with 2-20 values)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a run of another config."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Evaluate a model or baseline; writes samples.jsonl and results.json; resumable."""
    from proclab.evaluate.config import make_config, read_config_file
    from proclab.evaluate.logs import SAMPLES_FILE, read_samples
    from proclab.evaluate.mapping import parse_pairs
    from proclab.evaluate.runner import run_eval
    from proclab.prompts.format import parse_order_list

    fields = read_config_file(config_file) if config_file is not None else {}
    given = {
        "backend": backend, "data": data, "model": model, "adapter": adapter, "split": split,
        "pairs": pairs, "orders": parse_order_list(orders) if orders else None, "limit": limit,
        "seed": seed, "batch_size": batch_size, "max_new_tokens": max_new_tokens,
        "temperature": temperature, "resamples": resamples,
        "breakdown": [c for item in breakdown for c in item.split(",")] or None,
    }
    fields.update({k: v for k, v in given.items() if v is not None})
    for key, items, parse in (("options", option, parse_options),
                              ("map", field_map, lambda i: parse_pairs(i, option="--map")),
                              ("label_map", label_map,
                               lambda i: parse_pairs(i, option="--label-map"))):
        if items:
            fields[key] = {**(fields.get(key) or {}), **parse(items)}
    if "data" not in fields:
        raise ConfigError("no data to evaluate", fix="pass --data PATH (or `data:` in --config)")
    config = make_config(**fields)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    # Started on the first report, so errors found before any work print without a bar.
    main_rank = os.environ.get("RANK", "0") == "0"  # data-parallel: rank 0 reports
    bar = Progress(*columns, console=err_console, disable=not (progress and main_rank))
    task = bar.add_task(f"eval {config.backend}", total=None)

    def advance(done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    def stop() -> None:
        if bar.live.is_started:
            bar.stop()

    try:
        outcome = run_eval(config, out, overwrite=overwrite, progress=advance)
    except KeyboardInterrupt:
        stop()
        logged = len(read_samples(out / SAMPLES_FILE))
        err_console.print(f"interrupted: {logged} samples are logged in {out / SAMPLES_FILE}; "
                          "rerun the same command to resume")
        raise typer.Exit(130) from None
    finally:
        stop()
    if main_rank:
        _print_results(outcome.results, outcome.new_samples, out)


def _print_results(results: Results, new: int, out: Path) -> None:
    from proclab.evaluate.report import fmt

    table = Table("metric", "value [95% CI]", title=f"{results.config['backend']} on "
                  f"{results.data.split or Path(results.data.path).name} ({results.n} samples)")
    for name, est in results.metrics.items():
        table.add_row(name, fmt(est))
    out_console.print(table)
    if len(results.orders.orders) > 1:
        out_console.print(f"agreement across orders: {results.orders.agreement}")
    for column, cells in results.breakdowns.items():
        out_console.print(f"accuracy by {column}: " + ", ".join(
            f"{c.value} {fmt(c.accuracy)} (n={c.n})" for c in cells))
    mapping = results.data.mapping
    if mapping is not None and mapping.skipped:
        out_console.print(f"{mapping.skipped} rows left out by the label map")
    for what, why in results.not_applicable.items():
        out_console.print(f"not applicable: {what} ({why})")
    out_console.print(f"{new} samples scored now, {results.n - new} from the log; "
                      f"results in {out / 'results.json'}")


@app.command("compare")
def compare_command(
    run_a: Path = typer.Argument(..., help="First run directory."),
    run_b: Path = typer.Argument(..., help="Second run directory."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """McNemar's exact test between two runs over the samples both scored."""
    from proclab.evaluate.compare import compare_runs

    c = compare_runs(run_a, run_b)
    if as_json:
        typer.echo(json.dumps(c.model_dump(mode="json"), indent=2, sort_keys=True))
        return
    table = Table("", "A right", "A wrong", title=f"A = {run_a}, B = {run_b}")
    table.add_row("B right", str(c.both_correct), str(c.b_only_correct))
    table.add_row("B wrong", str(c.a_only_correct), str(c.both_wrong))
    out_console.print(table)
    out_console.print(f"shared samples {c.shared}: accuracy A {c.accuracy_a:.4f}, "
                      f"B {c.accuracy_b:.4f}; McNemar exact p = {c.p_value:.4g}")
    if c.only_a or c.only_b:
        out_console.print(f"not shared: {c.only_a} only in A, {c.only_b} only in B")
    if not c.same_data:
        err_console.print("warning: the runs read different data files (data sha256 differs)")


@app.command("report")
def report_command(
    runs: list[Path] = typer.Argument(..., help="One or more run directories."),
    out: Path | None = typer.Option(None, "--out", help="Output directory (default: first run)."),
) -> None:
    """Write report.md (+ figures/) and a self-contained report.html."""
    from proclab.evaluate.report import write_report

    md_path, html_path = write_report(list(runs), out)
    out_console.print(f"wrote {md_path} and {html_path}")

"""`proclab eval run|compare|report`: a thin layer over the evaluation library."""

from __future__ import annotations

import json
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
    data: str = typer.Option(..., "--data", help="Dataset directory or a JSONL/Parquet file."),
    out: Path = typer.Option(..., "--out", help="Run directory (created; resumed if it exists)."),
    backend: str = typer.Option("hf", "--backend",
                                help="hf | openai | vllm, or a baseline: oracle | majority | surface."),
    model: str | None = typer.Option(None, "--model", help="Model path or name (backends)."),
    adapter: str | None = typer.Option(None, "--adapter", help="PEFT adapter for the model."),
    split: str | None = typer.Option(None, "--split", help="Split to evaluate ('pairs' = pairs)."),
    pairs: bool = typer.Option(False, "--pairs", help="Add the split's counterfactual pairs."),
    orders: str = typer.Option(REFERENCE_ORDER, "--orders", help="'all' or e.g. PSQ,SPQ."),
    limit: int | None = typer.Option(
        None, "--limit", help="Only N records: a fixed sample spread over the split (hashed ids)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for decoding and the bootstrap."),
    batch_size: int = typer.Option(8, "--batch-size", help="Prompts per batch (and per fsync)."),
    max_new_tokens: int = typer.Option(512, "--max-new-tokens"),
    temperature: float = typer.Option(0.0, "--temperature", help="0 = greedy."),
    resamples: int = typer.Option(1000, "--resamples", help="Bootstrap resamples."),
    option: list[str] = typer.Option([], "--option", help="Backend option KEY=VALUE (repeat)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a run of another config."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Evaluate a model or baseline; writes samples.jsonl and results.json; resumable."""
    from proclab.evaluate.config import make_config
    from proclab.evaluate.logs import SAMPLES_FILE, read_samples
    from proclab.evaluate.runner import run_eval
    from proclab.prompts.format import parse_order_list

    config = make_config(
        backend=backend, data=data, model=model, adapter=adapter, split=split, pairs=pairs,
        orders=parse_order_list(orders), limit=limit, seed=seed, batch_size=batch_size,
        max_new_tokens=max_new_tokens, temperature=temperature, resamples=resamples,
        options=parse_options(option),
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    # Started on the first report, so errors found before any work print without a bar.
    bar = Progress(*columns, console=err_console, disable=not progress)
    task = bar.add_task(f"eval {backend}", total=None)

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

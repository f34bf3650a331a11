"""`proclab procedures ...`: list, show, validate, render, import and check procedures.

Thin: each command parses its options and calls library functions. Procedures are named by
corpus id or by a YAML file path. User errors are raised as ProclabError (exit 2, no traceback).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from proclab.errors import DataError, ProclabError
from proclab.procedures.checker import check as check_trace
from proclab.procedures.corpus import corpus_paths, get_procedure, load_corpus
from proclab.procedures.loader import (
    YAML_SUFFIXES,
    load_procedure,
    load_procedures,
    load_trace_file,
)
from proclab.procedures.schema import Procedure, Step

app = typer.Typer(
    help="Procedures: list, show, validate, render, import and check traces.",
    no_args_is_help=True,
    add_completion=False,
)


def _console() -> Console:
    # Built per call so the output goes to whatever stdout is current (tests capture it);
    # wide when piped so ids are never cropped.
    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=160)


def resolve_procedure(name: str) -> Procedure:
    """A procedure named by corpus id, or by a path to a YAML file."""
    path = Path(name)
    if path.suffix in YAML_SUFFIXES or path.exists():
        return load_procedure(path)
    return get_procedure(name)


@app.command("list")
def list_cmd(
    domain: str | None = typer.Option(None, "--domain", help="lab_safety, fda or cms."),
    as_json: bool = typer.Option(False, "--json", help="A JSON list, one object per procedure."),
) -> None:
    """List the corpus procedures (steps counts the main tree, children included)."""
    procs = load_corpus(domain)
    rows = [
        {
            "id": p.id,
            "domain": p.domain,
            "source": p.source,
            "steps": sum(1 for s in p.steps for _ in s.walk()),
            "exceptions": len(p.exceptions),
        }
        for p in procs
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("id", "domain", "source", "steps", "exceptions", title=f"{len(rows)} procedures")
    for row in rows:
        table.add_row(*(str(row[k]) for k in ("id", "domain", "source", "steps", "exceptions")))
    _console().print(table)


def _step_line(step: Step, depth: int) -> str:
    notes = [step.actor, step.kind]
    if not step.is_observable:
        notes.append("not observable")
    if step.requires:
        notes.append(f"requires {', '.join(step.requires)}")
    if step.after:
        notes.append(f"after {', '.join(step.after)}")
    if step.when:
        notes.append(f"when {step.when}")
    return f"{'  ' * depth}{step.id}. {step.text}  ({'; '.join(notes)})"


def _step_lines(steps: list[Step], depth: int) -> list[str]:
    lines: list[str] = []
    for step in steps:
        lines.append(_step_line(step, depth))
        lines += _step_lines(step.children, depth + 1)
    return lines


def describe(proc: Procedure) -> str:
    """A plain-text summary: roles, context, the step tree with constraints, exceptions."""
    lines = [f"{proc.id}: {proc.title} ({proc.domain}, source {proc.source})"]
    lines.append(f"roles, low to high: {' < '.join(proc.roles)}")
    for cname, var in proc.context.items():
        extra = f" values={var.values}" if var.values else ""
        if var.min is not None or var.max is not None:
            extra += f" range=[{var.min}, {var.max}]"
        lines.append(f"context {cname}: {var.type} = {var.default!r}{extra}")
    lines.append("steps:")
    lines += _step_lines(proc.steps, 1)
    for exc in proc.exceptions:
        lines.append(f"exception {exc.id} (when {exc.when}): {exc.text}")
        if exc.replaces:
            lines.append(f"  replaces {', '.join(exc.replaces)}")
        if exc.forbids:
            lines.append(f"  forbids {', '.join(exc.forbids)}")
        if exc.adds:
            lines.append("  adds:")
            lines += _step_lines(exc.adds, 2)
    return "\n".join(lines)


@app.command()
def show(name: str = typer.Argument(..., help="Corpus id or YAML file.")) -> None:
    """Summarise one procedure: roles, context, the step tree with constraints, exceptions."""
    typer.echo(describe(resolve_procedure(name)))


@app.command()
def validate(
    paths: list[Path] = typer.Argument(None, help="Files or folders (default: the corpus)."),
) -> None:
    """Validate procedure files; prints every problem (exit 2) or how many are OK."""
    procs = load_procedures(paths) if paths else load_procedures(corpus_paths())
    typer.echo(f"OK: {len(procs)} procedure(s) valid")


@app.command()
def render(
    name: str = typer.Argument(..., help="Corpus id or YAML file."),
    style: str = typer.Option(..., "--style", help="House style to render in."),
) -> None:
    """Render a procedure as text in one house style."""
    from proclab.procedures import styles  # lazy: the styles package is optional here

    typer.echo(styles.render(resolve_procedure(name), style))


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="A plain-text / Markdown procedure."),
    out: Path | None = typer.Option(None, "--out", help="Write the draft YAML here."),
) -> None:
    """Draft a procedure YAML from Markdown; prints what could not be structured."""
    from proclab.procedures.importer import import_markdown  # lazy, like `render`
    from proclab.procedures.loader import read_text

    result = import_markdown(read_text(file, error=DataError), source_name=file.name)
    for item in result.unstructured:
        typer.secho(f"warning: not structured: {item}", fg=typer.colors.YELLOW, err=True)
    if out is None:
        typer.echo(result.yaml_text, nl=False)
    else:
        out.write_text(result.yaml_text, encoding="utf-8")
        typer.echo(f"wrote {out}")


def parse_context_args(proc: Procedure, items: list[str]) -> dict[str, bool | int | float | str]:
    """`k=v` strings -> typed values by the procedure's declared context types."""
    out: dict[str, bool | int | float | str] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ProclabError(f"bad --context {item!r}", fix="write --context name=value")
        var = proc.context.get(key)
        if var is None:
            out[key] = raw  # resolve_context reports the unknown name with "did you mean"
            continue
        out[key] = _coerce(key, raw.strip(), var.type)
    return out


def _coerce(key: str, raw: str, vtype: str) -> bool | int | float | str:
    try:
        if vtype == "bool":
            truth = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
            return truth[raw.lower()]
        if vtype == "int":
            return int(raw)
        if vtype == "float":
            return float(raw)
    except (KeyError, ValueError):
        raise ProclabError(
            f"--context {key}={raw}: not a {vtype}", fix=f"give {key} a {vtype} value"
        ) from None
    return raw


@app.command()
def check(
    name: str = typer.Argument(..., help="Corpus id or YAML file."),
    trace: Path = typer.Option(..., "--trace", help="Trace file (YAML or JSON)."),
    context: list[str] = typer.Option(None, "--context", help="name=value; repeatable."),
    as_json: bool = typer.Option(False, "--json", help='Print {"verdict", "violations"}.'),
) -> None:
    """Check a trace against a procedure: the verdict and every violation."""
    proc = resolve_procedure(name)
    events, file_context = load_trace_file(trace)
    ctx = {**file_context, **parse_context_args(proc, context or [])}
    result = check_trace(proc, events, ctx)
    if as_json:
        payload = {
            "verdict": result.verdict,
            "violations": [v.model_dump() for v in result.violations],
        }
        typer.echo(json.dumps(payload))
        return
    typer.echo(f"{result.verdict}  ({proc.id})")
    if result.fired_exceptions:
        typer.echo(f"exceptions in force: {', '.join(result.fired_exceptions)}")
    for v in result.violations:
        typer.echo(f"- {v.type}: {v.message}")

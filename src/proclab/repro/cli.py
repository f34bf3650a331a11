"""`proclab repro NAME --out DIR`: a whole study as one resumable command."""

from __future__ import annotations

from pathlib import Path

import typer

CONFIG_DIR = Path("configs") / "repro"


def _resolve(name: str) -> Path:
    from proclab.errors import ConfigError
    from proclab.registry import suggest

    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"no such file: {path}")
        return path
    candidate = CONFIG_DIR / f"{name}.yaml"
    if not candidate.is_file():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")) if CONFIG_DIR.is_dir() else []
        hint = suggest(name, known) if known else None
        raise ConfigError(
            f"no reproduction named {name!r} in {CONFIG_DIR}/",
            fix=(f"did you mean {hint!r}? " if hint else "")
            + "run from the repository root, or pass a config file path",
        )
    return candidate


def repro(
    name: str = typer.Argument(..., help="A name in configs/repro/ (mini, demo) or a YAML file."),
    out: Path = typer.Option(..., "--out", help="Run folder; rerun with the same one to resume."),
    only: list[str] = typer.Option(None, "--only", help="Run just these stages (repeatable)."),
    list_stages: bool = typer.Option(False, "--list", help="Print the stages and exit."),
) -> None:
    """A whole study as one command: data, base model, teacher, students, evaluation, probes
    and report (configs/repro/NAME.yaml). Each stage is a proclab command run in its own
    process; rerun the same command to resume: finished stages are skipped."""
    from proclab.repro.config import load_repro
    from proclab.repro.runner import run_repro

    config, stages = load_repro(_resolve(name))
    if list_stages:
        for stage in stages:
            typer.echo(f"{stage.name}: proclab {' '.join(stage.run)}")
        return
    runs = run_repro(config, stages, out, echo=typer.echo, only=only or ())
    wall = sum(r.wall_s for r in runs)
    typer.echo(f"repro {config.name}: {len(runs)} stages, {wall / 60:.1f} min; "
               f"summary in {out / 'repro.md'}")


app = repro

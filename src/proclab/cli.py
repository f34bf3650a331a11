"""The `proclab` command: a thin layer over library functions, one sub-command per stage."""

from __future__ import annotations

import importlib
import os
import sys

import typer

from proclab.errors import ProclabError

try:  # typer >= 0.16 bundles its own copy of click; older releases use click itself
    from typer._click.exceptions import ClickException as _TyperClickException
except ImportError:  # pragma: no cover
    from click import ClickException as _TyperClickException
from click import ClickException as _ClickException

_CLICK_ERRORS = (_TyperClickException, _ClickException)

app = typer.Typer(
    name="proclab",
    help="Procedural-compliance reasoning: procedures, scenarios, datasets, teachers, "
    "training, evaluation and interpretability.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# (module, sub-command name). Each module exposes a `typer.Typer` named `app`; the stage
# modules stay importable without the CLI and without their heavy extras until invoked.
STAGE_COMMANDS: list[tuple[str, str]] = [
    ("proclab.procedures.cli", "procedures"),
    ("proclab.models.cli", "models"),
    ("proclab.dataset.cli", "dataset"),
    ("proclab.teacher.cli", "distill"),
    ("proclab.train.cli", "train"),
    ("proclab.evaluate.cli", "eval"),
    ("proclab.interp.cli", "interp"),
    ("proclab.repro.cli", "repro"),
]


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    if debug:
        os.environ["PROCLAB_DEBUG"] = "1"


def _register() -> None:
    for module_name, name in STAGE_COMMANDS:
        module = importlib.import_module(module_name)
        sub = module.app
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=name)
        else:  # a single command (e.g. `proclab distill`)
            app.command(name=name)(sub)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, printing ProclabErrors without a traceback (exit 2)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("PROCLAB_DEBUG") == "1"
    try:
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int) and rc:
            raise SystemExit(rc)
    except ProclabError as err:
        if debug:
            raise
        typer.secho(f"error: {err.render()}", fg=typer.colors.RED, err=True)
        raise SystemExit(err.exit_code) from None
    except (typer.Abort, KeyboardInterrupt):
        typer.secho("aborted", err=True)
        raise SystemExit(130) from None
    except SystemExit:
        raise
    except _CLICK_ERRORS as err:  # usage errors surface here with standalone_mode=False
        err.show()
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()

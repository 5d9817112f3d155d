"""The ``amorphdb`` command line: a thin layer that only calls library functions.

Each sub-command lives in its own module and registers itself through
``register(app)``. User errors (:class:`amorphdb.errors.AmorphdbError`) are printed
as one line on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import sys
from importlib import import_module

import typer

from amorphdb import __version__
from amorphdb.errors import AmorphdbError

app = typer.Typer(
    name="amorphdb",
    help="Build and query databases of amorphous materials by melt-quench MD.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: modules under amorphdb.cli that add commands (each defines ``register(app)``)
COMMAND_MODULES = [
    "run", "analyze", "query", "export", "db", "campaign", "ml", "compare", "potfit",
]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"amorphdb {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version."
    ),
) -> None:
    """Build and query databases of amorphous materials by melt-quench MD."""


for _name in COMMAND_MODULES:
    try:
        _module = import_module(f"amorphdb.cli.{_name}")
    except ModuleNotFoundError as _exc:  # a command module not written yet
        if _exc.name != f"amorphdb.cli.{_name}":
            raise
        continue
    _module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one-line messages."""
    try:
        app(args=argv, standalone_mode=False)
    except AmorphdbError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except _usage_error_types() as exc:  # bad option values, unknown options: one line, exit 2
        exc.show()
        return exc.exit_code
    return 0


def _usage_error_types() -> tuple[type[Exception], ...]:
    """Click's usage-error base classes: typer >= 0.16 vendors its own click as ``typer._click``."""
    types: list[type[Exception]] = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            types.append(import_module(module).ClickException)
        except (ImportError, AttributeError):
            continue
    return tuple(types)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

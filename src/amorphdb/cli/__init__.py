"""The ``amorphdb`` command line: a thin layer that only calls library functions.

Each sub-command lives in its own module and registers itself through
``register(app)``. The root group is lazy (click's documented lazy-loading pattern):
:data:`COMMANDS` is the one table of command name → module and one-line help; a module
is imported only when one of its commands runs or its own help is asked, so
``amorphdb -h`` imports neither pymatgen nor torch. User errors
(:class:`amorphdb.errors.AmorphdbError`) are printed as one line on stderr with exit
status 2, never as a traceback; :func:`main` returns the exit status (see its
docstring for the table).
"""

from __future__ import annotations

import errno
import signal
import sys
import threading
import traceback
from dataclasses import dataclass
from difflib import get_close_matches
from importlib import import_module

import typer
from typer.core import TyperCommand, TyperGroup

from amorphdb import __version__
from amorphdb.errors import AmorphdbError, Interrupted
from amorphdb.secrets import RedactingStream

#: ``-h`` and ``--help`` on every command and sub-command (click passes it down the contexts)
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


@dataclass(frozen=True)
class LazyCommand:
    """Where a top-level command lives and the one line ``amorphdb -h`` shows for it."""

    module: str
    help: str


#: the one table of top-level commands: name → module under amorphdb.cli (its
#: ``register(app)`` adds the command) and the line shown by ``amorphdb -h``
COMMANDS: dict[str, LazyCommand] = {
    "run": LazyCommand(
        "run", "Run a melt–quench campaign locally and print formula, T, density, D and Ea."),
    "analyze": LazyCommand(
        "analyze", "Diffusivity (σ, fit window, conductivity, Haven ratio), network relaxation "
        "and density of trajectories; an Arrhenius fit per regime over several temperatures."),
    "query": LazyCommand(
        "query", "Find amorphous results (one row per composition and temperature)."),
    "submit": LazyCommand(
        "campaign", "Submit the compositions not yet completed, in flight or failed."),
    "status": LazyCommand(
        "campaign", "Counts by state and, per composition, stage reached and last error."),
    "rerun": LazyCommand(
        "campaign", "Rerun failed and lost compositions with escalated settings."),
    "compare": LazyCommand(
        "compare", "Compare two campaigns (engines or potentials) on shared compositions and "
        "temperatures: RDF R², density ratio, CN differences, D ratio and ΔEa with σ."),
    "potfit": LazyCommand(
        "potfit", "Optimise potential parameters against experiment (BoTorch GP, resumable)."),
    "export": LazyCommand(
        "export", "Export structures, trajectories and tables from the database."),
    "db": LazyCommand("db", "Database statistics and maintenance."),
    "ml": LazyCommand("ml", "Learn diffusivity from the database (docs/ml.md)."),
}


class LazyGroup(TyperGroup):
    """The root group: commands of :data:`COMMANDS` are loaded from their module on use.

    While the root's own help is formatted, each table command is a placeholder carrying
    only its one-line help (nothing imported); resolving a command to run it, or to show
    its own help, imports its module and calls ``register``. Commands registered directly
    on :data:`app` are kept as they are.
    """

    _listing = False

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [*COMMANDS, *(n for n in super().list_commands(ctx) if n not in COMMANDS)]

    def get_command(self, ctx: typer.Context, cmd_name: str):
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        if self._listing:
            return TyperCommand(name=cmd_name, short_help=entry.help, help=entry.help)
        command = _module_group(entry.module).get_command(ctx, cmd_name)
        if command is None:  # a table entry its module does not register: a bug here
            raise RuntimeError(f"amorphdb.cli.{entry.module} does not add '{cmd_name}'")
        command.short_help = entry.help
        return command

    def resolve_command(self, ctx: typer.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except _usage_error_types() as exc:  # suggest from the table too (typer: loaded only)
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches and "Did you mean" not in exc.message:
                exc.message = (f"{exc.message.rstrip('.')}. Did you mean "
                               f"{', '.join(map(repr, matches))}?")
            raise

    def format_help(self, ctx: typer.Context, formatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


_MODULE_GROUPS: dict[str, TyperGroup] = {}


def _module_group(module: str) -> TyperGroup:
    """Import ``amorphdb.cli.<module>`` and return the click group of what it registers."""
    if module not in _MODULE_GROUPS:
        holder = typer.Typer(context_settings=CONTEXT_SETTINGS, add_completion=False)
        import_module(f"amorphdb.cli.{module}").register(holder)
        _MODULE_GROUPS[module] = typer.main.get_group(holder)
    return _MODULE_GROUPS[module]


app = typer.Typer(
    name="amorphdb",
    help="Build and query databases of amorphous materials by melt-quench MD.",
    cls=LazyGroup,
    context_settings=CONTEXT_SETTINGS,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a command and return an exit status that tells the truth.

    0 only when the command succeeded; the command's own ``typer.Exit`` code (1 when a
    composition or job failed); 2 for usage errors, user errors
    (:class:`~amorphdb.errors.AmorphdbError`) and unreadable or unwritable files
    (one line, no traceback); 130 for Ctrl-C and 143 for SIGTERM, after "aborted" and
    what was saved. Everything printed passes through :func:`amorphdb.secrets.redact`.
    """
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    handlers = _install_signal_handlers()
    try:
        return _run(argv)
    finally:
        _restore_signal_handlers(handlers)
        sys.stdout, sys.stderr = streams


def _run(argv: list[str] | None) -> int:
    try:
        rv = app(args=argv, standalone_mode=False)
    except Interrupted as exc:  # raised outside typer's own KeyboardInterrupt handling
        return _aborted(exc)
    except KeyboardInterrupt:
        return _aborted(Interrupted(signal.SIGINT))
    except AmorphdbError as exc:
        _error(str(exc))
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except _usage_error_types() as exc:  # bad option values, unknown options: one line, exit 2
        exc.show()
        return exc.exit_code
    except OSError as exc:  # a damaged, missing or full file: one line naming it
        _error(_os_error_line(exc))
        return 2 if exc.errno != errno.ENOSPC else 1
    except Exception as exc:
        if "database or disk is full" in str(exc):  # SQLite's ENOSPC (embedded store)
            _error(f"no space left on the device of the store ({exc}); free space and run again")
            return 1
        traceback.print_exc()  # a bug: the traceback helps the report (redacted like all output)
        return 1
    if rv == 130:  # typer turns a KeyboardInterrupt (ours included) into Exit(130)
        return _aborted(_LAST_INTERRUPT[-1] if _LAST_INTERRUPT else Interrupted(signal.SIGINT))
    if isinstance(rv, bool) or not isinstance(rv, int):
        return 0  # a command that returned normally (None or data) succeeded
    return rv


def _error(message: str) -> None:
    typer.secho(f"error: {message}", err=True, fg="red")


def _os_error_line(exc: OSError) -> str:
    """One line for an OSError: what, which file, and the fix."""
    where = f" {exc.filename}" if exc.filename else ""
    what = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        where = where or " a file being written"
        return f"no space left on the device of{where}; free space and run again"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied:{where}; fix its permissions or use another folder"
    if not where:  # a socket or pipe, not a file
        return f"{type(exc).__name__}: {what}; check the connection and run again"
    return f"cannot use{where}: {what}; check that the file exists and is not damaged"


#: interrupts raised by the signal handlers during this command (most recent last)
_LAST_INTERRUPT: list[Interrupted] = []


def _aborted(exc: Interrupted) -> int:
    saved = "; ".join(exc.saved) if exc.saved else "nothing was running"
    typer.secho(f"aborted ({exc.signal_name}): {saved}", err=True, fg="red")
    return exc.exit_code


def _raise_interrupted(signum: int, frame: object) -> None:
    exc = Interrupted(signum)
    _LAST_INTERRUPT.append(exc)
    raise exc


def _install_signal_handlers() -> dict[int, object]:
    """SIGINT and SIGTERM raise :class:`Interrupted` (main thread only)."""
    _LAST_INTERRUPT.clear()
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, _raise_interrupted)
    return previous


def _restore_signal_handlers(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


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

"""``amorphdb potfit`` (optimisation with progress, resumable) and ``amorphdb potfit
report`` (tables and plots of a state file) over :mod:`amorphdb.potfit`.
"""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from amorphdb.potfit.campaign import run_potfit
from amorphdb.potfit.config import load_config
from amorphdb.potfit.report import load_report, pair_coeff_lines, parity_rows, plot_report
from amorphdb.potfit.state import read_state


def _fmt(loss) -> str:
    if isinstance(loss, dict):
        return ", ".join(f"{k} {v:.4g}" for k, v in loss.items())
    return f"{loss:.4g}"


def run_command(config_path: Path, console: Console) -> None:
    """Run the optimisation of ``config_path`` with a progress bar."""
    config = load_config(config_path)
    state = config.state_path()
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("{task.fields[status]}"), console=console,
    )
    with progress:
        task = progress.add_task(f"potfit {config.name}", total=config.budget, status="starting")

        def on_progress(formula: str, job: str) -> None:
            progress.update(task, status=f"{formula}: {job}"[:60])

        def on_batch(new, done: int) -> None:
            progress.update(task, completed=done, status="batch done: " +
                            "; ".join(_fmt(e["loss"]) for e in new)[:60])

        if state.exists():  # a resumed run: the bar starts at what is done
            progress.update(task, completed=len(read_state(state).history), status="resuming")
        try:
            result = run_potfit(config, on_progress=on_progress, on_batch=on_batch)
        except KeyboardInterrupt:
            progress.stop()
            console.print(f"interrupted: finished evaluations are saved in {state}; "
                          "rerun the same command to continue")
            raise typer.Exit(130) from None
    failed = sum(1 for h in result.history if not _all_finite(h["loss"]))
    console.print(f"{len(result.history)} evaluations ({failed} failed MD), best loss "
                  f"{_fmt(result.best_loss)}; state: {state}")
    console.print(f"report: amorphdb potfit report {state}")


def _all_finite(loss) -> bool:
    values = loss.values() if isinstance(loss, dict) else [loss]
    return all(math.isfinite(float(v)) for v in values)


def report_command(path: Path, out: Path | None, console: Console) -> None:
    """Print the best sets and per-glass parity, draw the plots."""
    state = load_config(path).state_path() if path.suffix in (".yaml", ".yml") else path
    report = load_report(state)
    result = report.result
    console.print(f"potfit report: {state} — {len(result.history)} evaluations, "
                  f"{report.n_failed} failed, potential {report.potential}")
    sets = result.pareto or [{"params": result.best_params, "loss": result.best_loss}]
    for i, entry in enumerate(sets, start=1):
        full = next((h for h in result.history if h["params"] == entry["params"]), entry)
        title = "best set" if not result.pareto else f"Pareto set {i}/{len(sets)}"
        table = Table(title=f"{title}: loss {_fmt(entry['loss'])}")
        for col in ("glass", "ρ sim (g/cm³)", "ρ exp", "N4 sim", "N4 target"):
            table.add_column(col, justify="right")
        for r in parity_rows(report, full):
            sim_rho = "—" if r["density_sim"] is None else (
                f"{r['density_sim']:.3f} ± {r['density_std'] or 0:.3f}")
            sim_n4 = "—" if r["n4_sim"] is None else f"{r['n4_sim']:.3f} ± {r['n4_std'] or 0:.3f}"
            rho_exp = "—" if r["density_exp"] is None else f"{r['density_exp']:.3f}"
            table.add_row(r["label"], sim_rho, rho_exp, sim_n4, f"{r['n4_exp']:.3f}")
        console.print(table)
        for line in pair_coeff_lines(report.potential, entry["params"]):
            console.print(line, markup=False, highlight=False)
    for written in plot_report(report, out or state.parent):
        console.print(f"plot: {written}")


def register(app: typer.Typer) -> None:
    """Add ``potfit`` to the CLI."""

    @app.command("potfit")
    def potfit(
        target: str = typer.Argument(
            ..., metavar="CONFIG.yaml | report",
            help="potfit campaign file to run or continue, or 'report'",
        ),
        path: Path = typer.Argument(
            None, metavar="[STATE.json | CONFIG.yaml]",
            help="with 'report': the state file (or the campaign file naming it)",
        ),
        out: Path = typer.Option(
            None, "--out", help="folder for the report's plots (default: next to the state)"
        ),
    ) -> None:
        """Optimise potential parameters against experiment (BoTorch GP, resumable)."""
        console = Console(soft_wrap=True)  # paths and pair_coeff lines stay on one line
        if target == "report":
            if path is None:
                raise typer.BadParameter("give the state file: amorphdb potfit report STATE.json")
            report_command(path, out, console)
            return
        if path is not None:
            raise typer.BadParameter(f"unexpected argument '{path}'; run: amorphdb potfit CONFIG")
        run_command(Path(target), console)

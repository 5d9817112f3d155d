"""``amorphdb db`` sub-commands (stats, build, check, repair, backfill) over
:mod:`amorphdb.store`.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from amorphdb.cli.query import StoreOpt

db_app = typer.Typer(help="Database statistics and maintenance.", no_args_is_help=True)


@db_app.command("stats")
def stats(
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Counts of results by state, chemical system and temperature."""
    from amorphdb.store import open_database

    with open_database(store, must_exist=True) as db:
        s = db.stats()
    if as_json:
        s = {**s, "by_temperature_K": {f"{k:g}": v for k, v in s["by_temperature_K"].items()}}
        typer.echo(json.dumps(s, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"store {s['address']}: {s['amorphous']} result(s), {s['arrhenius']} Arrhenius fit(s), "
        f"{s['campaigns']} campaign composition(s)",
        soft_wrap=True,  # one line whatever the terminal width: scripts grep it
    )
    for title, counts, label in (
        ("results by state", s["by_state"], "state"),
        ("results by chemical system", s["by_chemsys"], "chemsys"),
        ("results by temperature", {f"{k:g} K": v for k, v in s["by_temperature_K"].items()}, "T"),
        ("compositions by campaign state", s["campaigns_by_state"], "state"),
    ):
        if not counts:
            continue
        table = Table(title=title)
        table.add_column(label)
        table.add_column("count", justify="right")
        for key, value in counts.items():
            table.add_row(str(key), str(value))
        console.print(table)


@db_app.command("build")
def build(store: StoreOpt = None) -> None:
    """Collect record_temperature/record_arrhenius job outputs into the summary collections
    (back-filled descriptors of unchanged results are kept)."""
    from amorphdb.store import open_database

    with open_database(store, must_exist=True) as db:
        counts = db.build_from_job_store()
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing to collect"
    typer.echo(f"build: {summary}")


def _print_report(report, as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=1))
        return
    checked = ", ".join(f"{v} {k}" for k, v in report.checked.items())
    typer.echo(f"{title} {report.address}: checked {checked}")
    for action in report.actions:
        typer.echo(f"  done: {action}")
    for problem in report.problems:
        typer.echo(f"  {problem.line()}")
    if report.ok:
        typer.echo("store is consistent: no problem found")
    else:
        fixable = sum(p.repairable for p in report.problems)
        hint = " — run `amorphdb db repair`" if fixable and title == "check" else ""
        typer.echo(
            f"{len(report.problems)} problem(s), {fixable} repairable{hint}", err=True
        )


@db_app.command("check")
def check(
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Verify integrity (collections readable, checksums, summaries vs job documents,
    campaign records vs results, blob checksums); exit 1 when a problem is found."""
    from amorphdb.store.database import AmorphousDB
    from amorphdb.store.integrity import check_store

    db = AmorphousDB.from_config(store, must_exist=True, tolerate=True)
    try:
        report = check_store(db)
    finally:
        db.close()
    _print_report(report, as_json, "check")
    if not report.ok:
        raise typer.Exit(1)


@db_app.command("repair")
def repair(
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Rebuild summaries/Arrhenius fits from job documents and campaign records from
    results; move damaged files aside. Exit 1 when problems remain (listed)."""
    from amorphdb.store.database import AmorphousDB
    from amorphdb.store.integrity import repair_store

    db = AmorphousDB.from_config(store, must_exist=True, repair=True)
    try:
        _before, after = repair_store(db)
    finally:
        db.close()
    _print_report(after, as_json, "repair")
    if not after.ok:
        raise typer.Exit(1)


@db_app.command("backfill")
def backfill(
    store: StoreOpt = None,
    campaign: Annotated[str | None, typer.Option("--campaign", help="Only this campaign.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Recompute records that already have them.")
    ] = False,
) -> None:
    """Compute the structure descriptors of stored records from their trajectories.
    Exit 1 if any record could not be back-filled (listed)."""
    from rich.progress import Progress

    from amorphdb.flows.structure_record import backfill_structure
    from amorphdb.store import open_database

    with open_database(store, must_exist=True) as db, Progress(transient=True) as bar:
        task = bar.add_task("back-filling structure descriptors", total=db.count(campaign=campaign))
        report = backfill_structure(
            db, force=force, progress=lambda _k: bar.advance(task), campaign=campaign
        )
    typer.echo(
        f"backfill: {len(report.updated)} updated, {len(report.skipped)} already had "
        f"descriptors, {len(report.failed)} failed"
    )
    for key, why in report.failed.items():
        typer.echo(f"failed {key}: {why}", err=True)
    if report.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``amorphdb db stats|build|check|repair|backfill``."""
    app.add_typer(db_app, name="db")

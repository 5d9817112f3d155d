"""``amorphdb db``: database statistics and maintenance.

Examples::

    amorphdb db stats
    amorphdb db build --store configs/store-mongodb.yaml   # collect FireWorks/jobflow-remote runs
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

    with open_database(store) as db:
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
    """Collect record_temperature/record_arrhenius job outputs into the summary collections."""
    from amorphdb.store import open_database

    with open_database(store) as db:
        counts = db.build_from_job_store()
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "nothing to collect"
    typer.echo(f"build: {summary}")


def register(app: typer.Typer) -> None:
    """Add ``amorphdb db stats|build``."""
    app.add_typer(db_app, name="db")

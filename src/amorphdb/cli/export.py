"""``amorphdb export`` sub-commands (structures, trajectories, table) over
:mod:`amorphdb.store`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from amorphdb.cli.query import (
    AnyElementsOpt,
    CampaignOpt,
    ChemsysOpt,
    DensityOpt,
    DOpt,
    EaOpt,
    ElementsOpt,
    ExcludeOpt,
    FieldsOpt,
    FormulaOpt,
    LimitOpt,
    SortOpt,
    StateOpt,
    StoreOpt,
    TemperatureOpt,
    build_query,
    check_min,
    choose,
)

export_app = typer.Typer(
    help="Export structures, trajectories and tables from the database.", no_args_is_help=True
)


class _Bar:
    """rich progress bar fed by the exporters' progress callback."""

    def __init__(self, label: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=True,
        )
        self.label = label
        self.task = None

    def __enter__(self) -> _Bar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, total: int | None) -> None:
        if self.task is None:
            self.task = self.progress.add_task(self.label, total=total)
        else:
            self.progress.advance(self.task)


def _query(**kwargs):
    return build_query(**kwargs)


@export_app.command("structures")
def structures(
    folder: Annotated[Path, typer.Argument(help="Output folder (created).")],
    fmt: Annotated[str, typer.Option("--format", "-F", help="cif, poscar or extxyz.")] = "cif",
    store: StoreOpt = None,
    chemsys: ChemsysOpt = None,
    elements: ElementsOpt = None,
    any_elements: AnyElementsOpt = None,
    exclude_elements: ExcludeOpt = None,
    formula: FormulaOpt = None,
    temperature: TemperatureOpt = None,
    campaign: CampaignOpt = None,
    state: StateOpt = None,
    D: DOpt = None,
    density: DensityOpt = None,
    ea: EaOpt = None,
    limit: LimitOpt = 0,
) -> None:
    """Write final structures of the matching results, one file each."""
    from amorphdb.store import open_database
    from amorphdb.store.export import StructureFormat, export_structures

    file_format = choose(fmt, StructureFormat, "structure format")
    check_min(limit, 0, "--limit")
    q = _query(
        chemsys=chemsys, elements=elements, any_elements=any_elements,
        exclude_elements=exclude_elements, formula=formula, temperature=temperature,
        campaign=campaign, state=state, D=D, density=density, ea=ea,
    )  # fmt: skip
    with open_database(store, must_exist=True) as db, _Bar("structures") as bar:
        files = export_structures(db, q, folder, file_format, limit=limit, progress=bar)
    typer.echo(f"wrote {len(files)} {file_format.value} file(s) to {folder}")


@export_app.command("trajectories")
def trajectories(
    folder: Annotated[Path, typer.Argument(help="Output folder (created).")],
    stride: Annotated[int, typer.Option("--stride", help="Keep every n-th frame.")] = 1,
    store: StoreOpt = None,
    chemsys: ChemsysOpt = None,
    elements: ElementsOpt = None,
    any_elements: AnyElementsOpt = None,
    exclude_elements: ExcludeOpt = None,
    formula: FormulaOpt = None,
    temperature: TemperatureOpt = None,
    campaign: CampaignOpt = None,
    state: StateOpt = None,
    D: DOpt = None,
    density: DensityOpt = None,
    ea: EaOpt = None,
    limit: LimitOpt = 0,
) -> None:
    """Write trajectories of the matching results as extended XYZ, one file each."""
    from amorphdb.store import open_database
    from amorphdb.store.export import export_trajectories

    check_min(stride, 1, "--stride")
    check_min(limit, 0, "--limit")
    q = _query(
        chemsys=chemsys, elements=elements, any_elements=any_elements,
        exclude_elements=exclude_elements, formula=formula, temperature=temperature,
        campaign=campaign, state=state, D=D, density=density, ea=ea,
    )  # fmt: skip
    with open_database(store, must_exist=True) as db, _Bar("trajectories") as bar:
        files = export_trajectories(db, q, folder, stride=stride, limit=limit, progress=bar)
    typer.echo(f"wrote {len(files)} trajectory file(s) to {folder}")


@export_app.command("table")
def table(
    path: Annotated[Path, typer.Argument(help="Output file (.csv or .json).")],
    fmt: Annotated[
        str | None, typer.Option("--format", "-F", help="csv or json (default: suffix).")
    ] = None,
    fields: FieldsOpt = None,
    sort: SortOpt = None,
    store: StoreOpt = None,
    chemsys: ChemsysOpt = None,
    elements: ElementsOpt = None,
    any_elements: AnyElementsOpt = None,
    exclude_elements: ExcludeOpt = None,
    formula: FormulaOpt = None,
    temperature: TemperatureOpt = None,
    campaign: CampaignOpt = None,
    state: StateOpt = None,
    D: DOpt = None,
    density: DensityOpt = None,
    ea: EaOpt = None,
    limit: LimitOpt = 0,
) -> None:
    """Write the matching summaries as a table (one row per composition and temperature)."""
    from amorphdb.store import open_database
    from amorphdb.store.export import TableFormat, export_table

    table_format = choose(fmt, TableFormat, "table format") if fmt else None
    check_min(limit, 0, "--limit")
    q = _query(
        chemsys=chemsys, elements=elements, any_elements=any_elements,
        exclude_elements=exclude_elements, formula=formula, temperature=temperature,
        campaign=campaign, state=state, D=D, density=density, ea=ea,
    )  # fmt: skip
    with open_database(store, must_exist=True) as db:
        out = export_table(db, q, path, fields=fields, sort=sort, limit=limit, fmt=table_format)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add ``amorphdb export structures|trajectories|table``."""
    app.add_typer(export_app, name="export")

"""``amorphdb query``: options → :class:`amorphdb.store.query.AmorphousQuery`, and the
table/CSV/JSON output.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from amorphdb.errors import ConfigError, StoreError

if TYPE_CHECKING:  # the store is imported when a command runs, not for `-h` (docs/benchmarks.md)
    from amorphdb.store.query import AmorphousQuery


class OutputFormat(StrEnum):
    """How query results are printed."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


# Options shared by query and export (Annotated aliases so each command declares them once).
StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Store YAML file (default: $AMORPHDB_STORE or ./amorphdb-data)."),
]
ChemsysOpt = Annotated[
    str | None, typer.Option("--chemsys", help="Exact chemical system, e.g. Li-P-S.")
]
ElementsOpt = Annotated[
    str | None, typer.Option("--elements", help="Must contain all of these, e.g. Li,O.")
]
AnyElementsOpt = Annotated[
    str | None, typer.Option("--any-elements", help="Must contain at least one of these.")
]
ExcludeOpt = Annotated[
    str | None, typer.Option("--exclude-elements", help="Must contain none of these.")
]
FormulaOpt = Annotated[
    str | None,
    typer.Option("--formula", "-f", help="Formula in any notation (reduced for matching)."),
]
TemperatureOpt = Annotated[
    str | None,
    typer.Option("--temperature", "-T", help="Temperature in K (1000) or range (1000:2000)."),
]
CampaignOpt = Annotated[str | None, typer.Option("--campaign", help="Campaign name.")]
StateOpt = Annotated[
    str | None, typer.Option("--state", help="waiting, running, completed or failed.")
]
DOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--D", help="Diffusivity range in cm²/s: SPECIES:MIN:MAX, e.g. Li:1e-5: (repeatable)."
    ),
]
DensityOpt = Annotated[
    str | None, typer.Option("--density", help="Density range in g/cm³: MIN:MAX, e.g. 2.2:2.5.")
]
EaOpt = Annotated[
    str | None,
    typer.Option("--ea", help="Activation energy range in eV: [SPECIES:]MIN:MAX, e.g. Li::0.5."),
]
WhereOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        help="Range on a structure descriptor: NAME:MIN:MAX, e.g. cn.Si-O:3.9:4.1, n4.B:0.3:, "
        "qn.Si.Q4::0.5, packing_fraction:0.5: (repeatable).",
    ),
]
LimitOpt = Annotated[int, typer.Option("--limit", help="At most this many (0: all).")]
SortOpt = Annotated[
    str | None, typer.Option("--sort", help="Sort fields, '-' for descending: -D_Li,formula.")
]
FieldsOpt = Annotated[
    str | None, typer.Option("--fields", help="Columns, e.g. formula_reduced,temperature_K,D_Li.")
]


def choose(value: str, choices: type[StrEnum], what: str) -> StrEnum:
    """Validate a choice option ourselves (one-line :class:`ConfigError`, exit 2)."""
    try:
        return choices(str(value).lower())
    except ValueError:
        known = ", ".join(c.value for c in choices)
        raise ConfigError(f"unknown {what} '{value}'; use one of {known}") from None


def check_min(value: int, minimum: int, option: str) -> int:
    """Validate an integer option's lower bound (one-line :class:`ConfigError`)."""
    if value < minimum:
        raise ConfigError(f"{option} must be >= {minimum}, got {value}")
    return value


def build_query(
    *,
    chemsys: str | None = None,
    elements: str | None = None,
    any_elements: str | None = None,
    exclude_elements: str | None = None,
    formula: str | None = None,
    temperature: str | None = None,
    campaign: str | None = None,
    state: str | None = None,
    D: list[str] | None = None,
    density: str | None = None,
    ea: str | None = None,
    where: list[str] | None = None,
    hide_replicas: bool = False,
) -> AmorphousQuery:
    """Turn command-line filter strings into an :class:`AmorphousQuery` (validating them)."""
    from amorphdb.store.query import (
        AmorphousQuery,
        parse_elements,
        parse_range,
        parse_species_range,
        resolve_field,
    )

    temp: float | tuple[float | None, float | None] | None = None
    if temperature:
        if ":" in temperature:
            temp = parse_range(temperature, what="temperature")
        else:
            try:
                temp = float(temperature)
            except ValueError:
                raise StoreError(
                    f"temperature '{temperature}' is not a number; write 1000 or 1000:2000 (K)"
                ) from None
    d_ranges: dict[str, tuple[float | None, float | None]] = {}
    for text in D or []:
        species, lo, hi = parse_species_range(text, what="D", species_required=True)
        d_ranges[species] = (lo, hi)  # type: ignore[index]
    ranges: dict[str, tuple[float | None, float | None]] = {}
    for text in where or []:
        name, _, rest = text.partition(":")
        resolve_field(name.strip())  # one-line error naming the known fields
        ranges[name.strip()] = parse_range(rest, what=name.strip())
    query = AmorphousQuery(
        chemsys=chemsys,
        elements=parse_elements(elements),
        any_elements=parse_elements(any_elements),
        exclude_elements=parse_elements(exclude_elements),
        formula=formula,
        temperature_K=temp,
        campaign=campaign,
        state=state,
        D=d_ranges,
        density_g_cm3=parse_range(density, what="density") if density else None,
        Ea_eV=parse_species_range(ea, what="Ea", species_required=False) if ea else None,
        ranges=ranges,
        hide_replicas=hide_replicas,
    )
    query.criteria()  # validate now (formula, state, ...) for a one-line error
    return query


def _format_cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float):
        return (
            f"{value:.3e}"
            if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e5)
            else (f"{value:.4g}")
        )
    return str(value)


def print_dataframe(df, fmt: OutputFormat, title: str = "") -> None:
    """Print a results table as a rich table, JSON records or CSV on stdout."""
    if fmt is OutputFormat.JSON:
        sys.stdout.write(df.to_json(orient="records", indent=1, date_format="iso") + "\n")
        return
    if fmt is OutputFormat.CSV:
        sys.stdout.write(df.to_csv(index=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None)
    for column in df.columns:
        table.add_column(str(column), justify="left" if df[column].dtype == object else "right")
    for row in df.itertuples(index=False):
        table.add_row(*(_format_cell(v) for v in row))
    Console(width=max(100, 14 * len(df.columns))).print(table)


def query(
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
    where: WhereOpt = None,
    fields: FieldsOpt = None,
    sort: SortOpt = None,
    limit: LimitOpt = 0,
    fmt: Annotated[str, typer.Option("--format", "-F", help="table, json or csv.")] = "table",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON records (same as --format json).")
    ] = False,
    all_replicas: Annotated[bool, typer.Option(
        "--all-replicas", help="Also each replica's rows (default: their mean only).")] = False,
) -> None:
    """Find amorphous results (one row per composition and temperature)."""
    from amorphdb.store import open_database

    out_format = OutputFormat.JSON if as_json else choose(fmt, OutputFormat, "format")
    check_min(limit, 0, "--limit")
    q = build_query(
        chemsys=chemsys,
        elements=elements,
        any_elements=any_elements,
        exclude_elements=exclude_elements,
        formula=formula,
        temperature=temperature,
        campaign=campaign,
        state=state,
        D=D,
        density=density,
        ea=ea,
        where=where,
        hide_replicas=not all_replicas,
    )
    with open_database(store, must_exist=True) as db:
        df = db.to_dataframe(q, fields=fields, sort=sort, limit=limit)
        if df.empty:
            _refuse_lost_summaries(db)
    print_dataframe(df, out_format, title=f"{len(df)} result(s)")
    if out_format is OutputFormat.TABLE and df.empty:
        typer.echo("no result matches; loosen the filters", err=True)


def _refuse_lost_summaries(db) -> None:
    """No summary at all while campaigns say completed: the summaries were lost, not absent."""
    if db.count() == 0:
        done = db.find_campaigns(state="completed")
        if done:
            raise StoreError(
                f"the store at {db.config.address} has no summaries but {len(done)} completed "
                "composition(s) in its campaign records; run `amorphdb db repair` to rebuild "
                "them from the job documents"
            )


def register(app: typer.Typer) -> None:
    """Add ``amorphdb query``."""
    app.command("query")(query)


__all__ = ["build_query", "print_dataframe", "register"]

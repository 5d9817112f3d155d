"""``amorphdb ml`` sub-commands (dataset, train, predict, report) over :mod:`amorphdb.ml`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from amorphdb.cli.query import CampaignOpt, StoreOpt

ml_app = typer.Typer(help="Learn diffusivity from the database (docs/ml.md).", no_args_is_help=True)

KindOpt = Annotated[str, typer.Option("--kind", "-k", help="random_forest, xgboost or sisso.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (trees, folds).")]
DataArg = Annotated[
    Path, typer.Argument(help="CSV table with formula, temperature_K (and log10_D to fit).")
]


def _status(label: str):
    from rich.console import Console

    return Console(stderr=True).status(label)


@ml_app.command("dataset")
def dataset(
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write.")],
    store: StoreOpt = None,
    campaign: CampaignOpt = None,
    species: Annotated[str, typer.Option("--species", help="Diffusing species.")] = "Li",
    include_unreliable: Annotated[
        bool, typer.Option("--include-unreliable", help="Keep D flagged unreliable.")
    ] = False,
    include_melt: Annotated[
        bool, typer.Option("--include-melt", help="Keep the melt-stage (5000 K) rows.")
    ] = False,
) -> None:
    """Completed records in the store → a CSV table and its provenance JSON."""
    from amorphdb.ml.dataset import provenance_path, records_table
    from amorphdb.store import open_database
    from amorphdb.store.query import parse_element

    species = parse_element(species)
    with open_database(store, must_exist=True) as db, _status("reading records"):
        table, prov = records_table(
            db,
            campaign=campaign,
            species=species,
            include_unreliable=include_unreliable,
            include_melt=include_melt,
        )
        prov["store"] = str(store) if store else "default ($AMORPHDB_STORE or ./amorphdb-data)"
    output.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(output, index=False, float_format="%.6g")
    ppath = provenance_path(output)
    ppath.write_text(json.dumps({"table": output.name, **prov}, indent=1, ensure_ascii=False))
    left = ", ".join(f"{n} {k}" for k, n in prov["left_out"].items()) or "none"
    typer.echo(
        f"wrote {output}: {prov['rows']} rows, {prov['compositions']} compositions from "
        f"{prov['records_read']} completed records (left out: {left}); provenance {ppath}"
    )


@ml_app.command("train")
def train(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file to write.")],
    kind: KindOpt = "random_forest",
    seed: SeedOpt = 0,
    composition_only: Annotated[
        bool,
        typer.Option("--composition-only", help="Ignore descriptor columns (formula + T only)."),
    ] = False,
) -> None:
    """Fit a model (with calibrated 90 % intervals) and write it to a file."""
    from amorphdb.ml import DiffusivityModel
    from amorphdb.ml.dataset import read_table

    model = DiffusivityModel(
        kind=kind, seed=seed, features="composition" if composition_only else "all"
    )
    table = read_table(data)
    with _status(f"fitting {model.kind.value} on {len(table)} rows"):
        model.fit(table)
    model.save(output)
    top = ", ".join(f"{n} {v:.2f}" for n, v in model.feature_importances.head(5).items())
    typer.echo(
        f"wrote {output}: {model.kind.value} on {len(table)} rows, "
        f"{table['formula'].nunique()} compositions, {len(model.feature_names)} features, "
        f"T {model.temperature_range_K[0]:g}–{model.temperature_range_K[1]:g} K"
    )
    typer.echo(f"top features: {top}")
    if model.equation:
        typer.echo(model.equation)


@ml_app.command("predict")
def predict(
    model_file: Annotated[Path, typer.Argument(help="Model file from 'amorphdb ml train'.")],
    data: DataArg,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV to write (default: print).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON records.")] = False,
) -> None:
    """Predict log10 D (cm²/s) with its 90 % interval and the domain flag."""
    from amorphdb.ml import DiffusivityModel
    from amorphdb.ml.dataset import read_table

    model = DiffusivityModel.load(model_file)
    table = read_table(data)
    out = model.predict(table)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        out.to_csv(output, index=False, float_format="%.6g")
        typer.echo(f"wrote {output}: {len(out)} predictions")
    elif as_json:
        typer.echo(out.to_json(orient="records", indent=1))
    else:
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"{model.kind.value} predictions (log10 D in cm²/s, 90 % interval)")
        for col in ("formula", "T (K)", "log10 D", "low", "high", "in domain"):
            t.add_column(col)
        for r in out.itertuples(index=False):
            t.add_row(
                str(r.formula),
                f"{r.temperature_K:g}",
                f"{r.log10_D:.2f}",
                f"{r.log10_D_low:.2f}",
                f"{r.log10_D_high:.2f}",
                "yes" if r.in_domain else "NO",
            )
        Console().print(t)
    outside = int((~out["in_domain"]).sum())
    if outside:
        typer.echo(
            f"{outside} row(s) outside the training domain (unseen element or temperature "
            f"outside {model.temperature_range_K[0]:g}–{model.temperature_range_K[1]:g} K): "
            "their intervals are not trustworthy",
            err=True,
        )


@ml_app.command("report")
def report(
    data: DataArg,
    out: Annotated[Path, typer.Option("--out", help="Folder of the report.")] = Path("ml-report"),
    kinds: Annotated[
        str, typer.Option("--kinds", help="Comma-separated model kinds.")
    ] = "random_forest,xgboost,sisso",
    n_splits: Annotated[int, typer.Option("--n-splits", help="Cross-validation folds.")] = 5,
    seed: SeedOpt = 0,
    group_by: Annotated[
        str, typer.Option("--group-by", help="formula or chemsys (the grouped CV).")
    ] = "formula",
) -> None:
    """Grouped vs. ungrouped CV of each model, parity plot, importances, learning curve."""
    from rich.console import Console
    from rich.table import Table

    from amorphdb.ml.columns import check_table
    from amorphdb.ml.dataset import read_table
    from amorphdb.ml.models import parse_kind
    from amorphdb.ml.report import cv_table, run_report
    from amorphdb.ml.validation import make_folds

    chosen = tuple(parse_kind(k.strip()).value for k in kinds.split(",") if k.strip())
    table = check_table(read_table(data), fit=True, min_rows=2)
    make_folds(table, n_splits, seed, group_by)  # refuse too-small data before any work
    console = Console(stderr=True)
    with console.status("report") as status:
        summary = run_report(
            table,
            out,
            kinds=chosen,
            n_splits=n_splits,
            seed=seed,
            group_by=group_by,
            progress=lambda msg: status.update(msg),
        )
    t = Table(title=f"{summary['rows']} rows, {summary['compositions']} compositions")
    for col in ("model", "folds grouped by", "R²", "MAE", "RMSE", "coverage"):
        t.add_column(col)
    for row in cv_table(summary):
        t.add_row(*row)
    Console().print(t)
    if summary["equation"]:
        typer.echo(f"SISSO: {summary['equation']}")
    typer.echo(
        f"report in {out}/: report.md, report.json, parity.png, "
        "cv_grouped_vs_ungrouped.png, importances.png, learning_curve.png"
    )


def register(app: typer.Typer) -> None:
    """Add the ``ml`` sub-commands."""
    app.add_typer(ml_app, name="ml")

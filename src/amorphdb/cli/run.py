"""``amorphdb run CAMPAIGN.yaml``: run a campaign locally, then print its results table."""

from __future__ import annotations

import math
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from amorphdb.campaign import CampaignSpec, load_campaign
from amorphdb.campaign.local import CompositionResult, run_campaign, validate_campaign
from amorphdb.store import open_database


def jobs_per_composition(spec: CampaignSpec) -> int:
    """Approximate number of jobs of one composition's flow (for the progress bar).

    Counts the first volume runs and one checking run per temperature; a volume
    search that needs more checks moves the bar past 100 % of that composition
    only briefly (the bar is capped).
    """
    p = spec.protocol
    n_temps = 1 + len(p.anneal_temperatures_K)
    volume_jobs = len(p.volume.scale_factors) + 2 * 2 + 1  # runs, 2 checks+fits, start
    cooling = 0
    if p.cooling.method == "linear":
        cooling = len(p.anneal_temperatures_K)
    elif p.cooling.method == "stepwise":
        cooling = sum(
            max(1, math.ceil((p.melt_temperature_K - t) / p.cooling.step_K))
            for t in p.anneal_temperatures_K
        )
    return 1 + n_temps * (volume_jobs + 2) + cooling + 1


def results_table(spec: CampaignSpec, species: str = "Li") -> Table:
    """Table of formula, T, density, pressure, D(species) ± σ and Ea for a campaign.

    D values the analysis flags as unreliable (window too short, uncertainty too
    large) are marked ``*`` and left out of the Arrhenius fit; Ea is shown once per
    composition, on its first row.
    """
    db = open_database(spec.store_path())
    table = Table(
        title=f"campaign {spec.name}",
        caption="* unreliable D (not used for Ea); melt rows are not used for Ea",
    )
    for column in ("formula", "T (K)", "ρ (g/cm³)", "P (kbar)", f"D_{species} (cm²/s)",
                   f"Ea_{species} (eV)"):
        table.add_column(column, justify="left" if column == "formula" else "right")
    arrhenius = {
        d.formula_reduced: d for d in db.find_arrhenius(campaign=spec.name, species=species)
    }
    shown: set[str] = set()
    for doc in db.find(campaign=spec.name, sort=["formula_reduced", "temperature_K"]):
        d = doc.diffusion.get(species)
        d_text = "—"
        if d is not None and d.D_cm2_s is not None:
            d_text = f"{d.D_cm2_s:.2e} ± {d.D_std_cm2_s or 0:.0e}" + ("" if d.reliable else "*")
        arr = arrhenius.get(doc.formula_reduced)
        ea_text = ""
        if doc.formula_reduced not in shown and arr is not None:
            shown.add(doc.formula_reduced)
            ea_text = "n/a" if arr.Ea_eV is None else f"{arr.Ea_eV:.2f} ± {arr.Ea_std_eV or 0:.2f}"
        melt = doc.descriptors.get("stage") == "melt"
        table.add_row(
            doc.formula_reduced,
            f"{doc.temperature_K:g}" + (" melt" if melt else ""),
            f"{doc.density_g_cm3:.2f}",
            f"{doc.pressure_mean_kbar:+.0f}",
            d_text,
            ea_text,
        )
    return table


def run(
    campaign: Path = typer.Argument(..., help="Campaign YAML file."),
    workers: int | None = typer.Option(None, "--workers", "-w", help="Parallel compositions."),
    store: Path | None = typer.Option(None, "--store", help="Store YAML (overrides the file)."),
    species: str = typer.Option("Li", "--species", help="Species shown in the table."),
) -> None:
    """Run a melt–quench campaign locally and print formula, T, density, D and Ea."""
    spec = load_campaign(campaign)
    updates = {}
    if workers is not None:
        updates["workers"] = workers
    if store is not None:
        updates["store"] = str(store.resolve())
    if updates:
        spec = spec.model_copy(update=updates)
    formulas = validate_campaign(spec)  # every composition, before anything is written
    open_database(spec.store_path()).close()  # fail fast on a bad store, before any MD
    console = Console(stderr=True)
    per_formula = jobs_per_composition(spec)
    start = time.perf_counter()
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        tasks = {
            f: progress.add_task(f, total=per_formula, status="waiting") for f in formulas
        }

        def on_progress(formula: str, job_name: str) -> None:
            task = tasks[formula]
            done = progress.tasks[task].completed
            progress.update(task, completed=min(done + 1, per_formula - 1), status=job_name)

        def on_result(result: CompositionResult) -> None:
            status = f"done in {result.seconds:.0f} s" if result.ok else f"FAILED: {result.error}"
            progress.update(tasks[result.formula], completed=per_formula, status=status[:60])

        results = run_campaign(spec, on_progress=on_progress, on_result=on_result, claim=False)
    Console().print(results_table(spec, species))
    failed = [r for r in results.values() if not r.ok]
    console.print(
        f"{len(results) - len(failed)}/{len(results)} compositions completed in "
        f"{time.perf_counter() - start:.0f} s; store: {spec.store_path() or 'embedded default'}"
    )
    for r in failed:
        console.print(f"[red]{r.formula} failed[/red]: {r.error}")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``run`` to the CLI."""
    app.command("run")(run)

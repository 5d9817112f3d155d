"""``amorphdb run``: ``submit --launcher local`` (:func:`amorphdb.campaign.submit.submit`)
with a progress display and the results table.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, Group
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from amorphdb.campaign import CampaignSpec, load_campaign
from amorphdb.campaign.launchers import Launcher
from amorphdb.campaign.local import CompositionResult, validate_campaign
from amorphdb.campaign.submit import SubmissionPlan, submit
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
    # cooling (and glass-point) jobs from the flow's own schedule (flows/schedules)
    cooling = len(p.cooling_runs(spec.engine.resolved_timestep_fs))
    one = 1 + n_temps * (volume_jobs + 2) + cooling + 1
    return one if p.replicas == 1 else p.replicas * one + n_temps + 1  # + the averages


def results_table(spec: CampaignSpec, species: str = "Li", db: Any = None,
                  all_replicas: bool = False) -> Group:
    """The campaign's results (:mod:`amorphdb.cli.results`): formula, T, density,
    pressure, D(species) with σ, flags, the replica spread; then Ea per regime.

    ``db``: the command's open database (default: open the campaign's store).
    ``all_replicas``: one row per replica besides each replica average.
    """
    from amorphdb.cli.results import arrhenius_table
    from amorphdb.cli.results import results_table as summary_table

    db = db if db is not None else open_database(spec.store_path())
    docs = db.find(campaign=spec.name, sort=["formula_reduced", "temperature_K"],
                   hide_replicas=not all_replicas)
    docs.sort(key=lambda d: (d.formula_reduced, d.temperature_K,
                             -1 if d.replica is None else d.replica))
    arrhenius = db.find_arrhenius(campaign=spec.name, species=species)
    return Group(summary_table(docs, species, title=f"campaign {spec.name}"),
                 arrhenius_table(sorted(arrhenius, key=lambda a: a.formula_reduced), species))


class CampaignProgress:
    """Live bars per composition (jobs finished, last job, outcome) for run/submit/rerun."""

    def __init__(self, progress: Progress, spec: CampaignSpec) -> None:
        self.progress = progress
        self.per_formula = jobs_per_composition(spec)
        self.tasks: dict[str, int] = {}

    def _task(self, formula: str) -> int:
        if not self.progress.live.is_started:
            self.progress.start()
        if formula not in self.tasks:
            self.tasks[formula] = self.progress.add_task(formula, total=self.per_formula,
                                                         status="waiting")
        return self.tasks[formula]

    def on_progress(self, formula: str, job_name: str) -> None:
        """A job of ``formula`` finished."""
        task = self._task(formula)
        done = self.progress.tasks[task].completed
        self.progress.update(task, completed=min(done + 1, self.per_formula - 1),
                             status=job_name)

    def on_result(self, result: CompositionResult) -> None:
        """``result``'s composition finished (completed or failed)."""
        status = f"done in {result.seconds:.0f} s" if result.ok else f"FAILED: {result.error}"
        self.progress.update(self._task(result.formula), completed=self.per_formula,
                             status=status[:60])

    def planned(self, plan: SubmissionPlan) -> None:
        """Show the compositions to run as waiting, the others with why they are skipped.

        The display starts with the first bar: an error before prints its one line alone.
        """
        for formula in plan.to_submit:
            self._task(formula)
        for formulas, why in ((plan.completed, "completed earlier"),
                              (plan.in_flight, "in flight elsewhere"),
                              (plan.failed, "failed earlier: amorphdb rerun")):
            for formula in formulas:
                self.progress.update(self._task(formula), status=why)


@contextmanager
def campaign_progress(spec: CampaignSpec, console: Console) -> Iterator[CampaignProgress]:
    """A :class:`CampaignProgress` shown on ``console`` while the block runs (bars appear
    once the plan is known: pass :meth:`CampaignProgress.planned` as ``on_plan``)."""
    progress = Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
    )
    try:
        yield CampaignProgress(progress, spec)
    finally:
        if progress.live.is_started:
            progress.stop()


def summary_line(plan: SubmissionPlan, results: dict, seconds: float) -> str:
    """'N/M compositions completed in S s' plus what was skipped and why."""
    done = [r for r in results.values() if isinstance(r, CompositionResult) and r.ok]
    line = f"{len(done)}/{len(results)} compositions completed in {seconds:.0f} s"
    skipped = [f"{len(plan.completed)} completed earlier (--force recomputes)"
               if plan.completed else "",
               f"{len(plan.in_flight)} in flight elsewhere" if plan.in_flight else "",
               f"{len(plan.failed)} failed earlier (amorphdb rerun)" if plan.failed else ""]
    skipped = [s for s in skipped if s]
    return line + (f"; skipped {', '.join(skipped)}" if skipped else "")


def run(
    campaign: Path = typer.Argument(..., help="Campaign YAML file."),
    workers: int | None = typer.Option(None, "--workers", "-w", help="Parallel compositions."),
    store: Path | None = typer.Option(None, "--store", help="Store YAML (overrides the file)."),
    species: str = typer.Option("Li", "--species", help="Species shown in the table."),
    force: bool = typer.Option(False, "--force",
                               help="Recompute compositions completed earlier."),
    all_replicas: bool = typer.Option(False, "--all-replicas",
                                      help="Show each replica's rows, not only their mean."),
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
    console = Console(stderr=True)
    start = time.perf_counter()
    validate_campaign(spec)  # bad compositions: one line before the store is opened
    with open_database(spec.store_path()) as db:  # once for the whole command
        with campaign_progress(spec, console) as display:
            plan, results = submit(spec, Launcher.LOCAL, display.on_progress,
                                   display.on_result, retry_failed=True, force=force,
                                   on_plan=display.planned, db=db)
        Console().print(results_table(spec, species, db, all_replicas))
    console.print(f"{summary_line(plan, results, time.perf_counter() - start)}; "
                  f"store: {spec.store_path() or 'embedded default'}")
    failed = [r for r in results.values() if not r.ok]
    for r in failed:
        console.print(f"[red]{r.formula} failed[/red]: {r.error}")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``run`` to the CLI."""
    app.command("run")(run)

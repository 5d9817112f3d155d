"""``amorphdb submit``, ``status`` and ``rerun``: thin commands over
:mod:`amorphdb.campaign` (submission plan, status table, rerun policy).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from amorphdb.campaign import load_campaign
from amorphdb.campaign.launchers import Launcher
from amorphdb.campaign.local import CompositionResult
from amorphdb.campaign.spec import CampaignSpec
from amorphdb.campaign.status import count_states
from amorphdb.campaign.submit import dry_run, parse_launcher, rerun, submit, sync_and_read_status
from amorphdb.cli.run import campaign_progress, summary_line

#: launchers that run the compositions while the command waits (progress bars shown)
RUN_HERE = (Launcher.LOCAL, Launcher.PARSL)
LAUNCHER_HELP = "local, parsl, fireworks or jobflow-remote."


def _load(campaign: Path, store: Path | None) -> CampaignSpec:
    spec = load_campaign(campaign)
    if store is not None:
        spec = spec.model_copy(update={"store": str(store.resolve())})
    return spec


def _on_result(console: Console):
    def on_result(result: CompositionResult) -> None:
        if result.ok:
            console.print(f"{result.formula}: completed in {result.seconds:.0f} s")
        else:
            console.print(f"[red]{result.formula} failed[/red] at {result.stage}: {result.error}")

    return on_result


def submit_command(
    campaign: Path = typer.Argument(..., help="Campaign YAML file."),
    launcher: str = typer.Option("local", "--launcher", "-l",
                                 help=LAUNCHER_HELP),
    dry: bool = typer.Option(False, "--dry-run", help="Print counts and core-hours only."),
    store: Path | None = typer.Option(None, "--store", help="Store YAML (overrides the file)."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """Submit the compositions not yet completed, in flight or failed."""
    launcher_enum = parse_launcher(launcher)
    spec = _load(campaign, store)
    console = Console(stderr=True)
    if dry:
        plan = dry_run(spec)
        if as_json:
            typer.echo(json.dumps(plan.as_dict(), indent=1))
            return
        cost = plan.cost
        typer.echo(
            f"campaign {spec.name}: {len(plan.to_submit)} composition(s) would be submitted "
            f"with launcher {launcher_enum.value} (nothing written)"
        )
        typer.echo(
            f"estimate: {cost.steps_per_composition} MD steps × {cost.atoms_per_composition} "
            f"atoms per composition × {cost.cost_per_atom_step_core_s:g} core-s/atom-step "
            f"({spec.engine.name.value}) = {cost.core_hours:.3g} core-hours"
        )
        return
    start = time.perf_counter()
    if launcher_enum in RUN_HERE and not as_json:
        with campaign_progress(spec, console) as display:
            plan, outcome = submit(spec, launcher_enum, display.on_progress, display.on_result,
                                   on_plan=display.planned)
    else:
        plan, outcome = submit(spec, launcher_enum, on_result=_on_result(console))
    summary = (
        f"campaign {spec.name}: submitted {len(plan.to_submit)}, skipped "
        f"{len(plan.completed)} completed, {len(plan.in_flight)} in flight, "
        f"{len(plan.failed)} failed (use 'amorphdb rerun')"
    )
    if launcher_enum in RUN_HERE and outcome:
        summary += f"; {summary_line(plan, outcome, time.perf_counter() - start)}"
    if as_json:
        typer.echo(json.dumps({**plan.as_dict(), "outcome": _jsonable(outcome)}, indent=1))
    else:
        typer.echo(summary)
    failed = [r for r in outcome.values() if isinstance(r, CompositionResult) and not r.ok]
    for r in failed:
        console.print(f"[red]{r.formula} failed[/red] at {r.stage}: {r.error}")
    if failed:
        raise typer.Exit(1)


def _jsonable(outcome: dict) -> dict:
    out = {}
    for key, value in outcome.items():
        if isinstance(value, CompositionResult):
            out[key] = {"ok": value.ok, "error": value.error, "stage": value.stage,
                        "seconds": value.seconds}
        else:
            out[key] = value
    return out


def progress_over_time(statuses) -> dict:
    """Completions over time: first, last, count and rate (per hour) of completed attempts."""
    times = sorted(datetime.fromisoformat(t) for s in statuses for t in s.finished_at[:1])
    if not times:
        return {"completed": 0}
    hours = (times[-1] - times[0]).total_seconds() / 3600
    return {
        "completed": len(times),
        "first": times[0].isoformat(timespec="seconds"),
        "last": times[-1].isoformat(timespec="seconds"),
        "per_hour": (len(times) - 1) / hours if hours > 0 else None,
    }


def _status_table(spec: CampaignSpec, statuses) -> Table:
    counts = count_states(statuses)
    title = f"campaign {spec.name}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    timeline = progress_over_time(statuses)
    caption = None
    if timeline["completed"]:
        rate = timeline["per_hour"]
        caption = (f"completed {timeline['completed']} from {timeline['first']} to "
                   f"{timeline['last']}" + (f" ({rate:.2f}/h)" if rate else ""))
    table = Table(title=title, caption=caption)
    for column in ("formula", "state", "attempts", "stage", "last error"):
        table.add_column(column)
    for s in statuses:
        table.add_row(s.formula, s.state, str(s.attempts), s.stage or "",
                      (s.last_error or "")[:100])
    return table


def status_command(
    campaign: Path = typer.Argument(..., help="Campaign YAML file."),
    store: Path | None = typer.Option(None, "--store", help="Store YAML (overrides the file)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    watch: float = typer.Option(0.0, "--watch", help="Refresh every this many seconds."),
) -> None:
    """Counts by state and, per composition, stage reached and last error."""
    from amorphdb.store import open_database

    spec = _load(campaign, store)
    # opened once for the command (never creates one); --watch reads it again each time
    with open_database(spec.store_path(), must_exist=True) as db:
        _show_status(spec, db, as_json, watch)


def _show_status(spec: CampaignSpec, db, as_json: bool, watch: float) -> None:
    """The status table (or JSON) of ``spec``, refreshed every ``watch`` seconds if > 0."""

    def snapshot():
        return sync_and_read_status(spec, db)

    statuses = snapshot()
    if as_json:
        typer.echo(json.dumps({
            "campaign": spec.name,
            "counts": count_states(statuses),
            "progress": progress_over_time(statuses),
            "compositions": [s.as_dict() for s in statuses],
        }, indent=1))
        return
    console = Console()
    if watch <= 0:
        console.print(_status_table(spec, statuses))
        return
    from rich.live import Live

    with Live(_status_table(spec, statuses), console=console, refresh_per_second=1) as live:
        try:
            while True:
                time.sleep(watch)
                live.update(_status_table(spec, snapshot()))
        except KeyboardInterrupt:
            return


def rerun_command(
    campaign: Path = typer.Argument(..., help="Campaign YAML file."),
    launcher: str = typer.Option("local", "--launcher", "-l",
                                 help=LAUNCHER_HELP),
    formula: list[str] = typer.Option(None, "--formula", "-f", help="Only these (repeat)."),
    error: str | None = typer.Option(None, "--error", help="Regex on the last error."),
    stage: str | None = typer.Option(None, "--stage", help="Substring of the stage reached."),
    dry: bool = typer.Option(False, "--dry-run", help="Show the selection and changes only."),
    store: Path | None = typer.Option(None, "--store", help="Store YAML (overrides the file)."),
    as_json: bool = typer.Option(False, "--json", help="Print the selection and outcome as JSON."),
) -> None:
    """Rerun failed and lost compositions with escalated settings."""
    launcher_enum = parse_launcher(launcher)
    spec = _load(campaign, store)
    console = Console(stderr=True)
    if launcher_enum in RUN_HERE and not dry and not as_json:
        with campaign_progress(spec, console) as display:
            items, outcome = rerun(spec, launcher_enum, formula or None, error, stage,
                                   on_progress=display.on_progress,
                                   on_result=display.on_result)
    else:
        items, outcome = rerun(spec, launcher_enum, formula or None, error, stage, dry=dry,
                               on_result=_on_result(console))
    for item in [] if as_json else items:
        if item.exhausted:
            typer.echo(f"{item.formula}: failed for good ({item.attempt} attempts, "
                       f"max_attempts {spec.max_attempts})")
        else:
            changes = "; ".join(item.escalation.changes)
            reuse = f"; reuses {item.resumes_from}" if item.resumes_from else ""
            typer.echo(f"{item.formula}: attempt {item.attempt} ({item.escalation.kind}): "
                       f"{changes}{reuse}")
    todo = [i for i in items if not i.exhausted]
    verb = "would rerun" if dry else "reran"
    if as_json:
        typer.echo(json.dumps({"campaign": spec.name, "dry_run": dry, "compositions": [
            {"formula": i.formula, "attempt": i.attempt, "exhausted": i.exhausted,
             "kind": i.escalation.kind.value if i.escalation else None,
             "changes": i.escalation.changes if i.escalation else [],
             "resumes_from": i.resumes_from} for i in items],
            "outcome": _jsonable(outcome)}, indent=1))
    else:
        typer.echo(f"campaign {spec.name}: {verb} {len(todo)} composition(s)")
    failed = [r for r in outcome.values() if isinstance(r, CompositionResult) and not r.ok]
    for r in failed:
        console.print(f"[red]{r.formula} failed[/red] at {r.stage}: {r.error}")
    exhausted = [i.formula for i in items if i.exhausted]
    if exhausted and not dry:  # the campaign keeps failed compositions: not a success
        console.print(
            f"{len(exhausted)} composition(s) failed for good, every attempt used "
            f"(max_attempts {spec.max_attempts}): {', '.join(exhausted)}; to retry them "
            "raise max_attempts in the campaign file and run 'amorphdb rerun' again"
        )
    if failed or (exhausted and not dry):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``submit``, ``status`` and ``rerun`` to the CLI."""
    app.command("submit")(submit_command)
    app.command("status")(status_command)
    app.command("rerun")(rerun_command)

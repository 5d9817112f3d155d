"""Submit, rerun and inspect campaigns: what to run, with which settings, where.

``submit`` runs (local) or queues (FireWorks, jobflow-remote) only the compositions
with no record yet: completed and in-flight compositions are skipped, failed ones
are left to ``rerun``, so submitting twice submits nothing new. ``rerun`` takes the
failed and lost compositions (optionally filtered), escalates their settings from
the last attempt's (:mod:`amorphdb.campaign.escalation`) and submits them again,
until ``max_attempts`` attempts ended in failure — then the composition stays
failed for good.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from amorphdb.campaign.cost import CostEstimate, estimate_cost
from amorphdb.campaign.escalation import Escalation, classify_error, escalate
from amorphdb.campaign.launchers import (
    CampaignLauncher,
    Launcher,
    connect_launcher,
    parse_launcher,
)
from amorphdb.campaign.local import CompositionResult, resume_point_for, validate_campaign
from amorphdb.campaign.spec import CampaignSpec
from amorphdb.campaign.status import LOST, NEW, CompositionStatus, campaign_status
from amorphdb.engines import EngineSpec
from amorphdb.errors import ConfigError
from amorphdb.flows.protocol import ProtocolSettings
from amorphdb.store.schemas import ResultState

__all__ = ["Launcher", "dry_run", "parse_launcher", "plan_submission", "rerun", "submit"]


@dataclass
class SubmissionPlan:
    """What ``submit`` would do: compositions by what happens to them."""

    campaign: str
    to_submit: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    cost: CostEstimate | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        cost = self.cost
        return {
            "campaign": self.campaign,
            "to_submit": self.to_submit,
            "counts": {
                "to_submit": len(self.to_submit),
                "completed": len(self.completed),
                "in_flight": len(self.in_flight),
                "failed": len(self.failed),
            },
            "estimate": None if cost is None else {
                "steps_per_composition": cost.steps_per_composition,
                "atoms_per_composition": cost.atoms_per_composition,
                "cost_per_atom_step_core_s": cost.cost_per_atom_step_core_s,
                "core_hours": cost.core_hours,
            },
        }


def plan_submission(
    spec: CampaignSpec, formulas: list[str], statuses: list[CompositionStatus] | None
) -> SubmissionPlan:
    """Sort ``formulas`` by their status (``statuses`` None: nothing recorded yet)."""
    by_formula = {s.formula: s for s in statuses or []}
    plan = SubmissionPlan(campaign=spec.name)
    for formula in formulas:
        status = by_formula.get(formula)
        state = status.state if status is not None else NEW
        if state == NEW:
            plan.to_submit.append(formula)
        elif state == ResultState.COMPLETED:
            plan.completed.append(formula)
        elif state in (ResultState.RUNNING, ResultState.WAITING):
            plan.in_flight.append(formula)
        else:  # failed or lost: rerun's job
            plan.failed.append(formula)
    plan.cost = estimate_cost(
        len(plan.to_submit), spec.protocol, spec.engine.name, spec.cost_per_atom_step_core_s
    )
    return plan


def dry_run(spec: CampaignSpec) -> SubmissionPlan:
    """Plan without touching any store: every composition counts as to submit.

    Validates every composition against the engine first (one error listing all).
    """
    return plan_submission(spec, validate_campaign(spec), None)


def read_status(spec: CampaignSpec, db: Any) -> list[CompositionStatus]:
    """Status of every composition of the campaign file (and any extra records)."""
    return campaign_status(spec.name, spec.formulas(), db, spec.heartbeat_timeout_s)


def _try_launchpad(spec: CampaignSpec) -> Any:
    """The campaign's LaunchPad when configured and reachable, else None."""
    from amorphdb.campaign.fireworks import FireWorksLauncher
    from amorphdb.errors import AmorphdbError

    try:
        return FireWorksLauncher.connect(spec, timeout_ms=1000).launchpad
    except (AmorphdbError, ImportError):
        return None


def _try_job_controller(spec: CampaignSpec) -> Any:
    """The campaign's jobflow-remote JobController when reachable, else None."""
    from amorphdb.campaign.jobflow_remote import JobflowRemoteLauncher
    from amorphdb.errors import AmorphdbError

    try:
        return JobflowRemoteLauncher.connect(spec).job_controller()
    except (AmorphdbError, ImportError):
        return None


def sync_and_read_status(
    spec: CampaignSpec, db: Any, backend: CampaignLauncher | None = None
) -> list[CompositionStatus]:
    """Take distributed launchers' outcomes into the records, then read the status.

    ``backend``: a launcher this command already connected (its LaunchPad or project is
    reused, not connected to a second time).
    """
    from amorphdb.campaign.sync import DISTRIBUTED, sync_campaign

    launchers = {
        d.attempts[-1].settings.get("launcher") for d in db.find_campaigns(campaign=spec.name)
        if d.attempts and d.state in (ResultState.WAITING, ResultState.RUNNING)
    }
    if launchers & set(DISTRIBUTED):
        name = getattr(backend, "name", None)
        launchpad = controller = None
        if "fireworks" in launchers:
            launchpad = backend.launchpad if name == "fireworks" else _try_launchpad(spec)
        if "jobflow-remote" in launchers:
            controller = (backend.job_controller() if name == "jobflow-remote"
                          else _try_job_controller(spec))
        sync_campaign(spec, db, launchpad, controller)
    return read_status(spec, db)


def submit(
    spec: CampaignSpec,
    launcher: Launcher | str = Launcher.LOCAL,
    on_progress: Callable[[str, str], None] | None = None,
    on_result: Callable[[CompositionResult], None] | None = None,
    retry_failed: bool = False,
    force: bool = False,
    on_plan: Callable[[SubmissionPlan], None] | None = None,
    db: Any = None,
) -> tuple[SubmissionPlan, dict[str, Any]]:
    """Submit what is not completed, in flight or failed; return the plan and outcome.

    Everything is checked first (compositions against the engine, the store, the
    launcher's server or scheduler): on any error nothing is submitted. Every launcher
    claims each composition before running it, so concurrent submits run it once.

    Parameters
    ----------
    retry_failed
        Also run failed and lost compositions again, with the file's settings
        (``amorphdb run``; ``rerun`` escalates them instead).
    force
        Also recompute completed compositions (``run --force``): claims are not
        checked for them; in-flight ones are still skipped.
    on_plan
        Called with the plan once everything is checked, before anything runs.
    db
        The campaign database, opened by the command (and left open); None: opened here,
        once, for the plan and the launcher, and closed at the end.
    """
    formulas = validate_campaign(spec)
    backend = connect_launcher(spec, launcher)  # LaunchPad / project / scheduler first
    with _database(spec, db) as db:
        return _submit(spec, formulas, backend, db, on_progress, on_result, retry_failed,
                       force, on_plan)


@contextlib.contextmanager
def _database(spec: CampaignSpec, db: Any, must_exist: bool = False) -> Iterator[Any]:
    """``db`` as it is, or the campaign's store opened for the block (and closed after;
    ``must_exist``: refuse a store that does not exist instead of creating it)."""
    if db is not None:
        yield db
        return
    from amorphdb.store import open_database

    with open_database(spec.store_path(), must_exist=must_exist) as opened:
        yield opened


def _submit(
    spec: CampaignSpec, formulas: list[str], backend: CampaignLauncher, db: Any,
    on_progress: Callable[[str, str], None] | None,
    on_result: Callable[[CompositionResult], None] | None,
    retry_failed: bool, force: bool, on_plan: Callable[[SubmissionPlan], None] | None,
) -> tuple[SubmissionPlan, dict[str, Any]]:
    """:func:`submit` once the launcher is connected and the store open."""
    plan = plan_submission(spec, formulas, sync_and_read_status(spec, db, backend))
    extra = (plan.completed if force else []) + (plan.failed if force or retry_failed else [])
    if extra:
        chosen = set(plan.to_submit) | set(extra)
        plan.to_submit = [f for f in formulas if f in chosen]
        plan.completed = [f for f in plan.completed if f not in chosen]
        plan.failed = [f for f in plan.failed if f not in chosen]
        plan.cost = estimate_cost(len(plan.to_submit), spec.protocol, spec.engine.name,
                                  spec.cost_per_atom_step_core_s)
    if on_plan is not None:
        on_plan(plan)
    if not plan.to_submit:
        return plan, {}
    outcome = backend.submit(spec, plan.to_submit, db=db, on_progress=on_progress,
                             on_result=on_result, claim=not force)
    # compositions another launcher claimed between our plan and our claim
    taken = [f for f in plan.to_submit if f not in outcome]
    plan.to_submit = [f for f in plan.to_submit if f in outcome]
    plan.in_flight += taken
    return plan, outcome


@dataclass
class RerunItem:
    """One composition selected for a rerun and its next settings."""

    formula: str
    attempt: int
    escalation: Escalation | None
    exhausted: bool = False
    #: stages a dry run found reusable (``rerun --dry-run``), e.g. "melt, anneal 1000 K"
    resumes_from: str | None = None


def _last_settings(spec: CampaignSpec, doc: Any) -> tuple[EngineSpec, ProtocolSettings]:
    """Engine and protocol of the last attempt that recorded them (else the file's)."""
    for attempt in reversed(doc.attempts if doc is not None else []):
        s = attempt.settings or {}
        if "engine" in s and "protocol" in s:
            return EngineSpec.model_validate(s["engine"]), ProtocolSettings.model_validate(
                s["protocol"]
            )
    return spec.engine, spec.protocol


def select_rerun(
    spec: CampaignSpec,
    db: Any,
    formulas: list[str] | None = None,
    error_pattern: str | None = None,
    stage: str | None = None,
) -> list[RerunItem]:
    """Failed and lost compositions matching the filters, with escalated settings.

    Parameters
    ----------
    formulas
        Only these compositions (any notation).
    error_pattern
        Regular expression searched (case-insensitive) in the last error.
    stage
        Substring of the stage reached (``pack``, ``melt``, ``anneal``, ...).
    """
    from amorphdb.structure import parse_composition

    if not db.find_campaigns(campaign=spec.name):
        raise ConfigError(
            f"campaign '{spec.name}' has no records in {db.config.address}; "
            "submit it first ('amorphdb submit')"
        )
    wanted = {parse_composition(f).reduced_formula for f in formulas} if formulas else None
    try:
        pattern = re.compile(error_pattern, re.I) if error_pattern else None
    except re.error as exc:
        raise ConfigError(f"--error '{error_pattern}' is not a regular expression: {exc}") from None
    items = []
    for status in read_status(spec, db):
        if status.state not in (str(ResultState.FAILED), LOST):
            continue
        if wanted is not None and status.formula not in wanted:
            continue
        if pattern is not None and not pattern.search(status.last_error or ""):
            continue
        if stage is not None and stage not in (status.stage or ""):
            continue
        doc = db.get_campaign(spec.name, status.formula)
        # failed attempts, counting a lost (still open) one: it failed too
        failures = [a for a in doc.attempts if a.state != ResultState.COMPLETED]
        if len(failures) >= spec.max_attempts:
            items.append(RerunItem(status.formula, len(doc.attempts), None, exhausted=True))
            continue
        engine, protocol = _last_settings(spec, doc)
        previous = [classify_error(a.error, a.stage) for a in failures[:-1]]
        esc = escalate(status.last_error, engine, protocol, previous, status.formula,
                       status.stage)
        items.append(RerunItem(status.formula, len(doc.attempts) + 1, esc))
    return items


def rerun(
    spec: CampaignSpec,
    launcher: Launcher | str = Launcher.LOCAL,
    formulas: list[str] | None = None,
    error_pattern: str | None = None,
    stage: str | None = None,
    dry: bool = False,
    on_progress: Callable[[str, str], None] | None = None,
    on_result: Callable[[CompositionResult], None] | None = None,
    db: Any = None,
) -> tuple[list[RerunItem], dict[str, Any]]:
    """Rerun failed/lost compositions with escalated settings (see :func:`select_rerun`).

    Lost attempts are closed as failed first, so every attempt stays recorded.
    Exhausted compositions are not run. Completed ones are never selected. Each rerun
    starts from the stages earlier attempts completed (:mod:`amorphdb.flows.resume`);
    the attempt records them as ``resumed_from``. ``db``: as in :func:`submit`.
    """
    backend = connect_launcher(spec, launcher)
    with _database(spec, db, must_exist=True) as db:  # nothing to rerun without a store
        return _rerun(spec, backend, db, formulas, error_pattern, stage, dry, on_progress,
                      on_result)


def _rerun(
    spec: CampaignSpec, backend: CampaignLauncher, db: Any, formulas: list[str] | None,
    error_pattern: str | None, stage: str | None, dry: bool,
    on_progress: Callable[[str, str], None] | None,
    on_result: Callable[[CompositionResult], None] | None,
) -> tuple[list[RerunItem], dict[str, Any]]:
    """:func:`rerun` once the launcher is connected and the store open."""
    sync_and_read_status(spec, db, backend)
    items = select_rerun(spec, db, formulas, error_pattern, stage)
    todo = [i for i in items if not i.exhausted]
    if dry:
        for item in todo:  # what the rerun would reuse (the real run looks again)
            point = resume_point_for(db.job_store, _escalated(spec, item), item.formula)
            item.resumes_from = point.describe() if point is not None else None
    if dry or not todo:
        return items, {}
    statuses = {s.formula: s for s in read_status(spec, db)}
    for item in todo:
        if statuses[item.formula].state == LOST:
            db.record_attempt(spec.name, item.formula, "failed",
                              error=statuses[item.formula].last_error,
                              stage=statuses[item.formula].stage)
    specs = {i.formula: _escalated(spec, i) for i in todo}
    info = {
        i.formula: {"escalation": str(i.escalation.kind), "changes": i.escalation.changes}
        for i in todo
    }
    names = [i.formula for i in todo]
    _check_escalated(specs)
    return items, backend.submit(spec, names, db=db, specs=specs, attempt_info=info,
                                 resume=True, on_progress=on_progress, on_result=on_result)


def _escalated(spec: CampaignSpec, item: RerunItem) -> CampaignSpec:
    """The campaign with a rerun item's escalated engine and protocol."""
    return spec.model_copy(
        update={"engine": item.escalation.engine, "protocol": item.escalation.protocol}
    )


def _check_escalated(specs: dict[str, CampaignSpec]) -> None:
    """Check every rerun composition with its new settings; one error listing all."""
    from amorphdb.errors import AmorphdbError
    from amorphdb.flows import check_composition

    problems = []
    for formula, s in specs.items():
        try:
            check_composition(formula, s.engine, s.protocol)
        except AmorphdbError as exc:
            problems.append(f"{formula}: {exc}")
    if problems:
        raise ConfigError(f"{len(problems)} rerun(s) cannot run: " + " | ".join(problems))


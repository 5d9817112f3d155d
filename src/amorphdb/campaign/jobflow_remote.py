"""jobflow-remote launcher: each composition's flow is added to a jobflow-remote project.

Per stage (``pack``, ``volume``, ``melt``, ``anneal``, ``record``, see
:func:`amorphdb.campaign.fireworks.stage_of`) a job gets the worker named in
``launchers.jobflow_remote.workers`` (else ``worker``, else the project's first) and
the resources of the campaign's ``resources`` (``default`` merged with the stage's),
set with :func:`jobflow_remote.set_run_config` (``dynamic=True``, so the volume
search's runtime jobs inherit them). The runner daemon (``jf runner start``) then
submits them to the workers' queues; the project's JobStore must be the campaign's
store for ``amorphdb db build`` to collect the summaries.
"""

from __future__ import annotations

from typing import Any

from amorphdb.campaign.claims import submit_claimed
from amorphdb.campaign.fireworks import stage_of
from amorphdb.campaign.local import maker_for
from amorphdb.campaign.spec import CampaignSpec
from amorphdb.errors import ConfigError
from amorphdb.flows.resume import ResumePoint


def prepare_flow(spec: CampaignSpec, formula: str, resume: ResumePoint | None = None) -> Any:
    """The composition's flow with worker and resources set per stage.

    With ``resume``, the flow refers to completed stages' outputs in the JobStore instead
    of running them again (submit it with ``allow_external_references=True``).
    """
    from jobflow_remote import set_run_config

    flow = maker_for(spec).make(formula, resume=resume)
    settings = spec.launchers.jobflow_remote
    default = spec.resources.get("default", {})
    for job, _ in flow.iterflow():
        stage = stage_of(job.name)
        resources = {**default, **spec.resources.get(stage, {})}
        worker = settings.workers.get(stage, settings.worker)
        set_run_config(job, resources=resources or None, worker=worker, dynamic=True)
    return flow


class JobflowRemoteLauncher:
    """Submits to a jobflow-remote project (checked on creation)."""

    name = "jobflow-remote"

    def __init__(self, project: Any, project_name: str | None) -> None:
        self.project = project
        self.project_name = project_name

    @classmethod
    def connect(cls, spec: CampaignSpec) -> JobflowRemoteLauncher:
        """Load the project and ping its queue database; one-line errors otherwise."""
        try:
            from jobflow_remote import ConfigManager
        except ImportError:  # pragma: no cover - installed with amorphdb[all]
            raise ConfigError("jobflow-remote is not installed; pip install jobflow-remote") \
                from None
        name = spec.launchers.jobflow_remote.project
        try:
            project = ConfigManager().get_project(name)
        except Exception as exc:
            raise ConfigError(
                f"jobflow-remote project '{name or 'default'}' not found "
                f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                "create it with 'jf project generate' (docs/hpc-guide.md)"
            ) from None
        wanted = {w for w in [spec.launchers.jobflow_remote.worker,
                              *spec.launchers.jobflow_remote.workers.values()] if w}
        missing = sorted(wanted - set(project.workers))
        if missing:
            raise ConfigError(
                f"jobflow-remote project '{project.name}' has no worker(s) {', '.join(missing)}; "
                f"known: {', '.join(project.workers) or 'none'}"
            )
        queue = project.get_queue_store()
        address = _address(queue)
        kwargs = getattr(queue, "mongoclient_kwargs", None)
        if isinstance(kwargs, dict):  # fail fast instead of pymongo's 30 s default
            kwargs.setdefault("serverSelectionTimeoutMS", 3000)
        try:
            queue.connect()
            queue.count()  # maggma's public API; a server round trip (fails fast when down)
        except Exception as exc:
            raise ConfigError(
                f"cannot reach the jobflow-remote queue database at {address} "
                f"({type(exc).__name__}); check project '{project.name}'"
            ) from None
        return cls(project, name)

    def job_controller(self) -> Any:
        """The project's jobflow-remote ``JobController`` (reads job states)."""
        return self.project.get_job_controller()

    def submit(
        self,
        spec: CampaignSpec,
        formulas: list[str],
        specs: dict[str, CampaignSpec] | None = None,
        attempt_info: dict[str, dict[str, Any]] | None = None,
        resume: bool = False,
        on_progress: Any = None,
        on_result: Any = None,
        claim: bool = True,
        db: Any = None,
    ) -> dict[str, Any]:
        """Add one flow per composition to the project; record each as ``waiting``.

        ``resume`` (a rerun) reuses the stages earlier attempts completed. Progress and
        results come later, through :meth:`sync` (``on_progress``/``on_result`` unused);
        every composition is claimed (``claim`` is always on).
        """
        from jobflow_remote import submit_flow

        def add(s: CampaignSpec, formula: str, point: Any) -> tuple[dict[str, Any], str]:
            flow = prepare_flow(s, formula, resume=point)
            db_ids = submit_flow(flow, project=self.project_name,
                                 worker=s.launchers.jobflow_remote.worker,
                                 allow_external_references=point is not None)
            return {"db_ids": db_ids, "flow_uuid": flow.uuid}, flow.uuid

        return submit_claimed(spec, formulas, "jobflow-remote", add, specs, attempt_info,
                              resume, db=db)

    def sync(self, spec: CampaignSpec, db: Any) -> dict[str, str]:
        """Take the outcomes of this launcher's workers into the campaign records."""
        from amorphdb.campaign.sync import sync_campaign

        return sync_campaign(spec, db, job_controller=self.job_controller())


def _address(store: Any) -> str:
    host = getattr(store, "host", None) or "localhost"
    port = getattr(store, "port", None)
    return f"{host}:{port}" if port and not str(host).startswith("mongodb") else str(host)

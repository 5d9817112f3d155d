"""FireWorks launcher: each composition's flow becomes a Workflow on a LaunchPad.

Flows are converted with jobflow's :func:`jobflow.managers.fireworks.flow_to_workflow`;
per-stage resources (campaign field ``resources``: ``default`` plus any of ``pack``,
``volume``, ``melt``, ``anneal``, ``record``) go into each job's
``manager_config["_queueadapter"]``, which jobflow copies into the Firework spec —
including into the jobs the volume search creates at run time (``dynamic=True``).
The workers' jobflow ``JOB_STORE`` (``~/.jobflow.yaml``) must be the campaign's
store; ``amorphdb db build`` then collects the summaries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from amorphdb.campaign.claims import submit_claimed
from amorphdb.campaign.local import maker_for
from amorphdb.campaign.spec import CampaignSpec
from amorphdb.errors import ConfigError
from amorphdb.flows.resume import ResumePoint


def stage_of(job_name: str) -> str:
    """Resource stage of a job name: pack, volume, melt, anneal or record."""
    name = job_name.lower()
    if name.startswith("pack"):
        return "pack"
    if name.startswith("record"):
        return "record"
    if "volume" in name or "fit" in name or "scan" in name or "eos" in name:
        return "volume"
    if name.startswith("melt"):
        return "melt"
    return "anneal"


def apply_resources(flow: Any, resources: dict[str, dict[str, Any]]) -> None:
    """Set ``_queueadapter`` per stage on every job of ``flow`` (and dynamic ones)."""
    default = resources.get("default", {})
    for job in flow.jobs if hasattr(flow, "jobs") else [flow]:
        if hasattr(job, "jobs"):
            apply_resources(job, resources)
            continue
        qa = {**default, **resources.get(stage_of(job.name), {})}
        if qa:
            job.update_config({"manager_config": {"_queueadapter": qa}}, dynamic=True)


def workflow_from_flow(
    flow: Any,
    resources: dict[str, dict[str, Any]],
    name: str,
    store: Any = None,
    allow_external_references: bool = False,
) -> Any:
    """Apply per-stage resources to ``flow`` and convert it to a FireWorks ``Workflow``."""
    from jobflow.managers.fireworks import flow_to_workflow

    apply_resources(flow, resources)
    return flow_to_workflow(
        flow, store=store, name=name, allow_external_references=allow_external_references
    )


def campaign_workflow(
    spec: CampaignSpec, formula: str, store: Any = None, resume: ResumePoint | None = None
) -> Any:
    """The FireWorks ``Workflow`` of one composition (resources applied).

    With ``resume``, the workflow refers to the outputs of completed stages in the
    campaign's JobStore (the workers' ``JOB_STORE``) instead of running them again.
    """
    flow = maker_for(spec).make(formula, resume=resume)
    return workflow_from_flow(flow, spec.resources, f"{spec.name} {formula}", store,
                              allow_external_references=resume is not None)


def launchpad_file(spec: CampaignSpec) -> Path:
    """The LaunchPad file: campaign setting, ./my_launchpad.yaml or ~/.fireworks/."""
    if spec.launchers.fireworks.launchpad_file:
        return spec.resolve(spec.launchers.fireworks.launchpad_file)
    for candidate in (Path("my_launchpad.yaml"), Path.home() / ".fireworks/my_launchpad.yaml"):
        if candidate.exists():
            return candidate
    raise ConfigError(
        "no LaunchPad file: set launchers.fireworks.launchpad_file or create my_launchpad.yaml"
    )


class FireWorksLauncher:
    """Adds campaign workflows to a LaunchPad (connected and pinged on creation)."""

    name = "fireworks"

    def __init__(self, launchpad: Any) -> None:
        self.launchpad = launchpad

    @classmethod
    def connect(cls, spec: CampaignSpec, timeout_ms: int = 3000) -> FireWorksLauncher:
        """Open the LaunchPad and ping its MongoDB; one-line error naming the address."""
        from fireworks import LaunchPad

        path = launchpad_file(spec)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read LaunchPad file {path}: {exc}".splitlines()[0]) from exc
        kwargs = dict(data.get("mongoclient_kwargs") or {})
        kwargs.setdefault("serverSelectionTimeoutMS", timeout_ms)
        data["mongoclient_kwargs"] = kwargs
        address = data.get("host") or "localhost"
        if "port" in data and not str(address).startswith("mongodb"):
            address = f"{address}:{data['port']}"
        try:
            launchpad = LaunchPad.from_dict(data)
            launchpad.connection.admin.command("ping")
        except Exception as exc:
            raise ConfigError(
                f"cannot reach the LaunchPad MongoDB at {address} ({type(exc).__name__}); "
                f"check {path}"
            ) from None
        return cls(launchpad)

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
        """Add one workflow per composition; record each as ``waiting``.

        ``resume`` (a rerun) reuses the stages earlier attempts completed. Progress and
        results come later, through :meth:`sync` (``on_progress``/``on_result`` unused);
        every composition is claimed (``claim`` is always on).
        """
        def add(s: CampaignSpec, formula: str, point: Any) -> tuple[dict[str, Any], str]:
            ids = self.launchpad.add_wf(campaign_workflow(s, formula, resume=point))
            fw_ids = sorted(int(i) for i in ids.values())
            return {"fw_ids": fw_ids}, str(fw_ids[0])

        return submit_claimed(spec, formulas, "fireworks", add, specs, attempt_info, resume,
                              db=db)

    def sync(self, spec: CampaignSpec, db: Any) -> dict[str, str]:
        """Take the outcomes of this launcher's workers into the campaign records."""
        from amorphdb.campaign.sync import sync_campaign

        return sync_campaign(spec, db, launchpad=self.launchpad)

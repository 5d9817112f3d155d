"""One launcher interface and its registry: local, parsl, fireworks, jobflow-remote.

Every launcher is a peer behind :class:`CampaignLauncher`:

``connect(spec)``
    check everything it needs (server reachable, scheduler up, settings fit) and fail
    with one line before anything is written;
``plan``
    shared by all: :func:`amorphdb.campaign.submit.plan_submission` sorts compositions by
    their records (new, completed, in flight, failed) — launchers do not plan;
``submit(spec, formulas, ..., db=db)``
    claim each composition (:meth:`AmorphousDB.record_attempt` ``claim=True``), run or
    queue it, record its attempt; return formula → outcome for those it claimed. ``db``
    is the campaign database the command opened (once per command: launchers do not
    open the store themselves when they are given it);
``sync(spec, db)``
    take outcomes the launcher's own workers produced into the campaign records
    (FireWorks, jobflow-remote); launchers that record as they go return ``{}``.

:func:`connect_launcher` picks one by name through :data:`REGISTRY`; nothing else in
the package branches on a launcher's name.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from importlib import import_module
from typing import Any, Protocol

from amorphdb.campaign.spec import CampaignSpec
from amorphdb.errors import ConfigError


class Launcher(StrEnum):
    """Where compositions run."""

    LOCAL = "local"
    PARSL = "parsl"
    FIREWORKS = "fireworks"
    JOBFLOW_REMOTE = "jobflow-remote"


#: launcher → "module:class" implementing :class:`CampaignLauncher` (imported on use)
REGISTRY: dict[Launcher, str] = {
    Launcher.LOCAL: "amorphdb.campaign.launchers:LocalLauncher",
    Launcher.PARSL: "amorphdb.campaign.parsl_launcher:ParslLauncher",
    Launcher.FIREWORKS: "amorphdb.campaign.fireworks:FireWorksLauncher",
    Launcher.JOBFLOW_REMOTE: "amorphdb.campaign.jobflow_remote:JobflowRemoteLauncher",
}


class CampaignLauncher(Protocol):
    """What every launcher implements (see the module docstring)."""

    name: str

    @classmethod
    def connect(cls, spec: CampaignSpec) -> CampaignLauncher: ...

    def submit(
        self,
        spec: CampaignSpec,
        formulas: list[str],
        specs: dict[str, CampaignSpec] | None = None,
        attempt_info: dict[str, dict[str, Any]] | None = None,
        resume: bool = False,
        on_progress: Callable[[str, str], None] | None = None,
        on_result: Callable[[Any], None] | None = None,
        claim: bool = True,
        db: Any = None,
    ) -> dict[str, Any]: ...

    def sync(self, spec: CampaignSpec, db: Any) -> dict[str, str]: ...


def parse_launcher(name: str) -> Launcher:
    """The launcher named ``name``; one-line :class:`ConfigError` otherwise."""
    try:
        return Launcher(name)
    except ValueError:
        known = ", ".join(x.value for x in Launcher)
        raise ConfigError(f"unknown launcher '{name}'; use one of {known}") from None


def launcher_class(name: Launcher | str) -> type[CampaignLauncher]:
    """The class registered for ``name``."""
    module, _, cls = REGISTRY[parse_launcher(str(name))].partition(":")
    return getattr(import_module(module), cls)


def connect_launcher(spec: CampaignSpec, name: Launcher | str) -> CampaignLauncher:
    """The launcher ``name`` connected for ``spec`` (fails fast, nothing written)."""
    return launcher_class(name).connect(spec)


class LocalLauncher:
    """Compositions in worker processes on this machine (:mod:`amorphdb.campaign.local`)."""

    name = "local"

    @classmethod
    def connect(cls, spec: CampaignSpec) -> LocalLauncher:
        """Nothing to reach: the store is checked when the campaign is planned."""
        return cls()

    def submit(
        self,
        spec: CampaignSpec,
        formulas: list[str],
        specs: dict[str, CampaignSpec] | None = None,
        attempt_info: dict[str, dict[str, Any]] | None = None,
        resume: bool = False,
        on_progress: Callable[[str, str], None] | None = None,
        on_result: Callable[[Any], None] | None = None,
        claim: bool = True,
        db: Any = None,
    ) -> dict[str, Any]:
        """Run the compositions now (:func:`amorphdb.campaign.local.run_campaign`)."""
        from amorphdb.campaign.local import run_campaign

        return run_campaign(spec, on_progress, on_result, formulas=formulas, specs=specs,
                            attempt_info=attempt_info, resume=resume, claim=claim, db=db)

    def sync(self, spec: CampaignSpec, db: Any) -> dict[str, str]:
        """Nothing to take in: the local launcher records every outcome itself."""
        return {}

"""Submitting to a distributed launcher: claim, add, record — the same for each launcher.

Each composition is first *claimed* on its campaign record (a compare-and-set that opens
a new attempt only when the composition is new or failed: see
:meth:`amorphdb.store.database.AmorphousDB.record_attempt`), so two launchers never add
the same composition; then the launcher adds its workflow, and the attempt records the
launcher's ids and a heartbeat. A failed addition releases the claim as a failed attempt
with the error and re-raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from amorphdb.campaign.local import attempt_settings, resume_point_for
from amorphdb.campaign.spec import CampaignSpec
from amorphdb.campaign.status import Heartbeats

#: adds one composition: (spec, formula, resume point or None) -> (ids to record, external id)
AddOne = Callable[[CampaignSpec, str, Any], tuple[dict[str, Any], str]]


def submit_claimed(
    spec: CampaignSpec,
    formulas: list[str],
    launcher: str,
    add: AddOne,
    specs: dict[str, CampaignSpec] | None = None,
    attempt_info: dict[str, dict[str, Any]] | None = None,
    resume: bool = False,
    db: Any = None,
) -> dict[str, dict[str, Any]]:
    """Claim and add each composition; record it ``waiting`` with the launcher's ids.

    Parameters
    ----------
    spec
        The campaign.
    formulas
        Compositions to submit (reduced formulas).
    launcher
        Launcher name recorded with the attempt (``fireworks``, ``jobflow-remote``).
    add
        Adds one composition to the launcher (see :data:`AddOne`).
    specs
        Per-composition specs (escalated settings of a rerun); default ``spec``.
    attempt_info
        Extra settings recorded with each attempt (escalation).
    resume
        Reuse the stages earlier attempts completed (:mod:`amorphdb.flows.resume`).
    db
        The campaign database the command opened (left open); None: opened here.

    Returns
    -------
    dict
        formula → the ids ``add`` returned, for the compositions this call claimed.
    """
    from amorphdb.store import open_database

    specs = specs or {}
    out: dict[str, dict[str, Any]] = {}
    with contextlib.nullcontext(db) if db is not None else open_database(
        spec.store_path()
    ) as db:
        heartbeats = Heartbeats(db)
        try:
            for formula in formulas:
                s = specs.get(formula, spec)
                if db.record_attempt(spec.name, formula, "waiting", stage="submitted",
                                     settings=attempt_settings(s, launcher),
                                     claim=True) is None:
                    continue  # completed, or in flight with another launcher
                point = resume_point_for(db.job_store, s, formula) if resume else None
                try:
                    ids, external_id = add(s, formula, point)
                except Exception as exc:  # release the claim, keep the error
                    db.record_attempt(spec.name, formula, "failed", stage="submitted",
                                      error=f"submission failed: {exc}")
                    raise
                settings = {**attempt_settings(s, launcher),
                            **(attempt_info or {}).get(formula, {}), **ids}
                if point is not None:
                    settings["resumed_from"] = point.describe()
                db.record_attempt(spec.name, formula, "waiting", settings=settings,
                                  stage="submitted")
                heartbeats.beat(spec.name, formula, launcher=launcher, external_id=external_id)
                out[formula] = ids
        finally:
            heartbeats.close()
    return out

"""Bring distributed launchers' outcomes into the ``campaigns`` collection.

FireWorks and jobflow-remote workers write job outputs into the shared JobStore but
do not touch the campaign records. :func:`sync_campaign` closes the loop for records
still ``waiting``/``running`` from those launchers: a composition whose
``record_arrhenius`` output (same campaign and protocol hash) is in the JobStore is
``completed`` (its summaries are built; a glass-only protocol, with no anneal
temperature and so no Arrhenius fit, completes with its glass point); one whose Firework
fizzled, or that FireWorks calls a lost run (:meth:`LaunchPad.detect_lostruns`), is
``failed`` with the launcher's error and the failing job as stage; so is one with a
FAILED / REMOTE_ERROR jobflow-remote job.
``amorphdb status`` runs it before showing anything.
"""

from __future__ import annotations

from typing import Any

from amorphdb.campaign.status import Heartbeats
from amorphdb.store.schemas import ResultState

DISTRIBUTED = ("fireworks", "jobflow-remote")


def finished_in_job_store(job_store: Any, campaign: str) -> set[tuple[str, str]]:
    """(formula_reduced, protocol_hash) pairs whose ``record_arrhenius`` job has output."""
    from amorphdb.store.schemas import reduced_formula

    done = set()
    for doc in job_store.docs_store.query({"name": "record_arrhenius"}, properties=["output"]):
        output = doc.get("output")
        items = output if isinstance(output, list) else [output]
        for item in items:
            if isinstance(item, dict) and item.get("campaign") == campaign:
                done.add((reduced_formula(item["formula"]), item.get("protocol_hash", "")))
    return done


def glass_in_job_store(job_store: Any, campaign: str) -> set[tuple[str, str]]:
    """(formula_reduced, protocol_hash) pairs whose glass point is recorded.

    The last record of a glass-only protocol (no anneal temperatures, so no Arrhenius
    fit): a ``record_temperature`` output with stage ``glass`` that is not one replica's
    (``replica`` None: a single run or the replicas' average).
    """
    from amorphdb.store.schemas import reduced_formula

    done = set()
    query = {"name": "record_temperature", "output.descriptors.stage": "glass"}
    for doc in job_store.docs_store.query(query, properties=["output"]):
        item = doc.get("output")
        if (isinstance(item, dict) and item.get("campaign") == campaign
                and item.get("replica") is None):
            formula = item.get("formula_reduced") or item.get("formula") or ""
            done.add((reduced_formula(formula), item.get("protocol_hash", "")))
    return done


def fireworks_failure(launchpad: Any, fw_ids: list[int]) -> tuple[str, str] | None:
    """(error, stage) of the first fizzled Firework of a workflow, or None."""
    for fw_id in fw_ids:
        fw = launchpad.get_fw_by_id(fw_id)
        if fw.state != "FIZZLED":
            continue
        # no stack trace: FireWorks fizzled it from outside (lpad detect_lostruns --fizzle)
        error = f"Firework {fw_id} fizzled with no error recorded (lost run: killed job or node)"
        for launch in reversed(fw.launches or []):
            data = getattr(launch.action, "stored_data", None) or {}
            trace = (data.get("_exception") or {}).get("_stacktrace") or ""
            lines = [ln for ln in trace.strip().splitlines() if ln.strip()]
            if lines:
                error = f"Firework {fw_id} fizzled: {lines[-1].strip()}"
                break
        return error, fw.name
    return None


def fireworks_lost(launchpad: Any, fw_ids: list[int]) -> int | None:
    """The first of ``fw_ids`` FireWorks calls a lost run (no ping for RUN_EXPIRATION_SECS).

    Uses :meth:`LaunchPad.detect_lostruns` (default expiration 4 h: rockets ping hourly),
    read-only (nothing fizzled or rerun on the LaunchPad).
    """
    from fireworks.fw_config import RUN_EXPIRATION_SECS

    _, lost_fw_ids, _ = launchpad.detect_lostruns(
        expiration_secs=RUN_EXPIRATION_SECS, query={"fw_id": {"$in": list(fw_ids)}}
    )
    lost = sorted(set(lost_fw_ids) & set(fw_ids))
    return lost[0] if lost else None


def jobflow_remote_failure(controller: Any, flow_uuid: str) -> tuple[str, str] | None:
    """(error, stage) of the first FAILED / REMOTE_ERROR job of a jobflow-remote flow."""
    from jobflow_remote.jobs.state import JobState

    infos = controller.get_jobs_info(
        flow_ids=[flow_uuid], states=[JobState.FAILED, JobState.REMOTE_ERROR]
    )
    for info in infos:
        remote_error = (getattr(info, "remote", None) or {})
        remote_error = remote_error.get("error") if isinstance(remote_error, dict) else None
        text = (info.error or remote_error or "").strip().splitlines()
        detail = text[-1].strip() if text else "no message"
        state = getattr(info.state, "value", info.state)
        return f"jobflow-remote job {info.db_id} {state}: {detail}", info.name
    return None


def sync_campaign(
    spec: Any, db: Any, launchpad: Any = None, job_controller: Any = None
) -> dict[str, str]:
    """Update in-flight records of distributed launchers; return formula → new state.

    Parameters
    ----------
    spec
        The campaign.
    db
        Open :class:`~amorphdb.store.database.AmorphousDB` (its JobStore is read).
    launchpad
        A FireWorks LaunchPad to read fizzled Fireworks from (None: skip that check).
    job_controller
        A jobflow-remote ``JobController`` to read failed jobs from (None: skip).
    """
    records = [
        d for d in db.find_campaigns(campaign=spec.name)
        if d.state in (ResultState.WAITING, ResultState.RUNNING) and d.attempts
        and d.attempts[-1].settings.get("launcher") in DISTRIBUTED
    ]
    if not records:
        return {}
    done = finished_in_job_store(db.job_store, spec.name)
    glass_done = None  # read only when a glass-only composition is in flight
    changed: dict[str, str] = {}
    built = False
    heartbeats = Heartbeats(db)
    try:
        for doc in records:
            settings = doc.attempts[-1].settings
            key = (doc.formula_reduced, settings.get("protocol_hash", ""))
            glass_only = not (settings.get("protocol") or {}).get("anneal_temperatures_K", [1])
            if glass_only and glass_done is None:
                glass_done = glass_in_job_store(db.job_store, spec.name)
            if key in (glass_done if glass_only else done):
                if not built:
                    db.build_from_job_store(db.job_store)
                    built = True
                db.record_attempt(spec.name, doc.formula_reduced, "completed",
                                  settings=settings,
                                  stage="glass" if glass_only else "arrhenius")
                heartbeats.clear(spec.name, doc.formula_reduced)
                changed[doc.formula_reduced] = "completed"
                continue
            if launchpad is not None and settings.get("launcher") == "fireworks":
                fw_ids = settings.get("fw_ids", [])
                failure = fireworks_failure(launchpad, fw_ids)
                if failure is None:
                    lost = fireworks_lost(launchpad, fw_ids)
                    if lost is not None:
                        failure = (f"lost run: Firework {lost} stopped pinging the LaunchPad "
                                   "(killed job or node)", launchpad.get_fw_by_id(lost).name)
            elif job_controller is not None and settings.get("flow_uuid"):
                failure = jobflow_remote_failure(job_controller, settings["flow_uuid"])
            else:
                failure = None
            if failure is not None:
                error, stage = failure
                db.record_attempt(spec.name, doc.formula_reduced, "failed",
                                  settings=settings, error=error, stage=stage)
                heartbeats.clear(spec.name, doc.formula_reduced)
                changed[doc.formula_reduced] = "failed"
    finally:
        heartbeats.close()
    return changed

"""Campaign bookkeeping: heartbeats of running compositions and their status.

The ``campaigns`` collection (:class:`~amorphdb.store.schemas.CampaignDoc`) holds
each composition's state and attempts. Beside it, the launcher keeps one heartbeat
document per composition in flight (collection ``campaign_heartbeats``, written only
by the launching parent process): host, parent pid, worker pid, launcher, the last
job finished and the time of the last beat. A ``running``/``waiting`` record is
**lost** when its local launcher is gone — the parent pid is dead on this host — or
when its heartbeat is older than the campaign's ``heartbeat_timeout_s`` (another
host, or a launcher that stopped beating). Lost compositions count as failed for
``status`` and ``rerun``.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from amorphdb.store.schemas import CampaignDoc, ResultState

#: state shown for an in-flight record whose launcher is gone
LOST = "lost"
#: state shown for a composition of the campaign file with no record yet
NEW = "new"
#: launchers whose own (driver) process writes every record and heartbeat
DRIVEN = ("local", "parsl")


def hostname() -> str:
    """This machine's name (heartbeats compare it before checking a pid)."""
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """True when a process with ``pid`` exists on this host (signal 0 probe)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class Heartbeats:
    """The heartbeats of a database's compositions in flight (parent-only writes).

    A thin view on :class:`~amorphdb.store.campaigns.CampaignBook`, which keeps them in
    the store's ``heartbeats`` collection with atomic writes on every back end.
    """

    def __init__(self, db: Any) -> None:
        self.book = db.campaign_book

    @staticmethod
    def key(campaign: str, formula: str) -> str:
        """Document id: the campaign document's key."""
        return CampaignDoc(campaign=campaign, formula=formula).key()

    def beat(
        self,
        campaign: str,
        formula: str,
        *,
        launcher: str,
        worker_pid: int | None = None,
        stage: str | None = None,
        external_id: str | None = None,
    ) -> None:
        """Create or refresh the heartbeat of one composition."""
        key = self.key(campaign, formula)
        update: dict[str, Any] = {
            "campaign": campaign,
            "formula": formula,
            "launcher": launcher,
            "host": hostname(),
            "pid": os.getpid(),
            "heartbeat": time.time(),
        }
        if worker_pid is not None:
            update["worker_pid"] = worker_pid
        if stage is not None:
            update["stage"] = stage
        if external_id is not None:
            update["external_id"] = external_id
        self.book.beat(campaign, formula, update, key=key)  # atomic on every back end

    def clear(self, campaign: str, formula: str) -> None:
        """Forget the heartbeat of a finished composition."""
        self.book.clear_beat(campaign, formula)

    def get(self, campaign: str, formula: str) -> dict[str, Any] | None:
        """The heartbeat document of a composition, or None."""
        return self.book.heartbeat(campaign, formula)

    def all(self, campaign: str) -> dict[str, dict[str, Any]]:
        """formula_reduced → heartbeat document, for one campaign."""
        return self.book.heartbeats(campaign)

    def close(self) -> None:
        """Nothing to close: the database's own stores are used (closed with it)."""


def is_lost(heartbeat: dict[str, Any] | None, timeout_s: float, now: float | None = None) -> bool:
    """True when an in-flight record's launcher is gone (see the module docstring).

    Launchers whose process records every outcome (``local``, and ``parsl``'s driver)
    are lost when that process is gone. Distributed launchers (``fireworks``,
    ``jobflow-remote``) keep their own job state; :mod:`amorphdb.campaign.sync` reads it.
    """
    now = time.time() if now is None else now
    if heartbeat is None:
        return False
    if heartbeat.get("launcher") in DRIVEN:
        if heartbeat.get("host") == hostname():
            return not pid_alive(int(heartbeat.get("pid", -1)))
        return now - float(heartbeat.get("heartbeat", 0)) > timeout_s
    return False


@dataclass
class CompositionStatus:
    """Status of one composition, merged from its record and heartbeat."""

    formula: str
    state: str
    stage: str | None = None
    last_error: str | None = None
    attempts: int = 0
    launcher: str | None = None
    heartbeat_age_s: float | None = None
    updated_at: str | None = None
    finished_at: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def campaign_status(
    name: str, formulas: list[str], db: Any, timeout_s: float, now: float | None = None
) -> list[CompositionStatus]:
    """Status of every composition of a campaign (file order, then extra records).

    Parameters
    ----------
    name
        Campaign name.
    formulas
        The campaign file's reduced formulas (those without a record are ``new``).
    db
        An open :class:`~amorphdb.store.database.AmorphousDB`.
    timeout_s
        Heartbeat timeout (s) after which a remote in-flight record is ``lost``.
    """
    now = time.time() if now is None else now
    records = {d.formula_reduced: d for d in db.find_campaigns(campaign=name)}
    heartbeats = Heartbeats(db)
    try:
        beats = heartbeats.all(name)
    finally:
        heartbeats.close()
    out = []
    for formula in list(dict.fromkeys([*formulas, *records])):
        doc = records.get(formula)
        if doc is None:
            out.append(CompositionStatus(formula=formula, state=NEW))
            continue
        beat = beats.get(formula)
        state = str(doc.state)
        error = doc.last_error
        if doc.state in (ResultState.RUNNING, ResultState.WAITING) and is_lost(
            beat, timeout_s, now
        ):
            state = LOST
            error = f"lost run: launcher pid {beat.get('pid')} on {beat.get('host')} is gone"
        stage = (beat or {}).get("stage") or doc.stage
        finished = [
            a.finished_at.isoformat() for a in doc.attempts
            if a.state == ResultState.COMPLETED and a.finished_at is not None
        ]
        out.append(
            CompositionStatus(
                formula=formula,
                state=state,
                stage=stage,
                last_error=error if state != str(ResultState.COMPLETED) else None,
                attempts=len(doc.attempts),
                launcher=(beat or {}).get("launcher"),
                heartbeat_age_s=(now - float(beat["heartbeat"])) if beat else None,
                updated_at=doc.updated_at.isoformat(),
                finished_at=finished,
            )
        )
    return out


def count_states(statuses: list[CompositionStatus]) -> dict[str, int]:
    """Number of compositions per shown state."""
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s.state] = counts.get(s.state, 0) + 1
    return counts

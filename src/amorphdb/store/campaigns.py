"""Campaign bookkeeping on the store: attempts, claims and heartbeats.

One :class:`~amorphdb.store.schemas.CampaignDoc` per (campaign, composition) in
``campaigns`` (state, every attempt with its settings, errors and stage) and one heartbeat
document per composition in flight in ``campaign_heartbeats`` (written by the launcher).
:class:`~amorphdb.store.database.AmorphousDB` keeps ``record_attempt``, ``get_campaign``
and ``find_campaigns`` as thin delegates to :class:`CampaignBook`.

Concurrency
-----------
Every write here is one atomic step on every back end:

* embedded (montydb/SQLite): the read-compare-write runs inside one SQLite
  ``BEGIN IMMEDIATE`` transaction on the collection file
  (:meth:`~amorphdb.store.embedded.EmbeddedCollection.update`), so racing processes are
  serialised by SQLite — no lost update, no duplicate key, no full scan;
* MongoDB: an insert of a new key, or a replace filtered on the revision read
  (compare-and-set by the server); a heartbeat is one merge-upsert
  (:mod:`amorphdb.store.atomic`: maggma's ``Store`` API has none of these).

Both collections are created when the store is opened (under the folder lock), never
lazily by a first write.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from amorphdb.errors import StoreError
from amorphdb.store.atomic import insert_new, merge_upsert, replace_if
from amorphdb.store.checksums import seal
from amorphdb.store.config import StoreType
from amorphdb.store.schemas import Attempt, CampaignDoc, ResultState, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from amorphdb.store.database import AmorphousDB

_OPEN = (ResultState.WAITING, ResultState.RUNNING)


def campaign_key(campaign: str, formula: str) -> str:
    """Key (``_id``) of a composition's campaign record and heartbeat."""
    return CampaignDoc(campaign=campaign, formula=formula).key()


def next_record(
    old: dict[str, Any] | None,
    campaign: str,
    formula: str,
    state: ResultState,
    settings: dict[str, Any],
    error: str | None,
    stage: str | None,
    claim: bool,
) -> tuple[CampaignDoc | None, dict[str, Any] | None]:
    """The campaign record after one more attempt record (pure function).

    Returns ``(result, to_write)``: ``result`` is what ``record_attempt`` returns (None
    when a claim is refused), ``to_write`` the stored document to write (None: nothing
    changes). Rules: see :meth:`CampaignBook.record_attempt`.
    """
    doc = CampaignDoc.from_mongo(old) if old else CampaignDoc(campaign=campaign, formula=formula)
    last = doc.attempts[-1] if doc.attempts else None
    if claim and old is not None and doc.state in (*_OPEN, ResultState.COMPLETED):
        return None, None  # taken: completed, or in flight with another launcher
    if (
        last is not None
        and last.state == state
        and last.error == error
        and (last.stage == stage or stage is None)
        and (not settings or last.settings == settings)
    ):
        return doc, None  # the same record again: nothing changes
    now = utcnow()
    if last is not None and last.state in _OPEN:
        last.state = state
        last.settings = settings or last.settings
        last.error = error
        last.stage = stage or last.stage
        if state not in _OPEN:
            last.finished_at = now
    else:
        doc.attempts.append(
            Attempt(
                number=(last.number + 1) if last else 1,
                state=state,
                settings=settings,
                error=error,
                stage=stage,
                started_at=now,
                finished_at=None if state in _OPEN else now,
            )
        )
    had_completed = any(a.state == ResultState.COMPLETED for a in doc.attempts)
    doc.state = (
        ResultState.COMPLETED if state == ResultState.FAILED and had_completed else state
    )
    doc.stage = stage or doc.stage
    if error:
        doc.last_error = error
    doc.updated_at = now
    doc.revision += 1
    return doc, seal(doc.to_mongo())


class CampaignBook:
    """Attempts, claims and heartbeats of the campaigns in one store.

    Parameters
    ----------
    db
        The open :class:`~amorphdb.store.database.AmorphousDB` (its collections and config).
    """

    def __init__(self, db: AmorphousDB) -> None:
        self.db = db

    @property
    def _embedded(self) -> bool:
        return self.db.config.type is StoreType.EMBEDDED

    def _atomic(self, collection: str, key: str, change: Callable) -> Any:
        """Embedded only: one SQLite transaction around ``change(old) -> new | None``."""
        return self.db._embedded(collection).update(key, change)

    # ------------------------------------------------------------------ attempts
    def record_attempt(
        self,
        campaign: str,
        formula: str,
        state: ResultState | str,
        settings: dict[str, Any] | None = None,
        error: str | None = None,
        stage: str | None = None,
        claim: bool = False,
    ) -> CampaignDoc | None:
        """Record the state of a composition's current attempt (one atomic step).

        A ``waiting``/``running`` record opens a new attempt when the last one is finished
        (or updates the open one); ``completed``/``failed`` closes the open attempt, or adds
        a finished one. Repeating the last record changes nothing. A failed rerun of a
        completed composition keeps the campaign ``completed`` (its results stand) and
        records the error in the attempt and ``last_error``. With ``claim=True`` a new
        attempt opens only when the composition is free (no record, or its last attempt
        failed); None is returned when it is completed or held by another launcher — of
        two launchers racing for one composition exactly one gets it.
        """
        try:
            state = ResultState(state)
        except ValueError:
            known = ", ".join(s.value for s in ResultState)
            raise StoreError(f"unknown state '{state}'; use one of {known}") from None
        key = campaign_key(campaign, formula)
        args = (campaign, formula, state, settings or {}, error, stage, claim)
        if self._embedded:
            box: dict[str, Any] = {}

            def change(old: dict[str, Any] | None) -> dict[str, Any] | None:
                box["result"], new = next_record(old, *args)
                return new

            self._atomic("campaigns", key, change)
            return box["result"]
        store = self.db._store("campaigns")
        for _ in range(10):
            old = store.query_one({"_id": key})
            result, new = next_record(old, *args)
            if new is None:
                return result
            if old is None:
                if insert_new(store, new):
                    return result
                continue  # inserted by another launcher meanwhile: compare again
            revision = int(old.get("revision", 0))
            if replace_if(store, {"_id": key, "revision": revision}, new):
                return result
        raise StoreError(f"could not record attempt for {key} (concurrent writers); retry")

    def get(self, campaign: str, formula: str) -> CampaignDoc | None:
        """The record of one composition of a campaign (one key lookup)."""
        key = campaign_key(campaign, formula)
        if self._embedded:
            doc = self.db._embedded("campaigns").get(key)
        else:
            doc = self.db._store("campaigns").query_one({"_id": key})
        return CampaignDoc.from_mongo(doc) if doc else None

    def find(self, campaign: str | None = None, state: str | None = None) -> list[CampaignDoc]:
        """Records, optionally of one campaign and/or state."""
        crit: dict[str, Any] = {}
        if campaign:
            crit["campaign"] = campaign
        if state:
            crit["state"] = str(ResultState(state))
        return [CampaignDoc.from_mongo(d) for d in self.db._store("campaigns").query(crit)]

    # ------------------------------------------------------------------ heartbeats
    def beat(
        self,
        campaign: str,
        formula: str,
        fields: dict[str, Any] | None = None,
        *,
        key: str | None = None,
    ) -> None:
        """Create or refresh the heartbeat of a composition in flight (atomic upsert).

        ``fields`` (launcher, host, pid, worker_pid, stage, external_id, ...) are merged
        into the stored heartbeat; ``heartbeat`` (time.time(), s) and ``pid`` default to
        now and this process. ``key`` skips recomputing :func:`campaign_key`.
        """
        key = key or campaign_key(campaign, formula)
        update = {"campaign": campaign, "formula": formula, "pid": os.getpid(), **(fields or {})}
        update.setdefault("heartbeat", time.time())
        if self._embedded:
            self._atomic("heartbeats", key, lambda old: {**(old or {}), **update, "_id": key})
            return
        merge_upsert(self.db._store("heartbeats"), key, update)

    def clear_beat(self, campaign: str, formula: str) -> None:
        """Forget the heartbeat of a finished composition."""
        key = campaign_key(campaign, formula)
        if self._embedded:
            self.db._embedded("heartbeats").delete(key)
        else:
            self.db._store("heartbeats").remove_docs({"_id": key})

    def heartbeat(self, campaign: str, formula: str) -> dict[str, Any] | None:
        """The heartbeat document of a composition, or None."""
        key = campaign_key(campaign, formula)
        if self._embedded:
            return self.db._embedded("heartbeats").get(key)
        return self.db._store("heartbeats").query_one({"_id": key})

    def heartbeats(self, campaign: str) -> dict[str, dict[str, Any]]:
        """formula_reduced → heartbeat document, for one campaign."""
        found = self.db._store("heartbeats").query({"campaign": campaign})
        return {d["_id"].split("|", 1)[1]: d for d in found}

    # ------------------------------------------------------------------ consistency
    def unrecorded_results(self, campaign: str | None = None) -> dict[tuple[str, str], int]:
        """(campaign, formula_reduced) → number of stored results that have no campaign record.

        Non-empty after the ``campaigns`` collection was lost or damaged: the results
        exist, but nothing says the composition is done. ``submit``/``rerun`` use it to
        refuse recomputing silently; ``amorphdb db repair`` rebuilds the records.
        """
        crit = {"campaign": campaign} if campaign else {}
        results: dict[tuple[str, str], int] = {}
        found = self.db._store("amorphous").query(
            crit, properties={"campaign": 1, "formula_reduced": 1}
        )
        for d in found:
            pair = (d.get("campaign"), d.get("formula_reduced"))
            results[pair] = results.get(pair, 0) + 1
        recorded = {(d.campaign, d.formula_reduced) for d in self.find(campaign)}
        return {pair: n for pair, n in results.items() if pair not in recorded}

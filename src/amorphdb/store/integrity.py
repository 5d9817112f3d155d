"""Store integrity: ``amorphdb db check`` and ``amorphdb db repair``.

:func:`check_store` verifies

1. every collection is present and readable (SQLite ``quick_check`` of each embedded
   collection file, then every document decoded);
2. every summary, Arrhenius fit and campaign record matches its content checksum
   (:mod:`amorphdb.store.checksums`): a flipped bit is detected;
3. summaries are consistent with the job documents (each ``record_temperature`` /
   ``record_arrhenius`` output has its summary, with the same content);
4. campaign records are consistent with results (a stored result has a campaign record);
5. trajectory blobs match their content address (:mod:`amorphdb.store.blobs`).

:func:`repair_store` moves damaged collection files aside (salvaging readable, intact
documents), drops documents whose checksum fails, rebuilds summaries and Arrhenius fits
from the job documents, rebuilds missing campaign records from the results, and reports
what it cannot rebuild (job documents themselves, trajectory blobs, attempt histories).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from amorphdb.store.checksums import verify
from amorphdb.store.config import StoreType
from amorphdb.store.database import contradicts
from amorphdb.store.schemas import AmorphousDoc, ArrheniusDoc

if TYPE_CHECKING:  # pragma: no cover
    from amorphdb.store.database import AmorphousDB

#: collections whose documents carry a content checksum
CHECKSUMMED = ("amorphous", "arrhenius", "campaigns")


@dataclass
class Problem:
    """One integrity problem.

    Parameters
    ----------
    kind
        ``unreadable``, ``missing``, ``checksum``, ``summary``, ``campaign`` or ``blob``.
    where
        The collection file, document key or blob concerned.
    message
        One line: what is wrong.
    repairable
        True when ``amorphdb db repair`` can rebuild it from what is stored.
    """

    kind: str
    where: str
    message: str
    repairable: bool

    def line(self) -> str:
        """One line for the terminal."""
        fix = "repairable" if self.repairable else "NOT repairable"
        return f"{self.kind}: {self.where}: {self.message} [{fix}]"


@dataclass
class Report:
    """What :func:`check_store` found (and :func:`repair_store` did)."""

    address: str
    checked: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {
            "address": self.address,
            "ok": self.ok,
            "checked": self.checked,
            "problems": [p.__dict__ for p in self.problems],
            "actions": self.actions,
        }


# ---------------------------------------------------------------------- reading
def _embedded_docs(db: AmorphousDB, collection: str, report: Report) -> list[dict[str, Any]]:
    """Decode every document of an embedded collection file, recording failures."""
    import bson

    from amorphdb.store.embedded import TABLE, quick_check

    path = db.config.collection_file(getattr(db.config.collections, collection))
    if not path.is_file():
        report.problems.append(
            Problem("missing", str(path), f"collection '{collection}' file is missing", True)
        )
        return []
    problem = quick_check(path)
    if problem is not None:
        report.problems.append(Problem("unreadable", str(path), problem, True))
    docs: list[dict[str, Any]] = []
    bad = 0
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for (value,) in con.execute(f"SELECT v FROM {TABLE}"):
                try:
                    docs.append(bson.decode(value))
                except Exception:
                    bad += 1
        finally:
            con.close()
    except sqlite3.Error as exc:
        if problem is None:
            report.problems.append(Problem("unreadable", str(path), str(exc), True))
    if bad:
        report.problems.append(
            Problem("unreadable", str(path), f"{bad} document(s) cannot be decoded", True)
        )
    return docs


def _docs(db: AmorphousDB, collection: str, report: Report) -> list[dict[str, Any]]:
    if db.config.type is StoreType.EMBEDDED:
        return _embedded_docs(db, collection, report)
    try:
        return list(db._store(collection).query({}))
    except Exception as exc:
        report.problems.append(Problem("unreadable", collection, str(exc), False))
        return []


def _job_records(
    db: AmorphousDB, report: Report
) -> tuple[dict[str, dict], dict[str, dict], set[str]]:
    """Summaries and Arrhenius fits as the job documents say they should be (by key),
    and the summary keys written by several jobs (their content is not compared)."""
    from amorphdb.store.database import RECORD_ARRHENIUS_JOB, RECORD_TEMPERATURE_JOB

    try:
        js = db.job_store
        criteria = {"name": {"$in": [RECORD_TEMPERATURE_JOB, RECORD_ARRHENIUS_JOB]}}
        jobs = list(js.docs_store.query(criteria, properties=["uuid", "index", "name", "output"]))
    except Exception as exc:
        report.problems.append(
            Problem("unreadable", "job documents", f"{exc} (summaries cannot be rebuilt)", False)
        )
        return {}, {}, set()
    latest: dict[str, dict] = {}
    for doc in jobs:
        prev = latest.get(doc["uuid"])
        if prev is None or doc.get("index", 1) > prev.get("index", 1):
            latest[doc["uuid"]] = doc
    summaries: dict[str, dict] = {}
    fits: dict[str, dict] = {}
    seen: dict[str, int] = {}
    for doc in latest.values():
        output = doc.get("output")
        if output is None:
            continue
        try:
            if doc["name"] == RECORD_TEMPERATURE_JOB:
                key = AmorphousDoc.model_validate(output).key()
                seen[key] = seen.get(key, 0) + 1
                summaries[key] = output
            else:
                for item in output if isinstance(output, list) else [output]:
                    fits[ArrheniusDoc.model_validate(item).key()] = item
        except Exception as exc:
            report.problems.append(
                Problem("summary", f"job {doc['uuid']}", f"output does not validate ({exc})", False)
            )
    return summaries, fits, {k for k, n in seen.items() if n > 1}


# ---------------------------------------------------------------------- check
def check_store(db: AmorphousDB) -> Report:
    """Verify a store (see the module docstring); nothing is changed."""
    report = Report(db.config.address)
    if db.lost_collections:
        for name in db.lost_collections:
            report.problems.append(
                Problem("missing", name, "collection was lost (recreated empty)", True)
            )
    stored: dict[str, dict[str, dict]] = {}
    for collection in (*CHECKSUMMED, "structures", "meta", "heartbeats"):
        docs = _docs(db, collection, report)
        stored[collection] = {d["_id"]: d for d in docs if "_id" in d}
        report.checked[collection] = len(docs)
        if collection not in CHECKSUMMED:
            continue
        for doc in docs:
            if verify(doc) is False:
                report.problems.append(
                    Problem(
                        "checksum",
                        f"{collection}/{doc.get('_id')}",
                        "content does not match its checksum (damaged document)",
                        True,
                    )
                )
    if db.config.type is StoreType.EMBEDDED:
        from amorphdb.store.database import damaged_files

        for name, problem in damaged_files(db.config).items():
            if name in ("outputs", "trajectories"):
                where = str(db.config.collection_file(name))
                report.problems.append(
                    Problem("unreadable", where, f"{problem} (job documents)", False)
                )

    summaries, fits, ambiguous = _job_records(db, report)
    report.checked["job records"] = len(summaries) + len(fits)
    for key, output in summaries.items():
        have = stored["amorphous"].get(key)
        if have is None:
            report.problems.append(
                Problem("summary", key, "job document has no summary", True)
            )
            continue
        if key not in ambiguous and contradicts(have, output):
            report.problems.append(
                Problem("summary", key, "summary differs from its job document", True)
            )
    for key in fits:
        if key not in stored["arrhenius"]:
            report.problems.append(Problem("summary", key, "Arrhenius fit is missing", True))

    records = {(d.get("campaign"), d.get("formula_reduced")) for d in stored["campaigns"].values()}
    results: dict[tuple[str, str], int] = {}
    for d in stored["amorphous"].values():
        pair = (d.get("campaign"), d.get("formula_reduced"))
        results[pair] = results.get(pair, 0) + 1
    for pair, n in sorted(results.items(), key=str):
        if pair not in records:
            report.problems.append(
                Problem(
                    "campaign",
                    f"{pair[0]}|{pair[1]}",
                    f"{n} stored result(s) but no campaign record",
                    True,
                )
            )
    for doc in stored["campaigns"].values():
        pair = (doc.get("campaign"), doc.get("formula_reduced"))
        if doc.get("state") == "completed" and pair not in results:
            report.problems.append(
                Problem(
                    "campaign",
                    f"{pair[0]}|{pair[1]}",
                    "completed in the campaign records but no result is stored (lost); "
                    "recompute it (amorphdb rerun)",
                    False,
                )
            )
    _check_blobs(db, report)
    return report


def _check_blobs(db: AmorphousDB, report: Report) -> None:
    from amorphdb.store.blobs import FileBlobStore

    try:
        blobs = db.job_store.additional_stores.get("data")
    except Exception as exc:  # the job store itself cannot be opened
        report.problems.append(Problem("blob", "data store", str(exc), False))
        return
    if not isinstance(blobs, FileBlobStore):
        report.checked["blobs"] = 0  # GridFS/montydb blobs carry no content address
        return
    entries = list(blobs._entries({}))
    report.checked["blobs"] = len(entries)
    for entry in entries:
        problem = blobs.verify(entry)
        if problem is not None:
            report.problems.append(
                Problem("blob", str(entry.get("blob_uuid")), problem, False)
            )


# ---------------------------------------------------------------------- repair
def _salvage(db: AmorphousDB, collection: str, report: Report) -> None:
    """Move a damaged embedded collection file aside and refill it with intact documents."""
    import bson

    from amorphdb.store.embedded import TABLE, quick_check

    path = db.config.collection_file(getattr(db.config.collections, collection))
    if not path.is_file() or quick_check(path) is None:
        return
    good: list[tuple[bytes, bytes]] = []
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for key, value in con.execute(f"SELECT k, v FROM {TABLE}"):
                try:
                    doc = bson.decode(value)
                except Exception:
                    continue
                if verify(doc) is not False:
                    good.append((key, value))
        finally:
            con.close()
    except sqlite3.Error:
        pass  # nothing readable: start empty
    aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
    path.rename(aside)
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            extra.rename(aside.with_name(aside.name + suffix))
    db.close()
    db.config._create_embedded_collections(repair=True)
    con = sqlite3.connect(path)
    try:
        with con:
            con.executemany(f"INSERT OR IGNORE INTO {TABLE} (k, v) VALUES (?, ?)", good)
    finally:
        con.close()
    report.actions.append(
        f"moved damaged {path.name} to {aside.name}; kept {len(good)} intact document(s)"
    )


def repair_store(db: AmorphousDB) -> tuple[Report, Report]:
    """Rebuild what can be rebuilt; returns (report before, report after)."""
    before = check_store(db)
    report = Report(db.config.address)
    if db.config.type is StoreType.EMBEDDED:
        for collection in (*CHECKSUMMED, "structures", "meta", "heartbeats", "outputs"):
            _salvage(db, collection, report)
    for problem in before.problems:
        if problem.kind == "checksum":
            collection, _, key = problem.where.partition("/")
            if db.config.type is StoreType.EMBEDDED:
                db._embedded(collection).delete(key)
            else:
                db._store(collection).remove_docs({"_id": key})
            report.actions.append(f"removed damaged {collection} document {key}")
        if problem.kind == "missing":
            report.actions.append(f"recreated lost collection {problem.where}")
    db.lost_collections = []  # recreated empty when the store was opened for repair
    db.connect()
    summaries, fits, ambiguous = _job_records(db, report)
    counts = {"summaries": 0, "fits": 0}
    stored = {d["_id"]: d for d in db._store("amorphous").query({})}  # one scan
    fitted = {d["_id"] for d in db._store("arrhenius").query({}, properties={"_id": 1})}
    for key, output in summaries.items():  # only what is missing or contradicts its job
        have = stored.get(key)
        if have is not None and (key in ambiguous or not contradicts(have, output)):
            continue  # intact (back-filled fields such as descriptors are kept)
        if db.upsert_amorphous(AmorphousDoc.model_validate(output)) in ("inserted", "replaced"):
            counts["summaries"] += 1
    for key, item in fits.items():
        if key in fitted:
            continue
        if db.upsert_arrhenius(ArrheniusDoc.model_validate(item)) in ("inserted", "replaced"):
            counts["fits"] += 1
    report.actions.append(
        f"rebuilt {counts['summaries']} summary(ies) and {counts['fits']} Arrhenius fit(s) "
        "from the job documents"
    )
    rebuilt = 0
    for (campaign, formula), _n in db.campaign_book.unrecorded_results().items():
        states = {d.get("state") for d in db._store("amorphous").query(
            {"campaign": campaign, "formula_reduced": formula}, properties={"state": 1})}
        state = "completed" if "completed" in states else "failed"
        db.record_attempt(
            campaign, formula, state, settings={"rebuilt_by": "amorphdb db repair"},
            stage="record",
        )
        rebuilt += 1
    if rebuilt:
        report.actions.append(
            f"rebuilt {rebuilt} campaign record(s) from the results "
            "(earlier attempts' settings and errors are not recoverable)"
        )
    after = check_store(db)
    after.actions = report.actions
    return before, after

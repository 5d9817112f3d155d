"""``AmorphousDB``: write and query the amorphdb collections on any configured back end.

The same code serves the embedded montydb store and a production MongoDB: it reads and
writes through maggma's public ``Store`` API (``query``, ``query_one``, ``count``,
``remove_docs``, ``ensure_index``); the few atomic writes maggma cannot express (insert
only if new, compare-and-set replace) are in :mod:`amorphdb.store.atomic`. The embedded
store's by-key reads and writes go straight to SQLite (:mod:`amorphdb.store.embedded`).

Keys and idempotency
--------------------
Each document's ``_id`` is its key string (see :mod:`amorphdb.store.schemas`), so no
back end can hold two documents with one key (montydb has no secondary indexes; MongoDB
also gets unique compound indexes). Writes replace *whole* documents in one operation, so
an interrupted write leaves either the old or the new document, never a half one.

* Storing the same content twice changes nothing (timestamps included).
* A ``completed`` result is replaced only by another ``completed`` one; a ``failed`` or
  ``running`` result is replaced by any newer one. The compare-and-replace is a single
  filtered replace (:func:`~amorphdb.store.atomic.replace_if`) that re-checks the stored
  state, so a concurrent completed write is never overwritten by a failed one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amorphdb.errors import StoreError
from amorphdb.store.atomic import (
    DUPLICATE_KEY_ERRORS,
    ensure_unique_index,
    insert_new,
    insert_new_many,
    replace_if,
)
from amorphdb.store.campaigns import CampaignBook
from amorphdb.store.checksums import seal
from amorphdb.store.config import CollectionNames, StoreConfig, StoreType
from amorphdb.store.embedded import EmbeddedCollection
from amorphdb.store.jobstore import jobflow_job_store, open_job_store
from amorphdb.store.query import (
    DEFAULT_FIELDS,
    DESCRIPTORS_PATH,
    SCALAR_FIELDS,
    AmorphousQuery,
    descriptor_columns,
    descriptor_order,
    parse_sort,
    resolve_field,
)
from amorphdb.store.schemas import (
    AmorphousDoc,
    ArrheniusDoc,
    CampaignDoc,
    ResultState,
    _Doc,
    reduced_formula,
    utcnow,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from jobflow import JobStore
    from pymatgen.core import Structure

    from amorphdb.analysis import Trajectory
    from amorphdb.store.snapshot import Snapshot

#: jobflow job names whose outputs :meth:`AmorphousDB.build_from_job_store` collects
RECORD_TEMPERATURE_JOB = "record_temperature"
RECORD_ARRHENIUS_JOB = "record_arrhenius"

#: fields indexed on MongoDB (montydb ignores ``create_index``: it always scans)
INDEXED_FIELDS = {
    "amorphous": [
        "chemsys",
        "elements",
        "formula_reduced",
        "temperature_K",
        "campaign",
        "state",
        "density_g_cm3",
    ],
    "arrhenius": ["chemsys", "elements", "formula_reduced", "species", "Ea_eV", "campaign"],
    "campaigns": ["campaign", "formula_reduced", "state"],
}
#: diffusion fields get one index per common mobile species
INDEXED_SPECIES = ["Li", "Na", "K", "Mg", "Ca", "Ag", "Cu", "H", "F", "O"]
_TIMESTAMPS = ("created_at", "updated_at")
#: longest ``$in`` list sent to montydb (its ``$in`` is O(n_docs x n_values) in Python)
_MAX_IN = 20


#: the collections AmorphousDB keeps (attribute names of ``CollectionNames``)
_COLLECTIONS = ("amorphous", "arrhenius", "campaigns", "structures", "meta", "heartbeats")


def _reads(method):
    """Method decorator: a damaged or unreadable store gives one line (:func:`read_errors`)."""
    import functools

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with read_errors(self.config.address):
            return method(self, *args, **kwargs)

    return wrapper


def _content(doc: dict[str, Any]) -> dict[str, Any]:
    """Document content without timestamps/_id (for "same result?" comparisons)."""
    skip = (*_TIMESTAMPS, "_id", "revision", "structure", "checksum")  # structure: by its id
    return {k: v for k, v in doc.items() if k not in skip}


class AmorphousDB:
    """Query and write API over ``amorphous``, ``arrhenius`` and ``campaigns``.

    Parameters
    ----------
    config
        Store configuration (see :class:`~amorphdb.store.config.StoreConfig`).

    Examples
    --------
    >>> db = AmorphousDB.from_config("configs/store-embedded.yaml")  # doctest: +SKIP
    >>> db.find(elements=["Li", "S"], D={"Li": (1e-5, None)}, temperature_K=1000)  # doctest: +SKIP
    """

    def __init__(self, config: StoreConfig, store_factory: Any = None) -> None:
        self.config = config
        self._make = store_factory or config.make_store
        #: maggma stores by collection, built and connected on first use (embedded: a
        #: snapshot query needs none of them, so maggma is not even imported)
        self._maggma: dict[str, Any] | None = None
        self._opened = False
        #: collections the store had and lost, recreated empty by ``repair=True``
        self.lost_collections: list[str] = []
        #: campaign bookkeeping (attempts, claims, heartbeats): :mod:`amorphdb.store.campaigns`
        self.campaign_book = CampaignBook(self)
        self._embedded_colls: dict[str, EmbeddedCollection] = {}
        self._snapshot: Snapshot | None = None
        self._job_store: JobStore | None = None
        self._connected = False

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def from_config(
        cls,
        config_or_path: str | Path | StoreConfig | JobStore | None = None,
        *,
        must_exist: bool = False,
        repair: bool = False,
        tolerate: bool = False,
    ) -> AmorphousDB:
        """Open (check, connect, index) the database for a config, YAML file, folder,
        jobflow ``JobStore`` or the default.

        Parameters
        ----------
        must_exist
            Read-only commands: refuse a store folder that does not exist (one line)
            instead of creating an empty store.
        repair
            Open a damaged store (lost collections recreated empty, listed in
            :attr:`lost_collections`) so ``amorphdb db repair`` can rebuild it.
        tolerate
            Open a damaged store without changing anything (``amorphdb db check``).
        """
        if _is_job_store(config_or_path):
            return cls.from_job_store(config_or_path, must_exist=must_exist, repair=repair)
        if config_or_path is None:
            js = jobflow_job_store()
            if js is not None:
                return cls.from_job_store(js, must_exist=must_exist, repair=repair)
        config = StoreConfig.resolve(config_or_path)
        lost = config.check(must_exist=must_exist, repair=repair, tolerate=tolerate)
        if config.type is StoreType.EMBEDDED and not (repair or tolerate):
            damaged_files(config, raise_first=True)
        db = cls(config)
        db.lost_collections = lost
        db.connect()
        return db

    @classmethod
    def from_job_store(
        cls, job_store: JobStore, *, must_exist: bool = False, repair: bool = False
    ) -> AmorphousDB:
        """Open the database beside a jobflow ``JobStore`` (its docs_store's database).

        An embedded ``MontyStore`` maps onto the embedded store in its folder; any other
        maggma store (``MongoStore``, ...) gets sibling collections in the same database,
        built from the store's own serialised settings (credentials included), so one
        configuration (e.g. ``~/.jobflow.yaml``) serves jobflow and amorphdb.
        """
        from maggma.stores import MontyStore

        docs = job_store.docs_store
        if isinstance(docs, MontyStore) and docs.database_path != ":memory:":
            config = StoreConfig(
                path=Path(docs.database_path),
                database=docs.database_name,
                collections=CollectionNames(outputs=docs.collection_name),
            )
            db = cls.from_config(config, must_exist=must_exist, repair=repair)
            db._job_store = job_store
            return db
        config = StoreConfig(
            type=StoreType.MONGODB,
            host=str(getattr(docs, "host", "localhost") or "localhost"),
            port=int(getattr(docs, "port", 27017) or 27017),
            database=str(getattr(docs, "database", None) or "amorphdb"),
            collections=CollectionNames(outputs=docs.collection_name),
        )
        spec = docs.as_dict()

        def sibling(name: str, blob: bool = False):
            return type(docs).from_dict({**spec, "collection_name": name})

        db = cls(config, store_factory=sibling)
        db._job_store = job_store
        db.connect()
        return db

    def connect(self) -> None:
        """Connect the stores and create indexes (idempotent).

        On the embedded store the maggma/montydb stores are opened on first use
        (:meth:`_coll`): the folder was already checked by ``StoreConfig.check`` and a
        query answered by the snapshot reads SQLite directly (:mod:`.embedded`).
        """
        if self._connected:
            return
        self._connected = True
        if self.config.type is not StoreType.EMBEDDED:
            self._open_stores()

    def _open_stores(self) -> None:
        """Build and connect the maggma stores (once), then create indexes."""
        if self._opened:
            return
        try:
            for store in self._stores():
                store.connect()
        except Exception as exc:
            raise StoreError(
                f"cannot open the store at {self.config.address}: {exc}; "
                "check the store file (docs/database.md)"
            ) from None
        self._opened = True
        self.ensure_indexes()

    def close(self) -> None:
        """Close the stores."""
        if self._opened:
            for store in self._stores():
                with contextlib.suppress(Exception):
                    store.close()
        self._opened = False
        for coll in self._embedded_colls.values():
            coll.close()
        if self._job_store is not None:
            with contextlib.suppress(Exception):
                self._job_store.close()
        self._connected = False

    def __enter__(self) -> AmorphousDB:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stores(self) -> tuple[Any, ...]:
        if self._maggma is None:
            names = self.config.collections
            self._maggma = {c: self._make(getattr(names, c)) for c in _COLLECTIONS}
        return tuple(self._maggma.values())

    def _store(self, collection: str):
        """The connected maggma store of ``collection`` (an attribute name of
        :class:`~amorphdb.store.config.CollectionNames`)."""
        self.connect()
        self._open_stores()
        self._stores()
        assert self._maggma is not None
        return self._maggma[collection]

    def _stored(self, collection: str, key: str) -> dict[str, Any] | None:
        """The stored document with ``_id`` ``key`` (one key lookup), or None."""
        if self.config.type is StoreType.EMBEDDED:
            return self._embedded(collection).get(key)
        return self._store(collection).query_one({"_id": key})

    def _embedded(self, collection: str) -> EmbeddedCollection:
        """O(1) atomic by-key access to an embedded collection (:mod:`.embedded`)."""
        found = self._embedded_colls.get(collection)
        if found is None:
            name = getattr(self.config.collections, collection)
            found = EmbeddedCollection(self.config.path.expanduser(), self.config.database, name)
            self._embedded_colls[collection] = found
        return found

    @property
    def job_store(self) -> JobStore:
        """The jobflow ``JobStore`` on the same back end (connected on first use)."""
        if self._job_store is None:
            self._job_store = open_job_store(self.config)
            self._job_store.connect()
        return self._job_store

    def ensure_indexes(self) -> None:
        """Unique key indexes and query indexes on MongoDB; a no-op on montydb.

        montydb accepts ``create_index`` but keeps no index (every query scans); the
        ``_id`` key still guarantees uniqueness there.
        """
        if self.config.type is StoreType.EMBEDDED:
            return
        for schema in (AmorphousDoc, ArrheniusDoc, CampaignDoc):
            store = self._store(schema.collection)
            ensure_unique_index(store, list(schema.key_fields), "amorphdb_key")
            for name in INDEXED_FIELDS[schema.collection]:
                store.ensure_index(name)
        store = self._store("amorphous")
        for species in INDEXED_SPECIES:
            store.ensure_index(f"diffusion.{species}.D_cm2_s")

    # ------------------------------------------------------------------ writing
    def _upsert(self, doc: _Doc) -> str:
        """Idempotent whole-document upsert; returns inserted/replaced/unchanged/kept.

        Embedded store: one primary-key lookup and write inside one SQLite transaction
        (:meth:`EmbeddedCollection.update`): O(1) in the collection size and atomic
        against other processes. MongoDB: insert if new, or a replace whose filter
        re-checks the stored state (atomic on the server; :mod:`.atomic`).
        """
        new = doc.to_mongo()
        key = new["_id"]
        structure = _split_structure(new)
        if self.config.type is StoreType.EMBEDDED:
            box: dict[str, Any] = {}

            def change(old: dict[str, Any] | None) -> dict[str, Any] | None:
                box["old"] = old
                box["outcome"], out = _decide(type(doc), old, new)
                return out

            self._put_structure(structure)
            self._embedded(doc.collection).update(key, change)
            outcome, old = box["outcome"], box["old"]
            if outcome in ("inserted", "replaced"):
                self._bump(doc.collection)
            self._drop_stale_structure(old, new, outcome)
            return outcome
        store = self._store(doc.collection)
        for _ in range(5):
            old = store.query_one({"_id": key})
            outcome, out = _decide(type(doc), old, new)
            if out is None:
                return outcome
            self._put_structure(structure)
            if old is None:
                if not insert_new(store, out):
                    continue  # someone else inserted it meanwhile: compare again
            else:
                guard: dict[str, Any] = {"_id": key}
                if out["state"] != str(ResultState.COMPLETED):
                    guard["state"] = {"$ne": str(ResultState.COMPLETED)}  # re-checked by server
                if not replace_if(store, guard, out):
                    continue
            self._bump(doc.collection)
            self._drop_stale_structure(old, out, outcome)
            return outcome
        raise StoreError(f"could not write {doc.collection} document {key} (concurrent writers)")

    def _drop_stale_structure(
        self, old: dict[str, Any] | None, new: dict[str, Any], outcome: str
    ) -> None:
        stale = (old or {}).get("structure_id")
        if outcome == "replaced" and stale and stale != new.get("structure_id"):
            if self.config.type is StoreType.EMBEDDED:
                self._embedded("structures").delete(stale)
            else:
                self._store("structures").remove_docs({"_id": stale})

    # ------------------------------------------------------------------ snapshot
    def _bump(self, collection: str) -> None:
        """Record that ``collection`` changed (embedded: invalidates query snapshots)."""
        if self.config.type is not StoreType.EMBEDDED or collection != "amorphous":
            return
        self._embedded("meta").put({"_id": collection, "token": uuid.uuid4().hex})

    def _current_snapshot(self) -> Snapshot | None:
        """The summaries snapshot, reloaded if any writer changed them (embedded only)."""
        if self.config.type is not StoreType.EMBEDDED or not self.config.query_cache:
            return None
        meta = self._embedded("meta").get("amorphous")
        if meta is None:  # a store written before tokens existed: start one
            self._bump("amorphous")
            meta = self._embedded("meta").get("amorphous") or {}
        token = meta.get("token")
        if self._snapshot is None or self._snapshot.token != token or token is None:
            self._snapshot = self._load_snapshot(token)
        return self._snapshot

    def _load_snapshot(self, token: str | None) -> Snapshot:
        """The persisted column snapshot if still valid, else one built by a scan (and
        persisted for the next process; :mod:`.snapshot`)."""
        from amorphdb.store import snapshot

        coll = self._embedded("amorphous")
        folder = self.config.path.expanduser()
        # token and file stamp first, then the scan: a write in between only causes one
        # more reload, never a stale snapshot under a current stamp
        stamp = snapshot.file_stamp(coll.path)
        found = snapshot.load_columns(folder, token, stamp, coll.get_many)
        if found is not None:
            return found
        with read_errors(self.config.address):
            docs = coll.all()
        built = snapshot.Snapshot.build(token, docs)
        if token is not None:
            snapshot.save_columns(built, folder, stamp)
        return built

    def _snapshot_find(
        self, query: AmorphousQuery, sort: dict[str, int] | None, limit: int
    ) -> list[dict[str, Any]] | None:
        snap = self._current_snapshot()
        if snap is None:
            return None
        pairs = self._ea_pairs(query)
        mask = snap.mask(query, pairs)
        if mask is None:
            return None
        docs = snap.select(mask, sort, limit)
        return None if docs is None else [dict(d) for d in docs]

    def _find_by_ids(
        self, collection: str, ids: list[str], projection: dict[str, int] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Documents whose _id is in ``ids``.

        MongoDB answers ``{"_id": {"$in": ids}}`` from its index. montydb evaluates ``$in``
        in Python against every stored document, O(n_docs x n_ids): 28 s for 1000 ids
        over 2000 documents (profiled). For long lists on the embedded store one plain
        scan filtered with a Python set is used instead (same result).
        """
        store = self._store(collection)
        if len(ids) <= _MAX_IN or self.config.type is not StoreType.EMBEDDED:
            yield from store.query({"_id": {"$in": list(ids)}}, properties=projection)
            return
        wanted = set(ids)
        for doc in store.query({}, properties=projection):
            if doc["_id"] in wanted:
                yield doc

    def _put_structure(self, structure: dict[str, Any] | None) -> None:
        """Store a structure document (its _id contains a content hash: same id, same data)."""
        if structure is None:
            return
        if self.config.type is StoreType.EMBEDDED:
            self._embedded("structures").put(structure)  # O(1) atomic upsert
            return
        insert_new(self._store("structures"), structure)  # False: the same one is stored

    def _put_structures(self, structures: list[dict[str, Any]]) -> None:
        """Insert many structure documents in one call (montydb: one SQLite transaction)."""
        if not structures:
            return
        try:
            insert_new_many(self._store("structures"), structures)
        except DUPLICATE_KEY_ERRORS:  # left by an interrupted earlier import: go one by one
            for structure in structures:
                self._put_structure(structure)

    def upsert_amorphous(self, doc: AmorphousDoc | dict[str, Any]) -> str:
        """Store a per-temperature summary; see the module docstring for the rules.

        Returns
        -------
        str
            ``"inserted"``, ``"replaced"``, ``"unchanged"`` or ``"kept"`` (an existing
            completed result was not replaced by a non-completed one).
        """
        if isinstance(doc, dict):
            doc = AmorphousDoc.model_validate(doc)
        return self._upsert(doc)

    def upsert_arrhenius(self, doc: ArrheniusDoc | dict[str, Any]) -> str:
        """Store an Arrhenius fit (same rules as :meth:`upsert_amorphous`)."""
        if isinstance(doc, dict):
            doc = ArrheniusDoc.model_validate(doc)
        return self._upsert(doc)

    def insert_many_amorphous(self, docs: Iterable[AmorphousDoc]) -> int:
        """Bulk upsert of summaries with the same rules as :meth:`upsert_amorphous`.

        One lookup for all keys, an in-memory comparison, one ``insert_many`` for new
        keys; only changed existing results go through :meth:`upsert_amorphous`. What
        the benchmark and bulk imports use. Returns the number of documents written.
        """
        docs = list(docs)
        keys = [d.key() for d in docs]
        existing = {d["_id"]: d for d in self._find_by_ids("amorphous", keys)}
        fresh, structures, seen = [], [], set()
        written = 0
        for doc, key in zip(docs, keys, strict=True):
            new = doc.to_mongo()
            structure = _split_structure(new)
            if key in existing:
                old = AmorphousDoc.from_mongo(existing[key]).to_mongo()
                if _content(old) != _content(new):
                    written += self._upsert(doc) in ("inserted", "replaced")
            elif key in seen:
                written += self._upsert(doc) in ("inserted", "replaced")
            else:
                seen.add(key)
                if structure is not None:
                    structures.append(structure)
                fresh.append(seal(new))
        if fresh:
            try:
                self._put_structures(structures)
                insert_new_many(self._store("amorphous"), fresh)
                self._bump("amorphous")
                written += len(fresh)
            except DUPLICATE_KEY_ERRORS:  # a concurrent writer got there first
                by_key = {d.key(): d for d in docs}
                for item in fresh:
                    written += self._upsert(by_key[item["_id"]]) in ("inserted", "replaced")
        return written

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
        """Record a composition's attempt; see :meth:`.CampaignBook.record_attempt`."""
        return self.campaign_book.record_attempt(
            campaign, formula, state, settings, error, stage, claim
        )

    def build_from_job_store(self, job_store: JobStore | None = None) -> dict[str, int]:
        """Collect ``record_temperature`` / ``record_arrhenius`` job outputs into the collections.

        maggma-builder style and idempotent: run it after FireWorks/jobflow-remote runs (or
        any time); rerunning changes nothing. Only the latest index of each job counts.

        A stored summary its job output does not contradict (:func:`contradicts`) is
        left as it is, so fields added since — structure descriptors back-filled by
        ``amorphdb db backfill`` — are kept.

        Returns
        -------
        dict
            Counts of ``inserted``/``replaced``/``unchanged``/``kept`` writes.
        """
        js = job_store if job_store is not None else self.job_store
        js.connect()
        latest: dict[str, dict[str, Any]] = {}
        criteria = {"name": {"$in": [RECORD_TEMPERATURE_JOB, RECORD_ARRHENIUS_JOB]}}
        for doc in js.docs_store.query(criteria, properties=["uuid", "index", "name", "output"]):
            prev = latest.get(doc["uuid"])
            if prev is None or doc.get("index", 1) > prev.get("index", 1):
                latest[doc["uuid"]] = doc
        counts: Counter[str] = Counter()
        for doc in latest.values():
            output = doc.get("output")
            if output is None:
                continue
            if doc["name"] == RECORD_TEMPERATURE_JOB:
                summary = AmorphousDoc.model_validate(output)
                stored = self._stored("amorphous", summary.key())
                if stored is not None and not contradicts(stored, output):
                    counts["unchanged"] += 1  # back-filled descriptors stay
                else:
                    counts[self.upsert_amorphous(summary)] += 1
            else:
                items = output if isinstance(output, list) else [output]
                for item in items:
                    counts[self.upsert_arrhenius(ArrheniusDoc.model_validate(item))] += 1
        return dict(counts)

    # ------------------------------------------------------------------ reading
    def _query(self, query: AmorphousQuery | None, filters: dict[str, Any]) -> AmorphousQuery:
        if query is not None and filters:
            raise StoreError("pass either an AmorphousQuery or keyword filters, not both")
        if query is None:
            known = set(AmorphousQuery.__dataclass_fields__)
            unknown = sorted(set(filters) - known)
            if unknown:
                raise StoreError(
                    f"unknown filter {', '.join(unknown)}; use one of {', '.join(sorted(known))}"
                )
            query = AmorphousQuery(**filters)
        query.criteria()  # validates every filter (one-line errors) on every code path
        return query

    def _criteria(self, query: AmorphousQuery) -> dict[str, Any] | None:
        """Full criteria, joining the Ea filter through ``arrhenius``; None = no match."""
        crit = query.criteria()
        pairs = self._ea_pairs(query)
        if pairs is not None:
            if not pairs:
                return None
            crit["$or"] = [{"campaign": c, "formula_reduced": f} for c, f in sorted(pairs)]
        return crit

    def _ea_pairs(self, query: AmorphousQuery) -> set[tuple[str, str]] | None:
        """(campaign, formula_reduced) pairs passing the Ea filter (None: no Ea filter)."""
        arr = query.arrhenius_criteria()
        if arr is None:
            return None
        return {
            (d["campaign"], d["formula_reduced"])
            for d in self._store("arrhenius").query(
                arr, properties={"campaign": 1, "formula_reduced": 1}
            )
        }

    def find_raw(
        self,
        query: AmorphousQuery | None = None,
        *,
        projection: dict[str, int] | list[str] | None = None,
        sort: str | list[str] | None = None,
        limit: int = 0,
        **filters: Any,
    ) -> Iterator[dict[str, Any]]:
        """Stored ``amorphous`` documents (dicts, read-only) matching the filters.

        On the embedded store the in-process snapshot answers (projection not applied:
        whole summaries are returned); otherwise the store's own query does.
        """
        q = self._query(query, filters)
        if limit < 0:
            raise StoreError(f"limit must be >= 0, got {limit}")
        sort_spec = parse_sort(sort)
        fast = self._snapshot_find(q, sort_spec, int(limit))
        if fast is not None:
            return iter(fast)
        crit = self._criteria(q)
        if crit is None:
            return iter(())
        found = self._store("amorphous").query(
            crit, properties=projection, sort=sort_spec, limit=int(limit)
        )
        with read_errors(self.config.address):
            return iter(list(found))

    @_reads
    def find(
        self,
        query: AmorphousQuery | None = None,
        *,
        sort: str | list[str] | None = None,
        limit: int = 0,
        with_structures: bool = False,
        **filters: Any,
    ) -> list[AmorphousDoc]:
        """Summaries matching the filters as :class:`AmorphousDoc` (see :class:`AmorphousQuery`).

        Final structures live in the ``structures`` collection; ``with_structures=True``
        loads them into ``doc.structure`` (one more query).
        """
        docs = [
            AmorphousDoc.from_mongo(d)
            for d in self.find_raw(query, sort=sort, limit=limit, **filters)
        ]
        if with_structures:
            self._attach_structures(docs)
        return docs

    def _attach_structures(self, docs: list[AmorphousDoc]) -> None:
        ids = [d.structure_id for d in docs if d.structure_id and d.structure is None]
        if not ids:
            return
        found = {s["_id"]: s["structure"] for s in self._find_by_ids("structures", ids)}
        for doc in docs:
            if doc.structure is None and doc.structure_id in found:
                doc.structure = found[doc.structure_id]

    def get_structure(self, doc: AmorphousDoc | str) -> Structure | None:
        """Final structure of a result (a document or its key), None if none was stored."""
        doc = self._resolve_one(doc)
        if doc.structure is None:
            self._attach_structures([doc])
        return doc.get_structure()

    @_reads
    def count(self, query: AmorphousQuery | None = None, **filters: Any) -> int:
        """Number of summaries matching the filters."""
        q = self._query(query, filters)
        snap = self._current_snapshot()
        if snap is not None:
            mask = snap.mask(q, self._ea_pairs(q))
            if mask is not None:
                return int(mask.sum())
        crit = self._criteria(q)
        return 0 if crit is None else self._store("amorphous").count(crit)

    @_reads
    def get(self, key: str) -> AmorphousDoc | None:
        """One summary by its key (``campaign|formula|T|protocol_hash``)."""
        snap = self._current_snapshot()
        if snap is not None:
            i = snap.by_id.get(key)
            found = [] if i is None else snap.documents([i])
            return AmorphousDoc.from_mongo(found[0]) if found else None
        doc = self._store("amorphous").query_one({"_id": key})
        return AmorphousDoc.from_mongo(doc) if doc else None

    @_reads
    def find_structures(
        self, query: AmorphousQuery | None = None, *, limit: int = 0, **filters: Any
    ) -> list[tuple[AmorphousDoc, Structure]]:
        """(summary, final pymatgen ``Structure``) pairs for results that have one."""
        out = []
        for doc in self.find(query, limit=limit, with_structures=True, **filters):
            structure = doc.get_structure()
            if structure is not None:
                out.append((doc, structure))
        return out

    @_reads
    def to_dataframe(
        self,
        query: AmorphousQuery | None = None,
        *,
        fields: list[str] | str | None = None,
        sort: str | list[str] | None = None,
        limit: int = 0,
        **filters: Any,
    ) -> pd.DataFrame:
        """Matching summaries as a table, one row per document.

        Columns are flat names (:func:`~amorphdb.store.query.resolve_field`):
        ``D_<El>``/``D_std_<El>`` from the diffusion results and ``Ea_<El>``/
        ``Ea_std_<El>`` joined from the ``arrhenius`` collection; structure descriptors
        by their query names (``cn.Si-O``, ``qn.Si.Q4``, ``packing_fraction``; a name
        without its last part, ``cn`` or ``qn.Si``, gives every column under it).
        ``fields=None`` gives the default columns plus every D and Ea column present.

        Raises
        ------
        StoreError
            An unknown field, or a descriptor no matching record holds (the message
            lists the descriptor columns they do hold).
        """
        import pandas as pd

        if isinstance(fields, str):
            fields = [f.strip() for f in fields.split(",") if f.strip()]
        paths = {name: resolve_field(name) for name in fields or []}  # validate first
        projection = None
        if fields:
            projection = {"_id": 1, "campaign": 1, "formula_reduced": 1}
            projection.update({path: 1 for path in paths.values() if path})
        docs = list(self.find_raw(query, projection=projection, sort=sort, limit=limit, **filters))
        ea = self._arrhenius_map(docs) if (fields is None or _wants_ea(fields)) else {}
        wanted = any(p.startswith(DESCRIPTORS_PATH + ".") for p in paths.values())
        rows = [
            _flatten(d, ea.get((d.get("campaign"), d.get("formula_reduced")), {}), wanted)
            for d in docs
        ]
        if fields:

            def held() -> list[str]:  # only for the error message: one more read
                found = self.find_raw(query, projection={"_id": 1, DESCRIPTORS_PATH: 1},
                                      sort=sort, limit=limit, **filters)  # fmt: skip
                names = {c for d in found for c in descriptor_columns(d)}
                return sorted(names, key=descriptor_order)

            columns = _columns(fields, paths, rows, held)
        else:
            extra = sorted({c for r in rows for c in r if c.startswith(("D_", "Ea_"))})
            columns = [*DEFAULT_FIELDS, *extra]
        return pd.DataFrame(rows, columns=columns)

    def _arrhenius_map(self, docs: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
        pairs = {(d.get("campaign"), d.get("formula_reduced")) for d in docs}
        if not pairs:
            return {}
        out: dict[tuple, dict[str, Any]] = {}
        formulas = sorted({f for _, f in pairs})
        if self.config.type is StoreType.EMBEDDED:  # one SQLite read; montydb has no index
            with read_errors(self.config.address):
                found: Iterable[dict[str, Any]] = self._embedded("arrhenius").all()
        else:
            crit = {"formula_reduced": {"$in": formulas}} if len(formulas) <= _MAX_IN else {}
            found = self._store("arrhenius").query(crit)
        for a in found:
            pair = (a["campaign"], a["formula_reduced"])
            if pair in pairs:
                out.setdefault(pair, {})[f"Ea_{a['species']}"] = a.get("Ea_eV")
                out[pair][f"Ea_std_{a['species']}"] = a.get("Ea_std_eV")
        return out

    @_reads
    def find_arrhenius(
        self,
        *,
        campaign: str | None = None,
        formula: str | None = None,
        species: str | None = None,
        elements: list[str] | None = None,
        Ea_eV: tuple[float | None, float | None] | None = None,
    ) -> list[ArrheniusDoc]:
        """Arrhenius documents matching the filters."""
        crit: dict[str, Any] = {}
        if campaign:
            crit["campaign"] = campaign
        if formula:
            crit["formula_reduced"] = reduced_formula(formula)
        if species:
            crit["species"] = species
        if elements:
            crit["elements"] = {"$all": list(elements)}
        if Ea_eV is not None:
            lo, hi = Ea_eV
            crit["Ea_eV"] = {k: v for k, v in (("$gte", lo), ("$lte", hi)) if v is not None}
        return [ArrheniusDoc.from_mongo(d) for d in self._store("arrhenius").query(crit)]

    def get_campaign(self, campaign: str, formula: str) -> CampaignDoc | None:
        """The bookkeeping document of one composition (:meth:`.CampaignBook.get`)."""
        return self.campaign_book.get(campaign, formula)

    def find_campaigns(
        self, campaign: str | None = None, state: str | None = None
    ) -> list[CampaignDoc]:
        """Campaign bookkeeping documents (:meth:`.CampaignBook.find`)."""
        return self.campaign_book.find(campaign, state)

    # ------------------------------------------------------------------ trajectories
    @_reads
    def get_trajectory(self, doc_or_query: AmorphousDoc | dict[str, Any] | str) -> Trajectory:
        """Load the trajectory of a result from the blob store.

        Parameters
        ----------
        doc_or_query
            An :class:`AmorphousDoc`, a stored document dict, a key string, or filters
            for :meth:`find` (dict) matching exactly one summary.
        """
        from amorphdb.store.trajectory import trajectory_from_payload

        doc = self._resolve_one(doc_or_query)
        ref = doc.trajectory
        if ref is None:
            raise StoreError(
                f"result {doc.key()} has no trajectory reference; it was stored without one"
            )
        js = self.job_store
        crit: dict[str, Any] = {"uuid": ref.job_uuid}
        if ref.job_index is not None:
            crit["index"] = ref.job_index
        out = js.docs_store.query_one(crit, properties=["output", "index"], sort={"index": -1})
        if out is None:
            raise StoreError(
                f"job {ref.job_uuid} holding the trajectory of {doc.key()} is not in the job "
                f"store at {self.config.address}; was it run against another store?"
            )
        blob = (out.get("output") or {}).get(ref.key)
        if not isinstance(blob, dict):
            raise StoreError(f"job {ref.job_uuid} has no output '{ref.key}' to load")
        if "blob_uuid" not in blob:  # stored inline in the document
            return trajectory_from_payload(blob)
        store = js.additional_stores.get(blob.get("store", ref.store))
        if store is None:
            raise StoreError(f"the job store has no '{ref.store}' store for the trajectory")
        data = store.query_one({"blob_uuid": blob["blob_uuid"]}, properties=["data"])
        if data is None:
            raise StoreError(f"trajectory blob {blob['blob_uuid']} is missing from the data store")
        return trajectory_from_payload(data["data"])

    def _resolve_one(self, doc_or_query: AmorphousDoc | dict[str, Any] | str) -> AmorphousDoc:
        if isinstance(doc_or_query, AmorphousDoc):
            return doc_or_query
        if isinstance(doc_or_query, str):
            doc = self.get(doc_or_query)
            if doc is None:
                raise StoreError(f"no result with key '{doc_or_query}'")
            return doc
        if (
            "formula" in doc_or_query
            and "temperature_K" in doc_or_query
            and ("campaign" in doc_or_query and "structure" in doc_or_query)
        ):
            return AmorphousDoc.from_mongo(doc_or_query)
        found = self.find(**doc_or_query)
        if len(found) != 1:
            raise StoreError(
                f"{len(found)} results match {doc_or_query}; narrow the query to exactly one"
            )
        return found[0]

    # ------------------------------------------------------------------ statistics
    @_reads
    def stats(self) -> dict[str, Any]:
        """Counts of summaries by state, chemical system and temperature, and totals."""
        by_state: Counter[str] = Counter()
        by_chemsys: Counter[str] = Counter()
        by_temp: Counter[float] = Counter()
        proj = {"state": 1, "chemsys": 1, "temperature_K": 1}
        for d in self._store("amorphous").query({}, properties=proj):
            by_state[d.get("state", "?")] += 1
            by_chemsys[d.get("chemsys", "?")] += 1
            by_temp[float(d.get("temperature_K", 0))] += 1
        camp_state: Counter[str] = Counter(
            d.get("state", "?")
            for d in self._store("campaigns").query({}, properties={"state": 1})
        )
        return {
            "amorphous": sum(by_state.values()),
            "arrhenius": self._store("arrhenius").count(),
            "campaigns": sum(camp_state.values()),
            "by_state": dict(by_state.most_common()),
            "by_chemsys": dict(by_chemsys.most_common()),
            "by_temperature_K": dict(sorted(by_temp.items())),
            "campaigns_by_state": dict(camp_state.most_common()),
            "address": self.config.address,
        }


def open_database(
    config_or_path: str | Path | StoreConfig | JobStore | None = None,
    *,
    must_exist: bool = False,
) -> AmorphousDB:
    """Open the amorphdb query/write API on the same back end as
    :func:`~amorphdb.store.jobstore.open_job_store`.

    ``must_exist=True`` (read-only commands) refuses a store folder that does not exist
    instead of creating an empty one. A jobflow ``JobStore`` is accepted as the store.
    """
    return AmorphousDB.from_config(config_or_path, must_exist=must_exist)


def _is_job_store(obj: object) -> bool:
    """Whether ``obj`` is a jobflow ``JobStore``, without importing jobflow (~0.5 s): an
    instance can only exist once jobflow is imported."""
    import sys

    jobflow = sys.modules.get("jobflow")
    return jobflow is not None and isinstance(obj, jobflow.JobStore)


def damaged_files(config: StoreConfig, *, raise_first: bool = False) -> dict[str, str]:
    """Embedded store: collection files that fail SQLite's ``quick_check`` → the problem.

    With ``raise_first`` the first damaged file raises a one-line :class:`StoreError`
    naming it and the fix (what every command opening the store sees).
    """
    from amorphdb.store.embedded import quick_check

    found: dict[str, str] = {}
    for name in config.collections.model_dump().values():
        path = config.collection_file(name)
        if not path.is_file():
            continue
        problem = quick_check(path)
        if problem is None:
            continue
        if raise_first:
            raise StoreError(
                f"collection file {path} is damaged ({problem}); run `amorphdb db check`, "
                "then `amorphdb db repair` (or restore the file from a backup)"
            )
        found[name] = problem
    return found


@contextlib.contextmanager
def read_errors(address: str) -> Iterator[None]:
    """Turn a failed read of a damaged/unreadable store into one :class:`StoreError` line."""
    import sqlite3

    from bson.errors import BSONError

    try:
        yield
    except (sqlite3.Error, BSONError, OSError) as exc:
        detail = getattr(exc, "strerror", None) or exc
        raise StoreError(
            f"cannot read the store at {address} ({detail}); run `amorphdb db check` to "
            "find the damaged file, then `amorphdb db repair`"
        ) from None


def _decide(
    schema: type[_Doc], old: dict[str, Any] | None, new: dict[str, Any]
) -> tuple[str, dict[str, Any] | None]:
    """What to store for ``new`` given the stored ``old``: (outcome, document or None).

    Same content: ``unchanged``; a completed result is never replaced by a non-completed
    one (``kept``); otherwise ``inserted``/``replaced`` with ``created_at`` kept, a fresh
    ``updated_at`` and a new checksum (:mod:`.checksums`).
    """
    out = dict(new)
    if old is None:
        return "inserted", seal(out)
    if _content(schema.from_mongo(old).to_mongo()) == _content(new):
        return "unchanged", None
    completed = str(ResultState.COMPLETED)
    if old.get("state") == completed and new["state"] != completed:
        return "kept", None
    out["created_at"] = old.get("created_at", new["created_at"])
    out["updated_at"] = utcnow()
    return "replaced", seal(out)


def contradicts(stored: dict[str, Any], output: dict[str, Any]) -> bool:
    """True when a stored summary contradicts the ``record_temperature`` output it came
    from (what ``db build``, ``db check`` and ``db repair`` compare).

    A field the output leaves empty, at any depth, is not a contradiction when the store
    has it filled: ``amorphdb db backfill`` adds ``descriptors.structure`` to records
    whose job computed none.
    """
    expect = AmorphousDoc.model_validate(output).to_mongo()
    _split_structure(expect)
    mine = _content(AmorphousDoc.from_mongo(stored).to_mongo())
    return not _covers(mine, _content(expect))


def _covers(have: Any, want: Any) -> bool:
    """``have`` agrees with ``want`` wherever ``want`` is not empty (dicts recursively)."""
    if isinstance(want, dict) and isinstance(have, dict):
        return all(_covers(have.get(k), v) for k, v in want.items())
    return have == want or want is None or want == {} or want == [] or want == ""


def _split_structure(new: dict[str, Any]) -> dict[str, Any] | None:
    """Move ``structure`` out of a stored summary into its own document.

    Summaries stay ~1 kB instead of ~20 kB for 100 atoms: montydb decodes every document
    on every query (no indexes), so this keeps embedded queries ~15x faster. The structure
    document's _id is ``<key>|<content hash>``: identical structures are stored once, and
    ``structure_id`` changes exactly when the structure does (so idempotency compares it).
    """
    structure = new.pop("structure", None)
    if structure is None:
        return None
    blob = json.dumps(structure, sort_keys=True, default=str).encode()
    new["structure_id"] = f"{new['_id']}|{hashlib.sha1(blob).hexdigest()[:16]}"
    return {"_id": new["structure_id"], "key": new["_id"], "structure": structure}


def _wants_ea(fields: list[str]) -> bool:
    return any(f.startswith("Ea_") for f in fields)


def _get(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _flatten(
    doc: dict[str, Any], ea: dict[str, Any], descriptors: bool = False
) -> dict[str, Any]:
    """Stored document → flat row (``D_Li``, ``engine``, ..., and with ``descriptors``
    every structure-descriptor column it holds, ``cn.Si-O``, ...)."""
    row: dict[str, Any] = {}
    for col, path in SCALAR_FIELDS.items():
        value = _get(doc, path)
        if value is not None:
            row[col] = "-".join(value) if col == "elements" else value
    for species, dif in (doc.get("diffusion") or {}).items():
        row[f"D_{species}"] = dif.get("D_cm2_s")
        row[f"D_std_{species}"] = dif.get("D_std_cm2_s")
    if descriptors:
        for col in descriptor_columns(doc):
            row[col] = _get(doc, f"{DESCRIPTORS_PATH}.{col}")
    row.update(ea)
    return row


def _columns(
    fields: list[str],
    paths: dict[str, str],
    rows: list[dict[str, Any]],
    held_descriptors: Callable[[], list[str]],
) -> list[str]:
    """Table columns for the requested ``fields``: a descriptor name that is a group
    (``cn``, ``qn.Si``) becomes every column under it; one that no row holds is refused
    with the descriptor columns the matching records do hold (``held_descriptors()``)."""
    present = list(dict.fromkeys(c for r in rows for c in r))
    columns: list[str] = []
    for name in fields:
        if not paths[name].startswith(DESCRIPTORS_PATH + ".") or not rows or name in present:
            columns.append(name)
            continue
        group = [c for c in present if c.startswith(name + ".")]
        if group:
            columns.extend(group)
            continue
        held = held_descriptors()
        if held:
            raise StoreError(
                f"no matching record has descriptor '{name}'; they hold: {', '.join(held)}"
            )
        raise StoreError(
            f"no matching record has structure descriptors (asked for '{name}'); "
            "run `amorphdb db backfill` to compute them from the stored trajectories"
        )
    return columns

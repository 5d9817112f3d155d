"""jobflow job documents on the embedded store, written and read by (uuid, index) without scans.

jobflow writes each job's output with ``docs_store.update(doc, key=["uuid", "index"])``
and reads it back with ``query_one({"uuid": u[, "index": i]}, sort={"index": ±1})``. On
maggma's ``MontyStore`` both are montydb scans that decode every job document (montydb
never uses its SQLite primary key). Here the document's ``_id`` is derived from its key,
``job:<uuid>:<index, 10 digits>``, so

* a write is one atomic SQLite upsert by primary key (:meth:`EmbeddedCollection.put`);
* a read of one uuid is one primary-key *range* read: montydb encodes a string ``_id`` as
  a BSON string element (type byte, length, text), so ids of one uuid have one length and
  sort by index as bytes.

Safety: the fast path is used only while *every* document of the collection has such an
id, checked with two primary-key range seeks per call (nothing decoded). A collection
with documents written by a plain ``MontyStore`` (an older store, or a jobflow
configuration pointing a ``MontyStore`` at the same folder) has ObjectId ids: then both
reads and writes go through montydb as before, so a job is never stored twice or found
incompletely. Criteria other than exactly ``{"uuid": str}`` / ``{"uuid": str, "index":
int}`` (and projections on dotted fields) also go through montydb.
"""

from __future__ import annotations

from typing import Any

from amorphdb.store.embedded import EmbeddedCollection

#: prefix of keyed job-document ids
PREFIX = "job:"
#: digits of the index in a keyed id (zero padded: equal length, text order = number order)
INDEX_DIGITS = 10
_MAX_INDEX = 10**INDEX_DIGITS - 1
#: length of a jobflow uuid (uuid4 text); other uuids use montydb
UUID_LENGTH = 36
_ID_LENGTH = len(PREFIX) + UUID_LENGTH + 1 + INDEX_DIGITS
#: bounds of keyed ids: uuids and digits are [0-9a-f-], between "!" and "~" in ASCII
_LO = PREFIX + "!" * (_ID_LENGTH - len(PREFIX))
_HI = PREFIX + "~" * (_ID_LENGTH - len(PREFIX))


def job_doc_id(uuid: str, index: int) -> str:
    """The ``_id`` of the job document of ``uuid`` at ``index``."""
    return f"{PREFIX}{uuid}:{index:0{INDEX_DIGITS}d}"


def _keyable(uuid: Any, index: Any = 0) -> bool:
    return (
        isinstance(uuid, str)
        and len(uuid) == UUID_LENGTH
        and isinstance(index, int)
        and not isinstance(index, bool)
        and 0 <= index <= _MAX_INDEX
    )


def _sort_direction(sort: dict[str, Any] | None) -> int | None:
    """1/-1 for no sort or a sort on ``index`` only; None for anything else."""
    if not sort:
        return 1
    if list(sort) != ["index"]:
        return None
    value = sort["index"]
    value = getattr(value, "value", value)  # maggma's Sort enum
    return -1 if value == -1 else 1 if value == 1 else None


def keyed_job_docs_class(base: type) -> type:
    """Subclass ``base`` (amorphdb's ``LockedMontyStore``) with keyed job documents."""

    class JobDocsMontyStore(base):  # type: ignore[misc, valid-type]
        """maggma ``MontyStore`` for jobflow's ``outputs``: (uuid, index) by primary key."""

        def _keyed(self) -> EmbeddedCollection:
            coll = self.__dict__.get("_amorphdb_keyed")
            if coll is None:
                coll = EmbeddedCollection(
                    self.database_path, self.database_name, self.collection_name
                )
                self.__dict__["_amorphdb_keyed"] = coll
            return coll

        def _all_keyed(self) -> bool:
            """Every stored document has a keyed id: none outside ``[_LO, _HI)``, two
            primary-key range seeks (ids of another type or length encode outside)."""
            return not self._keyed().keys_outside(_LO, _HI)

        def update(self, docs: list[dict] | dict, key: list | str | None = None) -> None:
            """Upsert by primary key when the key is (uuid, index), else maggma's way."""
            batch = docs if isinstance(docs, list) else [docs]
            keyed = (
                key is not None
                and list(key if isinstance(key, list | tuple) else [key]) == ["uuid", "index"]
                and self.validator is None
                and all(_keyable(d.get("uuid"), d.get("index")) for d in batch)
                and self._all_keyed()
            )
            if not keyed:
                super().update(docs, key=key)
                return
            from monty.json import jsanitize

            coll = self._keyed()
            for d in batch:
                doc = jsanitize(d, allow_bson=True)
                doc["_id"] = job_doc_id(doc["uuid"], doc["index"])
                coll.put(doc)

        def query(  # type: ignore[override]
            self,
            criteria: dict | None = None,
            properties: dict | list | None = None,
            sort: dict | None = None,
            hint: dict | None = None,
            skip: int = 0,
            limit: int = 0,
            **kwargs: Any,
        ):
            """By (uuid[, index]) from a primary-key range; anything else via montydb."""
            fields = list(properties) if properties is not None else None
            if isinstance(properties, dict) and not all(v in (1, True) for v in
                                                        properties.values()):
                fields = ["."]  # exclusions: let montydb project
            direction = _sort_direction(sort)
            crit = criteria or {}
            simple = (
                set(crit) in ({"uuid"}, {"uuid", "index"})
                and _keyable(crit["uuid"], crit.get("index", 0))
                and direction is not None
                and hint is None
                and not kwargs
                and (fields is None or not any("." in f for f in fields))
                and self._all_keyed()
            )
            if not simple:
                yield from super().query(criteria, properties, sort, hint, skip, limit, **kwargs)
                return
            uuid, index = crit["uuid"], crit.get("index")
            coll = self._keyed()
            if index is not None:
                found = coll.get(job_doc_id(uuid, index))
                docs = [found] if found is not None else []
            else:
                docs = coll.key_range(job_doc_id(uuid, 0), job_doc_id(uuid, _MAX_INDEX))
            docs = [d for d in docs if d.get("uuid") == uuid]  # belt and braces
            if direction < 0:
                docs.reverse()  # key order is index order
            docs = docs[skip:]
            if limit:
                docs = docs[:limit]
            for d in docs:
                if fields is None:
                    yield d
                else:
                    yield {k: d[k] for k in ("_id", *fields) if k in d}

    return JobDocsMontyStore

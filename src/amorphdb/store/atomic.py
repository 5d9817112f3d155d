"""The few atomic writes maggma's public ``Store`` API cannot express.

Everything else in :mod:`amorphdb.store` goes through maggma's public API (``query``,
``query_one``, ``count``, ``update``, ``remove_docs``, ``ensure_index``). maggma 0.77
has no:

* insert that fails when the key exists (``Store.update`` is ``ReplaceOne(upsert=True)``:
  the last writer wins, so two launchers inserting one record would both "succeed");
* replace guarded by a filter (compare-and-set on a stored ``state``/``revision``, what
  keeps a completed result from being overwritten by a concurrent failed one);
* merge-upsert of some fields (``$set`` with ``upsert``: a heartbeat refresh);
* compound unique index (``Store.ensure_index`` takes one key).

These go to the pymongo-compatible ``Collection`` the store wraps (pymongo, montydb or
mongomock), reached in exactly one place, :func:`_collection_of`.
"""

from __future__ import annotations

from typing import Any


def _duplicate_key_errors() -> tuple[type[Exception], ...]:
    from pymongo.errors import DuplicateKeyError

    errors: list[type[Exception]] = [DuplicateKeyError]
    try:  # montydb raises its own class (not a pymongo subclass) for a taken _id
        from montydb.errors import DuplicateKeyError as MontyDuplicateKeyError

        errors.append(MontyDuplicateKeyError)
    except ImportError:  # pragma: no cover - montydb is a hard dependency
        pass
    return tuple(errors)


#: exceptions meaning "a document with this _id already exists" on any back end
DUPLICATE_KEY_ERRORS = _duplicate_key_errors()


def _collection_of(store: Any) -> Any:
    """The pymongo-compatible ``Collection`` under a connected maggma store.

    maggma 0.77.1 keeps it in ``MongoStore._coll`` (``MontyStore``, ``MemoryStore``
    inherit it) and exposes it only as the private ``_collection`` property; there is no
    public accessor. The one place amorphdb reaches it.
    """
    return store._collection


def insert_new(store: Any, doc: dict[str, Any]) -> bool:
    """Insert ``doc``; False (nothing written) when its ``_id`` is already stored."""
    try:
        _collection_of(store).insert_one(doc)
    except DUPLICATE_KEY_ERRORS:
        return False
    return True


def insert_new_many(store: Any, docs: list[dict[str, Any]]) -> None:
    """Insert ``docs`` in order in one call; raises one of :data:`DUPLICATE_KEY_ERRORS`
    at the first ``_id`` already stored (those before it are written)."""
    _collection_of(store).insert_many(docs, ordered=True)


def replace_if(store: Any, criteria: dict[str, Any], doc: dict[str, Any]) -> bool:
    """Replace the document matching ``criteria`` (``_id`` plus a guard) by ``doc`` in one
    server-side step; False when nothing matched (the guard failed: someone else wrote)."""
    return _collection_of(store).replace_one(criteria, doc).matched_count == 1


def merge_upsert(store: Any, _id: Any, fields: dict[str, Any]) -> None:
    """Set ``fields`` on the document ``_id`` (created when absent), atomically."""
    coll = _collection_of(store)
    try:
        coll.update_one({"_id": _id}, {"$set": fields}, upsert=True)
    except DUPLICATE_KEY_ERRORS:  # two upserts inserted at once: the key exists now
        coll.update_one({"_id": _id}, {"$set": fields})


def ensure_unique_index(store: Any, fields: list[str], name: str) -> None:
    """A unique ascending compound index on ``fields`` (idempotent)."""
    _collection_of(store).create_index([(f, 1) for f in fields], unique=True, name=name)

"""jobflow job documents on the embedded store: by (uuid, index) without montydb scans."""

from __future__ import annotations

import pytest
from jobflow import Flow, Response, job, run_locally

from amorphdb.store import StoreConfig, open_job_store
from amorphdb.store.jobdocs import job_doc_id


@job
def add(a: float, b: float) -> float:
    """a + b."""
    return a + b


@job
def double_later(x: float) -> Response:
    """Replaced by a job computing 2x (the replacement keeps the uuid, index 2)."""
    return Response(replace=add(x, x))


@pytest.fixture
def scans(monkeypatch):
    """Count montydb's full-collection scans (its SQLite cursor's ``query``)."""
    from montydb.storage.sqlite import SQLiteCursor

    calls: list[int] = []
    original = SQLiteCursor.query

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLiteCursor, "query", counted)
    return calls


def test_jobflow_outputs_stored_and_read_by_key_without_scans(tmp_path, scans):
    store = open_job_store(StoreConfig(path=tmp_path / "db"))
    first = add(1.5, 2.0)
    second = add(first.output, 10.0)
    replaced = double_later(4.0)
    responses = run_locally(Flow([first, second, replaced]), store=store, ensure_success=True)
    assert responses[second.uuid][1].output == pytest.approx(13.5)
    store.connect()
    assert scans == []  # every write and read above went by primary key
    assert store.get_output(first.uuid) == pytest.approx(3.5)
    assert store.get_output(second.uuid) == pytest.approx(13.5)
    assert store.get_output(replaced.uuid, which="last") == pytest.approx(8.0)  # index 2
    assert store.query_one({"uuid": replaced.uuid}, sort={"index": 1})["index"] == 1
    doc = store.query_one({"uuid": first.uuid, "index": 1}, properties=["output", "index"])
    assert doc["_id"] == job_doc_id(first.uuid, 1)  # the keyed id, found by primary key
    assert (doc["output"], doc["index"]) == (3.5, 1)
    assert "name" not in doc  # the projection is applied
    assert scans == []
    # anything else still works through montydb (and scans)
    assert store.count({"name": "add"}) == 3
    assert scans


def test_plain_montystore_documents_keep_the_scanning_path(tmp_path, scans):
    """A store holding documents written by maggma's own MontyStore (ObjectId ids):
    reads and writes fall back to montydb, so no job is stored twice or missed."""
    from maggma.stores import MontyStore

    from amorphdb.store.config import MONTY_STORAGE_KWARGS

    config = StoreConfig(path=tmp_path / "db")
    store = open_job_store(config)
    store.connect()
    plain = MontyStore("outputs", database_path=str(config.path.resolve()),
                       database_name=config.database, storage="sqlite",
                       storage_kwargs=MONTY_STORAGE_KWARGS, key="uuid")
    plain.connect()
    uuid = "0" * 8 + "-0000-4000-8000-" + "0" * 12
    plain.update({"uuid": uuid, "index": 1, "output": 1.0}, key=["uuid", "index"])
    store.docs_store.update({"uuid": uuid, "index": 1, "output": 2.0}, key=["uuid", "index"])
    store.docs_store.update({"uuid": uuid, "index": 2, "output": 3.0}, key=["uuid", "index"])
    assert store.count({"uuid": uuid}) == 2  # the legacy document was replaced, not doubled
    assert store.get_output(uuid, which="first") == 2.0
    assert store.get_output(uuid, which="last") == 3.0
    assert scans  # the fallback path

"""Fixtures: a fresh database on every back end (embedded always, MongoDB when configured)."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from amorphdb.store import StoreConfig
from amorphdb.store.database import AmorphousDB

MONGO_ENV = "AMORPHDB_TEST_MONGODB_URI"

# --import-mode=importlib does not put test folders on sys.path: make store_factories importable
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(params=["embedded", "embedded-scan", "mongomock", "mongodb"])
def store_config(request, tmp_path, monkeypatch):
    """A store configuration on a fresh, empty database.

    ``embedded``: montydb in tmp_path, queries answered by the in-process snapshot;
    ``embedded-scan``: the same with ``query_cache=False`` (montydb evaluates the MongoDB
    criteria, the code path MongoDB uses). ``mongomock``: the MongoDB code path
    (MongoStore, GridFSStore, unique indexes, pymongo errors) on an in-memory mongomock
    server: not a real MongoDB, but every MongoDB-only branch runs. ``mongodb``: a real
    server at $AMORPHDB_TEST_MONGODB_URI (skipped when unset).
    """
    if request.param.startswith("embedded"):
        yield StoreConfig(path=tmp_path / "db", query_cache=request.param == "embedded")
        return
    if request.param == "mongomock":
        import mongomock_ng
        import mongomock_ng.gridfs

        mongomock_ng.gridfs.enable_gridfs_integration()
        server = mongomock_ng.MongoClient()  # one shared in-memory server
        monkeypatch.setattr(server, "close", lambda: None)  # the ping must not close it

        def client(*args, **kwargs):
            return server

        for target in (
            "maggma.stores.mongolike.MongoClient",
            "maggma.stores.gridfs.MongoClient",
            "pymongo.MongoClient",
        ):
            monkeypatch.setattr(target, client)
        yield StoreConfig(type="mongodb", host="mongomock", database="amorphdb_test")
        return
    if not os.environ.get(MONGO_ENV):
        pytest.skip(f"{MONGO_ENV} is not set: no MongoDB to run the contract tests against")
    name = f"amorphdb_test_{uuid.uuid4().hex[:10]}"
    yield StoreConfig(type="mongodb", uri_env=MONGO_ENV, database=name, timeout_ms=3000)
    from pymongo import MongoClient

    MongoClient(os.environ[MONGO_ENV]).drop_database(name)


@pytest.fixture
def db(store_config):
    database = AmorphousDB.from_config(store_config)
    yield database
    database.close()

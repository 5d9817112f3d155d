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


@pytest.fixture(params=["embedded", "mongodb"])
def store_config(request, tmp_path):
    """A store configuration on a fresh, empty database."""
    if request.param == "embedded":
        yield StoreConfig(path=tmp_path / "db")
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

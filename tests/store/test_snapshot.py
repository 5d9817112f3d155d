"""The embedded query snapshot: same answers as montydb's own evaluation, never stale."""

from __future__ import annotations

import numpy as np
import pytest
from store_factories import make_amorphous, make_arrhenius

from amorphdb.store import StoreConfig
from amorphdb.store.database import AmorphousDB
from amorphdb.store.snapshot import CACHE_FILE

SYSTEMS = [
    {"Li": 4, "Si": 4, "O": 10},
    {"Li": 6, "B": 2, "O": 6},
    {"Li": 6, "P": 2, "S": 8},
    {"Na": 4, "Si": 4, "O": 10},
    {"Li": 2, "O": 1},
]


@pytest.fixture
def pair(tmp_path):
    """(snapshot db, scanning db) on one folder with 60 varied summaries."""
    rng = np.random.default_rng(5)
    fast = AmorphousDB.from_config(StoreConfig(path=tmp_path / "db"))
    docs = []
    for i in range(60):
        counts = SYSTEMS[i % len(SYSTEMS)]
        d = None if rng.random() < 0.2 else float(10 ** rng.uniform(-8, -4))
        docs.append(
            make_amorphous(
                counts,
                campaign=f"c{i % 3}",
                temperature_K=float(rng.choice([1000, 1500, 2000])),
                density=float(rng.uniform(1.8, 2.6)),
                D_Li=d,
                state="failed" if rng.random() < 0.15 else "completed",
                protocol_hash=f"p{i}",
                seed=i,
            )
        )
    fast.insert_many_amorphous(docs)
    fast.upsert_arrhenius(make_arrhenius("Li2Si2O5", campaign="c0", Ea=0.4))
    fast.upsert_arrhenius(make_arrhenius("Li3PS4", campaign="c1", Ea=0.3))
    slow = AmorphousDB.from_config(StoreConfig(path=tmp_path / "db", query_cache=False))
    yield fast, slow
    fast.close()
    slow.close()


QUERIES = [
    {},
    {"chemsys": "O-Li"},
    {"elements": ["Li", "O"], "temperature_K": 1500},
    {"any_elements": ["B", "S"], "exclude_elements": ["Na"]},
    {"formula": "Li2O(SiO2)2", "state": "completed"},
    {"D": {"Li": (1e-6, None)}},
    {"D": {"Li": (None, 1e-6)}, "density_g_cm3": (2.0, 2.4)},
    {"D": {"Na": (0, None)}},
    {"temperature_K": (1200, None), "campaign": "c1"},
    {"Ea_eV": ("Li", None, 0.35)},
    {"Ea_eV": (None, 0.0, 1.0), "elements": ["Si"]},
    {"ranges": {"nsites": (10, 20)}},
]
SORTS = [None, "-D_Li,formula_reduced", "density_g_cm3", "temperature_K,-density_g_cm3"]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("sort", SORTS)
def test_snapshot_matches_store_evaluation(pair, query, sort):
    fast, slow = pair
    got = [d["_id"] for d in fast.find_raw(sort=sort, **query)]
    want = [d["_id"] for d in slow.find_raw(sort=sort, **query)]
    if sort is None:  # natural order is not part of the contract
        got, want = sorted(got), sorted(want)
    elif "D_Li" not in sort:  # ties beyond the sort keys may come in any order
        keyed = lambda ids, db: sorted(  # noqa: E731
            (tuple(str(db.get(i).model_dump().get(k.lstrip("-"))) for k in sort.split(",")), i)
            for i in ids
        )
        got, want = keyed(got, fast), keyed(want, slow)
    assert got == want
    assert fast.count(**query) == slow.count(**query)
    assert fast.find_raw(limit=5, sort=sort, **query) is not None


def test_snapshot_sees_writes_of_other_processes(pair):
    fast, slow = pair
    before = fast.count()
    assert fast._snapshot is not None  # loaded by count()
    slow.upsert_amorphous(make_amorphous({"K": 2, "O": 1}, campaign="new", D_Li=None))
    assert fast.count() == before + 1
    assert [d.formula_reduced for d in fast.find(campaign="new")] == ["K2O"]
    # a failed rerun is kept out, a completed one replaces, both visible at once
    slow.upsert_amorphous(make_amorphous({"K": 2, "O": 1}, campaign="new", density=2.5))
    assert fast.find(campaign="new")[0].density_g_cm3 == pytest.approx(2.5)


def test_snapshot_not_reloaded_without_writes(pair):
    fast, _ = pair
    fast.count()
    snap = fast._snapshot
    fast.find(chemsys="Li-O-Si")
    assert fast._snapshot is snap


def test_store_without_token_gets_one(tmp_path):
    db = AmorphousDB.from_config(StoreConfig(path=tmp_path / "db"))
    assert db.count() == 0
    snap = db._snapshot
    assert snap is not None and snap.token is not None
    db.find(chemsys="Li-O")
    assert db._snapshot is snap  # no reload without writes
    db.close()


# ---------------------------------------------------------------- persisted columns
def _same_answers(got_db, want_db, query, sort):
    got = [d["_id"] for d in got_db.find_raw(sort=sort, **query)]
    want = [d["_id"] for d in want_db.find_raw(sort=sort, **query)]
    if sort is None or "D_Li" not in sort:  # ties/natural order are not in the contract
        got, want = sorted(got), sorted(want)
    assert got == want
    assert got_db.count(**query) == want_db.count(**query)
    got5 = [d["_id"] for d in got_db.find_raw(limit=5, sort=sort, **query)]
    want5 = [d["_id"] for d in want_db.find_raw(limit=5, sort=sort, **query)]
    assert got5 == want5 if sort and "D_Li" in sort else len(got5) == len(want5)


@pytest.fixture
def cached(pair, tmp_path):
    """A new AmorphousDB (as a new process would open it) after ``fast`` persisted."""
    fast, slow = pair
    fast.count()  # builds the snapshot from the documents and persists its columns
    assert (tmp_path / "db" / CACHE_FILE).is_file()
    db = AmorphousDB.from_config(StoreConfig(path=tmp_path / "db"))
    db.count()
    assert db._snapshot is not None and db._snapshot.docs is None  # columns, no documents
    yield db, slow
    db.close()


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("sort", SORTS)
def test_persisted_snapshot_matches_store_evaluation(cached, query, sort):
    db, slow = cached
    _same_answers(db, slow, query, sort)
    # documents come back whole, decoded by key, identical to montydb's
    want = {d["_id"]: d for d in slow.find_raw(**query)}
    for doc in db.find_raw(**query):
        assert doc == want[doc["_id"]]


def test_persisted_snapshot_ignored_after_write_bypassing_token(cached, tmp_path):
    db, slow = cached
    n = db.count()
    victim = next(iter(db.find_raw(limit=1)))["_id"]
    slow._store("amorphous").remove_docs({"_id": victim})  # montydb itself: no token bump
    fresh = AmorphousDB.from_config(StoreConfig(path=tmp_path / "db"))
    assert fresh.count() == n - 1  # the file stamp changed: rebuilt from the documents
    assert fresh.get(victim) is None
    assert fresh._snapshot.docs is not None
    fresh.close()


def test_persisted_snapshot_survives_garbage(pair, tmp_path):
    _fast, slow = pair
    n = slow.count()
    (tmp_path / "db" / CACHE_FILE).write_bytes(b"not an npz")
    db = AmorphousDB.from_config(StoreConfig(path=tmp_path / "db"))
    assert db.count() == n
    db.close()

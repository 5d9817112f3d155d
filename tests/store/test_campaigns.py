"""Campaign bookkeeping (store/campaigns.py): concurrent writers on the embedded store."""

from __future__ import annotations

import multiprocessing as mp
import traceback

import pytest

from amorphdb.store import StoreConfig
from amorphdb.store.database import AmorphousDB

N_PROCESSES = 3
N_TRIALS = 20
N_BEATS = 10


def _racer(path: str, barrier, results, rank: int) -> None:
    """One launcher: open a fresh store, claim the composition, beat, release."""
    try:
        from amorphdb.campaign.status import Heartbeats

        barrier.wait(timeout=60)
        db = AmorphousDB.from_config(StoreConfig(path=path))
        won = db.record_attempt("race", "Li2Si2O5", "waiting", claim=True) is not None
        beats = Heartbeats(db)  # the launcher's own class, as local.py/claims.py use it
        for i in range(N_BEATS):
            beats.beat("race", "Li2Si2O5", launcher="local", stage=f"r{rank}-{i}")
            db.campaign_book.beat("race", f"Li{rank + 1}O", {"launcher": "local"})
        beats.close()
        db.close()
        results.put((rank, won, None))
    except BaseException:
        results.put((rank, None, traceback.format_exc()))


@pytest.mark.slow
def test_three_process_heartbeat_race_never_crashes(tmp_path):
    """Issue 12: 3 processes opening a fresh store and beating one composition at once
    crashed 10/10 trials ('no such table', StorageDuplicateKeyError). Now: 0 crashes in
    20 trials, exactly one claim wins each trial, one heartbeat document per key."""
    ctx = mp.get_context("fork")
    crashes, wins = [], []
    for trial in range(N_TRIALS):
        path = str(tmp_path / f"db{trial}")
        barrier, results = ctx.Barrier(N_PROCESSES), ctx.Queue()
        procs = [
            ctx.Process(target=_racer, args=(path, barrier, results, r))
            for r in range(N_PROCESSES)
        ]
        for p in procs:
            p.start()
        outcome = [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        crashes += [err for _, _, err in outcome if err]
        wins.append(sum(bool(won) for _, won, err in outcome if not err))
        db = AmorphousDB.from_config(StoreConfig(path=path))
        beats = db.campaign_book.heartbeats("race")
        assert len(beats) == 1 + N_PROCESSES  # one document per key, none duplicated
        assert beats["Li2Si2O5"]["stage"].endswith(f"-{N_BEATS - 1}")
        assert len(db.find_campaigns("race")) == 1
        db.close()
    assert crashes == [], crashes[0]
    assert wins == [1] * N_TRIALS


def test_campaign_book_is_what_amorphousdb_delegates_to(tmp_path):
    db = AmorphousDB.from_config(StoreConfig(path=tmp_path / "db"))
    doc = db.record_attempt("c", "Li2O·2SiO2", "running", {"engine": "lammps"}, stage="melt")
    assert db.campaign_book.get("c", "Li2Si2O5").attempts[0].settings == {"engine": "lammps"}
    assert db.get_campaign("c", "Li2O.2SiO2").revision == doc.revision == 1
    assert db.record_attempt("c", "Li2Si2O5", "waiting", claim=True) is None  # held
    db.record_attempt("c", "Li2Si2O5", "completed", stage="record")
    assert [d.state for d in db.find_campaigns("c")] == ["completed"]
    db.campaign_book.beat("c", "Li2Si2O5", {"launcher": "local", "stage": "melt"})
    assert db.campaign_book.heartbeat("c", "Li2Si2O5")["stage"] == "melt"
    db.campaign_book.clear_beat("c", "Li2Si2O5")
    assert db.campaign_book.heartbeat("c", "Li2Si2O5") is None
    db.close()


@pytest.mark.parametrize("n_writers", [3])
def test_concurrent_upserts_of_one_summary_store_one_document(tmp_path, n_writers):
    """Racing upserts of one result (atomic SQLite transaction): one document, no crash."""
    from store_factories import make_amorphous

    path = str(tmp_path / "db")
    AmorphousDB.from_config(StoreConfig(path=path)).close()
    ctx = mp.get_context("fork")
    results = ctx.Queue()

    def writer(rank):
        try:
            db = AmorphousDB.from_config(StoreConfig(path=path))
            for i in range(10):
                db.upsert_amorphous(make_amorphous(D_Li=(rank * 10 + i + 1) * 1e-6))
            db.close()
            results.put(None)
        except BaseException:
            results.put(traceback.format_exc())

    procs = [ctx.Process(target=writer, args=(r,)) for r in range(n_writers)]
    for p in procs:
        p.start()
    errors = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert errors == [None] * n_writers
    db = AmorphousDB.from_config(StoreConfig(path=path))
    assert db.count() == 1 and db._embedded("amorphous").count() == 1
    db.close()

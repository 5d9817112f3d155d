"""Local launcher: idempotent submit, lost runs, rerun limits, SIGKILL fault injection."""

import os
import signal
import subprocess

import pytest

from amorphdb.campaign import load_campaign
from amorphdb.campaign.status import LOST, Heartbeats
from amorphdb.campaign.submit import read_status, rerun, select_rerun, submit
from amorphdb.errors import ConfigError, StoreError
from amorphdb.store import open_database


def _running(pid: int) -> bool:
    """True for a live, non-zombie process."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_lost_parent_is_shown_lost_and_rerun_closes_it(campaign_file):
    spec = load_campaign(campaign_file())
    with open_database(spec.store_path()) as db:
        db.record_attempt("tiny", "Li2Si2O5", "running", stage="melt 5000 K")
        hb = Heartbeats(db)
        hb.beat("tiny", "Li2Si2O5", launcher="local", stage="melt 5000 K")
        hb.book.beat("tiny", "Li2Si2O5", {"pid": _dead_pid()})  # its launcher died
        hb.close()
        [status] = read_status(spec, db)
        assert status.state == LOST
        assert "is gone" in status.last_error and status.stage == "melt 5000 K"
        [item] = select_rerun(spec, db)
        assert item.escalation.kind == "lost" and item.attempt == 2


def test_live_parent_is_running_not_lost(campaign_file):
    spec = load_campaign(campaign_file())
    with open_database(spec.store_path()) as db:
        db.record_attempt("tiny", "Li2Si2O5", "running")
        hb = Heartbeats(db)
        hb.beat("tiny", "Li2Si2O5", launcher="local")  # this process: alive
        hb.close()
        assert read_status(spec, db)[0].state == "running"
        plan, outcome = submit(spec)  # in flight: nothing submitted
        assert plan.in_flight == ["Li2Si2O5"] and plan.to_submit == [] and outcome == {}


def test_attempt_limit_ends_in_final_failed_state(campaign_file):
    spec = load_campaign(campaign_file(max_attempts=2))
    with open_database(spec.store_path()) as db:
        for _ in range(2):
            db.record_attempt("tiny", "Li2Si2O5", "running")
            db.record_attempt("tiny", "Li2Si2O5", "failed", error="packmol failed to pack")
        [item] = select_rerun(spec, db)
    assert item.exhausted
    items, outcome = rerun(spec)
    assert outcome == {} and items[0].exhausted
    with open_database(spec.store_path()) as db:
        doc = db.get_campaign("tiny", "Li2Si2O5")
    assert doc.state == "failed" and len(doc.attempts) == 4 // 2


def test_composition_claimed_by_another_launcher_after_our_plan_is_skipped(campaign_file):
    from amorphdb.campaign.local import run_campaign
    from amorphdb.campaign.submit import plan_submission

    spec = load_campaign(campaign_file(compositions=["Li2Si2O5", "Li2SiO3"]))
    with open_database(spec.store_path()) as db:
        plan = plan_submission(spec, ["Li2Si2O5", "Li2SiO3"], read_status(spec, db))
        # a second launcher started at the same moment claims both first
        for formula in plan.to_submit:
            assert db.record_attempt("tiny", formula, "waiting", claim=True) is not None
    assert plan.to_submit == ["Li2Si2O5", "Li2SiO3"]  # our plan is already stale
    assert run_campaign(spec, formulas=plan.to_submit) == {}  # nothing runs twice
    with open_database(spec.store_path()) as db:
        for formula in plan.to_submit:
            assert [a.state for a in db.get_campaign("tiny", formula).attempts] == ["waiting"]
    assert not (spec.workdir_path() / "tiny" / "Li2Si2O5").exists()


def test_rerun_of_unknown_campaign_is_an_error(campaign_file):
    spec = load_campaign(campaign_file())
    with pytest.raises(StoreError, match="does not exist"):  # no store: none is created
        rerun(spec)
    open_database(spec.store_path()).close()  # a store, without this campaign
    with pytest.raises(ConfigError, match="campaign 'tiny' has no records"):
        rerun(spec)


def test_filters_select_by_formula_error_and_stage(campaign_file):
    spec = load_campaign(campaign_file(compositions=["Li2Si2O5", "Li2SiO3", "Li4SiO4"]))
    with open_database(spec.store_path()) as db:
        for f, err, stage in [("Li2Si2O5", "packmol failed to pack", "pack"),
                              ("Li2SiO3", "ERROR: Lost atoms", "anneal 1500 K"),
                              ("Li4SiO4", None, "arrhenius")]:
            db.record_attempt("tiny", f, "running")
            db.record_attempt("tiny", f, "failed" if err else "completed", error=err, stage=stage)
        assert [i.formula for i in select_rerun(spec, db)] == ["Li2Si2O5", "Li2SiO3"]
        assert [i.formula for i in select_rerun(spec, db, error_pattern="lost atoms")] == [
            "Li2SiO3"]
        assert [i.formula for i in select_rerun(spec, db, stage="pack")] == ["Li2Si2O5"]
        assert [i.formula for i in select_rerun(spec, db, formulas=["Li2O(SiO2)2"])] == [
            "Li2Si2O5"]
        assert select_rerun(spec, db, formulas=["Li4SiO4"]) == []  # completed: never rerun


@pytest.mark.slow
def test_sigkill_worker_status_rerun_and_nothing_lost_or_duplicated(campaign_file):
    spec = load_campaign(campaign_file(compositions=["Li2Si2O5", "Li2SiO3"], workers=2))
    victim = "Li2SiO3"
    killed = []

    def on_progress(formula, job):
        # killed during its anneals, after the melt finished: the rerun resumes from the melt
        if formula == victim and not killed and job.startswith("melt"):
            with open_database(spec.store_path()) as db:
                hb = Heartbeats(db)
                pid = hb.get("tiny", victim)["worker_pid"]
                hb.close()
            os.kill(pid, signal.SIGKILL)
            killed.append((pid, job))

    plan, results = submit(spec, on_progress=on_progress)
    assert plan.to_submit == ["Li2Si2O5", "Li2SiO3"] and killed
    assert results["Li2Si2O5"].ok
    assert not results[victim].ok and "SIGKILL" in results[victim].error
    with open_database(spec.store_path()) as db:
        states = {s.formula: s for s in read_status(spec, db)}
        assert states[victim].state == "failed" and "SIGKILL" in states[victim].last_error
        assert db.count(campaign="tiny", formula=victim) == 0
        assert db.count(campaign="tiny", formula="Li2Si2O5") == 3  # melt + 2 anneals

    with open_database(spec.store_path()) as db:
        [killed_melt] = db.job_store.docs_store.query(
            {"metadata.amorphdb.formula": victim, "metadata.amorphdb.stage": "melt"})
    [dry], outcome = rerun(spec, dry=True)
    assert outcome == {} and dry.resumes_from.startswith("melt")
    items, results = rerun(spec)
    assert [i.formula for i in items] == [victim] and results[victim].ok
    assert items[0].escalation.kind == "lost"
    with open_database(spec.store_path()) as db:
        attempt = db.get_campaign("tiny", victim).attempts[-1]
        assert attempt.settings["resumed_from"].startswith("melt")
        # the melt ran once (in the killed attempt) and its run is the one recorded
        melts = db.job_store.docs_store.query({"metadata.amorphdb.formula": victim,
                                               "metadata.amorphdb.stage": "melt"})
        assert [m["uuid"] for m in melts] == [killed_melt["uuid"]]
        [melt_doc] = db.find(campaign="tiny", formula=victim, temperature_K=5000)
        assert melt_doc.trajectory.job_uuid == killed_melt["uuid"]

    # submitting again and rerunning again change nothing
    plan, outcome = submit(spec)
    assert plan.to_submit == [] and outcome == {}
    assert rerun(spec) == ([], {})
    with open_database(spec.store_path()) as db:
        for formula, n_attempts in (("Li2Si2O5", 1), (victim, 2)):
            doc = db.get_campaign("tiny", formula)
            assert doc.state == "completed" and len(doc.attempts) == n_attempts
            docs = db.find(campaign="tiny", formula=formula)
            temps = sorted(d.temperature_K for d in docs)
            assert temps == [1500.0, 2500.0, 5000.0]  # each temperature exactly once
            assert len({d.protocol_hash for d in docs}) == 1
        assert [s.state for s in read_status(spec, db)] == ["completed", "completed"]


def test_escalation_follows_recorded_settings_attempt_after_attempt(campaign_file):
    from amorphdb.campaign.local import attempt_settings

    spec = load_campaign(campaign_file(engine={"name": "lammps", "timestep_fs": 1.0},
                                       max_attempts=4))
    with open_database(spec.store_path()) as db:
        current = spec
        steps = []
        for _ in range(3):
            settings = attempt_settings(current)
            db.record_attempt("tiny", "Li2Si2O5", "running", settings=settings)
            db.record_attempt("tiny", "Li2Si2O5", "failed", settings=settings,
                              error="ERROR: Lost atoms: original 36 current 35",
                              stage="anneal 1500 K")
            [item] = select_rerun(spec, db)
            assert item.escalation.kind == "unstable_md"
            current = spec.model_copy(update={"engine": item.escalation.engine,
                                              "protocol": item.escalation.protocol})
            steps.append(current.engine.timestep_fs)
        doc = db.get_campaign("tiny", "Li2Si2O5")
    assert steps == [0.5, 0.25, 0.125]
    assert [a.settings["engine"]["timestep_fs"] for a in doc.attempts] == [1.0, 0.5, 0.25]
    assert [a.number for a in doc.attempts] == [1, 2, 3]


@pytest.mark.slow
def test_sigkill_launcher_shows_lost_workers_stop_rerun_completes(campaign_file):
    import sys
    import time

    path = campaign_file(compositions=["Li2Si2O5", "Li2SiO3"], workers=2)
    spec = load_campaign(path)
    parent = subprocess.Popen([sys.executable, "-m", "amorphdb", "submit", str(path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    deadline = time.monotonic() + 120
    while len(workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            with open_database(spec.store_path()) as db:
                hb = Heartbeats(db)
                workers = [b["worker_pid"] for b in hb.all("tiny").values() if "worker_pid" in b]
                hb.close()
        except Exception:  # the launcher is creating the store
            workers = []
    assert len(workers) == 2, "workers never started"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    # workers notice their parent is gone within PARENT_CHECK_S once started (spawned
    # workers spend a few seconds importing first)
    deadline = time.monotonic() + 60
    while (alive := [p for p in workers if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert alive == []  # no orphan keeps computing next to the rerun
    from tests.campaign.test_signals import campaign_processes

    assert campaign_processes(spec.workdir_path()) == []  # nor any lmp they had started
    # killed, not finished: a worker that finished would have left its result file
    assert list((spec.workdir_path() / "tiny").glob("*/.amorphdb-result-*")) == []
    with open_database(spec.store_path()) as db:
        states = [s.state for s in read_status(spec, db)]
    assert states == [LOST, LOST]
    items, results = rerun(spec)
    assert {i.formula for i in items} == {"Li2Si2O5", "Li2SiO3"}
    assert all(r.ok for r in results.values())
    with open_database(spec.store_path()) as db:
        for formula in ("Li2Si2O5", "Li2SiO3"):
            doc = db.get_campaign("tiny", formula)
            assert doc.state == "completed"
            assert [a.state for a in doc.attempts] == ["failed", "completed"]
            assert "is gone" in doc.attempts[0].error
            temps = sorted(d.temperature_K for d in db.find(campaign="tiny", formula=formula))
            assert temps == [1500.0, 2500.0, 5000.0]


def test_journal_is_data_a_crafted_file_runs_no_code(tmp_path):
    """A pickle payload or a monty-style class reference in a journal is never executed."""
    import pickle

    from amorphdb.campaign.local import read_journal_checked

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    journal = tmp_path / ".amorphdb-journal-x.jsonl"
    crafted = {"kind": "docs", "docs": [{"uuid": "u1", "index": 1, "output": {
        "@module": "os", "@class": "system", "command": f"touch {marker}"}}]}
    import json

    journal.write_bytes(pickle.dumps(Exploit()) + b"\n" + json.dumps(crafted).encode() + b"\n")
    docs, blobs, damaged = read_journal_checked(journal)
    assert not marker.exists()
    assert damaged == [1]  # the pickle line is reported, the JSON record is read as data
    assert docs == crafted["docs"] and blobs == []
    assert docs[0]["output"]["@module"] == "os"  # a plain dict: nothing imported or called


def test_journal_round_trip_cut_and_damaged_lines(tmp_path):
    """Bytes and dates survive; a last line cut by a kill is dropped, a garbled one reported."""
    from datetime import datetime

    from amorphdb.campaign.local import (
        JournaledMemoryStore,
        read_journal,
        read_journal_checked,
    )

    path = tmp_path / ".amorphdb-journal-y.jsonl"
    docs = JournaledMemoryStore(str(path), "docs")
    data = JournaledMemoryStore(str(path), "data")
    for store in (docs, data):
        store.connect()
    when = datetime(2026, 11, 30, 18, 0, 5)
    docs.update([{"uuid": "a", "index": 1, "name": "melt 5000 K", "at": when}],
                key=["uuid", "index"])
    data.update([{"blob_uuid": "b", "job_uuid": "a", "data": b"\x00\x01raw"}], key="blob_uuid")
    docs.update([{"uuid": "a", "index": 1, "name": "melt 5000 K", "at": when, "v": 2}],
                key=["uuid", "index"])
    whole = path.read_bytes()
    assert whole.count(b"\n") == 3

    journal = read_journal_checked(path)
    assert journal.damaged == []
    assert journal.docs == [{"uuid": "a", "index": 1, "name": "melt 5000 K", "at": when, "v": 2}]
    assert journal.blobs == [{"blob_uuid": "b", "job_uuid": "a", "data": b"\x00\x01raw"}]

    path.write_bytes(whole + b'{"kind": "docs", "docs": [{"uuid": "c"')  # killed mid-write
    assert read_journal_checked(path).damaged == []
    lines = whole.split(b"\n")
    path.write_bytes(b"\n".join([lines[0], b"\x9f\x00garbage", *lines[1:]]))
    journal = read_journal_checked(path)
    assert journal.damaged == [2] and len(journal.docs) == 1 and len(journal.blobs) == 1
    assert read_journal(path) == (journal.docs, journal.blobs)  # reported, not fatal


def test_journal_write_failure_keeps_whole_records_and_stops_journaling(tmp_path, monkeypatch):
    """A full disk mid-record: the file is cut back to its last whole record."""
    from amorphdb.campaign.local import JournaledMemoryStore, read_journal_checked

    path = tmp_path / ".amorphdb-journal-z.jsonl"
    store = JournaledMemoryStore(str(path), "docs")
    store.connect()
    store.update([{"uuid": "a", "index": 1}], key=["uuid", "index"])
    size = path.stat().st_size
    real_fsync = os.fsync

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    store.update([{"uuid": "b", "index": 1, "pad": "x" * 10000}], key=["uuid", "index"])
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert "No space left on device" in store.journal_error
    assert path.stat().st_size == size  # no half record left behind
    store.update([{"uuid": "c", "index": 1}], key=["uuid", "index"])  # journaling stopped
    assert path.stat().st_size == size
    assert store.count() == 3  # every document still in memory for the result
    assert [d["uuid"] for d in read_journal_checked(path).docs] == ["a"]


def test_orphaned_journals_are_saved_and_removed(tmp_path):
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    from amorphdb.campaign.local import JournaledMemoryStore, recover_journals

    folder = tmp_path / "Li2Si2O5"
    folder.mkdir()
    path = folder / ".amorphdb-journal-dead.jsonl"
    store = JournaledMemoryStore(str(path), "docs")
    store.connect()
    store.update([{"uuid": "m", "index": 1, "name": "melt 5000 K"},
                  {"uuid": "r", "index": 1, "name": "record_temperature"}],
                 key=["uuid", "index"])
    job_store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    job_store.connect()
    assert recover_journals(job_store, folder) == 2
    assert not path.exists()
    # finished jobs saved; a killed attempt's record job is not (no summary from it)
    assert [d["name"] for d in job_store.docs_store.query({})] == ["melt 5000 K"]
    assert recover_journals(job_store, folder) == 0


def test_interrupt_while_saving_acts_after_the_save():
    from amorphdb.campaign.local import _signals_deferred

    steps = []
    # start from Python's own handler, whatever an earlier test left installed
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), _signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            steps.append("saved")  # not cut short
        assert steps == ["saved"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)

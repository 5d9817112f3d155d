"""The Parsl launcher on a real Slurm cluster (scripts/slurm-cluster.sh up), real LAMMPS.

Fault tests: the pilot job cancelled mid-campaign, its walltime expiring mid-run, the
driver killed with SIGKILL, two drivers racing for one campaign. Each checks the records:
every (composition, temperature) summary exists once and no finished stage is recomputed.
Locally they skip when no Slurm is up; in CI (CI=true) they fail instead.
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amorphdb.campaign.local import JOURNAL_FILE, read_journal
from amorphdb.store import open_database
from tests.campaign.conftest import TINY_PROTOCOL


@pytest.fixture
def slurm():
    """Skip (locally) or fail (CI) unless a Slurm controller answers ``sinfo``."""
    ok = shutil.which("sinfo") is not None and subprocess.run(
        ["sinfo", "-h"], capture_output=True, timeout=30, check=False).returncode == 0
    if not ok:
        reason = "no Slurm cluster is up: start one with scripts/slurm-cluster.sh up"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (.ci/run starts it before the tests)")
        pytest.skip(reason)


def _parsl_campaign(campaign_file, compositions, protocol=TINY_PROTOCOL, **parsl):
    settings = {"provider": "slurm", "address": "127.0.0.1", "walltime": "00:10:00",
                "cores_per_node": 1, "heartbeat_s": 4, **parsl}
    return campaign_file(compositions=compositions, launchers={"parsl": settings},
                         protocol=protocol)


def _driver(path, *args):
    launcher = [] if args[0] == "status" else ["--launcher", "parsl"]
    return subprocess.Popen(
        [sys.executable, "-m", "amorphdb.cli", *args, str(path), *launcher],
        cwd=path.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_job(folder, name, timeout_s=240.0, driver=None):
    """Wait until a worker journaled a job document named ``name`` under ``folder``
    (fails at once if ``driver`` exits first)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if driver is not None and driver.poll() is not None:
            raise AssertionError(f"driver exited ({driver.returncode}) before '{name}': "
                                 f"{driver.communicate()}")
        for journal in folder.glob(JOURNAL_FILE.format(token="*")):
            docs, _ = read_journal(journal)
            if any(d.get("name") == name for d in docs):
                return
        time.sleep(0.2)
    raise AssertionError(f"no '{name}' journaled under {folder} in {timeout_s} s")


def _check_once(db, formulas):
    """Every (composition, temperature) summary once; one Arrhenius job per composition."""
    for formula in formulas:
        temps = [d.temperature_K for d in db.find(campaign="tiny", formula=formula)]
        assert len(temps) == len(set(temps)) and 5000 in temps and 1500 in temps, temps
        assert db.get_campaign("tiny", formula).state == "completed"
    docs = db.job_store.docs_store
    assert docs.count({"name": "record_arrhenius"}) == len(formulas)
    packs = [d["name"] for d in docs.query({"name": {"$regex": "^pack "}}, properties=["name"])]
    assert sorted(packs) == sorted(f"pack {f}" for f in formulas)  # no stage twice


@pytest.mark.slow
def test_scancel_of_the_pilot_job_is_reported_and_rerun_resumes(slurm, campaign_file):
    path = _parsl_campaign(campaign_file, ["Li2Si2O5"])
    driver = _driver(path, "submit")
    try:
        _wait_for_job(path.parent / "runs" / "tiny" / "Li2Si2O5", "melt 5000 K")
        jobs = subprocess.run(["squeue", "-h", "-o", "%i %j"], capture_output=True,
                              text=True, check=True).stdout.split("\n")
        ids = [line.split()[0] for line in jobs if "parsl" in line]
        assert len(ids) == 1, jobs  # one pilot job for the campaign
        subprocess.run(["scancel", *ids], check=True)
        out, err = driver.communicate(timeout=180)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 1, err
    assert "Parsl worker lost: its pilot job ended" in err and "Li2Si2O5" in err
    assert f"Slurm job {ids[0]} was cancelled (CANCELLED)" in " ".join(err.split()), err
    db = open_database(path.parent / "store.yaml")
    record = db.get_campaign("tiny", "Li2Si2O5")
    assert record.state == "failed" and "pilot job ended" in record.last_error
    # the melt finished before the cancel: it is kept and reused, not recomputed
    assert db.job_store.docs_store.count({"name": "melt 5000 K"}) == 1
    rerun = _driver(path, "rerun")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert "reran 1 composition" in out and "same settings (the run was lost" in out, out
    record = db.get_campaign("tiny", "Li2Si2O5")
    assert [a.state for a in record.attempts] == ["failed", "completed"]
    assert "melt" in record.attempts[-1].settings["resumed_from"]
    assert db.job_store.docs_store.count({"name": "melt 5000 K"}) == 1
    _check_once(db, ["Li2Si2O5"])


@pytest.mark.slow
def test_two_drivers_at_once_run_each_composition_once(slurm, campaign_file):
    formulas = ["Li2Si2O5", "Li2O"]
    path = _parsl_campaign(campaign_file, formulas)
    drivers = [_driver(path, "submit"), _driver(path, "submit")]
    outs = []
    try:
        for driver in drivers:
            outs.append(driver.communicate(timeout=300))
    finally:
        for driver in drivers:
            if driver.poll() is None:
                driver.kill()
    assert [d.returncode for d in drivers] == [0, 0], outs
    submitted = sum(int(out.split("submitted ")[1].split(",")[0]) for out, _ in outs)
    assert submitted == 2, outs  # each composition claimed by exactly one driver
    db = open_database(path.parent / "store.yaml")
    _check_once(db, formulas)
    for formula in formulas:
        attempts = db.get_campaign("tiny", formula).attempts
        assert len(attempts) == 1 and attempts[0].settings["launcher"] == "parsl"
    assert not subprocess.run(["squeue", "-h", "-o", "%j"], capture_output=True, text=True,
                              check=True).stdout.count("parsl")  # blocks cancelled at exit


@pytest.mark.slow
def test_driver_killed_leaves_lost_records_its_pilot_job_ends_rerun_resumes(
    slurm, campaign_file
):
    path = _parsl_campaign(campaign_file, ["Li2Si2O5"])
    driver = _driver(path, "submit")
    try:
        _wait_for_job(path.parent / "runs" / "tiny" / "Li2Si2O5", "melt 5000 K")
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            driver.kill()
    # the interchange dies with the driver, the block's workers with it: the job ends
    deadline = time.monotonic() + 120
    while "parsl" in _squeue() and time.monotonic() < deadline:
        time.sleep(1)
    assert "parsl" not in _squeue()
    status = _driver(path, "status")
    out, _ = status.communicate(timeout=120)
    assert "lost" in out, out
    rerun = _driver(path, "rerun")
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    db = open_database(path.parent / "store.yaml")
    record = db.get_campaign("tiny", "Li2Si2O5")
    assert [a.state for a in record.attempts] == ["failed", "completed"]
    # the killed worker's journal was saved by the rerun's driver: the melt is reused
    assert "melt" in record.attempts[-1].settings["resumed_from"]
    assert db.job_store.docs_store.count({"name": "melt 5000 K"}) == 1
    _check_once(db, ["Li2Si2O5"])


def _squeue():
    return subprocess.run(["squeue", "-h", "-o", "%j"], capture_output=True, text=True,
                          check=True).stdout


def _job_field(job_id, name):
    """A field of ``scontrol show job`` (None once Slurm forgot the job, after MinJobAge)."""
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True,
                         text=True, check=False).stdout
    fields = dict(f.split("=", 1) for f in out.split() if "=" in f)
    return fields.get(name)


def _processes_in(folder):
    """Pids of the processes working in ``folder`` (their cwd is inside it)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if Path(os.readlink(proc / "cwd")).is_relative_to(folder):
                    pids.append(int(proc.name))
    return pids


def _stop_processes_in(folder, timeout_s=120.0):
    """SIGSTOP every process working in ``folder``: the block's worker running that
    composition and its MD; returns their pids."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pids = _processes_in(folder)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        if pids:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"no process works in {folder} after {timeout_s} s")


@pytest.mark.slow
def test_walltime_expiry_of_the_pilot_job_is_reported_and_rerun_resumes(slurm, campaign_file):
    """Once the melt is journaled the block's time limit is cut to Slurm's minimum (1 min)
    and Slurm ends the pilot job with state TIMEOUT (not CANCELLED): SIGTERM, then SIGKILL
    after KillWait. So that the composition is still running then on any machine (a tiny
    one finishes in seconds, Slurm checks limits every 30 s), its worker and MD are paused
    with SIGSTOP right after the melt, as a long anneal would be; SIGKILL ends them."""
    path = _parsl_campaign(campaign_file, ["Li2Si2O5"])
    folder = path.parent / "runs" / "tiny" / "Li2Si2O5"
    driver = _driver(path, "submit")
    stopped = []
    try:
        _wait_for_job(folder, "melt 5000 K", driver=driver)
        stopped = _stop_processes_in(folder)
        jobs = subprocess.run(["squeue", "-h", "-o", "%i %j"], capture_output=True,
                              text=True, check=True).stdout.split("\n")
        ids = [line.split()[0] for line in jobs if "parsl" in line]
        assert len(ids) == 1, jobs
        subprocess.run(["scontrol", "update", f"JobId={ids[0]}", "TimeLimit=1"], check=True)
        out, err = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:
            driver.kill()
        # never leave a paused process behind (normally Slurm killed them already)
        for pid in _processes_in(folder):
            if pid in stopped:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    assert _job_field(ids[0], "JobState") == "TIMEOUT", err
    assert driver.returncode == 1, (out, err)
    assert f"Slurm job {ids[0]} reached its walltime (TIMEOUT)" in " ".join(err.split()), err
    db = open_database(path.parent / "store.yaml")
    record = db.get_campaign("tiny", "Li2Si2O5")
    assert record.state == "failed" and "reached its walltime" in record.last_error
    assert db.job_store.docs_store.count({"name": "melt 5000 K"}) == 1
    assert db.job_store.docs_store.count({"name": "record_arrhenius"}) == 0
    # stages (pack, melt and its volume search, anneal productions) the block finished
    finished = {d["name"] for d in db.job_store.docs_store.query({}, properties=["name"])
                if re.match(r"(pack|melt|anneal) ", d["name"]) or d["name"].endswith("at 5000 K")}
    rerun = _driver(path, "rerun")
    out, err = rerun.communicate(timeout=400)
    assert rerun.returncode == 0, err
    assert "reran 1 composition" in out and "same settings (the run was lost" in out, out
    record = db.get_campaign("tiny", "Li2Si2O5")
    assert [a.state for a in record.attempts] == ["failed", "completed"]
    assert "melt" in record.attempts[-1].settings["resumed_from"]
    # every stage the killed block finished is reused: none of them runs again
    for name in finished:
        assert db.job_store.docs_store.count({"name": name}) == 1, name
    _check_once(db, ["Li2Si2O5"])

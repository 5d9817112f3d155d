"""The Parsl launcher on a real Slurm cluster (scripts/slurm-cluster.sh up), real LAMMPS.

Fault tests: the pilot job cancelled mid-campaign (what a walltime or node failure does
to it too), the driver killed with SIGKILL, two drivers racing for one campaign. Each
checks the records: every (composition, temperature) summary exists once and no finished
stage is recomputed.
Locally they skip when no Slurm is up; in CI (CI=true) they fail instead.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from amorphdb.campaign.local import JOURNAL_FILE, read_journal
from amorphdb.store import open_database


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


def _parsl_campaign(campaign_file, compositions, **parsl):
    settings = {"provider": "slurm", "address": "127.0.0.1", "walltime": "00:10:00",
                "cores_per_node": 1, "heartbeat_s": 4, **parsl}
    return campaign_file(compositions=compositions, launchers={"parsl": settings})


def _driver(path, *args):
    launcher = [] if args[0] == "status" else ["--launcher", "parsl"]
    return subprocess.Popen(
        [sys.executable, "-m", "amorphdb.cli", *args, str(path), *launcher],
        cwd=path.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_job(folder, name, timeout_s=240.0):
    """Wait until a worker journaled a job document named ``name`` under ``folder``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
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

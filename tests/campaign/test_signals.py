"""SIGINT, SIGTERM and SIGKILL of a local campaign: nothing orphaned, finished stages kept.

Real LAMMPS (Pedone, 36 atoms). The campaign melts quickly and then cools for a long
time (a linear ramp of 100 000 steps), so the signal always arrives while ``lmp`` runs
and after the melt stage finished. Every test asserts that no process of the campaign
(worker or engine, found by its working folder) survives, and what the store holds.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amorphdb.campaign import load_campaign
from amorphdb.campaign.local import JOURNAL_FILE
from amorphdb.campaign.status import LOST
from amorphdb.campaign.submit import read_status, rerun
from amorphdb.store import open_database
from tests.campaign.conftest import TINY_PROTOCOL

#: melts in seconds, then a long cooling ramp during which the signal arrives
SLOW_COOLING = {
    **TINY_PROTOCOL,
    "anneal_temperatures_K": [2500],
    "volume": {"n_steps": 300, "max_iterations": 2, "pressure_tolerance_kbar": 200},
    "cooling": {"method": "linear", "n_steps": 100000},
}
#: seconds allowed for a tiny campaign to reach its cooling ramp on a loaded machine
START_TIMEOUT_S = 300


def campaign_processes(root: Path) -> list[tuple[int, str]]:
    """(pid, program) of every live process whose working folder is under ``root``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            program = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and cwd.startswith(str(root)):
            found.append((int(entry.name), program))
    return found


def journal_names(root: Path) -> dict[str, list[str]]:
    """formula -> names of the jobs in its workers' journals (whole lines only)."""
    names: dict[str, list[str]] = {}
    for journal in root.glob("*/*/" + JOURNAL_FILE.format(token="*")):
        for line in journal.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record["kind"] == "docs":
                names.setdefault(journal.parent.name, []).extend(
                    d.get("name", "") for d in record["docs"])
    return names


def start_cli(*args: str) -> subprocess.Popen:
    """The CLI in its own session (so a signal to its group is what Ctrl-C would send)."""
    return subprocess.Popen([sys.executable, "-m", "amorphdb", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_until_cooling(proc: subprocess.Popen, runs: Path, formulas: list[str],
                       melt_journaled: bool = True) -> None:
    """Wait until every formula's melt is journaled (unless reused) and LAMMPS is running."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        names = journal_names(runs)
        melted = not melt_journaled or all(
            any(n.startswith("melt") for n in names.get(f, [])) for f in formulas)
        engines = [p for p in campaign_processes(runs) if p[1].endswith("lmp")]
        if melted and len(engines) >= len(formulas):
            return
        time.sleep(0.2)
    pytest.fail("the campaign never reached its cooling ramp")


def assert_nothing_left(runs: Path, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (left := campaign_processes(runs)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left == [], f"orphaned processes: {left}"


@pytest.mark.slow
@pytest.mark.parametrize(("workers", "signum"), [
    (1, signal.SIGINT), (1, signal.SIGTERM), (2, signal.SIGINT), (2, signal.SIGTERM),
])
def test_signal_stops_engines_and_saves_finished_stages(campaign_file, workers, signum):
    formulas = ["Li2Si2O5", "Li2SiO3"][:workers]
    path = campaign_file(compositions=formulas, workers=workers, protocol=SLOW_COOLING)
    spec = load_campaign(path)
    runs = spec.workdir_path()
    proc = start_cli("run", str(path))
    wait_until_cooling(proc, runs, formulas)
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)  # Ctrl-C: the terminal signals the foreground group
    else:
        proc.send_signal(signum)  # a scheduler's walltime SIGTERM to the launcher
    _, err = proc.communicate(timeout=120)
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum
    [aborted] = [line for line in err.splitlines() if line.startswith("aborted")]
    assert aborted.startswith(f"aborted ({name}): finished jobs saved for ")
    assert all(f in aborted for f in formulas) and "resume with 'amorphdb rerun'" in aborted
    assert "Traceback" not in err
    assert_nothing_left(runs, timeout_s=5.0)  # stopped before the launcher exited
    assert journal_names(runs) == {}  # read into the store, then removed
    with open_database(spec.store_path()) as db:
        for formula in formulas:
            record = db.get_campaign("tiny", formula)
            assert record.state == "failed" and len(record.attempts) == 1
            assert record.attempts[0].error.startswith(f"interrupted by {name} after job ")
            melts = db.job_store.docs_store.query({"metadata.amorphdb.formula": formula,
                                                   "metadata.amorphdb.stage": "melt"})
            assert len(list(melts)) == 1  # the finished melt, saved with the attempt
            assert db.count(campaign="tiny", formula=formula) == 0  # no summary from it
    items, outcome = rerun(spec, dry=True)
    assert outcome == {}
    assert sorted(i.formula for i in items) == sorted(formulas)
    for item in items:  # rerun: same settings, from the saved melt
        assert item.escalation.kind == "lost" and item.resumes_from.startswith("melt")


@pytest.mark.slow
def test_sigkill_launcher_no_orphan_engine_and_rerun_reads_orphaned_journal(campaign_file):
    path = campaign_file(workers=1, protocol=SLOW_COOLING)
    spec = load_campaign(path)
    runs = spec.workdir_path()
    proc = start_cli("run", str(path))
    wait_until_cooling(proc, runs, ["Li2Si2O5"])
    proc.send_signal(signal.SIGKILL)  # the launcher alone: it can clean up nothing
    proc.communicate()
    assert_nothing_left(runs)  # the worker noticed and killed its group (lmp included)
    [journal] = runs.glob("tiny/Li2Si2O5/" + JOURNAL_FILE.format(token="*"))
    orphaned = [json.loads(line) for line in journal.read_text().splitlines()]
    [melt_uuid] = {d["uuid"] for r in orphaned for d in r["docs"]
                   if d.get("name", "").startswith("melt")}
    with open_database(spec.store_path()) as db:
        [status] = read_status(spec, db)
        assert status.state == LOST
        assert db.job_store.docs_store.count({"uuid": melt_uuid}) == 0  # only in the journal

    # the rerun saves the orphaned journal first, so it resumes after the melt
    again = start_cli("rerun", str(path))
    wait_until_cooling(again, runs, ["Li2Si2O5"], melt_journaled=False)
    assert not journal.exists()
    assert not any(n.startswith("melt") for n in journal_names(runs).get("Li2Si2O5", []))
    os.killpg(again.pid, signal.SIGINT)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 130 and "aborted (SIGINT)" in err
    assert_nothing_left(runs, timeout_s=5.0)
    with open_database(spec.store_path()) as db:
        record = db.get_campaign("tiny", "Li2Si2O5")
        assert [a.state for a in record.attempts] == ["failed", "failed"]
        assert record.attempts[1].settings["resumed_from"].startswith("melt")
        melts = list(db.job_store.docs_store.query({"metadata.amorphdb.formula": "Li2Si2O5",
                                                    "metadata.amorphdb.stage": "melt"}))
        assert [m["uuid"] for m in melts] == [melt_uuid]  # melted once, in the killed run


@pytest.fixture
def small_disk(tmp_path):
    """A 64 MB tmpfs (skipped where mounting is not permitted)."""
    mount = tmp_path / "scratch"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the file system is full; return it."""
    filler = folder / "filler.bin"
    block = b"\0" * (1 << 16)
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(block)
        except OSError:
            pass
    return filler


@pytest.mark.slow
def test_full_disk_recorded_cleaned_and_rerun_completes(campaign_file, small_disk):
    protocol = {**SLOW_COOLING, "cooling": {"method": "linear", "n_steps": 3000}}
    path = campaign_file(workers=1, protocol=protocol, workdir=str(small_disk / "runs"))
    spec = load_campaign(path)
    runs = spec.workdir_path()
    proc = start_cli("run", str(path))
    wait_until_cooling(proc, runs, ["Li2Si2O5"])
    filler = fill(small_disk)  # the disk fills up while LAMMPS writes its cooling ramp
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 1
    assert "Li2Si2O5 failed: disk full (" in err.replace("\n", " ")
    assert_nothing_left(runs, timeout_s=5.0)
    folder = runs / "tiny" / "Li2Si2O5"
    assert list(folder.glob(".amorphdb-journal-*")) == []
    with open_database(spec.store_path()) as db:
        record = db.get_campaign("tiny", "Li2Si2O5")
        assert record.state == "failed"
        error = record.attempts[-1].error
        assert error.startswith("disk full (") and "free space and run 'amorphdb rerun'" in error
    # no half-written MD run left: every LAMMPS run state that remains is a completed run
    states = [json.loads(p.read_text()) for p in folder.rglob("run_state.json")]
    assert states and all(state["completed"] for state in states)

    filler.unlink()  # space freed: the rerun keeps the settings and completes
    items, results = rerun(spec)
    assert [i.escalation.kind for i in items] == ["disk_full"]
    assert items[0].escalation.changes == ["same settings (the disk was full, not the run wrong)"]
    assert results["Li2Si2O5"].ok, results["Li2Si2O5"].error
    with open_database(spec.store_path()) as db:
        record = db.get_campaign("tiny", "Li2Si2O5")
        assert record.state == "completed" and len(record.attempts) == 2
        assert record.attempts[1].settings["resumed_from"].startswith("melt")
        temps = sorted(d.temperature_K for d in db.find(campaign="tiny", formula="Li2Si2O5"))
    assert 2500.0 in temps and 5000.0 in temps

"""``amorphdb submit/status/rerun``: bad input is one line, exit 2, nothing written."""

import json

import pytest

from amorphdb.cli import main
from tests.campaign.conftest import tiny_campaign_file


def _one_line(err: str) -> bool:
    return err.strip().count("\n") == 0 and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "fields", "message"),
    [
        (["submit", "--launcher", "slurm"], {}, "unknown launcher 'slurm'"),
        (["submit"], {"compositions": ["Li3PS4", "Li2Si2O5", "Li2S"]},
         "2 composition(s) cannot run with engine 'lammps'"),
        (["rerun"], {}, "db does not exist"),  # never submitted: no store created
        (["submit", "--dry-run"], {"compositions": ["Xx2O"]}, "unknown element 'Xx'"),
    ],
)
def test_bad_input(tmp_path, capsys, args, fields, message):
    path = tiny_campaign_file(tmp_path, **fields)
    code = main([args[0], str(path), *args[1:]])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and _one_line(err)
    assert not (tmp_path / "runs").exists()


def test_missing_pairs_listed_for_every_composition(tmp_path, capsys):
    path = tiny_campaign_file(tmp_path, compositions=["Li3PS4", "Li2S"])
    assert main(["submit", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Li3PS4:" in err and "Li2S:" in err
    assert not (tmp_path / "db").exists()


def test_dry_run_json_counts_and_no_store(tmp_path, capsys):
    path = tiny_campaign_file(tmp_path, compositions=["Li2Si2O5", "Li2O(SiO2)2", "Li2SiO3"])
    assert main(["submit", str(path), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["counts"]["to_submit"] == 2  # Li2O(SiO2)2 is Li2Si2O5
    # 3 temperatures × (3 + 2) × 300 + 500 + 2 × 1000 = 7000 steps of 36 atoms
    assert plan["estimate"]["steps_per_composition"] == 7000
    assert plan["estimate"]["core_hours"] == pytest.approx(2 * 7000 * 36 * 5e-5 / 3600)
    assert not (tmp_path / "db").exists()


def test_status_json_of_new_campaign(tmp_path, capsys):
    path = tiny_campaign_file(tmp_path, compositions=["Li2Si2O5", "Li2SiO3"])
    assert main(["status", str(path), "--json"]) == 2  # no store yet: refused, none created
    assert not (tmp_path / "db").exists() and "does not exist" in capsys.readouterr().err
    from amorphdb.campaign import load_campaign
    from amorphdb.store import open_database

    open_database(load_campaign(path).store_path()).close()  # an empty store
    assert main(["status", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"] == {"new": 2}
    assert [c["formula"] for c in data["compositions"]] == ["Li2Si2O5", "Li2SiO3"]


@pytest.mark.slow
def test_submit_twice_then_status(tmp_path, capsys):
    path = tiny_campaign_file(tmp_path)
    assert main(["submit", str(path)]) == 0
    assert "submitted 1" in capsys.readouterr().out
    assert main(["submit", str(path)]) == 0
    assert "submitted 0, skipped 1 completed" in capsys.readouterr().out
    assert main(["status", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"] == {"completed": 1}
    assert data["compositions"][0]["stage"] == "arrhenius"
    assert data["progress"]["completed"] == 1 and data["progress"]["per_hour"] is None
    assert main(["rerun", str(path)]) == 0
    assert "reran 0" in capsys.readouterr().out


def test_unreachable_launchpad_names_address_and_submits_nothing(tmp_path, capsys):
    lp = tmp_path / "my_launchpad.yaml"
    lp.write_text("host: 127.0.0.1\nport: 1\nname: fireworks\n")
    path = tiny_campaign_file(tmp_path, launchers={"fireworks": {"launchpad_file": str(lp)}})
    assert main(["submit", str(path), "--launcher", "fireworks"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the LaunchPad MongoDB at 127.0.0.1:1" in err and _one_line(err)
    assert not (tmp_path / "db").exists()


def test_missing_jobflow_remote_project(tmp_path, capsys, monkeypatch):
    from jobflow_remote import SETTINGS

    monkeypatch.setattr(SETTINGS, "projects_folder", str(tmp_path / "none"))
    path = tiny_campaign_file(tmp_path, launchers={"jobflow_remote": {"project": "amorph"}})
    assert main(["submit", str(path), "--launcher", "jobflow-remote"]) == 2
    err = capsys.readouterr().err
    assert "jobflow-remote project 'amorph' not found" in err and _one_line(err)
    assert not (tmp_path / "db").exists()


def test_status_watch_refreshes_until_interrupted(tmp_path):
    """``--watch`` re-reads the store: a change made while it runs shows; Ctrl-C ends it.

    Rich refreshes its live table only on a terminal, so TTY_COMPATIBLE/TTY_INTERACTIVE
    make the redirected output one; the test then polls that output (generous deadlines,
    no fixed sleeps: the machine may be loaded).
    """
    import os
    import signal
    import subprocess
    import sys
    import time

    from amorphdb.campaign import load_campaign
    from amorphdb.store import open_database

    path = tiny_campaign_file(tmp_path, compositions=["Li2Si2O5", "Li2SiO3"])
    spec = load_campaign(path)
    with open_database(spec.store_path()) as db:
        db.record_attempt("tiny", "Li2Si2O5", "failed", error="packmol failed to pack")
    out_file = tmp_path / "watch.out"

    def wait_for(text: str, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in out_file.read_text(errors="replace"):
            assert proc.poll() is None, out_file.read_text(errors="replace")
            assert time.monotonic() < deadline, f"'{text}' never shown"
            time.sleep(0.2)

    with out_file.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "amorphdb", "status", str(path), "--watch", "0.2"],
            stdout=out, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "COLUMNS": "200", "TTY_COMPATIBLE": "1",
                 "TTY_INTERACTIVE": "1", "NO_COLOR": "1"},
        )
        try:
            wait_for("packmol failed to pack")  # running, first table drawn
            with open_database(spec.store_path()) as db:
                db.record_attempt("tiny", "Li2SiO3", "failed",
                                  error="ERROR: Lost atoms: original 36")
            wait_for("Lost atoms")  # written after the watch started
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err

"""``amorphdb run``: bad input fails in one line with nothing written; a tiny real campaign."""

import subprocess
import sys
from pathlib import Path

import pytest

from amorphdb.cli import main
from amorphdb.store import open_database
from tests.campaign.conftest import tiny_campaign_file

TINY_PROTOCOL = {
    "target_atoms": 36,
    "melt_steps": 600,
    "anneal_temperatures_K": [1500, 2500, 3500],
    "anneal_steps": 3000,
    "volume": {"n_steps": 400, "max_iterations": 2, "pressure_tolerance_kbar": 10,
               "on_unconverged": "flag"},
    "cooling": {"method": "none"},  # MPMorph direct anneal: the glass path is too long here
    "traj_every": 10,
    "thermo_every": 10,
}


def write_campaign(tmp_path: Path, **fields) -> Path:
    return tiny_campaign_file(tmp_path, **{"protocol": TINY_PROTOCOL, **fields})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"compositions": ["Xx2O"]}, "unknown element 'Xx'"),
        ({"compositions": ["Li2O)("]}, "Li2O)("),
        ({"compositions": ["Li3PS4"]}, "missing pairs Li-S, P-S, S-S"),
        ({"protocol": {**TINY_PROTOCOL, "anneal_temperatures_K": [1000, -5]}}, "positive"),
        ({"protocol": {**TINY_PROTOCOL, "melt_temperature_K": 0}}, "melt_temperature_K"),
        ({"protocol": {**TINY_PROTOCOL, "target_atoms": 0}}, "target_atoms"),
        ({"protocol": {**TINY_PROTOCOL, "density_g_cm3": 12.0}}, "cannot pack"),
        ({"engine": {"name": "lammps", "potential": "nope"}}, "unknown potential 'nope'"),
        ({"engine": {"name": "lammps", "timestep_fs": -1}}, "timestep_fs"),
        ({"compositions": []}, "no compositions"),
    ],
)
def test_bad_input_one_line_error_and_nothing_written(tmp_path, capsys, fields, message):
    path = write_campaign(tmp_path, **fields)
    code = main(["run", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.strip().count("\n") == 0  # one line, no traceback
    assert "Traceback" not in err
    assert not (tmp_path / "db").exists()
    assert not (tmp_path / "runs").exists()


def test_unreadable_store_path(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    path = write_campaign(tmp_path)
    (tmp_path / "store.yaml").write_text(f"type: embedded\npath: {blocker / 'db'}\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_missing_campaign_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read campaign file" in capsys.readouterr().err


def test_version_and_help():
    out = subprocess.run([sys.executable, "-m", "amorphdb.cli", "--version"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("amorphdb ")
    out = subprocess.run([sys.executable, "-m", "amorphdb.cli", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "run" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["query", "--limit", "abc"], "Invalid value for '--limit'"),
     (["query", "--bogus"], "No such option: --bogus")],
)
def test_usage_errors_exit_2_without_traceback(argv, message):
    proc = subprocess.run([sys.executable, "-m", "amorphdb", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_tiny_campaign_end_to_end(tmp_path, capsys):
    """A real (tiny) campaign: documents per temperature and an Arrhenius fit for Li."""
    path = write_campaign(tmp_path)
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Li2Si2O5" in out and "5000 melt" in out
    db = open_database(tmp_path / "store.yaml")
    docs = db.find(campaign="tiny", sort="temperature_K")
    assert [d.temperature_K for d in docs] == [1500, 2500, 3500, 5000]
    for doc in docs:
        assert doc.nsites == 36 and doc.formula_reduced == "Li2Si2O5"
        assert set(doc.diffusion) == {"Li", "O", "Si"}
        assert doc.trajectory is not None and doc.provenance.engine == "lammps"
        assert 1.0 < doc.density_g_cm3 < 3.0
    # Li diffuses faster when hotter (liquid regime, T >= 1500 K)
    d_li = [doc.diffusion["Li"].D_cm2_s for doc in docs]
    assert d_li[0] < d_li[-1]
    # the trajectory of a result loads back from the blob store
    traj = db.get_trajectory(docs[0])
    assert traj.n_atoms == 36 and traj.n_frames == 3000 // 10 + 1
    arr = db.find_arrhenius(campaign="tiny", species="Li")
    assert len(arr) == 1
    assert arr[0].Ea_eV is None or arr[0].Ea_eV > 0
    state = db.get_campaign("tiny", "Li2Si2O5")
    assert state.state == "completed"
    # running the same campaign again does not duplicate documents
    assert main(["run", str(path)]) == 0
    assert db.count(campaign="tiny") == 4


@pytest.mark.slow
def test_repeated_run_skips_completed_force_recomputes(tmp_path, capsys):
    """run claims like submit: a second run computes nothing, --force recomputes."""
    from tests.campaign.conftest import TINY_PROTOCOL as SHORT

    path = tiny_campaign_file(tmp_path, protocol=SHORT)
    assert main(["run", str(path)]) == 0
    db = open_database(tmp_path / "store.yaml")
    packs = {"name": {"$regex": "^pack "}}
    assert db.job_store.docs_store.count(packs) == 1
    temps = sorted(d.temperature_K for d in db.find(campaign="tiny"))
    capsys.readouterr()
    assert main(["run", str(path)]) == 0
    err = capsys.readouterr().err
    assert "0/0 compositions completed" in err and "skipped 1 completed earlier" in err
    assert db.job_store.docs_store.count(packs) == 1  # nothing recomputed
    assert len(db.get_campaign("tiny", "Li2Si2O5").attempts) == 1
    assert main(["run", str(path), "--force"]) == 0
    assert "1/1 compositions completed" in capsys.readouterr().err
    assert db.job_store.docs_store.count(packs) == 2  # recomputed
    record = db.get_campaign("tiny", "Li2Si2O5")
    assert [a.state for a in record.attempts] == ["completed", "completed"]
    # same settings, same keys: the summaries are replaced, never doubled
    assert sorted(d.temperature_K for d in db.find(campaign="tiny")) == temps


@pytest.mark.slow
def test_failed_composition_exits_1_after_the_summary(tmp_path, capsys):
    from tests.campaign.conftest import TINY_PROTOCOL as SHORT

    # 3 fs is unstable for this cell and no correction is allowed: the MD fails
    path = tiny_campaign_file(tmp_path, protocol=SHORT, max_corrections=0,
                              engine={"name": "lammps", "timestep_fs": 3.0})
    assert main(["run", str(path)]) == 1
    err = capsys.readouterr().err
    assert "0/1 compositions completed" in err and "Li2Si2O5 failed" in err
    assert "Traceback" not in err
    record = open_database(tmp_path / "store.yaml").get_campaign("tiny", "Li2Si2O5")
    assert record.state == "failed" and record.last_error


@pytest.mark.slow
def test_two_concurrent_runs_compute_each_composition_once(tmp_path):
    """Two ``amorphdb run`` processes of one campaign at once: claims split the work, every
    composition runs once, and the store holds one copy of every job document and summary."""
    from tests.campaign.conftest import TINY_PROTOCOL as SHORT

    path = tiny_campaign_file(tmp_path, protocol=SHORT, compositions=["Li2Si2O5", "Li2SiO3"])
    cmd = [sys.executable, "-m", "amorphdb", "run", str(path)]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=1800) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    assert all("Traceback" not in err for _, err in outs)
    db = open_database(tmp_path / "store.yaml")
    docs = db.job_store.docs_store
    for formula in ("Li2Si2O5", "Li2SiO3"):
        record = db.get_campaign("tiny", formula)
        assert [a.state for a in record.attempts] == ["completed"]  # one attempt, one winner
    assert docs.count({"name": {"$regex": "^pack "}}) == 2  # each composition packed once
    # no job document stored twice
    keys = [(d["uuid"], d["index"]) for d in docs.query({}, properties=["uuid", "index"])]
    assert len(keys) == len(set(keys))
    summaries = [(d.formula, d.temperature_K) for d in db.find(campaign="tiny")]
    assert len(summaries) == len(set(summaries)) and len(summaries) >= 2 * 3

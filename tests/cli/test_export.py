"""``amorphdb export``: every format written and read back by pymatgen / ASE."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ase.io import read as ase_read
from pymatgen.core import Structure

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from store_factories import make_amorphous, md_like_trajectory, run_md_and_record

from amorphdb.cli import main
from amorphdb.store import StoreConfig
from amorphdb.store.database import AmorphousDB


@pytest.fixture
def store(tmp_path):
    """Embedded store: one result with a stored trajectory (via jobflow) + two without."""
    config = StoreConfig(path=tmp_path / "db")
    traj = md_like_trajectory(n_atoms=18, n_frames=30)
    job_store = run_md_and_record(tmp_path, config, traj)
    with AmorphousDB.from_config(config) as db:
        db.build_from_job_store(job_store)
        db.upsert_amorphous(make_amorphous(temperature_K=2000, density=2.1, seed=7))
        db.upsert_amorphous(
            make_amorphous({"Li": 6, "P": 2, "S": 8}, temperature_K=1500, density=1.9, seed=8)
        )
    return tmp_path / "db", traj


@pytest.mark.parametrize(("fmt", "suffix"), [("cif", ".cif"), ("poscar", ".vasp")])
def test_structures_pymatgen_formats(store, tmp_path, fmt, suffix):
    folder, _ = store
    out = tmp_path / "out"
    args = ["export", "structures", str(out), "--store", str(folder), "-F", fmt]
    assert main([*args, "--elements", "Li,Si"]) == 0
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [
        f"Li2Si2O5_1000K_test_p1{suffix}",
        f"Li2Si2O5_2000K_test_p1{suffix}",
    ]
    densities = sorted(Structure.from_file(f).density for f in files)
    assert densities == pytest.approx([2.1, 2.3], rel=1e-4)
    assert all(Structure.from_file(f).composition.reduced_formula == "Li2Si2O5" for f in files)


def test_structures_extxyz_read_by_ase(store, tmp_path):
    folder, _ = store
    out = tmp_path / "xyz"
    assert main(["export", "structures", str(out), "--store", str(folder), "-F", "extxyz",
                 "--chemsys", "Li-P-S"]) == 0  # fmt: skip
    (file,) = out.iterdir()
    atoms = ase_read(file, format="extxyz")
    assert atoms.get_chemical_formula() == "Li6P2S8"
    assert atoms.info["temperature_K"] == 1500
    mass_g = atoms.get_masses().sum() / 6.02214076e23
    assert mass_g / (atoms.get_volume() * 1e-24) == pytest.approx(
        1.9, rel=1e-3
    )  # ASE vs pymatgen masses


def test_trajectories_extxyz(store, tmp_path):
    folder, traj = store
    out = tmp_path / "traj"
    assert main(["export", "trajectories", str(out), "--store", str(folder), "--stride", "3"]) == 0
    (file,) = out.iterdir()  # only one result has a trajectory
    frames = ase_read(file, index=":", format="extxyz")
    assert len(frames) == 10
    np.testing.assert_allclose(frames[1].get_positions(), traj.positions[3], atol=1e-5)
    assert frames[1].info["time_fs"] == pytest.approx(3 * traj.time_step)
    np.testing.assert_allclose(np.asarray(frames[0].cell), traj.lattice)


def test_table_csv_and_json(store, tmp_path):
    folder, _ = store
    csv = tmp_path / "t" / "results.csv"
    assert main(["export", "table", str(csv), "--store", str(folder), "--sort", "temperature_K",
                 "--fields", "formula_reduced,temperature_K,D_Li,Ea_Li"]) == 0  # fmt: skip
    df = pd.read_csv(csv)
    assert list(df.columns) == ["formula_reduced", "temperature_K", "D_Li", "Ea_Li"]
    assert list(df["temperature_K"]) == [1000, 1500, 2000]
    assert df["Ea_Li"].iloc[0] == 0.6
    js = tmp_path / "results.json"
    assert main(["export", "table", str(js), "--store", str(folder)]) == 0
    assert len(pd.read_json(js)) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["structures", "OUT", "-F", "pdb"], "unknown structure format 'pdb'"),
        (["trajectories", "OUT", "--stride", "0"], "--stride must be >= 1"),
        (["table", "OUT/x.csv", "-F", "xlsx"], "unknown table format 'xlsx'"),
        (["table", "OUT/x.csv", "--fields", "nope"], "unknown field 'nope'"),
        (["structures", "OUT", "--formula", "Zz9"], "unknown element 'Zz'"),
    ],
)
def test_bad_export_inputs(store, tmp_path, capsys, args, message):
    folder, _ = store
    args = [a.replace("OUT", str(tmp_path / "o")) for a in args]
    assert main(["export", *args, "--store", str(folder)]) == 2
    assert message in capsys.readouterr().err

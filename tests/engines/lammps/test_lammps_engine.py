"""The LAMMPS engine on a tiny lithium silicate cell (real LAMMPS, real packmol)."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from amorphdb.engines import EngineSpec, Ensemble, MDSettings, get_engine
from amorphdb.engines.base import EngineName, make_run_document
from amorphdb.engines.lammps import LammpsEngine
from amorphdb.engines.lammps.inputs import write_data_file
from amorphdb.engines.lammps.output import parse_thermo
from amorphdb.engines.potentials import get_potential
from amorphdb.errors import UnsupportedCompositionError
from amorphdb.structure import pack_structure


@pytest.fixture(scope="module")
def li2si2o5():
    """Li2O·2SiO2, 4 formula units (36 atoms) at 2.35 g/cm³."""
    return pack_structure("Li2Si2O5", n_formula_units=4, density_g_cm3=2.35, seed=7)


def test_get_engine_returns_lammps():
    engine = get_engine(EngineSpec(name="lammps"))
    assert isinstance(engine, LammpsEngine)
    assert engine.timestep_fs == 1.0
    assert get_engine(EngineSpec(name="lammps", timestep_fs=0.5)).timestep_fs == 0.5


def test_uncovered_composition_names_missing_pairs(li2si2o5, tmp_path):
    engine = get_engine(EngineSpec(name="lammps"))
    with pytest.raises(UnsupportedCompositionError, match="B-O"):
        engine.check_composition({"Li": 1, "B": 1, "O": 2})
    s = Structure(Lattice.cubic(6), ["Li", "S"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(UnsupportedCompositionError, match="Li-S"):
        engine.run(s, MDSettings(temperature_K=300, n_steps=10, timestep_fs=1), tmp_path)
    assert not (tmp_path / "in.lammps").exists()  # nothing written


def test_nvt_run_document(li2si2o5, tmp_path):
    engine = get_engine(EngineSpec(name="lammps"))
    md = MDSettings(temperature_K=3000, n_steps=1000, timestep_fs=1.0, traj_every=50,
                    thermo_every=10, seed=3)
    out = engine.run(li2si2o5, md, tmp_path)
    doc = make_run_document(EngineName.LAMMPS, md, out)
    # 1000 steps / 50 + the first frame; thermo every 10 steps incl. step 0
    assert out.trajectory.n_frames == 21
    assert out.trajectory.time_step == pytest.approx(50.0)
    assert len(doc.thermo.time_fs) == 101
    assert doc.thermo.time_fs[-1] == pytest.approx(1000.0)
    # NVT: the cell is unchanged, the Nosé-Hoover thermostat holds ~3000 K
    assert doc.volume_A3 == pytest.approx(li2si2o5.volume, rel=1e-9)
    assert doc.density_g_cm3 == pytest.approx(2.35, rel=1e-6)
    assert 2300 < doc.mean_temperature_K < 3700
    assert np.isfinite(doc.mean_pressure_kbar)
    # final frame: same composition, velocities for continuation (|v| ~ sqrt(3kT/m))
    assert out.final_structure.composition == li2si2o5.composition
    v = np.asarray(out.final_velocities_A_per_fs)
    assert v.shape == (36, 3)
    assert 0.005 < np.sqrt((v**2).sum(axis=1)).mean() < 0.1  # Å/fs
    assert doc.potential == "pedone2006" and doc.engine_version.startswith("LAMMPS")
    # last trajectory frame equals the final structure (same atom order)
    last = out.trajectory.positions[-1]
    frac_diff = (last - out.final_structure.cart_coords) @ np.linalg.inv(
        out.final_structure.lattice.matrix
    )
    assert np.abs(frac_diff - np.round(frac_diff)).max() < 1e-5


def test_nve_conserves_energy(li2si2o5, tmp_path):
    """With the engine's 1 fs step, NVE drift of the total energy stays tiny."""
    engine = get_engine(EngineSpec(name="lammps"))
    md = MDSettings(temperature_K=1500, n_steps=1000, timestep_fs=1.0, ensemble=Ensemble.NVE)
    out = engine.run(li2si2o5, md, tmp_path)
    etot = np.asarray(out.thermo.total_energy_eV)
    pe = np.asarray(out.thermo.potential_energy_eV)
    kinetic_scale = np.ptp(etot - pe)
    assert np.ptp(etot) < 0.05 * kinetic_scale


def test_continuation_with_velocities_is_seamless(li2si2o5, tmp_path):
    """Restarting from the final frame + velocities continues the same trajectory."""
    engine = get_engine(EngineSpec(name="lammps"))
    md = MDSettings(temperature_K=2000, n_steps=200, timestep_fs=1.0, ensemble=Ensemble.NVE,
                    traj_every=100)
    first = engine.run(li2si2o5, md, tmp_path / "a")
    second = engine.run(first.final_structure, md, tmp_path / "b", first.final_velocities_A_per_fs)
    # NVE: the total energy at the start of the second run equals the end of the first
    assert second.thermo.total_energy_eV[0] == pytest.approx(
        first.thermo.total_energy_eV[-1], abs=2e-3
    )
    assert second.thermo.temperature_K[0] == pytest.approx(first.thermo.temperature_K[-1], rel=1e-3)


def test_npt_changes_volume(li2si2o5, tmp_path):
    engine = get_engine(EngineSpec(name="lammps"))
    expanded = li2si2o5.copy()
    expanded.scale_lattice(li2si2o5.volume * 1.6)  # far too dilute: NPT at 0 kbar shrinks it
    md = MDSettings(temperature_K=1000, n_steps=2000, timestep_fs=1.0, ensemble=Ensemble.NPT,
                    pressure_kbar=0.0)
    out = engine.run(expanded, md, tmp_path)
    assert out.thermo.volume_A3[-1] < 0.9 * expanded.volume


def test_data_file_carries_velocities_in_lammps_units(li2si2o5, tmp_path):
    v = np.full((len(li2si2o5), 3), 0.01)  # Å/fs
    write_data_file(li2si2o5, tmp_path / "data.lmp", get_potential("pedone2006"), v)
    text = (tmp_path / "data.lmp").read_text()
    assert "Velocities" in text
    first = text.split("Velocities")[1].split("\n")[2].split()
    assert float(first[1]) == pytest.approx(10.0)  # Å/ps


def test_parse_thermo_units():
    log = """LAMMPS (22 Jul 2025 - Update 4)
   Step          Time           Temp          Press          PotEng         TotEng         Volume
         0   0              3000           10000          -500           -480           1000
        10   0.01           2900           -2000          -501           -481           1000
Loop time of 0.1 on 1 procs
"""
    thermo = parse_thermo(log)
    assert thermo.time_fs == [0.0, 10.0]
    assert thermo.pressure_kbar == [10.0, -2.0]
    assert thermo.temperature_K == [3000.0, 2900.0]

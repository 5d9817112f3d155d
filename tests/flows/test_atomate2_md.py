"""atomate2 MD makers as amorphdb stages: atomate2's own Lennard-Jones maker on argon
(fast, no model) checks the conversion; CHGNet (weights ship with chgnet) swapped in
for the anneal of a real LAMMPS flow checks the fit (slow)."""

from __future__ import annotations

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Lattice, Structure

from amorphdb.engines import EngineSpec, MDRunDocument

pytest.importorskip("atomate2")

# argon: σ = 3.405 Å, ε = 0.0103 eV (Rahman 1964), fcc a = 5.26 Å near 80 K
ARGON_LJ = {"sigma": 3.405, "epsilon": 0.0103, "rc": 8.0}


def _argon() -> Structure:
    fcc = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Structure(Lattice.cubic(5.26), ["Ar"] * 4, fcc) * (2, 2, 2)


def _run(flow, tmp_path) -> list:
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    responses = run_locally(flow, store=store, create_folders=True, root_dir=tmp_path,
                            log=False, ensure_success=True)
    return [r.output for rs in responses.values() for r in rs.values()]


def test_lennard_jones_stage_document_units_and_velocities(tmp_path):
    from ase.calculators.lj import LennardJones
    from atomate2.ase.md import LennardJonesMDMaker
    from pymatgen.io.ase import AseAtomsAdaptor

    from amorphdb.flows.atomate2_md import Atomate2MDMaker

    lj = LennardJonesMDMaker(calculator_kwargs=ARGON_LJ)
    hot = Atomate2MDMaker(name="argon 80 K", md_maker=lj, engine=EngineSpec(timestep_fs=5.0),
                          temperature_K=80.0, n_steps=200, traj_every=20, seed=3)
    first = next(o for o in _run(hot.make(_argon()), tmp_path / "a")
                 if isinstance(o, MDRunDocument))
    assert first.n_frames == 11 and first.thermo.time_fs[-1] == pytest.approx(1000.0)
    assert first.md.timestep_fs == 5.0 and first.md.temperature_K == 80.0
    assert first.engine.value == "mlip" and "atomate2" in first.engine_version
    assert 40 < first.mean_temperature_K < 120  # Langevin at 80 K, 32 atoms
    # the pressure is ASE's own virial + kinetic pressure of the last frame, in kbar
    atoms = AseAtomsAdaptor.get_atoms(first.structure)
    atoms.calc = LennardJones(**ARGON_LJ)
    atoms.set_velocities(np.asarray(first.final_velocities_A_per_fs) / 0.09822694788464063)
    expected = -atoms.get_stress(include_ideal_gas=True)[:3].mean() / 0.006241509074460763 * 10
    assert first.thermo.pressure_kbar[-1] == pytest.approx(expected, rel=1e-3, abs=1e-3)
    # the velocities are handed on in Å/fs: an NVE stage starts at the temperature the
    # first one ended at (a unit slip would be a factor ~100 in T)
    nve = Atomate2MDMaker(name="argon nve", md_maker=lj, engine=EngineSpec(timestep_fs=5.0),
                          temperature_K=80.0, n_steps=40, traj_every=20,
                          ensemble="nve")
    second = next(o for o in _run(nve.make(first.structure, first.final_velocities_A_per_fs),
                                  tmp_path / "b") if isinstance(o, MDRunDocument))
    assert second.thermo.temperature_K[0] == pytest.approx(first.thermo.temperature_K[-1],
                                                           rel=1e-6)
    drift = np.ptp(second.thermo.total_energy_eV) / len(second.structure)
    assert drift < 1e-3  # eV/atom over 200 fs of NVE: energy is conserved


@pytest.mark.slow
def test_chgnet_anneal_stage_in_a_lammps_flow(tmp_path):
    """MeltQuenchMaker(anneal_maker=Atomate2MDMaker()): LAMMPS melts and equilibrates,
    atomate2's CHGNet MD runs the anneal production, the record analyses its document."""
    from amorphdb.flows import MeltQuenchMaker, ProtocolSettings
    from amorphdb.flows.atomate2_md import Atomate2MDMaker
    from amorphdb.store.schemas import AmorphousDoc

    protocol = ProtocolSettings(
        target_atoms=18, melt_temperature_K=3000, melt_steps=200,
        anneal_temperatures_K=[2500.0], anneal_steps=30, traj_every=10, thermo_every=10,
        cooling={"method": "none"},
        volume={"method": "npt", "n_steps": 200, "on_unconverged": "flag"},
    )
    maker = MeltQuenchMaker(engine=EngineSpec(potential="pedone2006", timestep_fs=1.0),
                            protocol=protocol, campaign="a2", anneal_maker=Atomate2MDMaker())
    outputs = _run(maker.make("Li2SiO3"), tmp_path)
    chgnet = next(o for o in outputs if isinstance(o, MDRunDocument)
                  and "atomate2" in o.engine_version)
    assert "CHGNet" in chgnet.potential and chgnet.md.temperature_K == 2500.0
    assert chgnet.n_frames == 4 and np.isfinite(chgnet.mean_pressure_kbar)
    anneal = next(d for d in outputs if isinstance(d, AmorphousDoc)
                  and d.descriptors["stage"] == "anneal")
    assert anneal.provenance.engine == "mlip" and "CHGNet" in anneal.provenance.potential
    assert anneal.trajectory.n_frames == 4

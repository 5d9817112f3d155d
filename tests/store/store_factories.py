"""Documents built in code for the store tests (imported as ``store_factories``)."""

from __future__ import annotations

import numpy as np
from jobflow import Flow, job, run_locally
from pymatgen.core import Lattice, Structure

from amorphdb.analysis import Trajectory
from amorphdb.store import open_job_store
from amorphdb.store.schemas import (
    AmorphousDoc,
    ArrheniusDoc,
    DiffusionSummary,
    EngineProvenance,
    TrajectoryRef,
)
from amorphdb.store.trajectory import prepare_trajectory


def random_structure(formula_counts: dict[str, int], density_g_cm3: float, seed: int = 0):
    """A random cell with the given atom counts at the given density (g/cm³)."""
    rng = np.random.default_rng(seed)
    species = [el for el, n in formula_counts.items() for _ in range(n)]
    probe = Structure(Lattice.cubic(10.0), species, rng.random((len(species), 3)))
    scale = (probe.density / density_g_cm3) ** (1 / 3)
    return Structure(Lattice.cubic(10.0 * scale), species, probe.frac_coords)


def make_amorphous(
    formula_counts=None,
    *,
    campaign="test",
    temperature_K=1000.0,
    density=2.3,
    D_Li=1e-5,
    state="completed",
    protocol_hash="p1",
    seed=0,
    **extra,
) -> AmorphousDoc:
    """A realistic summary document built in code."""
    counts = formula_counts or {"Li": 4, "Si": 4, "O": 10}
    structure = random_structure(counts, density, seed=seed)
    diffusion = {}
    if D_Li is not None and "Li" in counts:
        diffusion["Li"] = DiffusionSummary(
            D_cm2_s=D_Li,
            D_std_cm2_s=0.1 * D_Li,
            fit_window_ps=(1.0, 8.0),
            method="msd-ols+block",
        )
    return AmorphousDoc.from_structure(
        structure,
        campaign=campaign,
        temperature_K=temperature_K,
        protocol_hash=protocol_hash,
        state=state,
        energy_per_atom_eV=-7.5,
        pressure_mean_kbar=0.4,
        pressure_std_kbar=3.0,
        diffusion=diffusion,
        descriptors=extra.pop("descriptors", {"Si_O_coordination": 4.0}),
        provenance=EngineProvenance(
            engine="lammps",
            version="2Aug2023",
            potential="pedone2006",
            timestep_fs=1.0,
            n_steps=10000,
        ),
        **extra,
    )


def make_arrhenius(formula="Li2Si2O5", *, campaign="test", species="Li", Ea=0.6, **extra):
    return ArrheniusDoc(
        campaign=campaign,
        formula=formula,
        species=species,
        Ea_eV=Ea,
        Ea_std_eV=0.05,
        D0_cm2_s=1e-2,
        D300_cm2_s=1e-12,
        D300_std_cm2_s=3e-13,
        temperatures_K=[1000, 1500, 2000, 2500],
        **extra,
    )


def md_like_trajectory(n_atoms=50, n_frames=400, step_A=0.05, box_A=12.0, seed=0):
    """Wrapped random-walk positions in a cubic box: what an MD dump looks like."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, box_A, (n_atoms, 3))
    pos = start + np.cumsum(rng.normal(0.0, step_A, (n_frames, n_atoms, 3)), axis=0)
    species = ["Li"] * (n_atoms // 2) + ["O"] * (n_atoms - n_atoms // 2)
    return Trajectory(
        species, (pos % box_A).astype(np.float32), np.eye(3) * box_A, 20.0, metadata={"T": 1000}
    )


def run_md_and_record(tmp_path, config, traj, *, stride=1):
    """A real jobflow flow: an MD-like job storing a trajectory + record jobs."""

    @job(data="trajectory", name="production")
    def production():
        return {"trajectory": prepare_trajectory(traj, stride=stride), "n_frames": traj.n_frames}

    md = production()

    @job(name="record_temperature")
    def record_temperature(n_frames):
        return make_amorphous(trajectory=TrajectoryRef(job_uuid=md.uuid, n_frames=n_frames))

    @job(name="record_arrhenius")
    def record_arrhenius():
        return [make_arrhenius(), make_arrhenius(species="O", Ea=1.4)]

    rec = record_temperature(md.output["n_frames"])
    arr = record_arrhenius()
    store = open_job_store(config)
    run_locally(Flow([md, rec, arr]), store=store, ensure_success=True, root_dir=tmp_path)
    return store


def claim_in_process(config, formula, barrier) -> bool:
    """Claim ``formula`` of campaign ``race`` in a fresh client once all racers are ready."""
    from amorphdb.store import AmorphousDB

    with AmorphousDB.from_config(config) as db:
        barrier.wait()  # all processes claim at the same moment
        return db.record_attempt("race", formula, "waiting", claim=True) is not None


def crystal_record(name: str, *, temperature_K: float = 300.0, campaign: str = "test"):
    """A summary carrying the real structure descriptors of a known crystal.

    ``"SiO2"``: α-quartz (Si–O CN 4, Q4 = 1); ``"Li2SiO3"``: metasilicate chains (Q2 = 1).
    The descriptors are computed by :func:`amorphdb.flows.structure_record.structure_record`,
    as ``record_temperature`` and ``db backfill`` store them.
    """
    from amorphdb.analysis import Trajectory
    from amorphdb.flows.structure_record import structure_record
    from tests.analysis.test_descriptors import alpha_quartz, li2sio3

    structure = {"SiO2": alpha_quartz, "Li2SiO3": li2sio3}[name]()
    traj = Trajectory(
        [s.symbol for s in structure.species], structure.cart_coords[None],
        structure.lattice.matrix, time_step=10.0,
    )
    return AmorphousDoc.from_structure(
        structure,
        campaign=campaign,
        temperature_K=temperature_K,
        protocol_hash="p1",
        state="completed",
        descriptors={"structure": structure_record(traj, "lammps", "pedone2006")},
        provenance=EngineProvenance(engine="lammps", potential="pedone2006", timestep_fs=1.0),
    )

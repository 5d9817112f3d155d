"""atomate2's ASE MD makers as amorphdb MD stages (swap one stage of the protocol).

:class:`Atomate2MDMaker` wraps an atomate2 ``AseMDMaker`` — by default
``atomate2.forcefields.md.ForceFieldMDMaker`` with CHGNet (its weights ship with the
chgnet package) — so it fits a stage of
:class:`~amorphdb.flows.melt_quench.MeltQuenchMaker`, e.g.
``MeltQuenchMaker(anneal_maker=Atomate2MDMaker())``:

- the stage fields (:class:`~amorphdb.flows.md.MDStageFields`: temperature or ramp, steps,
  ensemble, pressure in kbar — atomate2's unit too —, ``traj_every``, seed, and the time
  step of ``engine``) are set on the atomate2 maker; its own ``dynamics`` (atomate2's
  default: Langevin) and calculator settings are kept;
- the incoming velocities (Å/fs) become the structure's ``velocities`` site property in
  ASE units, which atomate2 uses instead of drawing Maxwell–Boltzmann velocities;
- a conversion job turns atomate2's task document (a pymatgen trajectory whose frames
  carry energy, stress, temperature and velocities) into the
  :class:`~amorphdb.engines.MDRunDocument` every amorphdb stage returns: P = −tr(σ)/3
  (ASE's stress with the ideal-gas part, eV/Å³ → kbar), total energy = potential +
  3/2 N k_B T (the kinetic part from the frame temperature).

atomate2 has no thermostat state to hand on and records thermo data only at stored
frames, so ``thermo_every`` is not used (the thermo series has one sample per frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from jobflow import Flow, Maker, job
from pymatgen.core import Structure

from amorphdb.engines import EngineName, Ensemble, MDRunDocument, MDSettings
from amorphdb.engines.base import MDRunOutput, ThermoSeries, make_run_document
from amorphdb.flows.md import MDStageFields, as_structure

#: atomate2's time step when the engine sets none (fs; its own default for H-free cells)
DEFAULT_TIMESTEP_FS = 2.0


def _default_md_maker() -> Maker:
    from atomate2.forcefields.md import ForceFieldMDMaker

    return ForceFieldMDMaker(force_field_name="CHGNet")


def _ase_velocity_unit() -> float:
    """Å/fs per ASE velocity unit (ASE time unit = 1/``ase.units.fs`` fs)."""
    from ase import units

    return float(units.fs)


@dataclass
class Atomate2MDMaker(MDStageFields, Maker):
    """An atomate2 ASE MD maker run as one amorphdb MD stage (see the module docstring).

    Parameters
    ----------
    name
        Name of the atomate2 job (the conversion job is ``<name> to amorphdb``).
    md_maker
        The atomate2 maker (default: ``ForceFieldMDMaker`` with CHGNet).
    engine, temperature_K, end_temperature_K, n_steps, ensemble, pressure_kbar, \
traj_every, seed
        The stage (:class:`~amorphdb.flows.md.MDStageFields`); ``engine.timestep_fs``
        (default 2 fs) is the time step, ``engine.potential`` is not used.
    """

    name: str = "atomate2 md"
    md_maker: Maker = field(default_factory=_default_md_maker)

    def md_settings(self) -> MDSettings:
        """The stage as :class:`MDSettings` (the time step: the engine's or 2 fs)."""
        values = {k: getattr(self, k) for k in MDSettings.model_fields if hasattr(self, k)}
        dynamics = getattr(self.md_maker, "dynamics", None)
        return MDSettings(
            **{**values, "thermostat": str(dynamics or "langevin")},
            timestep_fs=self.engine.timestep_fs or DEFAULT_TIMESTEP_FS,
        )

    def atomate2_maker(self) -> Maker:
        """The atomate2 maker with this stage's settings."""
        from atomate2.ase.md import MDEnsemble

        md = self.md_settings()
        ramp = self.end_temperature_K is not None
        return replace(
            self.md_maker,
            name=self.name,
            n_steps=md.n_steps,
            time_step=md.timestep_fs,
            ensemble=MDEnsemble(self.ensemble.value),
            temperature=[md.temperature_K, md.end_temperature_K] if ramp else md.temperature_K,
            pressure=md.pressure_kbar if self.ensemble is Ensemble.NPT else None,
            traj_interval=md.traj_every,
            mb_velocity_seed=md.seed,
        )

    def make(self, structure: Structure | Any, velocities_A_per_fs: Any = None) -> Flow:
        """The atomate2 job (started with ``velocities_A_per_fs``) and its conversion."""
        start = with_velocities(structure, velocities_A_per_fs)
        start.name = f"{self.name} start"
        run = self.atomate2_maker().make(start.output)
        convert = atomate2_run_document(run.output, self.md_settings())
        convert.name = f"{self.name} to amorphdb"
        return Flow([start, run, convert], output=convert.output, name=self.name)


@job
def with_velocities(structure: Any, velocities_A_per_fs: Any = None) -> Structure:
    """``structure`` with the ``velocities`` site property atomate2 starts from (ASE units)."""
    structure = as_structure(structure).copy()
    if velocities_A_per_fs is not None:
        velocities = np.asarray(velocities_A_per_fs, dtype=float) / _ase_velocity_unit()
        structure.add_site_property("velocities", velocities.tolist())
    return structure


def _task_trajectory(task: Any) -> Any:
    """The pymatgen trajectory of an atomate2 ASE/force-field task document (or dict)."""
    from monty.json import MontyDecoder

    if isinstance(task, dict):
        task = MontyDecoder().process_decoded(task)
    objects = getattr(task, "forcefield_objects", None) or getattr(task, "objects", None) or {}
    for key, value in objects.items():
        if str(getattr(key, "value", key)) == "trajectory":
            return MontyDecoder().process_decoded(value) if isinstance(value, dict) else value
    raise ValueError("the atomate2 task document has no trajectory; keep store_trajectory")


def run_document_from_atomate2(task: Any, md: MDSettings) -> MDRunDocument:
    """The :class:`MDRunDocument` of an atomate2 MD task document (see module docstring)."""
    from ase import units

    from amorphdb.analysis import Trajectory

    traj = _task_trajectory(task)
    species = [str(s) for s in traj.species]
    frac = np.asarray(traj.coords, dtype=float)
    lattice = np.asarray(traj.lattice, dtype=float)
    lattices = np.broadcast_to(lattice, (len(frac), 3, 3)) if lattice.ndim == 2 else lattice
    positions = np.einsum("fij,fjk->fik", frac, lattices)
    props = traj.frame_properties
    stress = np.array([p["stress"] for p in props], dtype=float)  # Voigt, eV/Å³
    temperature = np.array([p["temperature"] for p in props], dtype=float)
    energy = np.array([p["energy"] for p in props], dtype=float)
    kinetic = 1.5 * len(species) * units.kB * temperature
    dt_frame = md.traj_every * md.timestep_fs
    thermo = ThermoSeries(
        time_fs=(np.arange(len(props)) * dt_frame).tolist(),
        temperature_K=temperature.tolist(),
        pressure_kbar=(-stress[:, :3].mean(axis=1) / units.GPa * 10.0).tolist(),
        potential_energy_eV=energy.tolist(),
        total_energy_eV=(energy + kinetic).tolist(),
        volume_A3=np.abs(np.linalg.det(lattices)).tolist(),
    )
    velocities = np.asarray(props[-1]["velocities"], dtype=float) * _ase_velocity_unit()
    final = Structure(lattices[-1], species, positions[-1], coords_are_cartesian=True)
    calculator = getattr(task, "forcefield_name", None) or getattr(task, "ase_calculator_name", "")
    output = MDRunOutput(
        final_structure=final,
        thermo=thermo,
        trajectory=Trajectory(species, positions, lattices, dt_frame, velocities=velocities),
        final_velocities_A_per_fs=velocities,
        engine_version=f"atomate2 {_version('atomate2')}",
        potential=str(calculator),
        dir_name=str(getattr(task, "dir_name", "") or ""),
    )
    return make_run_document(EngineName.MLIP, md, output)


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


@job(data="trajectory")
def atomate2_run_document(task: Any, md: MDSettings) -> MDRunDocument:
    """jobflow job: :func:`run_document_from_atomate2`."""
    return run_document_from_atomate2(task, md)

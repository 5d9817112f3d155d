"""Estimated cost of a campaign: MD steps × atoms × core-seconds per atom-step.

The cost per atom-step is a rough, engine-level number (override it with the
campaign field ``cost_per_atom_step_core_s``):

========  ===================  ==================================================
engine    core-s / atom-step   source
========  ===================  ==================================================
lammps    5e-5                 measured here: 12–14 s per composition of the tiny
                               test campaign (252 000 atom-steps, 36 atoms,
                               Pedone 2006, shared slow core, with packing and
                               Python overhead);
                               bigger cells are cheaper per atom
mlip      2e-3                 CHGNet on one CPU core, ~100 atoms (order of
                               magnitude; a GPU is ~50× cheaper)
vasp      10                   AIMD, Γ-point PBE, ~100 atoms, ~30 s per ionic step
                               on 32 cores (MPMorph-size cells, order of magnitude)
========  ===================  ==================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from amorphdb.engines import EngineName, EngineSpec, get_engine
from amorphdb.flows.protocol import CoolingMethod, ProtocolSettings

#: core-seconds per atom per MD step, by engine (see the module docstring)
COST_PER_ATOM_STEP_CORE_S: dict[EngineName, float] = {
    EngineName.LAMMPS: 5e-5,
    EngineName.MLIP: 2e-3,
    EngineName.VASP: 10.0,
}

#: checking runs assumed per volume search after the first fit (typical: 1–2)
EXPECTED_VOLUME_CHECKS = 2


def steps_per_composition(protocol: ProtocolSettings, timestep_fs: float = 1.0) -> int:
    """MD steps of one composition's flow (volume scans, melt, cooling, anneals).

    The volume search is counted with its first scan plus
    ``min(max_iterations, EXPECTED_VOLUME_CHECKS)`` checking runs per temperature
    (the glass path has no melt volume search); the cooling jobs come from
    :meth:`ProtocolSettings.cooling_runs` (:mod:`amorphdb.flows.schedules`).
    """
    p = protocol
    path = p.cooling.method is CoolingMethod.PATH
    n_temps = len(p.anneal_temperatures_K) + (0 if path else 1)
    checks = min(p.volume.max_iterations, EXPECTED_VOLUME_CHECKS)
    per_search = (
        p.volume.n_steps if p.volume_method == "npt"
        else (len(p.volume.scale_factors) + checks) * p.volume.n_steps
    )
    production = p.melt_steps + len(p.anneal_temperatures_K) * p.anneal_steps
    return n_temps * per_search + production + sum(p.cooling_runs(timestep_fs))


@dataclass(frozen=True)
class CostEstimate:
    """Estimated cost of some compositions."""

    n_compositions: int
    steps_per_composition: int
    atoms_per_composition: int
    cost_per_atom_step_core_s: float

    @property
    def atom_steps(self) -> float:
        """Total atom-steps."""
        return float(self.n_compositions * self.steps_per_composition * self.atoms_per_composition)

    @property
    def core_hours(self) -> float:
        """Estimated core-hours."""
        return self.atom_steps * self.cost_per_atom_step_core_s / 3600.0


def estimate_cost(
    n_compositions: int,
    protocol: ProtocolSettings,
    engine: EngineName | str,
    cost_per_atom_step_core_s: float | None = None,
) -> CostEstimate:
    """Core-hours of ``n_compositions`` with ``protocol`` on ``engine``."""
    cost = cost_per_atom_step_core_s
    if cost is None:
        cost = COST_PER_ATOM_STEP_CORE_S[EngineName(engine)]
    engine = EngineName(engine)
    return CostEstimate(
        n_compositions=n_compositions,
        steps_per_composition=steps_per_composition(
            protocol, get_engine(EngineSpec(name=engine)).timestep_fs
        ),
        atoms_per_composition=protocol.target_atoms,
        cost_per_atom_step_core_s=cost,
    )

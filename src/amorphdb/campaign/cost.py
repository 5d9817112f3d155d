"""Estimated cost of a campaign: MD steps × atoms × core-seconds per atom-step.

The cost per atom-step is a rough, engine-level number, one of each engine's fixed
facts (:attr:`amorphdb.engines.base.EngineSettings.cost_per_atom_step_core_s`, with its
source next to it in ``engines/<engine>/settings.py``): LAMMPS 5e-5, MLIP 2e-3, VASP 10
core-s per atom-step. Override it with the campaign field ``cost_per_atom_step_core_s``.
The time step comes from the same place when the spec sets none.
"""

from __future__ import annotations

from dataclasses import dataclass

from amorphdb.engines import EngineName, EngineSpec, settings_model
from amorphdb.flows.protocol import CoolingMethod, ProtocolSettings

#: checking runs assumed per volume search after the first fit (typical: 1–2)
EXPECTED_VOLUME_CHECKS = 2


def steps_per_composition(
    protocol: ProtocolSettings,
    timestep_fs: float = EngineSpec().resolved_timestep_fs,  # the default engine's
) -> int:
    """MD steps of one composition's flow (volume scans, melt, cooling, anneals).

    The volume search is counted with its first scan plus
    ``min(max_iterations, EXPECTED_VOLUME_CHECKS)`` checking runs per temperature
    (the glass path adds a melt record at P = 0: one NPT run and a melt production);
    the cooling jobs come from
    :meth:`ProtocolSettings.cooling_runs` (:mod:`amorphdb.flows.schedules`). A replicated
    protocol (``replicas = n``) runs all of it n times.
    """
    p = protocol
    path = p.cooling.method is CoolingMethod.PATH
    n_temps = len(p.anneal_temperatures_K) + (0 if path else 1)
    melt_record = p.volume.n_steps + p.melt_steps if path else 0  # the P = 0 melt record
    checks = min(p.volume.max_iterations, EXPECTED_VOLUME_CHECKS)
    per_search = (
        p.volume.n_steps if p.volume_method == "npt"
        else (len(p.volume.scale_factors) + checks) * p.volume.n_steps
    )
    production = p.melt_steps + len(p.anneal_temperatures_K) * p.anneal_steps
    one = n_temps * per_search + melt_record + production + sum(p.cooling_runs(timestep_fs))
    return p.replicas * one


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


def cost_per_atom_step(engine: EngineSpec | EngineName | str) -> float:
    """The engine's core-seconds per atom-step (its settings model's fact)."""
    name = engine.name if isinstance(engine, EngineSpec) else engine
    return settings_model(name).cost_per_atom_step_core_s


def estimate_cost(
    n_compositions: int,
    protocol: ProtocolSettings,
    engine: EngineSpec | EngineName | str,
    cost_per_atom_step_core_s: float | None = None,
) -> CostEstimate:
    """Core-hours of ``n_compositions`` with ``protocol`` on ``engine``.

    An :class:`EngineSpec` counts its own time step; an engine name counts the
    engine's default (:attr:`~amorphdb.engines.base.EngineSettings.default_timestep_fs`).
    """
    spec = engine if isinstance(engine, EngineSpec) else EngineSpec(name=EngineName(engine))
    cost = cost_per_atom_step_core_s
    if cost is None:
        cost = cost_per_atom_step(spec)
    return CostEstimate(
        n_compositions=n_compositions,
        steps_per_composition=steps_per_composition(protocol, spec.resolved_timestep_fs),
        atoms_per_composition=protocol.target_atoms,
        cost_per_atom_step_core_s=cost,
    )

"""One MD stage as a jobflow job, for any engine.

:func:`run_md_stage` is the engine call (usable without jobflow);
:class:`MDMaker` is the thin ``@job`` around it. The job output is an
:class:`~amorphdb.engines.base.MDRunDocument` whose ``trajectory`` goes to the
JobStore's ``data`` store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from jobflow import Maker, job
from pymatgen.core import Structure

from amorphdb.engines import EngineSpec, Ensemble, MDRunDocument, MDSettings, get_engine
from amorphdb.engines.base import make_run_document


def as_structure(structure: Structure | dict) -> Structure:
    """Accept a Structure or its dict (job outputs arrive as dicts)."""
    return structure if isinstance(structure, Structure) else Structure.from_dict(structure)


def run_md_stage(
    engine: EngineSpec,
    md: MDSettings,
    structure: Structure | dict,
    velocities_A_per_fs: np.ndarray | list | None = None,
    workdir: Path | str | None = None,
) -> MDRunDocument:
    """Run one MD stage with the engine an :class:`EngineSpec` names.

    Parameters
    ----------
    engine
        Engine, potential and time step.
    md
        The stage (temperature, steps, ensemble, ...).
    structure
        Starting structure.
    velocities_A_per_fs
        Starting velocities (Å/fs), e.g. the last frame of the previous stage;
        ``None`` draws Maxwell–Boltzmann velocities at ``md.temperature_K``.
    workdir
        Folder for the engine's files (default: the current directory, which
        jobflow and FireWorks set per job).
    """
    velocities = None if velocities_A_per_fs is None else np.asarray(velocities_A_per_fs)
    output = get_engine(engine).run(
        as_structure(structure), md, Path(workdir or Path.cwd()), velocities
    )
    return make_run_document(engine.name, md, output)


def stage_settings(maker: Any) -> MDSettings:
    """:class:`MDSettings` from a stage maker's fields (``MDMaker``, ``SegmentedMDMaker``);
    ``engine.timestep_fs=None`` takes the engine's default time step."""
    return MDSettings(
        temperature_K=maker.temperature_K,
        end_temperature_K=maker.end_temperature_K,
        n_steps=maker.n_steps,
        timestep_fs=maker.engine.timestep_fs or get_engine(maker.engine).timestep_fs,
        ensemble=maker.ensemble,
        pressure_kbar=maker.pressure_kbar,
        seed=maker.seed,
        traj_every=maker.traj_every,
        thermo_every=maker.thermo_every,
        thermostat=maker.thermostat,
    )


@dataclass
class MDMaker(Maker):
    """Maker of one MD stage (NVT by default) with any engine.

    Parameters
    ----------
    name
        Job name.
    engine
        Engine, potential and time step (``timestep_fs=None``: the engine default).
    temperature_K, end_temperature_K
        Thermostat target (K) and the end of a linear ramp (``None``: hold).
    n_steps
        MD steps.
    ensemble
        ``nvt`` (default), ``npt`` or ``nve``.
    pressure_kbar
        NPT target (kbar).
    traj_every, thermo_every
        Steps between stored frames and between thermo samples.
    seed
        Seed for velocities and thermostat noise.
    thermostat
        ``nose-hoover`` or ``langevin``.
    """

    name: str = "md"
    engine: EngineSpec = field(default_factory=EngineSpec)
    temperature_K: float = 5000.0
    end_temperature_K: float | None = None
    n_steps: int = 2000
    ensemble: Ensemble = Ensemble.NVT
    pressure_kbar: float = 0.0
    traj_every: int = 10
    thermo_every: int = 10
    seed: int = 12345
    thermostat: str = "nose-hoover"

    def md_settings(self) -> MDSettings:
        """The engine-independent settings of this stage."""
        return stage_settings(self)

    @job(data="trajectory")
    def make(
        self,
        structure: Structure | dict,
        velocities_A_per_fs: list | None = None,
    ) -> MDRunDocument:
        """Run the stage from ``structure`` (and velocities, if given)."""
        return run_md_stage(self.engine, self.md_settings(), structure, velocities_A_per_fs)

"""One MD stage as a jobflow job, for any engine.

:func:`run_md_stage` is the engine call (usable without jobflow);
:class:`MDMaker` is the thin ``@job`` around it. The job output is an
:class:`~amorphdb.engines.base.MDRunDocument` whose ``trajectory`` goes to the
JobStore's ``data`` store.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
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


def _md_default(name: str) -> Any:
    """Default of an :class:`MDSettings` field: the one place MD stage defaults live."""
    return MDSettings.model_fields[name].default


@dataclass
class MDStageFields:
    """The settings of one MD stage, shared by every MD maker (one declaration).

    :class:`MDMaker`, :class:`~amorphdb.flows.segments.SegmentedMDMaker` and
    :class:`~amorphdb.flows.volume.VolumeEquilibrationMaker` inherit these fields; the
    defaults of everything :class:`MDSettings` declares are read from it, so a default
    lives once. ``update_kwargs({...}, class_filter=MDStageFields)`` reaches every MD
    stage of a flow maker.

    Parameters
    ----------
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
    thermostat, thermostat_damping_fs
        ``nose-hoover`` or ``langevin``, and its relaxation time (fs).
    """

    engine: EngineSpec = field(default_factory=EngineSpec)
    temperature_K: float = 5000.0
    end_temperature_K: float | None = _md_default("end_temperature_K")
    n_steps: int = 2000
    ensemble: Ensemble = _md_default("ensemble")  # noqa: RUF009 (an Enum member: immutable)
    pressure_kbar: float = _md_default("pressure_kbar")
    traj_every: int = _md_default("traj_every")
    thermo_every: int = _md_default("thermo_every")
    seed: int = _md_default("seed")
    thermostat: str = _md_default("thermostat")
    thermostat_damping_fs: float = _md_default("thermostat_damping_fs")

    def __post_init__(self) -> None:
        # update_kwargs / from_dict may hand plain values: keep the typed ones
        self.ensemble = Ensemble(self.ensemble)
        if isinstance(self.engine, dict):
            self.engine = EngineSpec.model_validate(
                {k: v for k, v in self.engine.items() if not k.startswith("@")}
            )

    def md_settings(self) -> MDSettings:
        """The engine-independent :class:`MDSettings` of this stage
        (``engine.timestep_fs=None`` takes the engine's default time step)."""
        return MDSettings(
            timestep_fs=self.engine.resolved_timestep_fs,
            **{f.name: getattr(self, f.name) for f in fields(MDStageFields) if f.name != "engine"},
        )


def stage_settings(maker: MDStageFields) -> MDSettings:
    """:class:`MDSettings` of a stage maker (see :meth:`MDStageFields.md_settings`)."""
    return maker.md_settings()


def stage_fields(maker: Any) -> dict[str, Any]:
    """The :class:`MDStageFields` values of ``maker`` (to build another stage maker)."""
    return {f.name: getattr(maker, f.name) for f in fields(MDStageFields)}


@dataclass
class MDMaker(MDStageFields, Maker):
    """Maker of one MD stage (NVT by default) with any engine: the job is named ``name``,
    the stage is the :class:`MDStageFields`."""

    name: str = "md"

    @job(data="trajectory")
    def make(
        self,
        structure: Structure | dict,
        velocities_A_per_fs: list | None = None,
    ) -> MDRunDocument:
        """Run the stage from ``structure`` (and velocities, if given)."""
        return run_md_stage(self.engine, self.md_settings(), structure, velocities_A_per_fs)

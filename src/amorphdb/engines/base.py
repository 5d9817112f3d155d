"""The one interface every MD engine implements, and the run document they all return.

Flows never know which engine runs: they build an :class:`MDSettings` (what to
simulate) and hand it, with an :class:`EngineSpec` (which engine and potential),
to :func:`amorphdb.engines.get_engine`. Every engine returns an :class:`MDRunOutput`
which :func:`make_run_document` turns into the same :class:`MDRunDocument`, so the
analysis and the store never branch on the engine.

Units: Å, fs, K, eV, kbar, g/cm³.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pymatgen.core import Structure

from amorphdb.recovery.base import Correction

if TYPE_CHECKING:
    from amorphdb.analysis import Trajectory


class EngineName(str, Enum):
    """The MD engines amorphdb can drive."""

    LAMMPS = "lammps"
    MLIP = "mlip"
    VASP = "vasp"


class Ensemble(str, Enum):
    """Thermodynamic ensemble of one MD stage."""

    NVT = "nvt"
    NPT = "npt"
    NVE = "nve"


class PortableModel(BaseModel):
    """A pydantic model that survives every workflow manager's JSON round trip.

    FireWorks serialises objects through ``as_dict`` (else ``str()``: a model became a
    plain string and the MD job failed); with ``@module``/``@class`` keys monty's decoder
    (jobflow, FireWorks, jobflow-remote) rebuilds the model through :meth:`from_dict`.
    """

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data with the class to rebuild it (monty's MSONable convention)."""
        return {"@module": type(self).__module__, "@class": type(self).__name__,
                **self.model_dump(mode="json")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """The model from :meth:`as_dict` data (the ``@`` keys are dropped)."""
        return cls.model_validate({k: v for k, v in data.items() if not k.startswith("@")})


class EngineSpec(PortableModel):
    """Which engine runs, with which potential, at which time step.

    Parameters
    ----------
    name
        The engine: ``lammps`` (classical potentials), ``mlip`` (CHGNet, SevenNet-0)
        or ``vasp`` (ab initio MD).
    potential
        Potential or model name: a key of the LAMMPS potential library
        (``pedone2006``), an ML model (``chgnet``, ``sevennet-0``) or, for VASP, the
        functional (``PBE``). ``None`` picks the engine's default.
    timestep_fs
        MD time step (fs). ``None`` picks the engine's default.
    settings
        Engine-specific options (e.g. ``nprocs`` for LAMMPS, INCAR overrides for VASP).
    """

    model_config = ConfigDict(extra="forbid", use_enum_values=False)

    name: EngineName = EngineName.LAMMPS
    potential: str | None = None
    timestep_fs: float | None = None
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timestep_fs")
    @classmethod
    def _positive_timestep(cls, value: float | None) -> float | None:
        if value is not None and not (0.0 < value <= 10.0):
            raise ValueError(
                f"timestep_fs={value} is outside (0, 10] fs; use e.g. 1-2 fs (0.5 fs with H)"
            )
        return value


class MDSettings(PortableModel):
    """One MD stage, independent of the engine that runs it.

    Parameters
    ----------
    temperature_K
        Thermostat target at the start (K).
    end_temperature_K
        Target at the end for a linear ramp (K); ``None`` holds ``temperature_K``.
    n_steps
        Number of MD steps.
    timestep_fs
        Time step (fs).
    ensemble
        NVT (default), NPT or NVE.
    pressure_kbar
        Target pressure for NPT (kbar).
    seed
        Seed for initial velocities and thermostat noise.
    traj_every
        Steps between stored trajectory frames.
    thermo_every
        Steps between thermodynamic samples.
    thermostat
        ``nose-hoover`` (default) or ``langevin``.
    thermostat_damping_fs
        Thermostat relaxation time (fs).
    initialize_velocities
        Draw Maxwell–Boltzmann velocities at ``temperature_K``; when velocities are
        passed to the engine they are used instead.
    """

    model_config = ConfigDict(extra="forbid")

    temperature_K: float = Field(gt=0)
    end_temperature_K: float | None = Field(default=None, gt=0)
    n_steps: int = Field(gt=0)
    timestep_fs: float = Field(gt=0, le=10)
    ensemble: Ensemble = Ensemble.NVT
    pressure_kbar: float = 0.0
    seed: int = 12345
    traj_every: int = Field(default=10, gt=0)
    thermo_every: int = Field(default=10, gt=0)
    thermostat: str = "nose-hoover"
    thermostat_damping_fs: float = Field(default=100.0, gt=0)
    initialize_velocities: bool = True

    @property
    def duration_ps(self) -> float:
        """Simulated time (ps)."""
        return self.n_steps * self.timestep_fs / 1000.0


class ThermoSeries(BaseModel):
    """Thermodynamic time series of a run (one value per sample)."""

    time_fs: list[float] = Field(default_factory=list)
    temperature_K: list[float] = Field(default_factory=list)
    pressure_kbar: list[float] = Field(default_factory=list)
    potential_energy_eV: list[float] = Field(default_factory=list)
    total_energy_eV: list[float] = Field(default_factory=list)
    volume_A3: list[float] = Field(default_factory=list)

    def second_half_mean(self, name: str) -> float:
        """Mean of a series over the second half of the run (NaN when empty)."""
        values = np.asarray(getattr(self, name), dtype=float)
        if values.size == 0:
            return float("nan")
        return float(values[values.size // 2 :].mean())

    def second_half_sem(self, name: str, n_blocks: int = 5) -> float:
        """Standard error of the second-half mean, from ``n_blocks`` block averages.

        Block averaging (Flyvbjerg & Petersen, J. Chem. Phys. 91 (1989) 461) accounts
        for the serial correlation of MD samples that a plain σ/√N ignores.
        """
        values = np.asarray(getattr(self, name), dtype=float)
        half = values[values.size // 2 :]
        if half.size < 2 * n_blocks:
            return float("nan")
        blocks = np.array_split(half, n_blocks)
        means = np.array([b.mean() for b in blocks])
        return float(means.std(ddof=1) / np.sqrt(n_blocks))

    def second_half_std(self, name: str) -> float:
        """Standard deviation of a series over the second half of the run."""
        values = np.asarray(getattr(self, name), dtype=float)
        if values.size == 0:
            return float("nan")
        return float(values[values.size // 2 :].std())


@dataclass
class MDRunOutput:
    """What an engine hands back from one MD stage (in memory, before storage)."""

    final_structure: Structure
    thermo: ThermoSeries
    trajectory: Trajectory
    final_velocities_A_per_fs: np.ndarray | None = None
    engine_version: str = ""
    potential: str = ""
    potential_citation: str = ""
    corrections: list[Correction] = field(default_factory=list)
    dir_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class MDRunDocument(BaseModel):
    """The common output of every MD stage, whatever the engine.

    The trajectory is kept under the ``trajectory`` key, which jobs route to the
    JobStore's data (blob) store; the document itself stays small.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: EngineName
    engine_version: str
    potential: str
    potential_citation: str = ""
    md: MDSettings
    formula: str
    nsites: int
    structure: Structure
    final_velocities_A_per_fs: list[list[float]] | None = None
    thermo: ThermoSeries
    mean_pressure_kbar: float
    std_pressure_kbar: float
    sem_pressure_kbar: float = float("nan")
    mean_temperature_K: float
    mean_potential_energy_eV_per_atom: float
    volume_A3: float
    density_g_cm3: float
    n_frames: int
    corrections: list[Correction] = Field(default_factory=list)
    dir_name: str = ""
    trajectory: Any = None


def make_run_document(
    engine: EngineName, md: MDSettings, output: MDRunOutput
) -> MDRunDocument:
    """Build the common run document from an engine's output.

    Pressure and temperature means are taken over the second half of the run
    (the MPMorph convention, ``avg_fraction = 0.5``).
    """
    # the store's lossless XOR/shuffle codec keeps the blob no larger than raw float32
    from amorphdb.store.trajectory import prepare_trajectory

    structure = output.final_structure
    thermo = output.thermo
    velocities = output.final_velocities_A_per_fs
    return MDRunDocument(
        engine=engine,
        engine_version=output.engine_version,
        potential=output.potential,
        potential_citation=output.potential_citation,
        md=md,
        formula=structure.composition.formula,
        nsites=len(structure),
        structure=structure,
        final_velocities_A_per_fs=None if velocities is None else np.asarray(velocities).tolist(),
        thermo=thermo,
        mean_pressure_kbar=thermo.second_half_mean("pressure_kbar"),
        std_pressure_kbar=thermo.second_half_std("pressure_kbar"),
        sem_pressure_kbar=thermo.second_half_sem("pressure_kbar"),
        mean_temperature_K=thermo.second_half_mean("temperature_K"),
        mean_potential_energy_eV_per_atom=thermo.second_half_mean("potential_energy_eV")
        / len(structure),
        volume_A3=float(structure.volume),
        density_g_cm3=float(structure.density),
        n_frames=int(output.trajectory.n_frames),
        corrections=list(output.corrections),
        dir_name=output.dir_name,
        trajectory=prepare_trajectory(output.trajectory),
    )


class MDEngine(ABC):
    """An MD engine: checks coverage before anything runs, then runs MD stages.

    Subclasses set :attr:`name` and implement :meth:`check_composition`,
    :meth:`run` and :meth:`version`. ``spec`` holds the potential, time step and
    engine-specific settings.
    """

    name: ClassVar[EngineName]
    default_timestep_fs: ClassVar[float] = 1.0

    def __init__(self, spec: EngineSpec) -> None:
        self.spec = spec

    @property
    def timestep_fs(self) -> float:
        """Time step (fs): the spec's, else the engine's default."""
        return self.spec.timestep_fs or self.default_timestep_fs

    @abstractmethod
    def check_composition(self, elements: Iterable[str]) -> None:
        """Raise :class:`~amorphdb.errors.UnsupportedCompositionError` naming what is missing."""

    @abstractmethod
    def run(
        self,
        structure: Structure,
        md: MDSettings,
        workdir: Path,
        velocities_A_per_fs: np.ndarray | None = None,
    ) -> MDRunOutput:
        """Run one MD stage in ``workdir`` and return its output."""

    @abstractmethod
    def version(self) -> str:
        """Engine (and model) version string for provenance."""

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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pymatgen.core import Structure

from amorphdb.errors import ConfigError
from amorphdb.recovery.base import Correction, RecoverySettings

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


class EngineSettings(BaseModel):
    """What ``EngineSpec.settings`` may hold for one engine, and that engine's fixed facts.

    Each engine declares a subclass in its light ``settings`` module (registered in
    :data:`amorphdb.engines.ENGINES`). :class:`EngineSpec` validates its ``settings``
    dict against it at load time (unknown keys, types and ranges; one line naming the
    field), and the engine reads its options through it
    (:attr:`EngineSpec.engine_settings`), never from the raw dict with a local default.

    The class attributes are the per-engine facts the rest of the package reads, each
    defined once, in the engine's settings model:

    ``default_timestep_fs``
        Time step (fs) when the spec sets none (flows, cost estimate, escalation).
    ``max_timestep_fs``
        Largest time step (fs) the engine accepts (checked at load time).
    ``cost_per_atom_step_core_s``
        Rough core-seconds per atom per MD step (the dry run's core-hour estimate).
    ``electronic_ladder``
        INCAR overrides, one rung per earlier electronic failure, that ``rerun``
        applies (:mod:`amorphdb.campaign.escalation`); empty: no electronic structure.

    Every engine has the shared ``recovery`` budget
    (:class:`~amorphdb.recovery.base.RecoverySettings`; the campaign field
    ``max_corrections`` is folded into ``recovery.max_corrections``).
    """

    model_config = ConfigDict(extra="forbid")

    default_timestep_fs: ClassVar[float] = 1.0
    max_timestep_fs: ClassVar[float] = 10.0
    cost_per_atom_step_core_s: ClassVar[float]
    electronic_ladder: ClassVar[tuple[dict[str, Any], ...]] = ()

    recovery: RecoverySettings = Field(default_factory=RecoverySettings)


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
        MD time step (fs). ``None`` picks the engine's default
        (:attr:`EngineSettings.default_timestep_fs`); at most the engine's
        ``max_timestep_fs``.
    settings
        Engine-specific options, validated against the engine's settings model
        (:func:`amorphdb.engines.settings_model`: ``LammpsSettings``, ``MLIPSettings``,
        ``VaspSettings``). Kept as given (a plain dict, so FireWorks/jobflow JSON and
        protocol hashes see what the user wrote); read typed through
        :attr:`engine_settings`. A settings model instance is accepted and stored as
        the fields it sets.

    Raises
    ------
    ConfigError
        From the constructor, one line naming the field and the fix
        (``engine.settings.kspace: 'pppmx' is not one of ewald, pppm, auto``);
        ``model_validate`` (campaign files, stored documents) raises pydantic's
        ``ValidationError`` with the same message at ``engine.settings.<key>``.
    """

    model_config = ConfigDict(extra="forbid", use_enum_values=False)

    name: EngineName = EngineName.LAMMPS
    potential: str | None = None
    timestep_fs: float | None = None
    settings: dict[str, Any] = Field(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(validation_message(exc, prefix="engine")) from None

    # pydantic's marker of its own __init__: nested and ``model_validate`` validation
    # (campaign files) skip this constructor and keep pydantic's located errors
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @field_validator("timestep_fs")
    @classmethod
    def _positive_timestep(cls, value: float | None) -> float | None:
        if value is not None and not (0.0 < value <= 10.0):
            raise ValueError(
                f"timestep_fs={value} is outside (0, 10] fs; use e.g. 1-2 fs (0.5 fs with H)"
            )
        return value

    @field_validator("settings", mode="before")
    @classmethod
    def _plain_settings(cls, value: Any) -> Any:
        """A settings model instance becomes the fields it sets (JSON types)."""
        if isinstance(value, EngineSettings):
            return value.model_dump(mode="json", exclude_unset=True)
        return value

    @model_validator(mode="after")
    def _check_settings(self) -> EngineSpec:
        """``settings`` against the engine's model; the time step against its maximum."""
        model = self.settings_model
        try:
            model.model_validate(self.settings)
        except ValidationError as exc:
            raise engine_settings_error(exc, model, self.name) from None
        if self.timestep_fs is not None and self.timestep_fs > model.max_timestep_fs:
            raise ValidationError.from_exception_data(type(self).__name__, [{
                "type": PydanticCustomError(
                    "engine_timestep",
                    f"{self.timestep_fs:g} fs is above the {self.name.value} engine's maximum "
                    f"{model.max_timestep_fs:g} fs; use at most that (1-2 fs is typical)",
                ),
                "loc": ("timestep_fs",),
                "input": self.timestep_fs,
            }])
        return self

    @property
    def settings_model(self) -> type[EngineSettings]:
        """The settings model of this spec's engine (its per-engine facts included)."""
        from amorphdb.engines import settings_model

        return settings_model(self.name)

    @property
    def engine_settings(self) -> EngineSettings:
        """``settings`` validated into the engine's model (typed, defaults filled in).

        Validated on each access, never cached: ``model_copy(update=...)`` (escalation)
        would carry a cached value past a changed ``settings`` dict.

        Raises
        ------
        ConfigError
            One line naming the field, for settings that bypassed validation
            (``model_copy(update=...)``).
        """
        model = self.settings_model
        try:
            return model.model_validate(self.settings)
        except ValidationError as exc:
            error = engine_settings_error(exc, model, self.name)
            raise ConfigError(validation_message(error, prefix="engine")) from None

    @property
    def resolved_timestep_fs(self) -> float:
        """Time step (fs): the spec's, else the engine's default (no engine import)."""
        return self.timestep_fs or self.settings_model.default_timestep_fs


def _choices(ctx: dict[str, Any] | None) -> str:
    """pydantic's ``'a', 'b' or 'c'`` as ``a, b, c``."""
    expected = str((ctx or {}).get("expected", ""))
    return expected.replace("'", "").replace(" or ", ", ")


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model that holds the last element of ``loc``."""
    for part in loc[:-1]:
        field_info = model.model_fields.get(str(part))
        annotation = getattr(field_info, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields, key=lambda name: name == "recovery")  # shared one last


def engine_settings_error(
    exc: ValidationError, model: type[EngineSettings], engine: EngineName
) -> ValidationError:
    """The first error of validating ``settings`` against ``model``, at ``settings.<key>``,
    with a message that names the fix (the allowed keys, the allowed choices)."""
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        kind = ".".join(map(str, loc[:-1])) or f"{EngineName(engine).value} engine"
        message = f"unknown {kind} setting; use one of " + ", ".join(_fields_at(model, loc))
    elif err["type"] in ("enum", "literal_error"):
        message = f"{value!r} is not one of {_choices(err.get('ctx'))}"
    else:
        detail = err["msg"].removeprefix("Value error, ")
        if detail[1:2].islower():  # pydantic's "Input should ..." reads on after a colon
            detail = detail[:1].lower() + detail[1:]
        message = f"{value!r} is invalid: {detail}"
    return ValidationError.from_exception_data(
        "EngineSpec",
        [{"type": PydanticCustomError("engine_setting", message),
          "loc": ("settings", *loc), "input": value}],
    )


def validation_message(exc: ValidationError, prefix: str = "") -> str:
    """One line for the first error of a validation: ``<prefix>.<field>: <message>``."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in (prefix, *err["loc"]) if str(p))
    message = err["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


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

    def __init__(self, spec: EngineSpec) -> None:
        self.spec = spec
        #: the spec's settings, typed (the engine's :class:`EngineSettings` model)
        self.settings = spec.engine_settings

    @property
    def default_timestep_fs(self) -> float:
        """The engine's default time step (fs), from its settings model."""
        return self.spec.settings_model.default_timestep_fs

    @property
    def timestep_fs(self) -> float:
        """Time step (fs): the spec's, else the engine's default."""
        return self.spec.resolved_timestep_fs

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

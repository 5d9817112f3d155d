"""The potfit campaign file (YAML): potential, free parameters, targets, MD protocol.

Example (``configs/potfit-wang2018-reduced.yaml``)::

    name: potfit-wang2018-reduced
    potential: wang2018
    parameters:                      # PAIR.KIND: [low, high] in the potential's units
      B-O.A: [150000, 260000]        # eV
      B-O.rho: [0.11, 0.135]         # Å
    budget: 24
    batch_size: 4
    objective: {compositions: [50B, 75B], weights: {density: 1.0, n4: 1.0}}
    glass: {target_atoms: 150, cooling_rate_K_per_ps: 100}
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from amorphdb.campaign.spec import CampaignSpec
from amorphdb.engines import EngineSpec
from amorphdb.engines.potentials import get_potential, potential_spec
from amorphdb.errors import ConfigError
from amorphdb.flows.protocol import (
    CoolingMethod,
    CoolingSettings,
    ProtocolSettings,
    VolumeSettings,
)
from amorphdb.flows.protocol import settings_digest as _digest
from amorphdb.potfit.params import Parameter, check_parameters

#: launchers whose submit runs the compositions to completion (the loop needs results)
BLOCKING_LAUNCHERS = ("local", "parsl")


class Mode(StrEnum):
    """Single weighted loss, or one loss per property (Pareto front, qLogNEHVI)."""

    WEIGHTED = "weighted"
    PARETO = "pareto"


class N4Source(StrEnum):
    """Where the N4 target comes from."""

    MEASURED = "measured"  # the table's N4; the Dell–Bray–Xiao model where it has none
    DBX = "dbx"  # always the Dell–Bray–Xiao model


class ObjectiveSettings(BaseModel):
    """Which glasses, which properties, which weights."""

    model_config = ConfigDict(extra="forbid")

    compositions: list[str] = Field(min_length=1, description="labels of the target table")
    table: str | None = Field(None, description="CSV target table; None: the shipped one")
    weights: dict[str, float] = Field(
        default_factory=lambda: {"density": 1.0, "n4": 1.0},
        description="weight of each loss term (density, n4) in weighted mode",
    )
    mode: Mode = Mode.WEIGHTED
    n4_source: N4Source = N4Source.MEASURED

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - {"density", "n4"})
        if unknown:
            raise ValueError(f"unknown loss term(s) {unknown}; use density and n4")
        if any(w < 0 for w in value.values()) or not any(w > 0 for w in value.values()):
            raise ValueError("weights must be >= 0 with at least one > 0")
        return value


class GlassSettings(BaseModel):
    """The glass of every evaluation, made by the protocol's glass path.

    :class:`~amorphdb.flows.protocol.CoolingMethod` ``path``: melt (NVT at the packing
    density) at ``melt_temperature_K``, one NPT cooling at zero pressure at
    ``cooling_rate_K_per_ps`` to ``glass_temperature_K``, then NPT ``glass_steps`` there
    (the glass volume at zero pressure) and NVT as long, whose record gives density and
    N4. Cooling rate and cell size are the settings whose effect on N4 ``docs/potfit.md``
    measures.
    """

    model_config = ConfigDict(extra="forbid")

    target_atoms: int = Field(150, gt=0)
    melt_temperature_K: float = Field(3000.0, gt=0, description="Wang 2018 melt at 3000 K")
    melt_steps: int = Field(5000, gt=0)
    cooling_rate_K_per_ps: float = Field(100.0, gt=0, description="Wang 2018: 1 K/ps")
    glass_temperature_K: float = Field(300.0, gt=0)
    glass_steps: int = Field(2000, gt=0, description="NPT steps at the glass temperature "
                             "(then as many NVT steps)")
    pressure_tolerance_kbar: float = Field(10.0, gt=0)
    traj_every: int = Field(50, gt=0, description="steps between stored frames")
    timestep_fs: float = Field(1.0, gt=0, description="Wang 2018: 1 fs")
    seed: int = 12345

    def protocol(self) -> ProtocolSettings:
        """The melt–quench protocol of this glass: the glass path down to one anneal
        temperature, the glass temperature (NPT volume at zero pressure, then NVT).

        The glass is the path's lowest anneal branch rather than its ``glass`` point
        (the same MD: NPT at zero pressure, then NVT). Launchers now also complete a
        glass-only flow; the anneal branch stays so that the protocol hash, and with it
        every saved potfit state and its evaluations, stays valid.
        """
        return ProtocolSettings(
            target_atoms=self.target_atoms,
            melt_temperature_K=self.melt_temperature_K,
            melt_steps=self.melt_steps,
            anneal_temperatures_K=[self.glass_temperature_K],
            anneal_steps=self.glass_steps,
            volume=VolumeSettings(
                method="npt", n_steps=self.glass_steps,
                pressure_tolerance_kbar=self.pressure_tolerance_kbar,
                noise_sigmas=3.0, on_unconverged="flag",  # tiny cells: P noise of ~kbar
            ),
            cooling=CoolingSettings(
                method=CoolingMethod.PATH, rate_K_per_ps=self.cooling_rate_K_per_ps,
                start_temperature_K=self.melt_temperature_K, glass_temperature_K=None,
            ),
            traj_every=self.traj_every,
            thermo_every=min(self.traj_every, 10),
            seed=self.seed,
        )


class PotfitConfig(BaseModel):
    """A potfit campaign (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    potential: str = "wang2018"
    parameters: dict[str, tuple[float, float]] = Field(min_length=1)
    budget: int = Field(gt=0)
    batch_size: int = Field(4, gt=0)
    n_initial: int | None = Field(None, gt=0)
    seed: int = 0
    state: str = "potfit-state.json"
    objective: ObjectiveSettings
    glass: GlassSettings = Field(default_factory=GlassSettings)
    launcher: str = "local"
    workers: int = Field(2, ge=1)
    store: str | None = None
    workdir: str = "potfit-runs"
    engine_settings: dict[str, Any] = Field(default_factory=dict)
    source: str | None = Field(None, exclude=True)

    @field_validator("engine_settings")
    @classmethod
    def _lammps_settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Checked by the LAMMPS engine's settings model (located error, at load time)."""
        EngineSpec.model_validate({"name": "lammps", "settings": value})
        return value

    def free_parameters(self) -> list[Parameter]:
        """The parameters, checked against the potential (ConfigError naming a bad one)."""
        pot = get_potential(self.potential)
        params = []
        for name, (low, high) in self.parameters.items():
            pot.canonical_parameter(name)
            params.append(Parameter(name, low, high))
        return check_parameters(params)

    def resolve(self, path: str) -> Path:
        """A path relative to the config file's folder."""
        p = Path(path).expanduser()
        base = Path(self.source).parent if self.source else Path.cwd()
        return p if p.is_absolute() else base / p

    def state_path(self) -> Path:
        """The state file."""
        return self.resolve(self.state)

    def fingerprint_settings(self) -> dict[str, Any]:
        """What defines the objective (part of the state's fingerprint)."""
        return {
            "potential": self.potential,
            "objective": self.objective.model_dump(mode="json"),
            "glass": self.glass.model_dump(mode="json"),
            "engine_settings": self.engine_settings,
        }

    def campaign_for(self, params: dict[str, float]) -> CampaignSpec:
        """The melt–quench campaign of one evaluation: the potential with ``params``."""
        from amorphdb.potfit.targets import load_targets

        spec = potential_spec(self.potential, params)
        formulas = [t.formula for t in load_targets(self.objective.compositions,
                                                    self._table()).values()]
        protocol = self.glass.protocol()
        key = {"potential": spec, "settings": self.fingerprint_settings(),
               "protocol": protocol.model_dump(mode="json")}
        name = f"{self.name}-{_digest(key)}"
        return CampaignSpec(
            name=name,
            compositions=formulas,
            engine=EngineSpec(
                name="lammps", potential=spec, timestep_fs=self.glass.timestep_fs,
                settings=dict(self.engine_settings),
            ),
            protocol=protocol,
            store=str(self.resolve(self.store)) if self.store else None,
            workers=min(self.workers, len(formulas)),
            workdir=str(self.resolve(self.workdir)),
            max_attempts=1,
        )

    def _table(self) -> str | None:
        return str(self.resolve(self.objective.table)) if self.objective.table else None


def load_config(path: str | Path) -> PotfitConfig:
    """Read and check a potfit YAML file: parameters, ranges and targets, before any MD.

    Raises
    ------
    ConfigError
        One line naming the problem (missing file, bad YAML, unknown parameter, empty or
        inverted range, a composition the target table lacks).
    """
    from amorphdb.potfit.targets import load_targets

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"potfit file {path} not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    try:
        config = PotfitConfig.model_validate({**data, "source": str(path)})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"{path}: {where}: {err['msg']}") from None
    config.free_parameters()
    load_targets(config.objective.compositions, config._table())
    if config.launcher not in BLOCKING_LAUNCHERS:
        raise ConfigError(
            f"{path}: launcher '{config.launcher}' queues work and returns; potfit needs "
            f"each batch's results, use one of {', '.join(BLOCKING_LAUNCHERS)}"
        )
    return config

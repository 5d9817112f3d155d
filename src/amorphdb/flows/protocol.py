"""Settings of the melt–quench protocol, with their defaults and sources.

MPMorph values, as found in the public code of materialsproject/mpmorph
(``mpmorph/runners/amorphous_maker.py``, ``mpmorph/workflows/converge.py``, the
``feature/vasp-converge`` branch for ``aimd_temp=5000``) and atomate2
(``common/jobs/mpmorph.py``, ``EquilibriumVolumeMaker``): ~100 atoms per cell and
packmol tolerance 2.0 Å; volume equilibration with NVT runs at several volumes,
2000 steps each, pressure averaged over the second half, |P| < 5 kbar; melt at
5000 K; production 10 000 steps; anneal temperatures 1000–2500 K in 500 K steps
(the hold temperatures of MPMorph's slow quench, and the multi-temperature subset
of the ab initio amorphous database, Zheng et al., npj Comput. Mater. 2024,
arXiv:2402.00177). amorphdb departs from MPMorph where measured: the default is the
glass path (NPT cooling at a stated rate) and the volume scan is ±10 %
(``docs/protocol.md`` gives the measurements).
"""

from __future__ import annotations

import hashlib
import json
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from amorphdb.engines.base import MDSettings
from amorphdb.flows.schedules import cooling_stages, glass_path_stages, volume_scale_factors

_MD = MDSettings.model_fields  # MD stage defaults live there (traj_every, thermo_every, seed)


class VolumeSettings(BaseModel):
    """Volume equilibration (one per temperature)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    method: Literal["eos", "npt"] | None = Field(
        None,
        description="'eos': NVT at several volumes + Birch-Murnaghan fit; 'npt': one NPT run; "
        "None: 'npt' after the glass path's NPT cooling, 'eos' (MPMorph) otherwise "
        "(measured: docs/benchmarks.md, Protocol)",
    )
    n_steps: int = Field(2000, gt=0, description="MD steps per volume point (MPMorph: 2000)")
    scale_factors: list[float] = Field(
        default_factory=lambda: volume_scale_factors(3, 0.1),
        description="volume scale factors of the first runs (0.9, 1.0, 1.1: ±10 % spans "
        "±10-40 kbar in a glass; MPMorph's 0.8/1.2 reached +126 kbar at 1000 K)",
    )
    pressure_tolerance_kbar: float = Field(5.0, gt=0, description="|P| below this (kbar)")
    max_iterations: int = Field(6, ge=0, description="checking runs after the first fit")
    noise_sigmas: float = Field(
        0.0,
        ge=0,
        description="also accept |P| below this many standard errors of the mean pressure "
        "(0: MPMorph's plain tolerance)",
    )

    on_unconverged: Literal["fail", "flag"] = Field(
        "fail",
        description="when the checks are spent: 'fail' the stage (the campaign's rerun "
        "widens the scan) or 'flag' (accept the best point, converged: false)",
    )

    @field_validator("scale_factors")
    @classmethod
    def _scales(cls, value: list[float]) -> list[float]:
        if len(value) < 2 or any(s <= 0 for s in value):
            raise ValueError("scale_factors needs at least two positive factors")
        return value


class CoolingMethod(str, Enum):
    """How the anneal temperatures are reached from the melt."""

    #: the glass path (default): one NPT cooling at ``rate_K_per_ps`` and zero pressure
    #: from the melt through every anneal temperature down to the glass temperature
    PATH = "path"
    #: MPMorph's direct anneal: each branch starts from the last melt frame
    NONE = "none"
    #: each branch ramps from the melt to its temperature in ``n_steps`` (NVT)
    LINEAR = "linear"
    #: each branch holds at every ``step_K`` on the way down (NVT)
    STEPWISE = "stepwise"


class CoolingSettings(BaseModel):
    """How each anneal branch goes from the melt to its temperature.

    The default glass path follows the classical glass protocol of Wang et al. 2018
    (NPT at P = 0 through the whole quench, doi:10.1016/j.jnoncrysol.2018.04.063,
    1 K/ps there) at 10 K/ps, the upper end of the rates used for oxide glasses;
    the density measured against the rate is in ``docs/protocol.md``.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    method: CoolingMethod = Field(
        CoolingMethod.PATH,
        description="'path': NPT cooling at rate_K_per_ps through every anneal temperature "
        "to the glass temperature; 'none': MPMorph direct anneal from the melt; 'linear'; "
        "'stepwise'",
    )
    rate_K_per_ps: float = Field(10.0, gt=0, description="cooling rate of 'path' (K/ps)")
    start_temperature_K: float = Field(
        3000.0,
        gt=0,
        description="'path' cools at rate_K_per_ps from min(melt, this) temperature (K); a "
        "hotter melt is first brought here by an NVT ramp of n_steps at the melt density",
    )
    pressure_kbar: float = Field(0.0, description="barostat target of the 'path' cooling (kbar)")
    glass_temperature_K: float | None = Field(
        300.0,
        gt=0,
        description="'path' ends here with a glass point (NPT density, recorded with "
        "stage 'glass'); None: stop at the lowest anneal temperature",
    )
    glass_steps: int = Field(
        20000, gt=0, description="MD steps of the glass point (NPT, then NVT as long)"
    )
    step_K: float = Field(500.0, gt=0, description="temperature step of 'stepwise' (K)")
    n_steps: int = Field(1000, gt=0, description="MD steps per 'linear'/'stepwise' stage")


class ProtocolSettings(BaseModel):
    """The melt–quench protocol: packing, volume, melt, anneals, analysis.

    Every default follows MPMorph (see the module docstring for sources). Values are
    range-checked when the model is built (:meth:`_physical`), from a campaign file or
    directly in Python.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    target_atoms: int = Field(100, gt=0, description="atoms per cell (approximately)")
    density_g_cm3: float | None = Field(
        None, gt=0, description="starting density (g/cm³); None: estimated"
    )
    packing_tolerance_A: float = Field(2.0, gt=0, description="packmol tolerance (Å)")
    melt_temperature_K: float = Field(5000.0, gt=0, description="melt temperature (K)")
    melt_steps: int = Field(10000, gt=0, description="MD steps of the melt production")
    anneal_temperatures_K: list[float] = Field(
        default_factory=lambda: [1000.0, 1500.0, 2000.0, 2500.0],
        description="one branch per temperature (K)",
    )
    anneal_steps: int = Field(10000, gt=0, description="MD steps of each anneal production")
    anneal_start_density_g_cm3: float | None = Field(
        None,
        gt=0,
        description="density (g/cm³) each anneal's volume search starts from; None: the "
        "packing density. The 5000 K melt volume is far too large to start from",
    )
    volume: VolumeSettings = Field(default_factory=VolumeSettings)
    cooling: CoolingSettings = Field(default_factory=CoolingSettings)
    max_steps_per_job: int | None = Field(
        None,
        gt=0,
        description="split melt and anneal productions into segment jobs of at most this "
        "many steps (continued with velocities, stitched); None: one job per stage",
    )
    traj_every: int = Field(
        _MD["traj_every"].default, gt=0, description="steps between stored frames"
    )
    thermo_every: int = Field(
        _MD["thermo_every"].default, gt=0, description="steps between thermo samples"
    )
    seed: int = Field(
        _MD["seed"].default, description="seed for packing, velocities, thermostats"
    )
    replicas: int = Field(
        1,
        ge=1,
        le=100,
        description="independent replicas per composition: replica i runs the whole "
        "protocol with seed + i (its own packing, velocities, thermostat); D and density "
        "are averaged over them with their spread (amorphdb.flows.replicas)",
    )
    diffusing_species: list[str] | None = Field(
        None, description="species whose D is computed; None: every species"
    )

    @field_validator("anneal_temperatures_K")
    @classmethod
    def _positive_temperatures(cls, value: list[float]) -> list[float]:
        bad = [t for t in value if t <= 0]
        if bad:
            raise ValueError(f"anneal temperatures must be positive (got {bad})")
        return sorted(float(t) for t in value)

    @model_validator(mode="after")
    def _physical(self) -> ProtocolSettings:
        """Every value within its physical range (:func:`check_ranges`)."""
        check_ranges(self)
        return self

    def replica(self, index: int) -> ProtocolSettings:
        """The settings of replica ``index`` (0-based): one replica, seed ``seed + index``.

        Replica 0 is the protocol itself with ``replicas = 1``: its key and results are
        those of a single-replica run with the same seed.
        """
        if not 0 <= index < self.replicas:
            raise ValueError(f"replica {index} of {self.replicas}")
        seed = self.seed + index * REPLICA_SEED_STRIDE
        return self.model_copy(update={"replicas": 1, "seed": seed})

    @property
    def volume_method(self) -> str:
        """The volume equilibration method in use (``volume.method`` or its default)."""
        if self.volume.method is not None:
            return self.volume.method
        return "npt" if self.cooling.method is CoolingMethod.PATH else "eos"

    def cooling_runs(self, timestep_fs: float) -> list[int]:
        """MD steps of every cooling job of one composition (and of the glass point's
        NPT + NVT runs), from :mod:`amorphdb.flows.schedules`, the one place the
        schedules are derived (the flow, the cost estimate and the job counts read it)."""
        c = self.cooling
        if c.method is CoolingMethod.PATH:
            stops = list(self.anneal_temperatures_K)
            if c.glass_temperature_K is not None:
                stops.append(c.glass_temperature_K)
            stages = glass_path_stages(
                self.melt_temperature_K, stops, c.start_temperature_K, c.rate_K_per_ps,
                timestep_fs, c.n_steps,
            )
            glass = [c.glass_steps, c.glass_steps] if c.glass_temperature_K is not None else []
            return [s.n_steps for s in stages] + glass
        return [
            c.n_steps
            for t in self.anneal_temperatures_K
            for _ in cooling_stages(self.melt_temperature_K, t, c.method, c.step_K)
        ]

    def protocol_hash(self, engine_dump: dict | None = None) -> str:
        """Short hash of the settings (and engine) that define a result's key.

        ``replicas`` enters only when it is above 1 (the key of the replica average): a
        single replica's hash does not depend on how many replicas were asked for, and
        hashes from before the setting existed are unchanged.
        """
        protocol = self.model_dump(mode="json", exclude={"replicas"})
        if self.replicas > 1:
            protocol["replicas"] = self.replicas
        return settings_digest({"protocol": protocol, "engine": engine_dump or {}})


def settings_digest(payload: dict[str, Any]) -> str:
    """Short, order-independent hash of JSON-able settings (document and stage keys)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


#: seed step between replicas: replica i runs with ``seed + i * REPLICA_SEED_STRIDE``
REPLICA_SEED_STRIDE = 1
#: temperatures a protocol may ask for (K): finite, above 0 K and below any MD melt
TEMPERATURE_RANGE_K = (1.0, 10000.0)
#: starting densities (g/cm³): from aerogel-like 0.1 to above osmium (22.6)
DENSITY_RANGE_G_CM3 = (0.1, 25.0)
#: seeds packmol, LAMMPS and numpy accept (unsigned 32-bit)
SEED_RANGE = (0, 2**32 - 1)


def _walk(data: Any, path: str = "") -> list[tuple[str, str, Any]]:
    """(dotted path, key, value) of every mapping entry in nested data."""
    out = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{path}.{key}" if path else str(key)
            out.append((here, str(key), value))
            out.extend(_walk(value, here))
    return out


class RangeError(ValueError):
    """A protocol value out of its physical range; the message names the field's path.

    ``template`` holds ``{p}`` where a field path starts, so a caller that nests the
    protocol (the campaign file) can name the full path (:meth:`prefixed`).
    """

    def __init__(self, template: str) -> None:
        self.template = template
        super().__init__(template.format(p=""))

    def prefixed(self, prefix: str) -> str:
        """The message with every field path prefixed (``"protocol."``)."""
        return self.template.format(p=prefix)


def check_ranges(protocol: ProtocolSettings) -> None:
    """Refuse protocol values outside their physical range (one line naming the field).

    Temperatures (every ``*temperature_K``/``*temperatures_K`` field) in
    :data:`TEMPERATURE_RANGE_K`; densities (``*density_g_cm3``) in
    :data:`DENSITY_RANGE_G_CM3`; every replica's seed in :data:`SEED_RANGE`; no anneal
    temperature twice; ``traj_every`` and ``thermo_every`` no longer than the shortest
    MD run (a run shorter than one frame has no trajectory to analyse). Messages start
    with the field's dotted path (``anneal_temperatures_K: ...``); the campaign loader
    prefixes every path with ``protocol.`` (:meth:`RangeError.prefixed`).

    Raises
    ------
    RangeError
        The first value out of range.
    """
    lo_t, hi_t = TEMPERATURE_RANGE_K
    lo_d, hi_d = DENSITY_RANGE_G_CM3
    for path, key, value in _walk(protocol.model_dump(mode="python")):
        if value is None:
            continue
        if key.endswith(("temperature_K", "temperatures_K")):
            for t in value if isinstance(value, list) else [value]:
                if not lo_t <= t <= hi_t:
                    raise RangeError(f"{{p}}{path}: {t:g} K is outside {lo_t:g}-{hi_t:g} "
                                     "K; give temperatures in kelvin")
        elif key.endswith("density_g_cm3") and not lo_d <= value <= hi_d:
            raise RangeError(f"{{p}}{path}: {value:g} g/cm³ is outside {lo_d:g}-{hi_d:g} "
                             "g/cm³; give a density in g/cm³ or leave it null (estimated)")
    last_seed = protocol.seed + (protocol.replicas - 1) * REPLICA_SEED_STRIDE
    if not SEED_RANGE[0] <= protocol.seed <= SEED_RANGE[1]:
        raise RangeError(f"{{p}}seed: {protocol.seed} is outside 0-{SEED_RANGE[1]} "
                         "(2**32 - 1); use a seed in that range")
    if last_seed > SEED_RANGE[1]:
        raise RangeError(f"{{p}}seed: {protocol.seed} + {protocol.replicas - 1} (the last "
                         f"replica's seed) is above {SEED_RANGE[1]} (2**32 - 1); use a "
                         "smaller seed")
    temps = list(protocol.anneal_temperatures_K)
    repeated = sorted({t for t in temps if temps.count(t) > 1})
    if repeated:
        listed = ", ".join(f"{t:g}" for t in repeated)
        raise RangeError(f"{{p}}anneal_temperatures_K: {listed} K given more than once; "
                         "list each temperature once")
    runs = {"volume.n_steps": protocol.volume.n_steps, "melt_steps": protocol.melt_steps,
            "anneal_steps": protocol.anneal_steps,
            "max_steps_per_job": protocol.max_steps_per_job}
    cooling = protocol.cooling
    if cooling.method in (CoolingMethod.LINEAR, CoolingMethod.STEPWISE):
        runs["cooling.n_steps"] = cooling.n_steps
    if cooling.method is CoolingMethod.PATH and cooling.glass_temperature_K is not None:
        runs["cooling.glass_steps"] = cooling.glass_steps
    runs = {k: v for k, v in runs.items() if v is not None}
    shortest = min(runs, key=runs.__getitem__)
    for name in ("traj_every", "thermo_every"):
        every = getattr(protocol, name)
        if every > runs[shortest]:
            raise RangeError(
                f"{{p}}{name}: {every} steps is longer than the shortest MD run "
                f"({{p}}{shortest}: {runs[shortest]} steps); use at most {runs[shortest]}"
            )

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

from pydantic import BaseModel, ConfigDict, Field, field_validator

from amorphdb.flows.schedules import cooling_stages, glass_path_stages, volume_scale_factors


class VolumeSettings(BaseModel):
    """Volume equilibration (one per temperature)."""

    model_config = ConfigDict(extra="forbid")

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

    model_config = ConfigDict(extra="forbid")

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

    Every default follows MPMorph (see the module docstring for sources).
    """

    model_config = ConfigDict(extra="forbid")

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
    traj_every: int = Field(10, gt=0, description="steps between stored frames")
    thermo_every: int = Field(10, gt=0, description="steps between thermo samples")
    seed: int = Field(12345, description="seed for packing, velocities, thermostats")
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
        """Short hash of the settings (and engine) that define a result's key."""
        return settings_digest(
            {"protocol": self.model_dump(mode="json"), "engine": engine_dump or {}}
        )


def settings_digest(payload: dict[str, Any]) -> str:
    """Short, order-independent hash of JSON-able settings (document and stage keys)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]

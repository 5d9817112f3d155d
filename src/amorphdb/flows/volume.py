"""Volume equilibration at a temperature: NVT runs at several volumes, P(V) fit, rescale.

The MPMorph scheme (``mpmorph/workflows/converge.py``, atomate2
``EquilibriumVolumeMaker``, public repositories materialsproject/mpmorph and
materialsproject/atomate2):

1. NVT runs at the starting volume × ``scale_factors`` (MPMorph: 0.8, 1.0, 1.2;
   amorphdb's default 0.9, 1.0, 1.1); the pressure of each is its mean over the second
   half of the run.
2. A Birch–Murnaghan P(V) fit (:func:`amorphdb.flows.eos.fit_pv`) of every point so
   far gives V_eq; an NVT run at V_eq checks it.
3. When that run's |P − P_target| < ``pressure_tolerance_kbar`` (5 kbar) the volume is
   equilibrated; otherwise its point is added, the fit is redone and another run
   checks the new V_eq (jobflow ``replace``), up to ``max_iterations`` checks.
   When the budget is spent, ``on_unconverged`` decides: ``"fail"`` (default)
   raises :class:`VolumeConvergenceError`, whose message the campaign's escalation
   recognises (it widens the scan and adds checks on the rerun); ``"flag"`` uses the
   point with the smallest |P| and the result says ``converged = False``. Every point
   is recorded.

The accepted density carries its standard error: from the NPT volume series (block
averages) or, for the P(V) search, σ_ρ/ρ = δP / B0 with δP² = σ_P̄² + (P̄ − P_target)²
(the accepted run's pressure error and offset over the fitted bulk modulus).

With ``method="npt"`` (engines with a barostat) one NPT run replaces the loop: the
mean volume of its second half is taken and the last frame rescaled to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from jobflow import Flow, Maker, Response, job
from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Structure

from amorphdb.engines import Ensemble, MDRunDocument
from amorphdb.errors import EngineError
from amorphdb.flows.eos import fit_pv
from amorphdb.flows.md import MDMaker, MDStageFields, as_structure, stage_fields
from amorphdb.flows.protocol import VolumeSettings

#: the volume search's defaults live in the protocol's settings (one place)
_VOLUME = VolumeSettings.model_fields


class VolumeConvergenceError(EngineError):
    """The volume search spent its checks without reaching the pressure tolerance."""


class VolumePoint(BaseModel):
    """One MD run of the volume search."""

    volume_A3: float
    pressure_kbar: float
    pressure_std_kbar: float = float("nan")
    pressure_sem_kbar: float = float("nan")
    iteration: int
    job_uuid: str = ""


class VolumeResult(BaseModel):
    """Outcome of a volume equilibration.

    ``structure`` and ``velocities_A_per_fs`` are the last frame of the accepted
    run, the starting point of the next stage.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    temperature_K: float
    structure: Structure
    velocities_A_per_fs: list[list[float]] | None = None
    volume_A3: float
    density_g_cm3: float
    density_sem_g_cm3: float = float("nan")
    pressure_kbar: float
    pressure_sem_kbar: float = float("nan")
    converged: bool
    method: str
    fit: dict[str, Any] = Field(default_factory=dict)
    points: list[VolumePoint] = Field(default_factory=list)


def _scaled(structure: Structure | dict, volume_A3: float) -> Structure:
    scaled = as_structure(structure).copy()
    scaled.scale_lattice(float(volume_A3))
    return scaled


@dataclass
class VolumeEquilibrationMaker(MDStageFields, Maker):
    """Equilibrate the volume at ``temperature_K`` (see the module docstring).

    Parameters
    ----------
    name
        Flow name.
    engine, temperature_K, n_steps, traj_every, thermo_every, seed, thermostat, \
thermostat_damping_fs
        The MD runs (:class:`~amorphdb.flows.md.MDStageFields`): ``n_steps`` per volume
        point (MPMorph: 2000).
    pressure_kbar
        Target pressure (kbar): of the P(V) search, and the barostat's with ``npt``.
    scale_factors
        Volume scale factors of the first runs (MPMorph: 0.8, 1.0, 1.2).
    pressure_tolerance_kbar
        Convergence: |P − target| below this (MPMorph: 5 kbar).
    max_iterations
        Checking runs after the first fit before giving up (MPMorph-vc: 9 MD jobs in
        all, i.e. 6 after 3 initial runs).
    method
        ``"eos"`` (NVT runs + fit) or ``"npt"``.
    noise_sigmas
        Also accept a checking run whose |P − target| is below this many standard
        errors of its mean pressure (block averages); 0 keeps MPMorph's plain test.
    on_unconverged
        ``"fail"``: raise :class:`VolumeConvergenceError` when the checks are spent;
        ``"flag"``: accept the best point with ``converged = False``.
    start_density_g_cm3
        Rescale the incoming structure to this density before the first runs (g/cm³).
        Anneal branches start from the melt, whose 5000 K volume is far too large: a
        glass below its spinodal cavitates and holds P ≈ 0 over a range of volumes,
        so the search must start near the expected density.

    ``ensemble`` and ``end_temperature_K`` are set per run (NVT points, or one NPT run).
    """

    name: str = "volume equilibration"
    n_steps: int = _VOLUME["n_steps"].default
    scale_factors: list[float] = field(default_factory=_VOLUME["scale_factors"].default_factory)
    pressure_tolerance_kbar: float = _VOLUME["pressure_tolerance_kbar"].default
    max_iterations: int = _VOLUME["max_iterations"].default
    method: str = "eos"
    noise_sigmas: float = _VOLUME["noise_sigmas"].default
    on_unconverged: str = _VOLUME["on_unconverged"].default
    start_density_g_cm3: float | None = None

    @property
    def target_pressure_kbar(self) -> float:
        """Target pressure of the search (kbar): the stage's ``pressure_kbar``."""
        return self.pressure_kbar

    def md_maker(self, name: str, ensemble: Ensemble = Ensemble.NVT) -> MDMaker:
        """The MD maker of one point (a hold at ``temperature_K``)."""
        stage = {**stage_fields(self), "ensemble": ensemble, "end_temperature_K": None}
        return MDMaker(name=name, **stage)

    def make(self, structure: Structure | dict, velocities_A_per_fs: list | None = None) -> Flow:
        """Flow of the first runs and the fit job whose output is a :class:`VolumeResult`."""
        if self.method == "npt":
            run = self.md_maker(f"npt {self.temperature_K:g} K", Ensemble.NPT).make(
                structure, velocities_A_per_fs
            )
            result = accept_npt(self, run.output, run.uuid)
            return Flow([run, result], output=result.output, name=self.name)
        scan = start_volume_scan(self, structure, velocities_A_per_fs)
        return Flow([scan], output=scan.output, name=self.name)


@job(name="start volume scan")
def start_volume_scan(
    maker: VolumeEquilibrationMaker,
    structure: Structure | dict,
    velocities_A_per_fs: list | None = None,
) -> Response:
    """Replace itself by the first runs (scaled copies of ``structure``) and the fit.

    A job rather than flow-construction code, because the structure is usually the
    output of an earlier job and only known when this runs.
    """
    structure = as_structure(structure)
    if maker.start_density_g_cm3 is not None:
        target_volume = float(structure.volume * structure.density) / maker.start_density_g_cm3
        structure = _scaled(structure, target_volume)
    runs = []
    for i, scale in enumerate(maker.scale_factors):
        run = maker.md_maker(f"volume {scale:.3f} at {maker.temperature_K:g} K").make(
            _scaled(structure, structure.volume * scale), velocities_A_per_fs
        )
        run.metadata["volume_point"] = i
        runs.append(run)
    fit = fit_volume(maker, [_point_ref(run) for run in runs], [], 0)
    return Response(replace=Flow([*runs, fit], output=fit.output))


def _point_ref(run) -> dict[str, Any]:
    """References to what the fit needs from one MD run (resolved by jobflow)."""
    return {
        "volume_A3": run.output.volume_A3,
        "pressure_kbar": run.output.mean_pressure_kbar,
        "pressure_std_kbar": run.output.std_pressure_kbar,
        "pressure_sem_kbar": run.output.sem_pressure_kbar,
        "structure": run.output.structure,
        "velocities": run.output.final_velocities_A_per_fs,
        "job_uuid": run.uuid,
    }


def _result(
    maker: VolumeEquilibrationMaker,
    accepted: dict[str, Any],
    points: list[VolumePoint],
    converged: bool,
    fit: dict[str, Any],
    density_rel_sem: float = float("nan"),
) -> VolumeResult:
    structure = as_structure(accepted["structure"])
    density = float(structure.density)
    return VolumeResult(
        temperature_K=maker.temperature_K,
        structure=structure,
        velocities_A_per_fs=accepted["velocities"],
        volume_A3=float(structure.volume),
        density_g_cm3=density,
        density_sem_g_cm3=density * float(density_rel_sem),
        pressure_kbar=float(accepted["pressure_kbar"]),
        pressure_sem_kbar=float(accepted.get("pressure_sem_kbar", float("nan"))),
        converged=converged,
        method=maker.method,
        fit=fit,
        points=points,
    )


@job(name="fit volume")
def fit_volume(
    maker: VolumeEquilibrationMaker,
    new_points: list[dict[str, Any]],
    history: list[dict[str, Any]],
    iteration: int,
) -> Response:
    """Fit P(V) to every point; accept, or replace itself with one more checking run."""
    points = [*history, *[{**p, "iteration": iteration} for p in new_points]]
    volume_points = [
        VolumePoint(
            volume_A3=p["volume_A3"],
            pressure_kbar=p["pressure_kbar"],
            pressure_std_kbar=p.get("pressure_std_kbar", float("nan")),
            pressure_sem_kbar=p.get("pressure_sem_kbar", float("nan")),
            iteration=p["iteration"],
            job_uuid=p.get("job_uuid", ""),
        )
        for p in points
    ]
    volumes = np.array([p["volume_A3"] for p in points])
    pressures = np.array([p["pressure_kbar"] for p in points])
    pv = fit_pv(volumes, pressures, maker.target_pressure_kbar)
    fit = {"v0_A3": pv.v0_A3, "b0_kbar": pv.b0_kbar, "b0_prime": pv.b0_prime, "method": pv.method}
    deviation = np.abs(pressures - maker.target_pressure_kbar)
    # |P - target| within the tolerance, or (noise_sigmas > 0) within that many standard
    # errors of the mean pressure: hot, small cells cannot resolve 5 kbar in 2000 steps
    sem = np.array([p.get("pressure_sem_kbar", np.nan) for p in points], dtype=float)
    allowed = np.full(len(points), maker.pressure_tolerance_kbar)
    if maker.noise_sigmas > 0:
        allowed = np.fmax(allowed, maker.noise_sigmas * np.nan_to_num(sem, nan=0.0))
    within = deviation < allowed

    def rel_sem(point: dict[str, Any]) -> float:
        # σ_ρ/ρ = σ_V/V = δP / B0, δP combining the pressure's standard error and how far
        # the accepted point is from the target (the tolerance lets it be off by that much)
        b0 = pv.b0_kbar if np.isfinite(pv.b0_kbar) and pv.b0_kbar > 0 else float("nan")
        sem = float(point.get("pressure_sem_kbar", float("nan")))
        off = float(point["pressure_kbar"]) - maker.target_pressure_kbar
        return float(np.hypot(sem, off)) / b0

    if iteration > 0 and within[-1]:
        return Response(
            output=_result(maker, points[-1], volume_points, True, fit, rel_sem(points[-1]))
        )
    if iteration >= maker.max_iterations:
        best = int(np.argmin(deviation))
        converged = bool(within[best])
        if not converged and maker.on_unconverged == "fail":
            raise VolumeConvergenceError(
                f"volume search did not converge at {maker.temperature_K:g} K: best "
                f"|P - target| = {deviation[best]:.1f} kbar > {allowed[best]:.1f} kbar after "
                f"{len(points)} runs; widen volume.scale_factors, raise max_iterations, or "
                "set volume.on_unconverged: flag"
            )
        accepted = points[best]
        return Response(
            output=_result(maker, accepted, volume_points, converged, fit, rel_sem(accepted))
        )
    # next checking run at V_eq, started from the point closest in volume;
    # V_eq is bounded to [0.5, 2] x that volume (MPMorph's sanity limits)
    nearest = points[int(np.argmin(np.abs(volumes - pv.v0_A3)))]
    v_next = float(np.clip(pv.v0_A3, 0.5 * nearest["volume_A3"], 2.0 * nearest["volume_A3"]))
    run = maker.md_maker(
        f"volume check {iteration + 1} at {maker.temperature_K:g} K"
    ).make(_scaled(nearest["structure"], v_next), nearest["velocities"])
    history_out = [{k: v for k, v in p.items()} for p in points]
    refit = fit_volume(maker, [_point_ref(run)], history_out, iteration + 1)
    return Response(replace=Flow([run, refit], output=refit.output))


@job(name="accept npt volume")
def accept_npt(
    maker: VolumeEquilibrationMaker, run: MDRunDocument, job_uuid: str
) -> VolumeResult:
    """Rescale the last NPT frame to the mean volume of the run's second half."""
    mean_volume = run.thermo.second_half_mean("volume_A3")
    volume_sem = run.thermo.second_half_sem("volume_A3")
    structure = _scaled(run.structure, mean_volume)
    point = VolumePoint(
        volume_A3=mean_volume,
        pressure_kbar=run.mean_pressure_kbar,
        pressure_std_kbar=run.std_pressure_kbar,
        pressure_sem_kbar=run.sem_pressure_kbar,
        iteration=0,
        job_uuid=job_uuid,
    )
    accepted = {
        "structure": structure,
        "velocities": run.final_velocities_A_per_fs,
        "pressure_kbar": run.mean_pressure_kbar,
        "pressure_sem_kbar": run.sem_pressure_kbar,
    }
    # the barostat holds the target on average: converged when the mean pressure is
    # within the tolerance, or within noise_sigmas standard errors of it
    allowed = max(
        maker.pressure_tolerance_kbar, maker.noise_sigmas * np.nan_to_num(run.sem_pressure_kbar)
    )
    converged = abs(run.mean_pressure_kbar - maker.target_pressure_kbar) < allowed
    if not converged and maker.on_unconverged == "fail":
        raise VolumeConvergenceError(
            f"NPT volume search did not converge at {maker.temperature_K:g} K: mean P = "
            f"{run.mean_pressure_kbar:.1f} kbar, tolerance {allowed:.1f} kbar; lengthen "
            "volume.n_steps or set volume.on_unconverged: flag"
        )
    return _result(
        maker, accepted, [point], converged, {"method": "npt"}, volume_sem / mean_volume
    )

"""Jobs that turn MD outputs into database documents.

``record_temperature`` analyses one production run (diffusivity of each species,
structure descriptors under ``descriptors.structure``: density, RDF peaks, coordination,
N4, Qn, packing fraction, bond energy, S(q)) and returns an
:class:`~amorphdb.store.schemas.AmorphousDoc`;
``record_arrhenius`` fits D(T) per species and returns
:class:`~amorphdb.store.schemas.ArrheniusDoc` documents. Both are job *outputs*:
the store collects them from the JobStore idempotently
(:meth:`amorphdb.store.AmorphousDB.build_from_job_store`), whatever ran the flow.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from jobflow import job

from amorphdb.analysis import Trajectory, diffusivity
from amorphdb.engines import MDRunDocument
from amorphdb.flows.md import as_structure
from amorphdb.flows.structure_record import structure_record
from amorphdb.store.schemas import (
    AmorphousDoc,
    ArrheniusDoc,
    DiffusionSummary,
    EngineProvenance,
    TrajectoryRef,
)
from amorphdb.store.trajectory import trajectory_from_payload


def diffusion_summaries(
    trajectory: Trajectory, species: list[str] | None = None
) -> dict[str, DiffusionSummary]:
    """D ± σ (cm²/s) of each species of a trajectory, with window and reliability.

    Network formers and anions are always included, with their caging diagnostics
    (``caged``: not yet diffusive, :func:`amorphdb.analysis.relaxation.network_relaxation`).
    """
    from amorphdb.analysis.relaxation import network_relaxation, network_species

    out: dict[str, DiffusionSummary] = {}
    present = sorted(set(trajectory.symbols))
    wanted = list(dict.fromkeys([*(species or present), *network_species(present)]))
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sp in wanted:
            if sp in present:
                results[sp] = diffusivity(trajectory, species=sp)
        network = network_relaxation(trajectory, results).species
    for sp, res in results.items():
        cage = network.get(sp)
        out[sp] = DiffusionSummary(
            D_cm2_s=float(res.D),
            D_std_cm2_s=float(res.D_std),
            fit_window_ps=tuple(float(x) for x in res.fit_window),
            method=str(res.D_std_method),
            reliable=bool(res.reliable),
            reason=str(res.reason or ""),
            caged=None if cage is None else cage.caged,
            msd_end_A2=None if cage is None else cage.msd_end_A2,
            loglog_slope_end=None if cage is None else cage.loglog_slope_end,
            cage_reason=None if cage is None else cage.reason,
        )
    return out


@job(name="record_temperature")
def record_temperature(
    run: MDRunDocument,
    volume: Any,
    production_uuid: str,
    *,
    campaign: str,
    protocol_hash: str,
    stage: str,
    species: list[str] | None = None,
    job_refs: dict[str, str] | None = None,
    replica: int | None = None,
) -> AmorphousDoc:
    """Analyse a production run and return its summary document.

    Parameters
    ----------
    run
        Output of the production MD job (with its trajectory loaded).
    volume
        Output of the volume equilibration before it (points, convergence), or None.
    production_uuid
        uuid of the production job: the trajectory stays in its blob-store entry.
    campaign, protocol_hash, stage
        Key and stage label (``melt`` or ``anneal``).
    species
        Species to analyse (default: all).
    replica
        Index of the independent replica this run belongs to (None: a single run);
        set by :func:`amorphdb.flows.replicas.replicated_flow`.
    """
    structure = as_structure(run.structure)
    trajectory = trajectory_from_payload(run.trajectory)  # either codec
    diffusion = diffusion_summaries(trajectory, species)
    frozen = any(bool(d.caged) for d in diffusion.values())  # formers/anions caged
    descriptors: dict[str, Any] = {"stage": stage}
    if hasattr(volume, "model_dump"):
        volume = volume.model_dump()
    if volume is not None:
        descriptors["volume_equilibration"] = {
            "converged": bool(volume.get("converged", False)),
            "method": volume.get("method"),
            "n_points": len(volume.get("points", [])),
            "pressure_kbar": volume.get("pressure_kbar"),
            "density_g_cm3": volume.get("density_g_cm3"),
            "density_sem_g_cm3": volume.get("density_sem_g_cm3"),
            "fit": volume.get("fit", {}),
        }
    descriptors["mean_temperature_K"] = run.mean_temperature_K
    descriptors["corrections"] = [c.model_dump() for c in run.corrections]
    engine = str(run.engine.value if hasattr(run.engine, "value") else run.engine)
    descriptors["structure"] = structure_record(trajectory, engine, run.potential)
    return AmorphousDoc.from_structure(
        structure,
        campaign=campaign,
        temperature_K=float(run.md.temperature_K),
        protocol_hash=protocol_hash,
        energy_per_atom_eV=float(run.mean_potential_energy_eV_per_atom),
        pressure_mean_kbar=float(run.mean_pressure_kbar),
        pressure_std_kbar=float(run.std_pressure_kbar),
        trajectory=TrajectoryRef(job_uuid=production_uuid, n_frames=run.n_frames),
        job_refs=dict(job_refs or {}),
        diffusion=diffusion,
        regime="glass" if frozen else "melt",
        replica=replica,
        descriptors=descriptors,
        provenance=EngineProvenance(
            engine=str(run.engine.value if hasattr(run.engine, "value") else run.engine),
            version=run.engine_version,
            potential=run.potential,
            timestep_fs=run.md.timestep_fs,
            n_steps=run.md.n_steps,
        ),
    )


@job(name="record_arrhenius")
def record_arrhenius(
    temperatures_K: list[float],
    diffusion: list[dict[str, Any]],
    *,
    formula: str,
    campaign: str,
    protocol_hash: str,
) -> list[ArrheniusDoc]:
    """Fit D(T) = D0 exp(−Ea/kB T) per species and per regime over the anneal temperatures.

    A temperature whose network formers/anions are caged (``caged`` in its diffusion
    summaries) is a *glass* point, otherwise a *melt* point; the two are never fitted
    together (:func:`amorphdb.analysis.regimes.fit_arrhenius_regimes`). Only reliable D
    values enter, weighted by their σ. ``Ea_eV``/``D300_cm2_s`` are the glass regime's
    when it has two or more points (300 K lies below Tg), else the melt regime's;
    ``regimes`` holds both, with the stated and residual-scaled σ, χ²/dof and the VFT
    curvature check. A species with no regime of two usable points gets ``error``.
    """
    from amorphdb.analysis.regimes import fit_arrhenius_regimes
    from amorphdb.analysis.trajectory import json_safe

    def summaries(per_t: dict[str, Any]) -> dict[str, DiffusionSummary]:
        return {
            k: v if isinstance(v, DiffusionSummary) else DiffusionSummary(**v)
            for k, v in per_t.items()
        }

    per_temperature = [summaries(per_t) for per_t in diffusion]
    regime_of = [
        "glass" if any(bool(s.caged) for s in d.values()) else "melt" for d in per_temperature
    ]
    species = sorted({sp for per_t in per_temperature for sp in per_t})
    docs = []
    for sp in species:
        temps, ds, stds, regs = [], [], [], []
        for t, per_t, reg in zip(temperatures_K, per_temperature, regime_of, strict=True):
            summary = per_t.get(sp)
            if summary is not None and summary.reliable and (summary.D_cm2_s or 0) > 0:
                temps.append(float(t))
                ds.append(summary.D_cm2_s)
                stds.append(summary.D_std_cm2_s or np.nan)
                regs.append(reg)
        base = {
            "campaign": campaign,
            "formula": formula,
            "species": sp,
            "protocol_hash": protocol_hash,
            "temperatures_K": temps,
        }
        d_std = None if not np.all(np.isfinite(stds)) or not stds else np.asarray(stds)
        fits = fit_arrhenius_regimes(temps, ds, d_std, regs) if temps else None
        if fits is None or not fits.fits:
            why = "; ".join(f"{k}: {v}" for k, v in (fits.skipped if fits else {}).items())
            docs.append(
                ArrheniusDoc(
                    **base,
                    error=f"{len(temps)} reliable D value(s) ({why or 'none'}); an Arrhenius "
                    "fit needs at least 2 in one regime (glass or melt)",
                )
            )
            continue
        regimes: dict[str, Any] = {k: {"error": v} for k, v in fits.skipped.items()}
        for name, arr in fits.fits.items():
            regimes[name] = {
                "Ea_eV": arr.Ea,
                "Ea_std_eV": arr.Ea_std,
                "Ea_std_scaled_eV": _finite_or_none(arr.Ea_std_scaled),
                "chi2_dof": _finite_or_none(arr.chi2_dof),
                "D0_cm2_s": arr.D0,
                "temperatures_K": arr.temperatures_K,
                "curved": fits.curved(name),
                "vft": fits.as_dict()["vft"].get(name),
            }
        main = "glass" if "glass" in fits.fits else "melt"
        arr = fits.fits[main]
        d300, d300_std = arr.extrapolate(300.0)
        docs.append(
            ArrheniusDoc(
                **base,
                Ea_eV=float(arr.Ea),
                Ea_std_eV=float(arr.Ea_std),
                Ea_std_scaled_eV=_finite_or_none(arr.Ea_std_scaled),  # 2 points: no χ²
                chi2_dof=_finite_or_none(arr.chi2_dof),
                D0_cm2_s=float(arr.D0),
                D300_cm2_s=float(d300),
                D300_std_cm2_s=float(d300_std),
                regime=main,
                curved=fits.curved(main),
                regimes=json_safe(regimes),
            )
        )
    return docs


def _finite_or_none(value: float) -> float | None:
    """A fit statistic as stored: None where it is undefined (NaN: e.g. χ²/dof of a
    two-point fit, which has no degree of freedom), never NaN in a document."""
    return float(value) if np.isfinite(value) else None


def arrhenius_and_output(
    formula: str,
    temperatures_K: list[float],
    melt: Any,
    anneals: list[Any],
    glass: Any,
    **record_kw: Any,
) -> tuple[list[Any], dict[str, Any]]:
    """The ``record_arrhenius`` job over the anneal records and the flow's output dict.

    Shared by the single flow and the replica average (one shape of output:
    ``formula``, ``melt``, ``anneals``, ``glass``, ``arrhenius``). ``melt``, ``anneals``
    and ``glass`` are record jobs (``glass`` may be None); a glass-only flow (no anneal
    temperatures) has no Arrhenius fit.

    Returns
    -------
    (list, dict)
        The jobs to add (the fit, or none) and the output dict.
    """
    jobs: list[Any] = []
    arrhenius = None
    if anneals:
        arrhenius = record_arrhenius(
            list(temperatures_K), [a.output.diffusion for a in anneals], formula=formula,
            **record_kw,
        )
        jobs.append(arrhenius)
    output = {
        "formula": formula,
        "melt": melt.output,
        "anneals": [a.output for a in anneals],
        "glass": None if glass is None else glass.output,
        "arrhenius": None if arrhenius is None else arrhenius.output,
    }
    return jobs, output

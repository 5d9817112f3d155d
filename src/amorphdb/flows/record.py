"""Jobs that turn MD outputs into database documents.

``record_temperature`` analyses one production run (diffusivity of each species,
density, coordination) and returns an :class:`~amorphdb.store.schemas.AmorphousDoc`;
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
    """D ± σ (cm²/s) of each species of a trajectory, with window and reliability."""
    out: dict[str, DiffusionSummary] = {}
    present = sorted(set(trajectory.symbols))
    for sp in species or present:
        if sp not in present:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = diffusivity(trajectory, species=sp)
        out[sp] = DiffusionSummary(
            D_cm2_s=float(res.D),
            D_std_cm2_s=float(res.D_std),
            fit_window_ps=tuple(float(x) for x in res.fit_window),
            method=str(getattr(res, "method", "")),
            reliable=bool(getattr(res, "reliable", True)),
            reason=str(getattr(res, "reason", "") or ""),
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
    """
    structure = as_structure(run.structure)
    trajectory = trajectory_from_payload(run.trajectory)  # either codec
    diffusion = diffusion_summaries(trajectory, species)
    descriptors: dict[str, Any] = {"stage": stage}
    if hasattr(volume, "model_dump"):
        volume = volume.model_dump()
    if volume is not None:
        descriptors["volume_equilibration"] = {
            "converged": bool(volume.get("converged", False)),
            "method": volume.get("method"),
            "n_points": len(volume.get("points", [])),
            "pressure_kbar": volume.get("pressure_kbar"),
            "fit": volume.get("fit", {}),
        }
    descriptors["mean_temperature_K"] = run.mean_temperature_K
    descriptors["corrections"] = [c.model_dump() for c in run.corrections]
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
    """Fit D(T) = D0 exp(−Ea/kB T) per species over the anneal temperatures.

    Only reliable D values enter the fit, weighted by their σ; a species with fewer
    than two usable temperatures gets a document with ``error`` set and no Ea.
    """
    from amorphdb.analysis import fit_arrhenius

    species = sorted({sp for per_t in diffusion for sp in per_t})
    docs = []
    for sp in species:
        temps, ds, stds = [], [], []
        for t, per_t in zip(temperatures_K, diffusion, strict=True):
            summary = per_t.get(sp)
            if summary is None:
                continue
            if isinstance(summary, dict):
                summary = DiffusionSummary(**summary)
            if summary.reliable and summary.D_cm2_s and summary.D_cm2_s > 0:
                temps.append(float(t))
                ds.append(summary.D_cm2_s)
                stds.append(summary.D_std_cm2_s or np.nan)
        base = {
            "campaign": campaign,
            "formula": formula,
            "species": sp,
            "protocol_hash": protocol_hash,
            "temperatures_K": temps,
        }
        if len(temps) < 2:
            docs.append(
                ArrheniusDoc(
                    **base,
                    error=f"{len(temps)} reliable D value(s); an Arrhenius fit needs at least 2",
                )
            )
            continue
        d_std = None if not np.all(np.isfinite(stds)) else np.asarray(stds)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = fit_arrhenius(np.asarray(temps), np.asarray(ds), d_std)
            d300, d300_std = arr.extrapolate(300.0)
        docs.append(
            ArrheniusDoc(
                **base,
                Ea_eV=float(arr.Ea),
                Ea_std_eV=None if arr.Ea_std is None else float(arr.Ea_std),
                D0_cm2_s=float(arr.D0),
                D300_cm2_s=float(d300),
                D300_std_cm2_s=None if d300_std is None else float(d300_std),
            )
        )
    return docs

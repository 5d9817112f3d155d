"""Independent replicas of a composition and their average.

``protocol.replicas = n`` runs the whole protocol ``n`` times, replica ``i`` with seed
``seed + i`` (:meth:`~amorphdb.flows.protocol.ProtocolSettings.replica`: its own random
packing, initial velocities and thermostat noise), each recorded as usual with
``replica = i`` in its summaries. Per temperature, one more summary holds the replica
average (``replica = None``, ``replicas = n``, key: the protocol hash with ``n``): the
mean density, energy, pressure and D of every species, and in ``replica_spread`` the
spread across replicas (standard deviation, standard error of the mean), the stated
σ propagated to the mean, and a flag when the replicas disagree beyond their stated σ
(:func:`replica_statistics`). The Arrhenius fit of the composition is made on the
replica means (:func:`amorphdb.flows.record.record_arrhenius`, the same fit).

Each replica's stages carry their own resume keys (the seed is part of them), so a rerun
after a failure reuses every finished stage of every replica
(:func:`amorphdb.flows.resume.find_resume_point`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from jobflow import Flow, job

from amorphdb.flows.record import arrhenius_and_output
from amorphdb.store.schemas import AmorphousDoc, DiffusionSummary

#: replicas disagree when the χ² test of their values against their stated σ gives a
#: p-value below this
DISAGREEMENT_P = 0.05
#: per-replica Arrhenius jobs are renamed so the store collects only the average's fit
#: (Arrhenius documents are keyed by campaign, formula and species)
REPLICA_ARRHENIUS_JOB = "record_arrhenius_replica"


@dataclass(frozen=True)
class ReplicaStats:
    """One quantity over independent replicas (same unit as the values).

    Attributes
    ----------
    n
        Number of replicas averaged.
    mean
        Arithmetic mean of the replica values.
    std
        Sample standard deviation across replicas (n − 1 in the denominator; NaN for n = 1).
    sem
        Standard error of the mean from that spread, ``std / sqrt(n)``.
    stated_sem
        The replicas' own σ propagated to the mean, ``sqrt(Σ σᵢ²) / n`` (None when a
        replica has no σ).
    sigma
        σ reported for the mean: the larger of ``sem`` and ``stated_sem``.
    chi2_dof
        Birge ratio squared: ``Σ (xᵢ − x̄_w)² / σᵢ² / (n − 1)`` about the inverse-variance
        weighted mean ``x̄_w`` (None without σ or for n = 1).
    p_value
        Probability of a χ² at least this large with n − 1 degrees of freedom when the
        replicas agree within their σ.
    inconsistent
        ``p_value < DISAGREEMENT_P``: the replicas disagree beyond their stated σ (None
        when it cannot be tested).
    """

    n: int
    mean: float
    std: float
    sem: float
    stated_sem: float | None
    sigma: float
    chi2_dof: float | None
    p_value: float | None
    inconsistent: bool | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe fields (NaN → None)."""
        out = dataclasses.asdict(self)
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v
                for k, v in out.items()}


def replica_statistics(values: list[float], sigmas: list[float | None] | None = None
                       ) -> ReplicaStats:
    """Mean and spread of one quantity over independent replicas.

    The consistency test is the χ² test of a common value (weighted mean, n − 1
    degrees of freedom); ``sqrt(chi2_dof)`` is the Birge ratio / the Particle Data
    Group's scale factor S (R. T. Birge, Phys. Rev. 40, 207 (1932); PDG, Review of
    Particle Physics, Introduction §5.2, doi:10.1093/ptep/ptac097).

    Parameters
    ----------
    values
        One value per replica.
    sigmas
        Each replica's stated σ (same unit), or None when unknown.

    Returns
    -------
    ReplicaStats
    """
    from scipy.stats import chi2

    x = np.asarray(values, float)
    n = len(x)
    if n == 0:
        raise ValueError("no replica values to average")
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if n > 1 else float("nan")
    sem = std / math.sqrt(n) if n > 1 else float("nan")
    known = sigmas is not None and all(s is not None and math.isfinite(s) and s > 0
                                       for s in sigmas)
    stated_sem = chi2_dof = p_value = inconsistent = None
    if known:
        s = np.asarray(sigmas, float)
        stated_sem = float(math.sqrt(float(np.sum(s**2))) / n)
        if n > 1:
            w = 1.0 / s**2
            weighted = float(np.sum(w * x) / np.sum(w))
            chi2_value = float(np.sum(((x - weighted) / s) ** 2))
            chi2_dof = chi2_value / (n - 1)
            p_value = float(chi2.sf(chi2_value, n - 1))
            inconsistent = p_value < DISAGREEMENT_P
    candidates = [v for v in (sem, stated_sem) if v is not None and math.isfinite(v)]
    sigma = max(candidates) if candidates else float("nan")
    return ReplicaStats(n, mean, std, sem, stated_sem, sigma, chi2_dof, p_value, inconsistent)


def _mean_tree(values: list[Any]) -> Any:
    """Element-wise mean of equally shaped nested data (numbers averaged, dict keys and
    list positions shared by every replica kept); anything else: the first replica's."""
    first = values[0]
    if all(isinstance(v, dict) for v in values):
        keys = [k for k in first if all(k in v for v in values)]
        return {k: _mean_tree([v[k] for v in values]) for k in keys}
    if all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
        return [_mean_tree([v[i] for v in values]) for i in range(len(first))]
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if numbers and all(math.isfinite(v) for v in values):
        return float(np.mean(values))
    return first


def _density_sigma(doc: AmorphousDoc) -> float | None:
    value = (doc.descriptors.get("volume_equilibration") or {}).get("density_sem_g_cm3")
    return None if value is None or not math.isfinite(value) else float(value)


def _average_diffusion(
    docs: list[AmorphousDoc],
) -> tuple[dict[str, DiffusionSummary], dict[str, dict[str, Any]]]:
    """Mean D per species over the replicas with a reliable D (all replicas when none
    is), with σ of the mean; and each species' :class:`ReplicaStats`."""
    species = sorted({sp for d in docs for sp in d.diffusion})
    out, spread = {}, {}
    for sp in species:
        runs = [d.diffusion[sp] for d in docs if d.diffusion.get(sp) is not None
                and d.diffusion[sp].D_cm2_s is not None]
        if not runs:
            continue
        good = [r for r in runs if r.reliable]
        used = good or runs
        stats = replica_statistics([r.D_cm2_s for r in used], [r.D_std_cm2_s for r in used])
        caged = [r.caged for r in used if r.caged is not None]
        reasons = []
        if len(used) < len(docs):
            reasons.append(f"{len(docs) - len(used)} of {len(docs)} replicas left out "
                           "(no or unreliable D)")
        if not good:
            reasons.append("no replica reliable: " + "; ".join(r.reason for r in runs))
        if stats.inconsistent:
            reasons.append(f"replicas disagree beyond their σ (χ²/dof {stats.chi2_dof:.1f})")
        starts = [r.fit_window_ps[0] for r in used if r.fit_window_ps]
        ends = [r.fit_window_ps[1] for r in used if r.fit_window_ps]
        slopes = [r.loglog_slope_end for r in used if r.loglog_slope_end is not None]
        msds = [r.msd_end_A2 for r in used if r.msd_end_A2 is not None]
        out[sp] = DiffusionSummary(
            D_cm2_s=stats.mean,
            D_std_cm2_s=stats.sigma if math.isfinite(stats.sigma) else None,
            fit_window_ps=(max(starts), min(ends)) if starts and ends else None,
            method=f"mean of {stats.n} replicas; σ = max(SEM of replicas, stated σ of mean)",
            reliable=bool(good),
            reason="; ".join(reasons),
            caged=any(caged) if caged else None,
            msd_end_A2=float(np.mean(msds)) if msds else None,
            loglog_slope_end=float(np.mean(slopes)) if slopes else None,
            cage_reason=next((r.cage_reason for r in used if r.caged), None),
        )
        spread[sp] = stats.as_dict()
    return out, spread


def average_replicas(docs: list[AmorphousDoc | dict[str, Any]], protocol_hash: str
                     ) -> AmorphousDoc:
    """The replica average of one composition at one temperature (pure function).

    Parameters
    ----------
    docs
        The replicas' summaries at this temperature (same campaign, formula, stage).
    protocol_hash
        Key of the average (the protocol hash with the number of replicas).

    Returns
    -------
    AmorphousDoc
        ``replica = None``, ``replicas = n``; density, volume/atom, energy, pressure and
        the structure descriptors averaged; D per species as in
        :func:`_average_diffusion`; ``replica_spread`` with the statistics of density
        (g/cm³) and of D (cm²/s) per species; no structure or trajectory of its own
        (``job_refs`` names each replica's production job).
    """
    docs = [d if isinstance(d, AmorphousDoc) else AmorphousDoc.model_validate(d)
            for d in docs]
    first = docs[0]
    density = replica_statistics([d.density_g_cm3 for d in docs],
                                 [_density_sigma(d) for d in docs])
    diffusion, d_spread = _average_diffusion(docs)
    caged = any(bool(s.caged) for s in diffusion.values())
    volume_eq = [d.descriptors.get("volume_equilibration") for d in docs]
    descriptors: dict[str, Any] = {
        "stage": first.descriptors.get("stage"),
        "mean_temperature_K": _mean_tree([d.descriptors.get("mean_temperature_K")
                                          for d in docs]),
        "structure": _mean_tree([d.descriptors.get("structure") or {} for d in docs]),
    }
    if all(v is not None for v in volume_eq):
        descriptors["volume_equilibration"] = {
            "converged": all(bool(v.get("converged")) for v in volume_eq),
            "density_g_cm3": density.mean,
            "density_sem_g_cm3": density.sigma if math.isfinite(density.sigma) else None,
        }

    def mean_of(name: str) -> float | None:
        values = [getattr(d, name) for d in docs]
        return None if any(v is None for v in values) else float(np.mean(values))

    return AmorphousDoc(
        campaign=first.campaign,
        formula=first.formula,
        temperature_K=first.temperature_K,
        protocol_hash=protocol_hash,
        nsites=first.nsites,
        density_g_cm3=density.mean,
        volume_per_atom_A3=mean_of("volume_per_atom_A3"),
        energy_per_atom_eV=mean_of("energy_per_atom_eV"),
        pressure_mean_kbar=mean_of("pressure_mean_kbar"),
        pressure_std_kbar=mean_of("pressure_std_kbar"),
        job_refs={f"replica {d.replica if d.replica is not None else i}":
                  (d.trajectory.job_uuid if d.trajectory else "") for i, d in enumerate(docs)},
        diffusion=diffusion,
        regime="glass" if caged else "melt",
        replica=None,
        replicas=len(docs),
        replica_spread={"density_g_cm3": density.as_dict(), "D_cm2_s": d_spread},
        descriptors=descriptors,
        provenance=first.provenance,
    )


@job(name="record_temperature")  # the store collects it like every summary
def record_replica_average(docs: list[Any], *, protocol_hash: str) -> AmorphousDoc:
    """Job of :func:`average_replicas` over the replicas' ``record_temperature`` outputs."""
    return average_replicas([_as_dict(d) for d in docs], protocol_hash)


def _as_dict(doc: Any) -> Any:
    return doc.model_dump() if hasattr(doc, "model_dump") else doc


def replicated_flow(maker: Any, formula: Any, resume: Any = None) -> Flow:
    """The protocol of ``maker`` run ``maker.protocol.replicas`` times, and the average.

    Parameters
    ----------
    maker
        A :class:`~amorphdb.flows.melt_quench.MeltQuenchMaker` with ``replicas > 1``.
    formula
        Composition (or starting structure: then every replica starts from it, and
        only velocities and thermostats differ).
    resume
        :class:`~amorphdb.flows.resume.ReplicatedResumePoint` (or a plain
        ``ResumePoint``, taken as replica 0's) of an earlier attempt, or None.

    Returns
    -------
    Flow
        One sub-flow per replica (``maker`` with ``replicas = 1`` and seed ``seed + i``),
        a ``record_temperature`` job per temperature with the average, and
        ``record_arrhenius`` on the replica means. Output: as the single flow's
        (``formula``, ``melt``, ``anneals``, ``glass``, ``arrhenius``: the averages) plus
        ``replicas`` (each replica's flow output).
    """
    p = maker.protocol
    n = p.replicas
    points = _replica_points(resume)
    subflows = []
    for i in range(n):
        replica_maker = dataclasses.replace(maker, name=f"{maker.name} replica {i}",
                                            protocol=p.replica(i))
        sub = replica_maker.make(formula, resume=points.get(i))
        sub.update_kwargs({"replica": i}, name_filter="record_temperature")
        for job_, _ in sub.iterflow():
            if job_.name == "record_arrhenius":
                job_.name = REPLICA_ARRHENIUS_JOB
        subflows.append(sub)
    name = subflows[0].output["formula"]
    phash = maker.protocol_hash()
    outputs = [s.output for s in subflows]
    jobs: list[Any] = list(subflows)

    def average(refs: list[Any]) -> Any:
        avg = record_replica_average(refs, protocol_hash=phash)
        jobs.append(avg)
        return avg

    melt = average([o["melt"] for o in outputs])
    anneals = [average([o["anneals"][k] for o in outputs])
               for k in range(len(p.anneal_temperatures_K))]
    glass = None if outputs[0]["glass"] is None else average([o["glass"] for o in outputs])
    fit, output = arrhenius_and_output(
        name, p.anneal_temperatures_K, melt, anneals, glass,
        campaign=maker.campaign, protocol_hash=phash,
    )
    return Flow(jobs + fit, output={**output, "replicas": outputs},
                name=f"{maker.name} {name} x{n} replicas")


def _replica_points(resume: Any) -> dict[int, Any]:
    """Resume point of each replica (index → point) from what ``make`` was given."""
    if resume is None:
        return {}
    replicas = getattr(resume, "replicas", None)
    return dict(replicas) if replicas is not None else {0: resume}

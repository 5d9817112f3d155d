"""Resume a composition's protocol from the stages an earlier attempt completed.

Every production job of :class:`~amorphdb.flows.melt_quench.MeltQuenchMaker` carries
``metadata["amorphdb"]``: campaign, formula, stage (``melt`` or ``anneal``), temperature,
the uuid of the volume equilibration it started from, and a *stage key*. jobflow writes
a job's metadata into its JobStore document when the job completes, so the documents of
a failed attempt tell which stages finished. A rerun then builds a flow that refers to
those outputs (jobflow external references) instead of running them again, and runs
only what is missing: the record jobs (cheap) and the unfinished stages.

A completed stage is reused when the rerun keeps the settings that define it — engine,
potential, cell size, starting density, seed, temperatures and step counts — which is
what the stage key hashes. The time step and the volume-search settings are left out on
purpose: they are what :mod:`amorphdb.campaign.escalation` changes after an unstable run
or an unconverged equation of state, and a stage that completed with the old values is
still a valid stage. Each run document keeps the settings it actually ran with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from amorphdb.engines import EngineSpec
from amorphdb.flows.protocol import CoolingMethod, ProtocolSettings, settings_digest

#: metadata key of amorphdb's stage tags on jobs
META_KEY = "amorphdb"
#: engine settings that do not define a stage (escalation and bookkeeping only)
_ENGINE_SETTINGS_IGNORED = {"recovery", "stage"}
#: protocol fields that define the pack + melt stages
_MELT_FIELDS = (
    "target_atoms",
    "density_g_cm3",
    "packing_tolerance_A",
    "seed",
    "melt_temperature_K",
    "melt_steps",
    "traj_every",
    "thermo_every",
)
#: protocol fields that, with the melt's, define one anneal stage
_ANNEAL_FIELDS = ("anneal_steps", "anneal_start_density_g_cm3", "cooling")


def _engine_identity(engine: EngineSpec) -> dict[str, Any]:
    data = engine.model_dump(mode="json")
    settings = {
        k: v for k, v in data.get("settings", {}).items() if k not in _ENGINE_SETTINGS_IGNORED
    }
    return {"name": data["name"], "potential": data.get("potential"), "settings": settings}


def melt_key(formula: str, engine: EngineSpec, protocol: ProtocolSettings) -> str:
    """Key of the pack + melt stages of ``formula`` (see module doc for what it covers)."""
    p = protocol.model_dump(mode="json")
    return settings_digest(
        {"formula": formula, "engine": _engine_identity(engine), **{k: p[k] for k in _MELT_FIELDS}}
    )


def anneal_key(
    formula: str, engine: EngineSpec, protocol: ProtocolSettings, temperature_K: float
) -> str:
    """Key of one anneal stage: the melt's key plus the anneal settings and temperature."""
    p = protocol.model_dump(mode="json")
    return settings_digest(
        {
            "melt": melt_key(formula, engine, protocol),
            "temperature_K": float(temperature_K),
            **{k: p[k] for k in _ANNEAL_FIELDS},
        }
    )


def stage_tag(
    campaign: str,
    formula: str,
    stage: str,
    key: str,
    temperature_K: float,
    volume_uuid: str,
    melt_uuid: str | None = None,
) -> dict[str, Any]:
    """The ``metadata["amorphdb"]`` tag of a production job."""
    return {
        "campaign": campaign,
        "formula": formula,
        "stage": stage,
        "key": key,
        "temperature_K": float(temperature_K),
        "volume_uuid": volume_uuid,
        "melt_uuid": melt_uuid,
    }


@dataclass(frozen=True)
class StageOutputs:
    """uuids of a completed stage's production job and of the volume result it used."""

    production_uuid: str
    volume_uuid: str


@dataclass
class ResumePoint:
    """Completed stages of an earlier attempt that a new flow reuses.

    Parameters
    ----------
    melt
        The completed melt (pack, volume equilibration and production are skipped).
    anneals
        Completed anneal stages of that melt, by temperature (K).
    needed_uuids
        Every job whose documents the reused outputs resolve through (a volume result
        is reached through the jobs its search replaced itself with).
    """

    melt: StageOutputs
    anneals: dict[float, StageOutputs] = field(default_factory=dict)
    needed_uuids: set[str] = field(default_factory=set)

    def describe(self) -> str:
        """Short text for logs and attempt records, e.g. ``melt, anneal 1000 K``."""
        return ", ".join(["melt", *(f"anneal {t:g} K" for t in sorted(self.anneals))])


def resolvable_uuids(docs_store: Any, uuid: str) -> set[str] | None:
    """The jobs ``uuid``'s output resolves through, or None if one has not completed.

    A job that replaced itself (the volume search) stores, at its last index, a
    reference to the output of the flow that replaced it; this follows such
    references down to concrete outputs.
    """
    from jobflow.core.reference import find_and_get_references

    needed: set[str] = set()
    todo = [uuid]
    while todo:
        current = todo.pop()
        if current in needed:
            continue
        doc = docs_store.query_one(
            {"uuid": current}, properties=["output"], sort={"index": -1}
        )
        if doc is None:
            return None
        needed.add(current)
        todo += [ref.uuid for ref in find_and_get_references(doc.get("output"))]
    return needed


def _completed_stage(docs_store: Any, production_uuid: str, volume_uuid: str) -> set[str] | None:
    """Jobs a stage's run and volume result resolve through; None if either is unfinished."""
    run = resolvable_uuids(docs_store, production_uuid)
    volume = resolvable_uuids(docs_store, volume_uuid)
    return None if run is None or volume is None else run | volume


@dataclass
class ReplicatedResumePoint:
    """Completed stages of each independent replica (``protocol.replicas > 1``).

    Parameters
    ----------
    replicas
        Replica index → its :class:`ResumePoint` (replicas with nothing to reuse are
        absent and run in full).
    """

    replicas: dict[int, ResumePoint] = field(default_factory=dict)

    @property
    def needed_uuids(self) -> set[str]:
        """Every job the reused outputs of all replicas resolve through."""
        return set().union(*(p.needed_uuids for p in self.replicas.values()))

    def describe(self) -> str:
        """Short text, e.g. ``replica 0: melt, anneal 1000 K; replica 1: melt``."""
        return "; ".join(f"replica {i}: {p.describe()}" for i, p in sorted(self.replicas.items()))


def find_resume_point(
    docs_store: Any,
    campaign: str,
    formula: str,
    engine: EngineSpec,
    protocol: ProtocolSettings,
) -> ResumePoint | ReplicatedResumePoint | None:
    """The latest completed melt of ``formula`` with the same stage key, and its anneals.

    With ``protocol.replicas > 1`` each replica is looked up with its own settings
    (:meth:`~amorphdb.flows.protocol.ProtocolSettings.replica`: its seed is part of its
    stage keys) and the answer is a :class:`ReplicatedResumePoint`.

    Parameters
    ----------
    docs_store
        The JobStore's documents store (any maggma store: embedded or MongoDB).
    campaign, formula
        Which composition (reduced formula as the flow names it).
    engine, protocol
        The settings of the new attempt; stages are reused only when their key matches.

    Returns
    -------
    ResumePoint, ReplicatedResumePoint or None
        None when no melt of this composition (of any replica) completed with matching
        settings.
    """
    if protocol.replicas > 1:
        points = {
            i: point for i in range(protocol.replicas)
            if (point := _find_single(docs_store, campaign, formula, engine,
                                      protocol.replica(i))) is not None
        }
        return ReplicatedResumePoint(points) if points else None
    return _find_single(docs_store, campaign, formula, engine, protocol)


def _find_single(
    docs_store: Any,
    campaign: str,
    formula: str,
    engine: EngineSpec,
    protocol: ProtocolSettings,
) -> ResumePoint | None:
    """:func:`find_resume_point` of one replica."""
    base = {f"metadata.{META_KEY}.campaign": campaign, f"metadata.{META_KEY}.formula": formula}
    melts = docs_store.query(
        {**base, f"metadata.{META_KEY}.stage": "melt",
         f"metadata.{META_KEY}.key": melt_key(formula, engine, protocol)},
        properties=["uuid", "metadata", "completed_at"],
        sort={"completed_at": -1},
    )
    temperatures = list(protocol.anneal_temperatures_K)
    glass = protocol.cooling.glass_temperature_K
    if protocol.cooling.method is CoolingMethod.PATH and glass is not None:
        temperatures.append(glass)  # the glass point is tagged as an anneal stage
    wanted = {anneal_key(formula, engine, protocol, t): float(t) for t in temperatures}
    for melt in melts:
        tag = melt["metadata"][META_KEY]
        needed = _completed_stage(docs_store, melt["uuid"], tag["volume_uuid"])
        if needed is None:
            continue
        point = ResumePoint(StageOutputs(melt["uuid"], tag["volume_uuid"]), needed_uuids=needed)
        anneals = docs_store.query(
            {**base, f"metadata.{META_KEY}.stage": "anneal",
             f"metadata.{META_KEY}.melt_uuid": melt["uuid"]},
            properties=["uuid", "metadata"],
        )
        for anneal in anneals:
            atag = anneal["metadata"][META_KEY]
            temperature = wanted.get(atag["key"])
            if temperature is None or temperature in point.anneals:
                continue
            needed = _completed_stage(docs_store, anneal["uuid"], atag["volume_uuid"])
            if needed is not None:
                point.anneals[temperature] = StageOutputs(anneal["uuid"], atag["volume_uuid"])
                point.needed_uuids |= needed
        return point
    return None

"""Document schemas of the amorphdb database (pydantic, versioned by ``schema_version``).

Three collections sit beside the jobflow job outputs:

* ``amorphous`` — :class:`AmorphousDoc`, one per (campaign, reduced formula, temperature,
  protocol hash): density, energy, pressure, final structure, diffusion per species,
  descriptors, engine provenance, and *references* to the trajectory (in the blob store)
  and to the jobflow job outputs. Summaries stay small: no trajectory inside.
* ``arrhenius`` — :class:`ArrheniusDoc`, one per (campaign, reduced formula, species).
* ``campaigns`` — :class:`CampaignDoc`, one per (campaign, reduced formula): state and the
  list of attempts (settings, errors, timestamps).

Each document's ``_id`` is its key string (:meth:`key`), so uniqueness holds on every
back end, including montydb which has no secondary unique indexes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:  # pymatgen is imported where structures are built (light store import)
    from pymatgen.core import Composition, Structure

#: bump when a stored field changes meaning; readers accept older versions explicitly
SCHEMA_VERSION = 1


def utcnow() -> datetime:
    """Current time in UTC (timezone-aware)."""
    return datetime.now(UTC)


class ResultState(StrEnum):
    """State of a result (amorphous/arrhenius) or of a campaign composition."""

    WAITING = "waiting"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


def parse_formula(formula: str) -> Composition:
    """Parse a formula with the project's one parser (:func:`amorphdb.structure.parse_composition`).

    ``Li2O.2SiO2``, ``Li2O·2SiO2``, ``(Li2O)(SiO2)2`` and ``Li2Si2O5`` are one formula
    (pymatgen's ``Composition`` alone reads ``Li2O.2SiO2`` as ``Li2 O2.2 Si``).
    Raises :class:`CompositionError` (one line) on a bad formula.
    """
    from amorphdb.structure.compositions import parse_composition

    return parse_composition(formula)


def reduced_formula(formula: str) -> str:
    """Reduced formula used as the database key (e.g. ``Li2Si2O5``)."""
    from amorphdb.structure.compositions import formula_string

    return formula_string(parse_formula(formula))


def chemsys_of(elements: list[str] | str) -> str:
    """Chemical system string: sorted element symbols joined by ``-`` (``B-Li-O``)."""
    if isinstance(elements, str):
        elements = [e for e in elements.replace(",", "-").split("-") if e]
    return "-".join(sorted(set(elements)))


def key_temperature(temperature_K: float) -> str:
    """Temperature in keys: integer K when integral (``1000``), else 3 decimals."""
    return f"{temperature_K:.0f}" if float(temperature_K).is_integer() else f"{temperature_K:.3f}"


class DiffusionSummary(BaseModel):
    """Diffusivity of one species at one temperature.

    Parameters
    ----------
    D_cm2_s, D_std_cm2_s
        Tracer diffusivity and its uncertainty (cm²/s).
    fit_window_ps
        (start, end) of the diffusive MSD window used in the fit (ps).
    method
        Estimator, e.g. ``"msd-ols+block"``.
    reliable
        False when the window is too short / not diffusive; ``reason`` says why.
    caged, msd_end_A2, loglog_slope_end, cage_reason
        Network formers and anions only: True when the species has not left the
        caging regime (MSD < r_nn² or log-log slope < 0.8 at the end of the lags;
        ``amorphdb.analysis.relaxation``), the MSD there (Å²), the slope, and why.
    """

    model_config = ConfigDict(extra="allow")

    D_cm2_s: float | None = None
    D_std_cm2_s: float | None = None
    fit_window_ps: tuple[float, float] | None = None
    method: str = ""
    reliable: bool = True
    reason: str = ""
    caged: bool | None = None
    msd_end_A2: float | None = None
    loglog_slope_end: float | None = None
    cage_reason: str | None = None


class EngineProvenance(BaseModel):
    """Which engine produced a result and with which settings."""

    model_config = ConfigDict(extra="allow")

    engine: str
    version: str = ""
    potential: str = ""
    timestep_fs: float | None = None
    n_steps: int | None = None


class TrajectoryRef(BaseModel):
    """Where a trajectory lives: the output of job ``job_uuid`` under ``key`` (blob store)."""

    job_uuid: str
    job_index: int | None = Field(None, description="None: the latest run of the job")
    key: str = "trajectory"
    store: str = "data"
    n_frames: int | None = None
    stride: int = 1


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    collection: ClassVar[str] = ""
    #: fields making up the key (order matters for the key string)
    key_fields: ClassVar[tuple[str, ...]] = ()

    schema_version: int = SCHEMA_VERSION
    campaign: str
    formula: str
    formula_reduced: str = ""
    state: ResultState = ResultState.COMPLETED
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @field_validator("campaign")
    @classmethod
    def _nonempty_campaign(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("campaign must be a non-empty name")
        return value

    @model_validator(mode="before")
    @classmethod
    def _fill_formula(cls, data: Any) -> Any:
        if isinstance(data, dict):
            # drop the store's _id and monty's @module/@class/@version (jobflow outputs)
            data = {
                k: v
                for k, v in data.items()
                if k not in ("_id", "checksum") and not k.startswith("@")
            }
            if data.get("formula") and not data.get("formula_reduced"):
                data["formula_reduced"] = reduced_formula(str(data["formula"]))
            # jobflow's reference resolution decodes nested MSONables (the final
            # structure) before validation: store them back as plain dicts
            if hasattr(data.get("structure"), "as_dict"):
                data["structure"] = data["structure"].as_dict()
        return data

    def key(self) -> str:
        """Unique key string, also used as the document ``_id``."""
        parts = []
        for name in self.key_fields:
            value = getattr(self, name)
            parts.append(key_temperature(value) if name == "temperature_K" else str(value))
        return "|".join(parts)

    def to_mongo(self) -> dict[str, Any]:
        """JSON/BSON-ready dict with ``_id`` = :meth:`key` (datetimes stay datetimes)."""
        data = self.model_dump(mode="python")
        data = _to_bson_ready(data)
        data["_id"] = self.key()
        return data

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]):
        """Rebuild from a stored document (ignores ``_id``)."""
        return cls.model_validate(doc)


def _to_bson_ready(value: Any) -> Any:
    """Enums → str, tuples → lists, recursively (pymongo's BSON needs plain types)."""
    if isinstance(value, dict):
        return {str(k): _to_bson_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_bson_ready(v) for v in value]
    if isinstance(value, StrEnum):
        return str(value)
    return value


class AmorphousDoc(_Doc):
    """Summary of one composition at one temperature of one campaign.

    Keyed by (campaign, formula_reduced, temperature_K, protocol_hash). Trajectories are
    never inside: ``trajectory`` references the blob-store entry.
    """

    collection: ClassVar[str] = "amorphous"
    key_fields: ClassVar[tuple[str, ...]] = (
        "campaign",
        "formula_reduced",
        "temperature_K",
        "protocol_hash",
    )

    protocol_hash: str = ""
    chemsys: str = ""
    elements: list[str] = Field(default_factory=list)
    nelements: int = 0
    nsites: int = 0
    temperature_K: float = Field(gt=0)
    density_g_cm3: float | None = None
    volume_per_atom_A3: float | None = None
    energy_per_atom_eV: float | None = None
    pressure_mean_kbar: float | None = None
    pressure_std_kbar: float | None = None
    structure: dict[str, Any] | None = Field(
        None,
        description="final structure, pymatgen Structure.as_dict(); stored in the "
        "'structures' collection (see structure_id), loaded on request",
    )
    structure_id: str | None = Field(
        None, description="_id of the final structure in the 'structures' collection"
    )
    trajectory: TrajectoryRef | None = None
    job_refs: dict[str, str] = Field(
        default_factory=dict, description="step name -> jobflow job uuid"
    )
    diffusion: dict[str, DiffusionSummary] = Field(default_factory=dict)
    regime: str | None = Field(
        None,
        description="'glass': network formers/anions still caged (a frozen glass); 'melt': "
        "the network relaxed during the run",
    )
    replica: int | None = Field(
        None, description="index of this independent replica (seed + replica); None: a "
        "single run or the replica average (see replicas)",
    )
    replicas: int = Field(1, description="replicas behind this record (>1: an average)")
    replica_spread: dict[str, Any] | None = Field(
        None, description="of an average: n, mean, std, sem, stated_sem, chi2_dof and "
        "'inconsistent' of density_g_cm3 and of D per species (amorphdb.flows.replicas)",
    )
    descriptors: dict[str, Any] = Field(default_factory=dict)
    provenance: EngineProvenance | None = None
    error: str | None = None

    @model_validator(mode="after")
    def _fill_chemistry(self) -> AmorphousDoc:
        comp = parse_formula(self.formula)
        els = sorted(el.symbol for el in comp.elements)
        if not self.elements:
            self.elements = els
        if not self.chemsys:
            self.chemsys = chemsys_of(els)
        if not self.nelements:
            self.nelements = len(els)
        if not self.nsites and self.structure is not None:
            self.nsites = len(self.structure.get("sites", []))
        return self

    @classmethod
    def from_structure(
        cls,
        structure: Structure,
        *,
        campaign: str,
        temperature_K: float,
        protocol_hash: str = "",
        **fields: Any,
    ) -> AmorphousDoc:
        """Build a summary from a final structure (fills formula, density, volume/atom).

        Parameters
        ----------
        structure
            Final structure of the production run (Å).
        campaign, temperature_K, protocol_hash
            The key (temperature in K).
        **fields
            Any other :class:`AmorphousDoc` field (diffusion, provenance, energy, ...).
        """
        comp = structure.composition
        data = {
            "campaign": campaign,
            "formula": comp.formula.replace(" ", ""),
            "temperature_K": temperature_K,
            "protocol_hash": protocol_hash,
            "nsites": len(structure),
            "density_g_cm3": float(structure.density),
            "volume_per_atom_A3": float(structure.volume / len(structure)),
            "structure": structure.as_dict(),
        }
        data.update(fields)
        return cls.model_validate(data)

    def get_structure(self) -> Structure | None:
        """Final structure as a pymatgen ``Structure`` (None if not stored)."""
        from pymatgen.core import Structure

        return Structure.from_dict(self.structure) if self.structure else None


class ArrheniusDoc(_Doc):
    """Arrhenius fit D(T) = D0 exp(-Ea / kB T) of one species of one composition.

    Keyed by (campaign, formula_reduced, species).
    """

    collection: ClassVar[str] = "arrhenius"
    key_fields: ClassVar[tuple[str, ...]] = ("campaign", "formula_reduced", "species")

    chemsys: str = ""
    elements: list[str] = Field(default_factory=list)
    species: str
    Ea_eV: float | None = None
    Ea_std_eV: float | None = None
    D0_cm2_s: float | None = None
    D300_cm2_s: float | None = None
    D300_std_cm2_s: float | None = None
    temperatures_K: list[float] = Field(default_factory=list)
    n_points: int = 0
    protocol_hash: str = ""
    error: str | None = None
    regime: str | None = Field(None, description="regime of Ea_eV: 'glass' or 'melt'")
    Ea_std_scaled_eV: float | None = Field(None, description="σ(Ea)·sqrt(χ²/dof), eV")
    chi2_dof: float | None = None
    curved: bool | None = Field(None, description="VFT preferred (F-test) in that regime")
    regimes: dict[str, Any] = Field(
        default_factory=dict,
        description="per regime ('glass', 'melt'): Ea_eV, Ea_std_eV (stated), "
        "Ea_std_scaled_eV, chi2_dof, D0_cm2_s, temperatures_K, curved, vft; or error",
    )

    @model_validator(mode="after")
    def _fill_chemistry(self) -> ArrheniusDoc:
        els = sorted(el.symbol for el in parse_formula(self.formula).elements)
        if not self.elements:
            self.elements = els
        if not self.chemsys:
            self.chemsys = chemsys_of(els)
        if not self.n_points:
            self.n_points = len(self.temperatures_K)
        return self


class Attempt(BaseModel):
    """One try at a composition: its settings, outcome and timestamps."""

    model_config = ConfigDict(extra="allow")

    number: int = 1
    state: ResultState
    settings: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    stage: str | None = None
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class CampaignDoc(_Doc):
    """Bookkeeping of one composition of one campaign: state and every attempt.

    Keyed by (campaign, formula_reduced).
    """

    collection: ClassVar[str] = "campaigns"
    key_fields: ClassVar[tuple[str, ...]] = ("campaign", "formula_reduced")

    state: ResultState = ResultState.WAITING
    attempts: list[Attempt] = Field(default_factory=list)
    stage: str | None = None
    last_error: str | None = None
    revision: int = Field(0, description="bumped on every write (optimistic concurrency)")


#: schema class per collection name
SCHEMAS: dict[str, type[_Doc]] = {
    cls.collection: cls for cls in (AmorphousDoc, ArrheniusDoc, CampaignDoc)
}

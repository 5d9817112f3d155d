"""Query filters for the ``amorphous`` collection, validated and turned into MongoDB criteria.

Everything here speaks the MongoDB query language only (``$all``, ``$in``, ``$nin``,
``$gte``/``$lte``), which MongoDB and montydb both understand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from amorphdb.errors import StoreError
from amorphdb.store.schemas import ResultState, chemsys_of, reduced_formula

#: flat column name -> stored (dotted) field, for the scalar fields of AmorphousDoc
SCALAR_FIELDS: dict[str, str] = {
    "key": "_id",
    "campaign": "campaign",
    "formula": "formula",
    "formula_reduced": "formula_reduced",
    "chemsys": "chemsys",
    "elements": "elements",
    "nelements": "nelements",
    "nsites": "nsites",
    "temperature_K": "temperature_K",
    "density_g_cm3": "density_g_cm3",
    "volume_per_atom_A3": "volume_per_atom_A3",
    "energy_per_atom_eV": "energy_per_atom_eV",
    "pressure_mean_kbar": "pressure_mean_kbar",
    "pressure_std_kbar": "pressure_std_kbar",
    "protocol_hash": "protocol_hash",
    "replica": "replica",
    "replicas": "replicas",
    "state": "state",
    "engine": "provenance.engine",
    "potential": "provenance.potential",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
#: per-species columns: prefix -> field inside diffusion.<species>
SPECIES_FIELDS: dict[str, str] = {"D_std": "D_std_cm2_s", "D": "D_cm2_s", "Ea_std": "", "Ea": ""}
DEFAULT_FIELDS = ["formula_reduced", "temperature_K", "density_g_cm3", "state", "campaign"]
#: where a record keeps its structure descriptors (:mod:`amorphdb.analysis.descriptors`)
DESCRIPTORS_PATH = "descriptors.structure"
#: how descriptor names keyed by element or pair are written (error messages, docs)
_DESCRIPTOR_FORMS = {
    "cn": "cn.<El>-<El>", "cn_std": "cn_std.<El>-<El>", "cn_cutoff_A": "cn_cutoff_A.<El>-<El>",
    "rdf_peak_A": "rdf_peak_A.<El>-<El>", "n4": "n4.<El>", "qn": "qn.<El>.Q<n>",
    "bond_energy_eV": "bond_energy_eV.<El>-<El>",
}


def _is_element(symbol: str) -> bool:
    """pymatgen's element check (``Element.is_valid_symbol``), answered from ASE's table of
    the 118 elements first: importing pymatgen costs ~0.2 s of a one-shot query, ASE's
    table ~0.02 s. Both hold the same 118 symbols; anything else (pymatgen also accepts
    the isotopes ``D`` and ``T``, or a typo) is asked of pymatgen, so the answer is
    always pymatgen's."""
    from ase.data import chemical_symbols

    if symbol in chemical_symbols and symbol != "X":  # index 0 of ASE's table: a dummy
        return True
    from pymatgen.core.periodic_table import Element

    return Element.is_valid_symbol(symbol)


def _descriptor_fields() -> tuple[str, ...]:
    """Queryable structure-descriptor names (imported on first use: pulls in scipy)."""
    from amorphdb.analysis.descriptors import QUERYABLE

    return QUERYABLE


def parse_element(symbol: str) -> str:
    """Validate an element symbol (``Li``), raising :class:`StoreError` if unknown."""
    sym = symbol.strip()
    if not _is_element(sym):
        raise StoreError(f"unknown element '{symbol}'; use symbols like Li, O, Si")
    return sym


def parse_elements(value: str | list[str] | None) -> list[str]:
    """``"Li,O"`` / ``"Li-O"`` / ``["Li", "O"]`` → validated symbols."""
    if value is None:
        return []
    items = value if isinstance(value, list) else value.replace("-", ",").split(",")
    return [parse_element(s) for s in items if s.strip()]


def resolve_field(name: str) -> str:
    """Flat column name (``density_g_cm3``, ``D_Li``, ``engine``) → stored dotted field.

    ``Ea_<species>`` columns come from the ``arrhenius`` collection and have no stored
    field in ``amorphous``; they resolve to ``""``.
    """
    if name in SCALAR_FIELDS:
        return SCALAR_FIELDS[name]
    for prefix, sub in SPECIES_FIELDS.items():  # before descriptors: no names in common
        if name.startswith(prefix + "_"):
            species = name[len(prefix) + 1 :]
            if _is_element(species):
                return f"diffusion.{species}.{sub}" if sub else ""
    if name.split(".")[0] in _descriptor_fields():  # structure descriptors: cn.Si-O, qn.Si.Q4
        return f"{DESCRIPTORS_PATH}.{name}"
    descriptors = [_DESCRIPTOR_FORMS.get(d, d) for d in _descriptor_fields()]
    known = ", ".join(
        [*SCALAR_FIELDS, "D_<El>", "D_std_<El>", "Ea_<El>", "Ea_std_<El>", *descriptors]
    )
    raise StoreError(f"unknown field '{name}'; known fields: {known}")


def descriptor_order(name: str) -> tuple[int, str]:
    """Sort key of a descriptor column: by kind (``cn`` first, as :data:`QUERYABLE`), then
    by name."""
    return _descriptor_fields().index(name.split(".")[0]), name


def descriptor_columns(doc: dict[str, Any]) -> list[str]:
    """Flat descriptor column names a stored summary holds (``cn.Si-O``, ``qn.Si.Q4``,
    ``packing_fraction``, ...): the leaves under ``descriptors.structure`` whose first
    part is queryable, in stored order."""
    found = (doc.get("descriptors") or {}).get("structure") or {}
    out: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}", sub)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out.append(prefix)

    for name in _descriptor_fields():
        if name in found:
            walk(name, found[name])
    return out


def parse_range(text: str, *, what: str) -> tuple[float | None, float | None]:
    """``"lo:hi"``, ``"lo:"``, ``":hi"`` → bounds (None = open)."""
    parts = text.split(":")
    if len(parts) != 2 or parts == ["", ""]:
        raise StoreError(
            f"malformed {what} range '{text}'; write MIN:MAX, MIN: or :MAX (e.g. 2.2:2.5)"
        )
    bounds: list[float | None] = []
    for part in parts:
        if part.strip() == "":
            bounds.append(None)
            continue
        try:
            value = float(part)
        except ValueError:
            raise StoreError(
                f"malformed {what} range '{text}': '{part}' is not a number; write MIN:MAX"
            ) from None
        if math.isnan(value):
            raise StoreError(f"malformed {what} range '{text}': NaN bound")
        bounds.append(value)
    lo, hi = bounds
    if lo is not None and hi is not None and lo > hi:
        raise StoreError(f"{what} range '{text}' is empty (min > max); swap the bounds")
    return lo, hi


def parse_species_range(
    text: str, *, what: str, species_required: bool
) -> tuple[str | None, float | None, float | None]:
    """``"Li:1e-5:"`` → (``"Li"``, 1e-5, None); ``":0.5"`` → (None, None, 0.5)."""
    parts = text.split(":")
    if len(parts) == 3:
        species = parse_element(parts[0]) if parts[0].strip() else None
        lo, hi = parse_range(":".join(parts[1:]), what=what)
    elif len(parts) == 2 and species_required:
        raise StoreError(
            f"malformed {what} range '{text}'; write SPECIES:MIN:MAX (e.g. Li:1e-5: or Li::1e-6)"
        )
    elif len(parts) == 2:
        species = None
        lo, hi = parse_range(text, what=what)
    else:
        raise StoreError(f"malformed {what} range '{text}'; write SPECIES:MIN:MAX (e.g. Li:1e-5:)")
    if species_required and species is None:
        raise StoreError(f"{what} range '{text}' needs a species; write e.g. Li:1e-5:")
    return species, lo, hi


def _bounds(lo: float | None, hi: float | None) -> dict[str, float]:
    cond: dict[str, float] = {}
    if lo is not None:
        cond["$gte"] = lo
    if hi is not None:
        cond["$lte"] = hi
    return cond


@dataclass
class AmorphousQuery:
    """Filters on ``amorphous`` summaries; every filter is optional and they combine by AND.

    Parameters
    ----------
    chemsys
        Exact chemical system, any order (``"Li-O-Si"``).
    elements
        Must contain all of these elements.
    any_elements
        Must contain at least one of these.
    exclude_elements
        Must contain none of these.
    formula
        Reduced formula (any equivalent notation, e.g. ``Li2O(SiO2)2``).
    temperature_K
        One temperature (matched within ±0.5 K) or a (min, max) range, K.
    campaign, state
        Campaign name; result state (``completed``/``failed``/...).
    D
        ``{species: (min, max)}`` tracer diffusivity bounds, cm²/s.
    density_g_cm3
        (min, max), g/cm³.
    Ea_eV
        ``(species or None, min, max)`` activation-energy bounds, eV (joined from the
        ``arrhenius`` collection).
    ranges
        Other ``{column: (min, max)}`` bounds on numeric columns (see :func:`resolve_field`).
    hide_replicas
        Leave out the per-replica records of compositions run with independent
        replicas (``replica`` set), keeping single runs and replica averages.
    """

    chemsys: str | None = None
    elements: list[str] = field(default_factory=list)
    any_elements: list[str] = field(default_factory=list)
    exclude_elements: list[str] = field(default_factory=list)
    formula: str | None = None
    temperature_K: float | tuple[float | None, float | None] | None = None
    campaign: str | None = None
    state: str | None = None
    D: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    density_g_cm3: tuple[float | None, float | None] | None = None
    Ea_eV: tuple[str | None, float | None, float | None] | None = None
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    hide_replicas: bool = False

    def criteria(self) -> dict[str, Any]:
        """MongoDB criteria for everything except the Ea join (see ``arrhenius_criteria``)."""
        crit: dict[str, Any] = {}
        elem: dict[str, Any] = {}
        if self.chemsys:
            crit["chemsys"] = chemsys_of(parse_elements(self.chemsys))
        if self.elements:
            elem["$all"] = parse_elements(self.elements)
        if self.any_elements:
            elem["$in"] = parse_elements(self.any_elements)
        if self.exclude_elements:
            elem["$nin"] = parse_elements(self.exclude_elements)
        if elem:
            crit["elements"] = elem
        if self.formula:
            crit["formula_reduced"] = reduced_formula(self.formula)
        if self.temperature_K is not None:
            if isinstance(self.temperature_K, tuple | list):
                crit["temperature_K"] = _bounds(*self.temperature_K)
            else:
                t = float(self.temperature_K)
                if t <= 0:
                    raise StoreError(f"temperature must be > 0 K, got {t:g}")
                crit["temperature_K"] = {"$gte": t - 0.5, "$lte": t + 0.5}
        if self.campaign:
            crit["campaign"] = self.campaign
        if self.state:
            try:
                crit["state"] = str(ResultState(self.state))
            except ValueError:
                known = ", ".join(s.value for s in ResultState)
                raise StoreError(f"unknown state '{self.state}'; use one of {known}") from None
        for species, (lo, hi) in self.D.items():
            crit[f"diffusion.{parse_element(species)}.D_cm2_s"] = _bounds(lo, hi)
        if self.density_g_cm3 is not None:
            crit["density_g_cm3"] = _bounds(*self.density_g_cm3)
        for name, (lo, hi) in self.ranges.items():
            path = resolve_field(name)
            if not path:
                raise StoreError(f"range on '{name}' is not supported here; use Ea_eV")
            crit[path] = _bounds(lo, hi)
        if self.hide_replicas:
            crit["replica"] = None  # missing (older records) or null: not one replica
        return crit

    def arrhenius_criteria(self) -> dict[str, Any] | None:
        """Criteria on ``arrhenius`` for the Ea filter (None when there is none)."""
        if self.Ea_eV is None:
            return None
        species, lo, hi = self.Ea_eV
        crit: dict[str, Any] = {"Ea_eV": _bounds(lo, hi)}
        if species:
            crit["species"] = species
        if self.campaign:
            crit["campaign"] = self.campaign
        return crit


def parse_sort(sort: str | list[str] | None) -> dict[str, int] | None:
    """``"-temperature_K,formula"`` → ``{"temperature_K": -1, "formula": 1}`` (stored fields)."""
    if not sort:
        return None
    items = sort if isinstance(sort, list) else sort.split(",")
    out: dict[str, int] = {}
    for item in items:
        name = item.strip()
        if not name:
            continue
        direction = -1 if name.startswith("-") else 1
        path = resolve_field(name.lstrip("-+"))
        if not path:
            raise StoreError(f"cannot sort by '{name}' (it comes from the arrhenius collection)")
        out[path] = direction
    return out or None

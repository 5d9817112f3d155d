"""Engine comparison from stored records: structure, density, diffusivity and Ea, with σ.

Side A is the reference (e.g. LAMMPS/Pedone or AIMD), side B the candidate (e.g.
CHGNet). Records are matched by reduced formula and temperature (±0.5 K). Per match:

* RDF similarity: R² = 1 − Σ(g_B − g_A)² / Σ(g_A − ḡ_A)² of the total g(r) on A's r grid
  (B interpolated), r ≤ the shorter of the two ranges; the same per partial pair. This is
  the coefficient of determination of B's g(r) as a prediction of A's, the measure the
  M3GNet-vs-AIMD comparison of the first seed reports (R² up to 0.99).
* density ratio ρ_B/ρ_A, cation–anion coordination differences CN_B − CN_A, and
  D_B/D_A per species, σ by first-order propagation of the stored σ (independent sides):
  σ(x/y) = (x/y)·√((σx/x)² + (σy/y)²), σ(x − y) = √(σx² + σy²).
* per composition and species: ΔEa = Ea_B − Ea_A from the ``arrhenius`` collection, σ
  combined in quadrature from each side's fit, σ(ΔEa) = √(σ_A² + σ_B²) (stated σ, and
  the residual-scaled σ·√(χ²/dof) the same way). When a side has no fit, ``note`` says
  why (its record's error and the anneal temperatures whose D is unreliable).

Structure descriptors come from ``descriptors.structure`` (see
:mod:`amorphdb.analysis.descriptors`); records without them are compared on density and
D only, and say so (``amorphdb db backfill`` adds them).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from amorphdb.analysis.descriptors import StructureDescriptors
from amorphdb.errors import StoreError


def rdf_r2(r_a: np.ndarray, g_a: np.ndarray, r_b: np.ndarray, g_b: np.ndarray) -> float:
    """R² of g_B(r) as a prediction of g_A(r) on A's grid (r within both ranges)."""
    r_a, g_a, r_b, g_b = (np.asarray(x, float) for x in (r_a, g_a, r_b, g_b))
    keep = (r_a >= r_b[0]) & (r_a <= r_b[-1])
    if keep.sum() < 3:
        return float("nan")
    ga = g_a[keep]
    gb = np.interp(r_a[keep], r_b, g_b)
    ss_tot = float(np.sum((ga - ga.mean()) ** 2))
    if ss_tot == 0:
        return float("nan")
    return 1.0 - float(np.sum((gb - ga) ** 2)) / ss_tot


def _ratio(x: float | None, sx: float | None, y: float | None, sy: float | None):
    if x is None or y is None or y == 0 or x <= 0 or y <= 0:
        return None, None
    q = x / y
    if sx is None or sy is None or not (math.isfinite(sx) and math.isfinite(sy)):
        return q, None
    return q, q * math.hypot(sx / x, sy / y)


def _diff(x, sx, y, sy):
    if x is None or y is None:
        return None, None
    s = None if sx is None or sy is None else math.hypot(sx, sy)
    return x - y, s


@dataclass
class PointComparison:
    """B versus A at one composition and temperature (ratios B/A, differences B − A)."""

    formula: str
    temperature_K: float
    key_a: str
    key_b: str
    rdf_r2: float | None = None
    rdf_r2_partial: dict[str, float] = field(default_factory=dict)
    density_a_g_cm3: float | None = None
    density_b_g_cm3: float | None = None
    density_ratio: float | None = None
    density_ratio_std: float | None = None
    cn_a: dict[str, float] = field(default_factory=dict)
    cn_b: dict[str, float] = field(default_factory=dict)
    cn_diff: dict[str, float] = field(default_factory=dict)
    cn_diff_std: dict[str, float | None] = field(default_factory=dict)
    D_a_cm2_s: dict[str, float | None] = field(default_factory=dict)
    D_b_cm2_s: dict[str, float | None] = field(default_factory=dict)
    D_a_std_cm2_s: dict[str, float | None] = field(default_factory=dict)
    D_b_std_cm2_s: dict[str, float | None] = field(default_factory=dict)
    D_ratio: dict[str, float | None] = field(default_factory=dict)
    D_ratio_std: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class ArrheniusComparison:
    """Ea of one species of one composition on both sides, eV."""

    formula: str
    species: str
    Ea_a_eV: float | None
    Ea_a_std_eV: float | None
    Ea_b_eV: float | None
    Ea_b_std_eV: float | None
    Ea_diff_eV: float | None
    Ea_diff_std_eV: float | None
    Ea_diff_std_scaled_eV: float | None = None
    note: str | None = None
    D0_a_cm2_s: float | None = None
    D0_b_cm2_s: float | None = None
    temperatures_a_K: list[float] = field(default_factory=list)
    temperatures_b_K: list[float] = field(default_factory=list)


@dataclass
class EngineComparison:
    """All matched points and Arrhenius fits of B against A."""

    label_a: str
    label_b: str
    points: list[PointComparison]
    arrhenius: list[ArrheniusComparison] = field(default_factory=list)
    unmatched_a: list[str] = field(default_factory=list)
    unmatched_b: list[str] = field(default_factory=list)
    curves: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (no curves)."""
        out = asdict(self)
        out.pop("curves")
        return out

    def table(self, species: str = "Li") -> list[dict[str, Any]]:
        """One flat row per matched point (the CLI table)."""
        ea = {(a.formula, a.species): a for a in self.arrhenius}
        rows = []
        for p in self.points:
            row: dict[str, Any] = {
                "formula": p.formula,
                "T_K": p.temperature_K,
                "rdf_R2": p.rdf_r2,
                "rho_A": p.density_a_g_cm3,
                "rho_B": p.density_b_g_cm3,
                "rho_B/A": p.density_ratio,
                "rho_B/A_std": p.density_ratio_std,
            }
            for pair, d in p.cn_diff.items():
                row[f"dCN_{pair}"] = d
            row[f"D_{species}_A"] = p.D_a_cm2_s.get(species)
            row[f"D_{species}_B"] = p.D_b_cm2_s.get(species)
            row[f"D_{species}_B/A"] = p.D_ratio.get(species)
            row[f"D_{species}_B/A_std"] = p.D_ratio_std.get(species)
            a = ea.get((p.formula, species))
            row[f"dEa_{species}_eV"] = a.Ea_diff_eV if a else None
            row[f"dEa_{species}_std_eV"] = a.Ea_diff_std_eV if a else None
            rows.append(row)
        return rows


def _structure(doc: dict[str, Any]) -> StructureDescriptors | None:
    entry = (doc.get("descriptors") or {}).get("structure")
    if not entry or "error" in entry:
        return None
    return StructureDescriptors.from_dict(entry)


def _key(doc: dict[str, Any]) -> tuple[str, float]:
    return doc["formula_reduced"], round(float(doc["temperature_K"]))


def _compare_point(a: dict[str, Any], b: dict[str, Any]) -> tuple[PointComparison, dict]:
    p = PointComparison(
        formula=a["formula_reduced"],
        temperature_K=float(a["temperature_K"]),
        key_a=str(a.get("_id", "")),
        key_b=str(b.get("_id", "")),
    )
    sa, sb = _structure(a), _structure(b)
    curves: dict[str, Any] = {}
    if sa is None or sb is None:
        p.notes.append(
            "no structure descriptors on "
            + " and ".join(s for s, d in (("A", sa), ("B", sb)) if d is None)
            + "; run amorphdb db backfill"
        )
        rho_a, srho_a = a.get("density_g_cm3"), None
        rho_b, srho_b = b.get("density_g_cm3"), None
    else:
        rho_a, srho_a = sa.density_g_cm3, sa.density_std_g_cm3 or None  # NVT: σ 0, unknown
        rho_b, srho_b = sb.density_g_cm3, sb.density_std_g_cm3 or None
        if "total" in sa.rdf and "total" in sb.rdf:
            p.rdf_r2 = rdf_r2(sa.rdf_r_A, sa.rdf["total"], sb.rdf_r_A, sb.rdf["total"])
            for pair in sorted(set(sa.rdf) & set(sb.rdf) - {"total"}):
                p.rdf_r2_partial[pair] = rdf_r2(
                    sa.rdf_r_A, sa.rdf[pair], sb.rdf_r_A, sb.rdf[pair]
                )
            curves = {"r_a": sa.rdf_r_A, "g_a": sa.rdf["total"],
                      "r_b": sb.rdf_r_A, "g_b": sb.rdf["total"]}
        for pair in sorted(set(sa.cn) & set(sb.cn)):
            p.cn_a[pair], p.cn_b[pair] = sa.cn[pair], sb.cn[pair]
            p.cn_diff[pair], p.cn_diff_std[pair] = _diff(
                sb.cn[pair], sb.cn_std.get(pair), sa.cn[pair], sa.cn_std.get(pair)
            )
    p.density_a_g_cm3, p.density_b_g_cm3 = rho_a, rho_b
    p.density_ratio, p.density_ratio_std = _ratio(rho_b, srho_b, rho_a, srho_a)
    da, db = a.get("diffusion") or {}, b.get("diffusion") or {}
    for sp in sorted(set(da) & set(db)):
        xa, xb = da[sp], db[sp]
        p.D_a_cm2_s[sp], p.D_b_cm2_s[sp] = xa.get("D_cm2_s"), xb.get("D_cm2_s")
        p.D_a_std_cm2_s[sp], p.D_b_std_cm2_s[sp] = xa.get("D_std_cm2_s"), xb.get("D_std_cm2_s")
        p.D_ratio[sp], p.D_ratio_std[sp] = _ratio(
            xb.get("D_cm2_s"), xb.get("D_std_cm2_s"), xa.get("D_cm2_s"), xa.get("D_std_cm2_s")
        )
        for side, x in (("A", xa), ("B", xb)):
            if x.get("reliable") is False:
                p.notes.append(f"D_{sp} of {side} unreliable: {x.get('reason') or 'see record'}")
    return p, curves


def compare_records(
    docs_a: list[dict[str, Any]],
    docs_b: list[dict[str, Any]],
    arrhenius_a: list[dict[str, Any]] | None = None,
    arrhenius_b: list[dict[str, Any]] | None = None,
    label_a: str = "A",
    label_b: str = "B",
) -> EngineComparison:
    """Compare stored ``amorphous`` (and ``arrhenius``) documents of two sides.

    Parameters
    ----------
    docs_a, docs_b
        Stored summaries (dicts) of the reference (A) and the candidate (B). Two
        records of one side at the same formula and temperature are refused.
    arrhenius_a, arrhenius_b
        Stored Arrhenius documents of each side.
    label_a, label_b
        Names in tables and plots.
    """
    sides = []
    for label, docs in ((label_a, docs_a), (label_b, docs_b)):
        by_key: dict[tuple[str, float], dict[str, Any]] = {}
        for d in docs:
            k = _key(d)
            if k in by_key:
                raise StoreError(
                    f"{label} has two records for {k[0]} at {k[1]:g} K; narrow it to one "
                    "campaign (amorphdb compare A B compares campaigns)"
                )
            by_key[k] = d
        sides.append(by_key)
    ka, kb = sides
    common = sorted(set(ka) & set(kb))
    out = EngineComparison(
        label_a=label_a,
        label_b=label_b,
        points=[],
        unmatched_a=[f"{f}@{t:g}K" for f, t in sorted(set(ka) - set(kb))],
        unmatched_b=[f"{f}@{t:g}K" for f, t in sorted(set(kb) - set(ka))],
    )
    for k in common:
        point, curves = _compare_point(ka[k], kb[k])
        out.points.append(point)
        if curves:
            out.curves[f"{k[0]}@{k[1]:g}K"] = curves
    ea_a = {(d["formula_reduced"], d["species"]): d for d in arrhenius_a or []}
    ea_b = {(d["formula_reduced"], d["species"]): d for d in arrhenius_b or []}
    formulas = {k[0] for k in common}
    for formula, sp in sorted(k for k in set(ea_a) | set(ea_b) if k[0] in formulas):
        a, b = ea_a.get((formula, sp)) or {}, ea_b.get((formula, sp)) or {}
        diff, sdiff = _diff(b.get("Ea_eV"), _finite(b.get("Ea_std_eV")),
                            a.get("Ea_eV"), _finite(a.get("Ea_std_eV")))
        _, sdiff_scaled = _diff(b.get("Ea_eV"), _finite(b.get("Ea_std_scaled_eV")),
                                a.get("Ea_eV"), _finite(a.get("Ea_std_scaled_eV")))
        why = [_no_fit_reason(label, arr, side, formula, sp)
               for label, arr, side in ((label_a, a, ka), (label_b, b, kb))
               if arr.get("Ea_eV") is None]
        out.arrhenius.append(
            ArrheniusComparison(
                formula=formula, species=sp,
                Ea_a_eV=a.get("Ea_eV"), Ea_a_std_eV=a.get("Ea_std_eV"),
                Ea_b_eV=b.get("Ea_eV"), Ea_b_std_eV=b.get("Ea_std_eV"),
                Ea_diff_eV=diff, Ea_diff_std_eV=sdiff, Ea_diff_std_scaled_eV=sdiff_scaled,
                note="; ".join(why) or None,
                D0_a_cm2_s=a.get("D0_cm2_s"), D0_b_cm2_s=b.get("D0_cm2_s"),
                temperatures_a_K=list(a.get("temperatures_K") or []),
                temperatures_b_K=list(b.get("temperatures_K") or []),
            )
        )
    return out


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _no_fit_reason(
    label: str, arr: dict[str, Any], side: dict[tuple[str, float], dict[str, Any]],
    formula: str, species: str,
) -> str:
    """Why one side has no Ea: its record's error and its unreliable anneal D values."""
    if not arr:
        return f"{label}: no Arrhenius record for {species}"
    bad = []
    for (f, t), doc in sorted(side.items()):
        if f != formula or (doc.get("descriptors") or {}).get("stage") == "melt":
            continue  # melt rows never enter Ea
        d = (doc.get("diffusion") or {}).get(species) or {}
        if d.get("reliable") is False:
            bad.append(f"{t:g} K" + (f" ({d['reason']})" if d.get("reason") else ""))
    text = f"{label}: no Arrhenius fit"
    if bad:
        text += f", D_{species} unreliable at " + ", ".join(bad)
    if arr.get("error"):
        text += f" [{arr['error']}]"
    return text


def compare_in_store(db, campaign_a: str, campaign_b: str) -> EngineComparison:
    """Compare the completed records of two campaigns of one store (A = reference).

    Raises
    ------
    StoreError
        A campaign without completed records, or two campaigns sharing no composition
        and temperature.
    """
    docs, arr = [], []
    for name in (campaign_a, campaign_b):
        # a replicated protocol is compared through its per-temperature averages
        found = list(db.find_raw(campaign=name, state="completed", hide_replicas=True))
        if not found:
            raise StoreError(
                f"campaign '{name}' has no completed records in this store; "
                "list campaigns with amorphdb db stats"
            )
        docs.append(found)
        arr.append([a.to_mongo() for a in db.find_arrhenius(campaign=name)])
    labels = [_label(campaign_a, docs[0]), _label(campaign_b, docs[1])]
    out = compare_records(docs[0], docs[1], arr[0], arr[1], *labels)
    if not out.points:
        raise StoreError(
            f"campaigns '{campaign_a}' and '{campaign_b}' share no composition and "
            "temperature; run both on the same compositions and temperatures"
        )
    return out


def _label(campaign: str, docs: list[dict[str, Any]]) -> str:
    prov = {
        f"{(d.get('provenance') or {}).get('engine', '?')}/"
        f"{(d.get('provenance') or {}).get('potential') or '-'}"
        for d in docs
    }
    return f"{campaign} ({', '.join(sorted(prov))})"

"""Structure descriptors of a glass from the last frames of a trajectory, in one pass.

:func:`structure_descriptors` computes, averaged over the analysed frames:

* density (g/cm³) with its σ over frames;
* partial RDFs and their first-peak positions (Å);
* the coordination number of every cation by every anion, with the cut-off used
  (the bottom of the first minimum of that partial RDF,
  :func:`~amorphdb.analysis.structure.first_shell_cutoff`),
  its distribution and σ over frames;
* N4, the fraction of four-fold B and Al (same cut-offs);
* the Qn distribution of Si and P: n = bridging oxygens of a network former, an
  anion being bridging when it is bonded to two or more network formers (Si, P, B,
  Al, Ge; Eckert, Prog. NMR Spectrosc. 24 (1992) 159);
* the packing fraction Σ_i (4/3)π r_i³ / V with Shannon (1976) ionic radii
  (Acta Cryst. A32, 751, doi:10.1107/S0567739476001551, pymatgen's table) at the
  oxidation state guessed by pymatgen and the coordination closest to the measured one;
* the mean bond energy, when a pair potential ``pair_energy(a, b, r)`` is given: the
  pair energy of each cation–anion pair at its RDF first-peak distance, averaged over
  bonds (weights N_cation × CN);
* X-ray and neutron Faber–Ziman S(q) on the fixed grid :data:`Q_GRID`
  (:func:`~amorphdb.analysis.structure.structure_factor`).

Pair distances are computed once per frame (:func:`~amorphdb.analysis.structure.pair_distances`)
and reused for the RDF, coordination and Qn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from amorphdb.analysis.errors import AnalysisError
from amorphdb.analysis.msd import atomic_masses
from amorphdb.analysis.structure import (
    AMU_PER_A3_TO_G_PER_CM3,
    _as_traj,
    first_minimum,
    first_shell_cutoff,
    rdf,
    structure_factor,
)
from amorphdb.analysis.trajectory import Trajectory, decode_array, encode_array

__all__ = [
    "ANIONS",
    "NETWORK_FORMERS",
    "QUERYABLE",
    "Q_GRID",
    "StructureDescriptors",
    "packing_fraction",
    "structure_descriptors",
]

#: elements treated as anions (coordination is counted cation → anion)
ANIONS = ("O", "S", "Se", "F", "Cl", "Br", "I", "N")
#: network formers: their anion neighbours count as bridging (Qn) when shared by two
NETWORK_FORMERS = ("Si", "P", "B", "Al", "Ge")
#: elements whose Qn distribution is reported
QN_ELEMENTS = ("Si", "P")
#: elements whose N4 (fraction four-fold) is reported
N4_ELEMENTS = ("B", "Al")
#: fixed q grid of the stored S(q), 1/Å (0.5–20 in steps of 0.1)
Q_GRID = np.round(np.arange(0.5, 20.0 + 1e-9, 0.1), 3)
#: stored curves are float16 (≤ 1e-3 relative): summaries stay a few kB (montydb decodes
#: every summary on every query)
CURVE_DTYPE = "float16"
#: RDF bin width, Å, and the factor by which stored RDFs are coarsened
RDF_DR_A = 0.02
STORED_RDF_COARSEN = 3
#: box smoothing before looking for the first RDF minimum, Å: merges split crystal
#: shells (Si–O 1.59/1.68 Å in Li2SiO3) and the noise of small glass cells
SMOOTH_A = 0.3

#: descriptor names a query can filter on (``cn.Si-O``, ``n4.B``, ``qn.Si.Q4``, ...)
QUERYABLE = (
    "cn", "cn_std", "cn_cutoff_A", "rdf_peak_A", "n4", "qn", "bond_energy_eV",
    "mean_bond_energy_eV", "packing_fraction", "density_std_g_cm3",
)

PairEnergy = Callable[[str, str, float], float]


@dataclass
class StructureDescriptors:
    """Structure of one glass (one trajectory), with units in the names.

    ``cn`` etc. are keyed ``"Si-O"`` (centre–neighbour). ``to_dict`` gives the form
    stored under ``descriptors.structure`` of a record: scalars as plain numbers (query
    filters, ML features), the curves (RDFs, S(q)) as compressed float16 arrays so the
    summary stays small and fast to decode.
    """

    n_frames: int
    density_g_cm3: float
    density_std_g_cm3: float
    rdf_peak_A: dict[str, float]
    cn: dict[str, float]
    cn_std: dict[str, float]
    cn_cutoff_A: dict[str, float]
    cn_distribution: dict[str, dict[str, float]]
    n4: dict[str, float]
    qn: dict[str, dict[str, float]]
    packing_fraction: float | None
    bond_energy_eV: dict[str, float] = field(default_factory=dict)
    mean_bond_energy_eV: float | None = None
    bond_energy_definition: str = ""
    rdf_r_A: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rdf: dict[str, np.ndarray] = field(default_factory=dict)
    sq_q_inv_A: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sq_neutron: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sq_xray: np.ndarray = field(default_factory=lambda: np.zeros(0))
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the database (curves encoded with :func:`encode_array`)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in _CURVES}
        out["curves"] = {
            "rdf_pairs": list(self.rdf),
            # uniform grids: r_i = (i + ½)·dr, q_i = q0 + i·dq
            "rdf_dr_A": float(np.round(self.rdf_r_A[1] - self.rdf_r_A[0], 6))
            if self.rdf_r_A.size > 1 else 0.0,
            "rdf": encode_array(np.array(list(self.rdf.values())), CURVE_DTYPE),
            "sq_q0_inv_A": float(self.sq_q_inv_A[0]) if self.sq_q_inv_A.size else 0.0,
            "sq_dq_inv_A": float(np.round(self.sq_q_inv_A[1] - self.sq_q_inv_A[0], 6))
            if self.sq_q_inv_A.size > 1 else 0.0,
            "sq_neutron": encode_array(self.sq_neutron, CURVE_DTYPE),
            "sq_xray": encode_array(self.sq_xray, CURVE_DTYPE),
        }
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StructureDescriptors:
        """Inverse of :meth:`to_dict` (extra keys are ignored)."""
        names = set(cls.__dataclass_fields__) - set(_CURVES)
        kwargs = {k: v for k, v in data.items() if k in names}
        curves = data.get("curves") or {}
        if curves:
            rdfs = decode_array(curves["rdf"]).astype(float)
            kwargs["rdf"] = dict(zip(curves["rdf_pairs"], rdfs, strict=True))
            kwargs["rdf_r_A"] = (np.arange(rdfs.shape[1]) + 0.5) * curves["rdf_dr_A"]
            for k in ("sq_neutron", "sq_xray"):
                kwargs[k] = decode_array(curves[k]).astype(float)
            nq = kwargs["sq_neutron"].size
            kwargs["sq_q_inv_A"] = curves["sq_q0_inv_A"] + np.arange(nq) * curves["sq_dq_inv_A"]
        return cls(**kwargs)


_CURVES = ("rdf_r_A", "rdf", "sq_q_inv_A", "sq_neutron", "sq_xray")


def _analysed_frames(traj: Trajectory, last_fraction: float, max_frames: int | None) -> np.ndarray:
    if not 0 < last_fraction <= 1:
        raise AnalysisError(f"last_fraction={last_fraction} must be in (0, 1]")
    start = int(np.floor(traj.n_frames * (1 - last_fraction)))
    idx = np.arange(start, traj.n_frames)
    if max_frames is not None and idx.size > max_frames:
        idx = np.unique(np.linspace(idx[0], idx[-1], max_frames).round().astype(int))
    return idx


def _rdf_range(traj: Trajectory, idx: np.ndarray, r_max: float | None) -> float:
    if r_max is not None:
        return float(r_max)
    lat = traj.lattices[idx] if not traj.is_constant_cell else traj.lattice[None]
    vol = np.abs(np.linalg.det(lat))
    cross = np.linalg.norm(np.cross(lat[:, [1, 2, 0]], lat[:, [2, 0, 1]]), axis=2)
    half_height = float((vol[:, None] / cross).min() / 2)
    # inside half the cell (fast minimum image); at least 4 Å so tiny crystals still
    # show the first minimum of every cation–anion pair (ASE neighbour list then)
    return float(np.clip(half_height - 1e-6, 4.0, 8.0))


def _first_peak(r: np.ndarray, g: np.ndarray, r_min_A: float) -> float:
    """Position of the highest point of g below the first minimum, Å: g smoothed by a
    symmetric 5-bin triangle (a one-bin crystal peak stays in its bin), refined by a
    parabola through the maximum and its neighbours."""
    gs = np.convolve(g, np.array([1, 2, 3, 2, 1]) / 9, mode="same")
    stop = max(int(np.searchsorted(r, r_min_A)), 1)
    k = int(np.argmax(gs[:stop]))
    if 0 < k < stop - 1:
        y0, y1, y2 = gs[k - 1 : k + 2]
        den = y0 - 2 * y1 + y2
        if den < 0:
            return float(r[k] + 0.5 * (y0 - y2) / den * (r[1] - r[0]))
    return float(r[k])


def packing_fraction(
    species: np.ndarray | list[str],
    volume_A3: float,
    coordination: dict[str, float] | None = None,
) -> tuple[float, list[str]]:
    """Σ (4/3)π r³ / V with Shannon (1976) ionic radii (pymatgen), dimensionless.

    Oxidation states: pymatgen's most probable guess for the composition (a charge
    balanced assignment). Coordination of each ion: ``coordination[element]`` rounded
    to the nearest coordination tabulated for that ion (default VI).

    Returns
    -------
    (fraction, notes)
        ``notes`` names any ion without a Shannon radius (then pymatgen's average
        ionic radius is used).
    """
    from pymatgen.core import Composition, Species

    species = np.asarray(species)
    els, counts = np.unique(species, return_counts=True)
    comp = Composition({str(e): int(c) for e, c in zip(els, counts, strict=True)})
    guesses = comp.oxi_state_guesses(max_sites=-1) or comp.oxi_state_guesses()
    if not guesses:
        raise AnalysisError(f"no charge-balanced oxidation states for {comp.reduced_formula}")
    oxi = guesses[0]
    roman = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI", 7: "VII", 8: "VIII",
             9: "IX", 10: "X", 11: "XI", 12: "XII"}
    notes: list[str] = []
    total = 0.0
    for el, n in zip(els, counts, strict=True):
        sp = Species(str(el), round(oxi[str(el)]))
        target = (coordination or {}).get(str(el), 6.0)
        try:
            table = sp.element.data["Shannon radii"][str(sp.oxi_state)]
            cns = [c for c in table if c in roman.values()]
            inv = {v: k for k, v in roman.items()}
            cn = min(cns, key=lambda c: (abs(inv[c] - target), -inv[c]))
            spins = table[cn]
            radius = float(next(iter(spins.values()))["ionic_radius"])
        except (KeyError, StopIteration, ValueError):
            radius = float(sp.ionic_radius or sp.element.average_ionic_radius)
            notes.append(f"no Shannon radius for {sp}: pymatgen ionic radius {radius:.2f} Å")
        total += n * 4.0 / 3.0 * np.pi * radius**3
    return float(total / volume_A3), notes


def structure_descriptors(
    obj,
    last_fraction: float = 0.5,
    max_frames: int | None = 500,
    pair_energy: PairEnergy | None = None,
    bond_energy_definition: str = "",
    r_max: float | None = None,
    cutoffs_A: dict[str, float] | None = None,
) -> StructureDescriptors:
    """All structure descriptors of a trajectory (see the module docstring).

    Parameters
    ----------
    obj
        Trajectory (or a pymatgen Structure / ASE Atoms: one frame).
    last_fraction
        Analyse the last fraction of the frames (default the second half).
    max_frames
        At most this many evenly spaced frames of that part (consecutive MD frames are
        strongly correlated; None: all).
    pair_energy
        ``pair_energy(cation, anion, r_A) -> eV`` of the potential that ran the MD; None
        (ML potentials, DFT): no bond energy.
    bond_energy_definition
        One line saying what ``pair_energy`` computes (stored with the values).
    r_max
        RDF range, Å (default: half the shortest cell height, within 4–8 Å).
    cutoffs_A
        Fixed bond cut-offs, Å, e.g. ``{"Li-O": 2.5}``, instead of the first RDF minimum
        (crystals with split shells; the same cut-offs for two engines).
    """
    traj = _as_traj(obj)
    idx = _analysed_frames(traj, last_fraction, max_frames)
    r_max = _rdf_range(traj, idx, r_max)
    symbols = traj.symbols
    ns = len(symbols)
    code = np.array([symbols.index(s) for s in traj.species])
    counts = np.bincount(code, minlength=ns)
    anions = [s for s in symbols if s in ANIONS]
    cations = [s for s in symbols if s not in ANIONS]
    if not anions:
        raise AnalysisError(
            f"no anion among {', '.join(symbols)}; structure descriptors need one of "
            + ", ".join(ANIONS)
        )

    # pass 1: every partial RDF; the short pairs are kept for the bonds (pass 2)
    # cation–anion first shells end before 3.6 Å (or the largest fixed cut-off)
    bond_max = min(r_max, max([3.6, *(cutoffs_A or {}).values()]))
    short: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def keep_short(i: np.ndarray, j: np.ndarray, d: np.ndarray) -> None:
        s = d < bond_max
        short.append((i[s], j[s], d[s]))

    n_bins = int(np.floor(r_max / RDF_DR_A + 1e-9))  # edges stay inside r_max
    res = rdf(traj, r_max=n_bins * RDF_DR_A, dr=RDF_DR_A, frames=idx, on_pairs=keep_short)
    # canonical pair names (Li-O, O-Si): the same keys whatever the atom order of the file
    partial = {"-".join(sorted(k.split("-"))): g for k, g in res.partial.items()}
    vol = traj.volume_A3[idx]

    notes: list[str] = []
    peaks: dict[str, float] = {}
    cutoffs: dict[str, float] = {}
    for c in cations:
        for a in anions:
            key = f"{c}-{a}"
            g = res.g(c, a)
            try:
                if cutoffs_A and key in cutoffs_A:
                    cutoffs[key] = float(cutoffs_A[key])
                else:
                    cutoffs[key] = min(first_shell_cutoff(res.r, g, SMOOTH_A), bond_max)
            except AnalysisError as exc:
                notes.append(f"{key}: {exc}")
                continue
            peaks[key] = _first_peak(res.r, g, cutoffs[key])
    for key, g in partial.items():  # other pairs: peak only (below r_max)
        if key not in peaks and g.max() > 0:
            a, b = key.split("-")
            if f"{b}-{a}" in peaks:
                continue
            try:
                peaks[key] = _first_peak(res.r, g, first_minimum(res.r, g))
            except AnalysisError:
                peaks[key] = float(res.r[int(np.argmax(g))])

    # pass 2: coordination per frame from the stored short pairs
    cn_frames: dict[str, list[np.ndarray]] = {k: [] for k in cutoffs}
    former_codes = [symbols.index(s) for s in symbols if s in NETWORK_FORMERS]
    qn_counts: dict[str, np.ndarray] = {s: np.zeros(16) for s in QN_ELEMENTS if s in symbols}
    is_anion = np.isin(traj.species, anions)
    for i, j, d in short:
        bonded = np.zeros(i.size, bool)
        for key, rc in cutoffs.items():
            c, a = key.split("-")
            ci, ai = symbols.index(c), symbols.index(a)
            sel = (code[i] == ci) & (code[j] == ai) & (d <= rc)
            bonded |= sel
            cn = np.bincount(i[sel], minlength=traj.n_atoms)[code == ci]
            cn_frames[key].append(cn)
        if qn_counts:
            # bonds former -> anion; an anion is bridging with >= 2 former neighbours
            fb = bonded & np.isin(code[i], former_codes) & is_anion[j]
            n_formers = np.bincount(j[fb], minlength=traj.n_atoms)
            bridging = n_formers >= 2
            for el in qn_counts:
                sel = fb & (code[i] == symbols.index(el)) & bridging[j]
                nb = np.bincount(i[sel], minlength=traj.n_atoms)[code == symbols.index(el)]
                qn_counts[el] += np.bincount(nb, minlength=16)[:16]
    cn_mean, cn_std, cn_dist = {}, {}, {}
    for key, per_frame in cn_frames.items():
        allcn = np.concatenate(per_frame)
        cn_mean[key] = float(allcn.mean())
        cn_std[key] = float(np.std([f.mean() for f in per_frame], ddof=1)) if len(
            per_frame
        ) > 1 else 0.0
        v, n = np.unique(allcn, return_counts=True)
        cn_dist[key] = {str(int(x)): float(y / allcn.size) for x, y in zip(v, n, strict=True)}
    n4 = {}
    for el in N4_ELEMENTS:
        keys = [k for k in cn_dist if k.startswith(f"{el}-")]
        if keys:  # single anion family (oxides): N4 by that anion
            n4[el] = float(cn_dist[keys[0]].get("4", 0.0))
    qn = {
        el: {f"Q{n}": float(c / q.sum()) for n, c in enumerate(q) if c > 0}
        for el, q in qn_counts.items()
        if q.sum() > 0
    }

    # packing fraction: cations at their measured CN, anions at their cation coordination
    coord = {}
    for c in cations:
        coord[c] = sum(cn_mean.get(f"{c}-{a}", 0.0) for a in anions)
    for a in anions:
        coord[a] = sum(
            cn_mean.get(f"{c}-{a}", 0.0) * counts[symbols.index(c)] for c in cations
        ) / counts[symbols.index(a)]
    try:
        pf, pf_notes = packing_fraction(traj.species, float(vol.mean()), coord)
        notes += pf_notes
    except AnalysisError as exc:
        pf = None
        notes.append(f"packing fraction: {exc}")

    bond_e: dict[str, float] = {}
    mean_be = None
    if pair_energy is not None:
        weights = []
        for key, rp in peaks.items():
            if key in cn_mean:
                c, a = key.split("-")
                bond_e[key] = float(pair_energy(c, a, rp))
                weights.append(counts[symbols.index(c)] * cn_mean[key])
        if bond_e and sum(weights) > 0:
            mean_be = float(np.average(list(bond_e.values()), weights=weights))

    sqs = {
        rad: structure_factor(traj, rad, q=Q_GRID, rdf_result=res).S
        for rad in ("neutron", "xray")
    }
    masses = atomic_masses(traj.species).sum()
    dens = masses * AMU_PER_A3_TO_G_PER_CM3 / vol
    k = STORED_RDF_COARSEN
    m = (n_bins // k) * k
    coarse = {key: g[:m].reshape(-1, k).mean(1) for key, g in partial.items()}
    coarse["total"] = res.total[:m].reshape(-1, k).mean(1)
    return StructureDescriptors(
        n_frames=int(idx.size),
        density_g_cm3=float(dens.mean()),
        density_std_g_cm3=float(dens.std(ddof=1)) if dens.size > 1 else 0.0,
        rdf_peak_A={k_: round(v, 4) for k_, v in peaks.items()},
        cn=cn_mean,
        cn_std=cn_std,
        cn_cutoff_A={k_: round(v, 4) for k_, v in cutoffs.items()},
        cn_distribution=cn_dist,
        n4=n4,
        qn=qn,
        packing_fraction=pf,
        bond_energy_eV=bond_e,
        mean_bond_energy_eV=mean_be,
        bond_energy_definition=bond_energy_definition if bond_e else "",
        rdf_r_A=res.edges[:m:k] + k * RDF_DR_A / 2,
        rdf=coarse,
        sq_q_inv_A=Q_GRID.copy(),
        sq_neutron=sqs["neutron"],
        sq_xray=sqs["xray"],
        notes=notes,
    )

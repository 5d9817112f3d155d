"""Structure descriptors: density, RDFs, coordination numbers, boron N4, S(q).

Functions take a :class:`Trajectory` (averaged over ``frames``), a pymatgen
``Structure`` or an ASE ``Atoms``. Pair distances come from ASE's
``neighbor_list`` (minimum image for any triclinic cell, including cut-offs longer
than half the cell).

Conventions (same as ``ase.geometry.rdf.get_rdf``): bins ``(r_k, r_k + dr]`` with
``r_k = k·dr``; g_ab(r) = n_ab(r) / (N_a · ρ_b · V_shell) with ρ_b = N_b / V and the
exact shell volume; g_ab = g_ba; the total g(r) = Σ_ab c_a c_b g_ab(r).
Structure factors are Faber–Ziman:
S(q) = 1 + Σ_ab c_a c_b w_a w_b [S_ab(q) − 1] / (Σ_a c_a w_a)², with
S_ab(q) − 1 = 4πρ ∫ r² [g_ab(r) − 1] sin(qr)/(qr) L(r) dr, L the Lorch window,
w = coherent neutron scattering lengths or X-ray form factors f(q) (pymatgen's
tables: ``neutron_scattering_length.json``, ``atomic_scattering_params.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from itertools import combinations_with_replacement
from pathlib import Path

import numpy as np

from amorphdb.analysis.errors import AnalysisError
from amorphdb.analysis.msd import atomic_masses
from amorphdb.analysis.trajectory import Trajectory

__all__ = [
    "RDFResult",
    "Radiation",
    "StructureFactor",
    "boron_n4_fraction",
    "coordination_numbers",
    "density",
    "first_minimum",
    "first_shell_cutoff",
    "pair_distances",
    "rdf",
    "structure_factor",
]

AMU_PER_A3_TO_G_PER_CM3 = 1.66053906660


class Radiation(StrEnum):
    """Probe of a structure factor."""

    NEUTRON = "neutron"
    XRAY = "xray"


def _as_traj(obj) -> Trajectory:
    if isinstance(obj, Trajectory):
        return obj
    try:
        from pymatgen.core import Structure

        if isinstance(obj, Structure):
            return Trajectory.from_pymatgen([obj], time_step=1.0)
    except ImportError:  # pragma: no cover
        pass
    try:
        from ase import Atoms

        if isinstance(obj, Atoms):
            return Trajectory.from_ase([obj], time_step=1.0)
    except ImportError:  # pragma: no cover
        pass
    raise AnalysisError(
        f"cannot analyse a {type(obj).__name__}; pass a Trajectory, pymatgen Structure or ASE Atoms"
    )


def _frames(traj: Trajectory, frames: slice | int | None, default_n: int = 20) -> np.ndarray:
    if frames is None:
        return np.unique(
            np.linspace(0, traj.n_frames - 1, min(default_n, traj.n_frames)).astype(int)
        )
    if isinstance(frames, int):
        return np.array([frames % traj.n_frames])
    idx = np.arange(traj.n_frames)[frames]
    if idx.size == 0:
        raise AnalysisError(f"frames {frames} select no frame of {traj.n_frames}")
    return idx


def density(obj, frames: slice | int | None = None) -> float:
    """Mass density, g/cm³, averaged over ``frames`` (all by default)."""
    traj = _as_traj(obj)
    idx = np.arange(traj.n_frames) if frames is None else _frames(traj, frames)
    mass = atomic_masses(traj.species).sum()
    return float(mass * AMU_PER_A3_TO_G_PER_CM3 / traj.volume_A3[idx].mean())


def _pairs(traj: Trajectory, frame: int, r_max: float):
    from ase.neighborlist import neighbor_list

    atoms = traj.to_ase(int(frame))
    i, j, d = neighbor_list("ijd", atoms, r_max)
    return i, j, d


def _orthorhombic_lengths(traj: Trajectory, idx: np.ndarray, r_max: float) -> np.ndarray | None:
    """Cell lengths per frame (Å) when every cell is orthorhombic and r_max < L/2."""
    lat = traj.lattices[idx] if not traj.is_constant_cell else traj.lattice[None]
    diag = np.diagonal(lat, axis1=1, axis2=2)
    off = lat - np.einsum("fi,ij->fij", diag, np.eye(3))
    if np.abs(off).max() > 1e-8 * np.abs(diag).max() or r_max >= 0.5 * diag.min():
        return None
    return np.broadcast_to(diag, (idx.size, 3))


def pair_distances(traj: Trajectory, frames: np.ndarray, r_max: float):
    """Yield ``(i, j, d)`` for each frame: ordered pairs (both i→j and j→i) within r_max, Å.

    Orthorhombic cells with ``r_max`` below half the shortest edge (every cubic MD
    cell of a melt–quench run) use a vectorised minimum-image over frame chunks,
    ~20× faster than a neighbour list per frame; other cells use ASE's
    ``neighbor_list`` (any triclinic cell, cut-offs longer than the cell).
    """
    frames = np.asarray(frames, dtype=int)
    lengths = _orthorhombic_lengths(traj, frames, r_max)
    if lengths is None or traj.n_atoms < 2:
        for f in frames:
            yield _pairs(traj, f, r_max)
        return
    iu, ju = np.triu_indices(traj.n_atoms, k=1)
    chunk = max(1, 2_000_000 // iu.size)
    pos = traj.positions
    for start in range(0, frames.size, chunk):
        sel = frames[start : start + chunk]
        box = lengths[start : start + chunk, None, :]
        x = pos[sel].astype(np.float64)
        diff = x[:, ju] - x[:, iu]
        diff -= box * np.round(diff / box)
        d2 = np.einsum("fpk,fpk->fp", diff, diff)
        for k in range(sel.size):
            keep = np.flatnonzero(d2[k] < r_max * r_max)
            d = np.sqrt(d2[k, keep])
            i, j = iu[keep], ju[keep]
            yield np.concatenate([i, j]), np.concatenate([j, i]), np.concatenate([d, d])


@dataclass
class RDFResult:
    """Radial distribution functions.

    Attributes
    ----------
    r
        Bin centres, Å.
    edges
        Bin edges, Å.
    partial
        ``{"Li-O": g(r), ...}`` for every unordered pair of elements (g_ab = g_ba).
    total
        Σ c_a c_b g_ab(r) over ordered pairs.
    concentrations
        Atomic fraction of each element.
    number_density_A3
        Atoms per Å³ (mean over frames).
    n_frames
        Frames averaged.
    """

    r: np.ndarray
    edges: np.ndarray
    partial: dict[str, np.ndarray]
    total: np.ndarray
    concentrations: dict[str, float]
    number_density_A3: float
    n_frames: int
    counts: dict[str, int] = field(default_factory=dict)

    def g(self, a: str, b: str) -> np.ndarray:
        """g_ab(r) (order of a, b does not matter)."""
        key = f"{a}-{b}" if f"{a}-{b}" in self.partial else f"{b}-{a}"
        if key not in self.partial:
            raise AnalysisError(f"no RDF for {a}-{b}; present: {', '.join(self.partial)}")
        return self.partial[key]


def rdf(
    obj,
    r_max: float = 8.0,
    dr: float = 0.02,
    frames: slice | int | np.ndarray | None = None,
    on_pairs=None,
) -> RDFResult:
    """Total and partial radial distribution functions.

    Parameters
    ----------
    obj
        Trajectory, pymatgen Structure or ASE Atoms.
    r_max
        Largest distance, Å.
    dr
        Bin width, Å.
    frames
        Frames averaged (default: up to 20 evenly spaced frames).
    on_pairs
        Called with ``(i, j, d)`` of every frame (pairs within r_max, both orders), so
        callers reuse the distances (:mod:`amorphdb.analysis.descriptors`).
    """
    traj = _as_traj(obj)
    idx = _frames(traj, frames)
    nbins = round(r_max / dr)
    edges = np.linspace(0.0, nbins * dr, nbins + 1)
    symbols = traj.symbols
    code = np.searchsorted(symbols, traj.species, sorter=np.argsort(symbols))
    order = np.argsort(symbols)
    code = order[code]
    counts = {s: int(np.sum(traj.species == s)) for s in symbols}
    ns = len(symbols)
    hist = np.zeros((ns, ns, nbins + 1))
    vol = traj.volume_A3[idx]
    for i, j, d in pair_distances(traj, idx, edges[-1]):
        if on_pairs is not None:
            on_pairs(i, j, d)
        k = np.ceil(d / dr).astype(int)
        keep = k <= nbins
        flat = (code[i[keep]] * ns + code[j[keep]]) * (nbins + 1) + k[keep]
        hist += np.bincount(flat, minlength=ns * ns * (nbins + 1)).reshape(ns, ns, nbins + 1)
    hist = hist[:, :, 1:]
    shell = 4.0 * np.pi * dr * (edges[:-1] ** 2 + edges[:-1] * dr + dr**2 / 3.0)
    n_tot = traj.n_atoms
    partial = {}
    total = np.zeros(nbins)
    conc = {s: counts[s] / n_tot for s in symbols}
    mean_vol = vol.mean()
    for a_i, a in enumerate(symbols):
        for b_i, b in enumerate(symbols):
            # per frame: n_ab / (N_a * N_b / V * shell), averaged over frames
            g = hist[a_i, b_i] * mean_vol / (len(idx) * counts[a] * counts[b] * shell)
            total += conc[a] * conc[b] * g
            if b_i >= a_i:
                partial[f"{a}-{b}"] = g
    return RDFResult(
        r=edges[:-1] + dr / 2,
        edges=edges,
        partial=partial,
        total=total,
        concentrations=conc,
        number_density_A3=float(n_tot / mean_vol),
        n_frames=len(idx),
        counts=counts,
    )


def _smoothed_first_peak(r: np.ndarray, g: np.ndarray, smooth_A: float) -> tuple[np.ndarray, int]:
    """g box-smoothed over ``smooth_A`` (Å) and the index of its first maximum (the first
    point above half the highest value, climbed to the top)."""
    k = max(1, round(smooth_A / (r[1] - r[0])))
    gs = np.convolve(g, np.ones(k) / k, mode="same")
    if not np.any(gs > 0):
        raise AnalysisError("the RDF is zero everywhere; increase r_max or give a cut-off")
    peak = int(np.argmax(gs > 0.5 * gs.max()))
    while peak + 1 < len(gs) and gs[peak + 1] >= gs[peak]:
        peak += 1
    return gs, peak


def first_minimum(r: np.ndarray, g: np.ndarray, smooth_A: float = 0.1) -> float:
    """Position of the first minimum after the first peak of g(r), Å."""
    gs, peak = _smoothed_first_peak(r, g, smooth_A)
    # descend to the first minimum
    m = peak
    while m + 1 < len(gs) and gs[m + 1] < gs[m]:
        m += 1
    end = m
    while end + 1 < len(gs) and gs[end + 1] == gs[m]:  # flat (e.g. zero in a crystal)
        end += 1
    if end >= len(gs) - 1:
        raise AnalysisError("no minimum after the first RDF peak within r_max; raise r_max")
    return float(r[(m + end) // 2])


def first_shell_cutoff(
    r: np.ndarray, g: np.ndarray, smooth_A: float = 0.3, window_A: float = 1.5
) -> float:
    """Bond cut-off of a partial RDF, Å: the deepest point of g within ``window_A`` after
    its first peak (a flat bottom: the middle of its first run).

    Robust where :func:`first_minimum` (the first local minimum) is not: the RDFs of
    small, hot cells have noise dips right after the peak. g is box-smoothed over
    ``smooth_A`` first (this also merges split crystal shells, e.g. Si–O 1.59/1.68 Å).
    """
    dr = r[1] - r[0]
    gs, start = _smoothed_first_peak(r, g, smooth_A)
    stop = min(len(gs), start + max(2, round(window_A / dr)) + 1)
    seg = gs[start:stop]
    low = seg.min()
    if stop >= len(gs) and seg[-1] <= low + 1e-12 and low > 0.02 * gs[start]:
        raise AnalysisError("no minimum after the first RDF peak within r_max; raise r_max")
    near = np.flatnonzero(seg <= low + 0.02 * max(gs[start] - low, 1e-12))
    run_end = near[0]
    while run_end + 1 < seg.size and seg[run_end + 1] <= low + 0.02 * max(gs[start] - low, 1e-12):
        run_end += 1
    return float(r[start + (near[0] + run_end) // 2])


def coordination_numbers(
    obj,
    center: str,
    neighbor: str,
    cutoff_A: float | None = None,
    frames: slice | int | None = None,
    r_max: float = 6.0,
) -> dict:
    """Coordination of ``center`` atoms by ``neighbor`` atoms.

    Parameters
    ----------
    obj
        Trajectory, pymatgen Structure or ASE Atoms.
    center, neighbor
        Elements.
    cutoff_A
        Bond cut-off, Å; default the first minimum of g_center-neighbor(r).
    frames
        Frames averaged (default: up to 20 evenly spaced frames).
    r_max
        Range of the RDF used to find the minimum, Å.

    Returns
    -------
    dict
        ``mean`` (average CN), ``distribution`` ({CN: fraction}), ``cutoff_A``,
        ``cutoff_from_rdf`` (bool).
    """
    traj = _as_traj(obj)
    ci = traj.indices(center)
    traj.indices(neighbor)
    from_rdf = cutoff_A is None
    if from_rdf:
        res = rdf(traj, r_max=r_max, frames=frames)
        cutoff_A = first_minimum(res.r, res.g(center, neighbor))
    idx = _frames(traj, frames)
    cn_all = []
    is_center = np.zeros(traj.n_atoms, bool)
    is_center[ci] = True
    is_nb = traj.species == neighbor
    for i, j, _ in pair_distances(traj, idx, float(cutoff_A)):
        keep = is_center[i] & is_nb[j]
        cn = np.bincount(i[keep], minlength=traj.n_atoms)[ci]
        cn_all.append(cn)
    cn_all = np.concatenate(cn_all)
    values, freq = np.unique(cn_all, return_counts=True)
    return {
        "center": center,
        "neighbor": neighbor,
        "mean": float(cn_all.mean()),
        "distribution": {int(v): float(c / cn_all.size) for v, c in zip(values, freq, strict=True)},
        "cutoff_A": float(cutoff_A),
        "cutoff_from_rdf": from_rdf,
    }


def boron_n4_fraction(
    obj, cutoff_A: float | None = None, frames: slice | int | None = None, oxygen: str = "O"
) -> float:
    """Fraction of four-fold coordinated boron (N4), B–O bonds within ``cutoff_A``.

    The default cut-off is the first minimum of g_BO(r) (typically 1.8–2.0 Å in
    borate glasses). Compare with the Yun–Bray/Dell–Bray–Xiao model.
    """
    cn = coordination_numbers(obj, "B", oxygen, cutoff_A=cutoff_A, frames=frames, r_max=4.0)
    return float(sum(f for k, f in cn["distribution"].items() if k == 4))


@cache
def _scattering_tables() -> tuple[dict, dict]:
    import pymatgen.analysis.diffraction as diffraction

    base = Path(diffraction.__file__).parent
    with open(base / "neutron_scattering_length.json") as fh:
        neutron = json.load(fh)
    with open(base / "atomic_scattering_params.json") as fh:
        xray = json.load(fh)
    return neutron, xray


def scattering_weights(symbols: list[str], q: np.ndarray, radiation: Radiation) -> np.ndarray:
    """``(n_elements, n_q)`` scattering amplitudes: b (fm) or f(q) (electrons)."""
    neutron, xray = _scattering_tables()
    out = np.empty((len(symbols), q.size))
    for k, s in enumerate(symbols):
        if radiation is Radiation.NEUTRON:
            if s not in neutron:
                raise AnalysisError(f"no neutron scattering length for {s}")
            out[k] = float(np.real(complex(neutron[s])))
        else:
            from pymatgen.core.periodic_table import Element

            if s not in xray:
                raise AnalysisError(f"no X-ray form factor for {s}")
            coeff = np.asarray(xray[s])
            s2 = (q / (4 * np.pi)) ** 2
            # f(s) = Z - 41.78214 s² Σ a_i exp(-b_i s²), s = sinθ/λ (as pymatgen XRDCalculator)
            out[k] = Element(s).Z - 41.78214 * s2 * np.sum(
                coeff[:, 0, None] * np.exp(-coeff[:, 1, None] * s2), axis=0
            )
    return out


@dataclass
class StructureFactor:
    """S(q) of one radiation.

    Attributes
    ----------
    q
        Scattering vector magnitudes, 1/Å.
    S
        Total Faber–Ziman S(q).
    partial
        ``{"Li-O": S_ab(q)}``.
    radiation
        ``neutron`` or ``xray``.
    """

    q: np.ndarray
    S: np.ndarray
    partial: dict[str, np.ndarray]
    radiation: str


def structure_factor(
    obj,
    radiation: str | Radiation = Radiation.NEUTRON,
    q: np.ndarray | None = None,
    r_max: float | None = None,
    dr: float = 0.02,
    frames: slice | int | None = None,
    lorch: bool = True,
    rdf_result: RDFResult | None = None,
) -> StructureFactor:
    """Neutron or X-ray total structure factor from the partial RDFs.

    Parameters
    ----------
    obj
        Trajectory, pymatgen Structure or ASE Atoms.
    radiation
        ``"neutron"`` or ``"xray"``.
    q
        1/Å (default 0.3–20 in steps of 0.02).
    r_max
        Integration range, Å (default: half the shortest cell height, ≤ 12 Å).
    dr
        Bin width, Å.
    frames
        Frames averaged.
    lorch
        Damp the truncation ripples with the Lorch function.
    rdf_result
        Reuse RDFs already computed.
    """
    traj = _as_traj(obj)
    rad = Radiation(radiation)
    if q is None:
        q = np.arange(0.3, 20.0 + 1e-9, 0.02)
    q = np.asarray(q, dtype=float)
    if rdf_result is None:
        if r_max is None:
            lat = traj.lattices[0]
            heights = np.abs(np.linalg.det(lat)) / np.linalg.norm(
                np.cross(lat[[1, 2, 0]], lat[[2, 0, 1]]), axis=1
            )
            r_max = float(min(12.0, heights.min() / 2))
        rdf_result = rdf(traj, r_max=r_max, dr=dr, frames=frames)
    r, g_all = rdf_result.r, rdf_result
    dr_ = r[1] - r[0]
    rho = rdf_result.number_density_A3
    window = np.sinc(r / (r[-1] + dr_ / 2)) if lorch else np.ones_like(r)  # sin(πx)/(πx)
    kernel = np.sinc(np.outer(q, r) / np.pi)  # sin(qr)/(qr)
    symbols = sorted(rdf_result.concentrations)
    weights = scattering_weights(symbols, q, rad)
    conc = np.array([rdf_result.concentrations[s] for s in symbols])
    mean_w = conc @ weights
    partial = {}
    total = np.zeros_like(q)
    for (ia, a), (ib, b) in combinations_with_replacement(enumerate(symbols), 2):
        h = (g_all.g(a, b) - 1.0) * r**2 * window
        s_ab = 1.0 + 4 * np.pi * rho * (kernel @ h) * dr_
        partial[f"{a}-{b}"] = s_ab
        mult = 1.0 if a == b else 2.0
        total += mult * conc[ia] * conc[ib] * weights[ia] * weights[ib] * (s_ab - 1.0)
    return StructureFactor(q=q, S=1.0 + total / mean_w**2, partial=partial, radiation=rad.value)

"""Has the network relaxed? MSD diagnostics of network formers and anions.

In a glass-forming liquid the MSD of an atom first grows ballistically (∝ t²), then
stays on a plateau while the atom rattles in the cage of its neighbours, and only
after the structural relaxation time becomes diffusive (∝ t); Kob & Andersen,
Phys. Rev. E 51, 4626 (1995), Fig. 1 (the plateau, ~0.01–0.1 σ², lasts longer the
colder the liquid). Below the MD glass transition the formers and anions never
leave the plateau within the run: the structure is a frozen glass, whose density and
ion diffusivity depend on how it was made, and the mobile ions then diffuse through
a fixed network (a different activation energy than in the melt).

A species is **caged** (has not left the caging regime) when, at the end of the
analysed lags (``end_fraction`` of the run, as the diffusion window):

- its MSD is below the squared nearest-neighbour distance, MSD < r_nn² — the usual
  criterion that an atom has diffused only once it has moved by about one
  interatomic distance (it has changed neighbours), or
- the local log–log slope d ln MSD / d ln t over the last decade of lag is below
  ``slope_threshold`` (default 0.8; 1 is diffusive, ≈ 0 a plateau).

r_nn is the median distance of the species' atoms to their nearest neighbour (any
element) in the last frame (e.g. ≈ 1.6 Å for Si and O in silicates: r_nn² ≈ 2.6 Å²; the
last, not the first frame: a run may start from a packed structure whose distances are
the packing tolerance).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from amorphdb.analysis.diffusion import DiffusionResult, diffusivity
from amorphdb.analysis.errors import AnalysisError
from amorphdb.analysis.trajectory import Trajectory

__all__ = [
    "ANIONS",
    "NETWORK_FORMERS",
    "NetworkRelaxation",
    "SpeciesRelaxation",
    "nearest_neighbour_distance",
    "network_relaxation",
    "network_species",
]

#: glass network formers (Zachariasen's cations; intermediates Al, Ti, Zr, Ga included)
NETWORK_FORMERS = frozenset({"Si", "B", "P", "Ge", "As", "Sb", "Al", "Ti", "Zr", "Ga", "V"})
#: network anions
ANIONS = frozenset({"O", "S", "Se", "Te", "F", "Cl", "Br", "I", "N"})
#: default log–log slope below which the MSD is not diffusive
SLOPE_THRESHOLD = 0.8


@dataclass
class SpeciesRelaxation:
    """Caging diagnostics of one species.

    Attributes
    ----------
    species, role
        Element and ``"former"``, ``"anion"`` or ``"modifier"``.
    D_cm2_s, D_std_cm2_s
        Its diffusivity and σ (from :func:`~amorphdb.analysis.diffusion.diffusivity`).
    msd_end_A2
        MSD at the end of the analysed lags, Å².
    lag_end_ps
        That lag, ps.
    loglog_slope_end
        d ln MSD / d ln t over the last decade of lag (or the longest range available).
    cage_size_A2
        r_nn², Å².
    caged
        True when the species has not left the caging regime.
    reason
        Why it is caged (empty otherwise).
    """

    species: str
    role: str
    D_cm2_s: float
    D_std_cm2_s: float
    msd_end_A2: float
    lag_end_ps: float
    loglog_slope_end: float
    cage_size_A2: float
    caged: bool
    reason: str


@dataclass
class NetworkRelaxation:
    """Whether the network of one run has relaxed.

    Attributes
    ----------
    species
        Element → :class:`SpeciesRelaxation` (formers and anions).
    frozen
        True when any former or anion is caged: the structure is a frozen glass.
    regime
        ``"glass"`` (frozen) or ``"melt"`` (network relaxed): what
        :func:`~amorphdb.analysis.regimes.fit_arrhenius_regimes` takes.
    temperature_K
        Of the run, when known.
    slope_threshold
        The slope criterion used.
    """

    species: dict[str, SpeciesRelaxation] = field(default_factory=dict)
    frozen: bool = False
    regime: str = "melt"
    temperature_K: float | None = None
    slope_threshold: float = SLOPE_THRESHOLD

    def summary(self) -> str:
        """One line for people."""
        caged = [s for s in self.species.values() if s.caged]
        if not caged:
            names = ", ".join(self.species) or "none"
            return f"network relaxed (formers/anions diffusive: {names})"
        parts = [f"{s.species} ({s.reason})" for s in caged]
        return "FROZEN GLASS: network not relaxed: " + "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able dict (plain numbers)."""
        return asdict(self)


def network_species(symbols: Sequence[str]) -> dict[str, str]:
    """Role of each network former and anion among ``symbols``."""
    out = {}
    for s in symbols:
        if s in NETWORK_FORMERS:
            out[s] = "former"
        elif s in ANIONS:
            out[s] = "anion"
    return out


def nearest_neighbour_distance(traj: Trajectory, species: str, frame: int = -1) -> float:
    """Median distance (Å) from the atoms of ``species`` to their nearest neighbour.

    Minimum image in the (possibly triclinic) cell: fractional differences wrapped to
    [−0.5, 0.5), then the 27 neighbouring images checked (exact for any cell whose
    shortest image distance exceeds twice the answer).
    """
    atoms = traj.indices(species)
    lat = traj.lattices[frame]
    inv = np.linalg.inv(lat)
    pos = np.asarray(traj.positions[frame], dtype=np.float64)
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
    shift_cart = shifts @ lat
    best = np.full(len(atoms), np.inf)
    for chunk in np.array_split(atoms, max(1, len(atoms) // 64)):
        d = pos[None, :, :] - pos[chunk, None, :]  # (c, N, 3)
        frac = d @ inv
        frac -= np.rint(frac)
        cart = frac @ lat
        r = np.linalg.norm(cart[:, :, None, :] + shift_cart[None, None], axis=-1).min(axis=2)
        r[np.arange(len(chunk)), chunk] = np.inf  # not itself
        best[np.searchsorted(atoms, chunk)] = r.min(axis=1)
    if not np.isfinite(best).all():
        raise AnalysisError(f"{species}: no neighbour found; the cell holds one atom")
    return float(np.median(best))


def _slope_last_decade(lag: np.ndarray, msd: np.ndarray, i_end: int) -> float:
    t1 = lag[i_end]
    i0 = int(np.searchsorted(lag, t1 / 10.0))
    i0 = max(1, min(i0, i_end - 1))
    if msd[i0] <= 0 or msd[i_end] <= 0 or lag[i0] <= 0:
        return float("nan")
    return float(np.log(msd[i_end] / msd[i0]) / np.log(lag[i_end] / lag[i0]))


def network_relaxation(
    traj: Trajectory,
    results: Mapping[str, DiffusionResult] | None = None,
    species: Sequence[str] | None = None,
    slope_threshold: float = SLOPE_THRESHOLD,
    cage_size_A: float | Mapping[str, float] | None = None,
    end_fraction: float = 0.3,
    temperature_K: float | None = None,
) -> NetworkRelaxation:
    """Diagnose whether the network formers and anions of a run left their cages.

    Parameters
    ----------
    traj
        The production trajectory.
    results
        Diffusion results already computed (element → result); others are computed.
    species
        Elements to diagnose (default: the formers and anions present,
        :func:`network_species`).
    slope_threshold
        Log–log slope over the last decade of lag below which a species is caged.
    cage_size_A
        Cage radius r_nn (Å), one value or per element; default
        :func:`nearest_neighbour_distance`.
    end_fraction
        End of the analysed lags as a fraction of the run (as the diffusion window).
    temperature_K
        Recorded in the result (default ``traj.metadata["temperature_K"]``).
    """
    roles = network_species(traj.symbols)
    wanted = list(species) if species is not None else list(roles)
    out = NetworkRelaxation(
        temperature_K=temperature_K
        if temperature_K is not None
        else traj.metadata.get("temperature_K"),
        slope_threshold=slope_threshold,
    )
    for sp in wanted:
        res = (results or {}).get(sp)
        if res is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = diffusivity(traj, species=sp, end_fraction=end_fraction)
        r_nn = cage_size_A.get(sp) if isinstance(cage_size_A, Mapping) else cage_size_A
        if r_nn is None:
            r_nn = nearest_neighbour_distance(traj, sp)
        lag, msd = np.asarray(res.lag_times), np.asarray(res.msd)
        i_end = max(2, min(len(lag) - 1, int(end_fraction * (len(lag) - 1))))
        slope = _slope_last_decade(lag, msd, i_end)
        cage = float(r_nn) ** 2
        reasons = []
        if msd[i_end] < cage:
            reasons.append(
                f"MSD {msd[i_end]:.2g} Å² < r_nn² = {cage:.2g} Å² at {lag[i_end]:.3g} ps"
            )
        if not np.isfinite(slope) or slope < slope_threshold:
            reasons.append(f"log-log slope {slope:.2f} < {slope_threshold:g} over the last decade")
        out.species[sp] = SpeciesRelaxation(
            species=sp,
            role=roles.get(sp, "modifier"),
            D_cm2_s=float(res.D),
            D_std_cm2_s=float(res.D_std),
            msd_end_A2=float(msd[i_end]),
            lag_end_ps=float(lag[i_end]),
            loglog_slope_end=slope,
            cage_size_A2=cage,
            caged=bool(reasons),
            reason="; ".join(reasons),
        )
    out.frozen = any(s.caged for s in out.species.values() if s.role != "modifier")
    out.regime = "glass" if out.frozen else "melt"
    return out

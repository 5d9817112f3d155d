"""Tracer and collective diffusivity from the MSD, with an honest uncertainty.

D = slope(MSD vs t) / (2·d) over a diffusive window; with MSD in Å² and t in ps,
D[cm²/s] = slope / (2·d) × 1e-4 (1 Å²/ps = 1e-4 cm²/s).

Uncertainty (never the OLS slope error, which ignores that MSD values at
neighbouring lags are strongly correlated):

- ``"atoms"``: standard error of the mean over atoms of the per-atom slopes. The
  OLS slope is linear in the MSD, so this is the large-sample limit of a bootstrap
  over atoms, and it keeps each atom's serial correlation. Assumes atoms move
  independently.
- ``"blocks"``: the run is cut into ``n_blocks`` independent time blocks, each
  fitted over the same *fraction* of its length as the full window; by the
  self-similarity of diffusion their spread (standard deviation) estimates the
  error of the full-run D. Captures correlated (collective) motion; with 10 blocks
  the estimate itself scatters by ~25 %.
- ``"he2018"``: He, Zhu, Epstein & Mo, npj Comput. Mater. 4, 18 (2018):
  RSD = 3.43/√N_jump + 0.04 with N_jump = N_ions·max(MSD)/a² (a = site distance);
  an empirical estimate from the number of hops, always reported.

``"auto"`` (default) reports ``"atoms"`` when there are at least 10 atoms, unless
the block spread is more than twice larger (then motion is correlated and
``"blocks"`` is reported); with fewer atoms ``"blocks"``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import scipy.fft

from amorphdb.analysis.conductivity import default_charge, nernst_einstein_factor
from amorphdb.analysis.errors import AnalysisError
from amorphdb.analysis.msd import (
    SlopeKernel,
    check_frames,
    fft_length,
    msd_from_spectrum,
    unwrapped_series,
)
from amorphdb.analysis.trajectory import Trajectory, decode_array, encode_array, json_safe

__all__ = ["DiffusionResult", "UncertaintyMethod", "choose_window", "diffusivity"]

A2_PER_PS_TO_CM2_PER_S = 1e-4
#: MSD (Å²) at the end of the fit window below which a species is "not diffusive": it has
#: not moved ~1 Å, the scale of the cage plateau (Kob & Andersen, Phys. Rev. E 51, 4626)
MIN_DIFFUSIVE_MSD_A2 = 1.0


class UncertaintyMethod(StrEnum):
    """How D_std is estimated (see module docstring)."""

    AUTO = "auto"
    ATOMS = "atoms"
    BLOCKS = "blocks"
    HE2018 = "he2018"


@dataclass
class DiffusionResult:
    """Diffusivity of one species from one trajectory.

    Attributes
    ----------
    species
        The element analysed.
    D, D_std
        Tracer diffusivity and its standard deviation, cm²/s.
    D_std_method
        Which estimate ``D_std`` is (``atoms``, ``blocks`` or ``he2018``).
    D_std_by_method
        Every estimate computed, cm²/s.
    D_axes, D_axes_std
        Per Cartesian axis (x, y, z) diffusivity, cm²/s (slope/2).
    fit_window
        ``(start, end)`` lag times of the fit, ps.
    window_auto
        True if the window was chosen automatically.
    lag_times, msd, msd_axes
        Lag times (ps), species-averaged MSD (Å²) and per-axis MSD ``(3, n)`` (Å²).
    loglog_slope
        Mean d ln MSD / d ln t over the window (1 when diffusive).
    reliable, reason
        False with a reason when the number should not be trusted.
    D_charge, D_charge_std, msd_charge
        Collective ("charge") diffusivity from the MSD of the summed displacement of
        all ions of the species, divided by their number (cm²/s, Å²).
    haven_ratio
        D / D_charge.
    charge, temperature_K, conductivity_mS_cm, conductivity_std_mS_cm,
    conductivity_charge_mS_cm
        Nernst–Einstein conductivity from D (Haven ratio 1) and from D_charge, when
        a temperature is known.
    n_jumps, site_distance_A
        He et al. 2018 hop count and the site distance used, Å.
    fit_slope_A2_ps, fit_intercept_A2
        The fitted line MSD = slope·t + intercept over ``fit_window`` (Å²/ps, Å²);
        ``D = slope / (2·dimension) × 1e-4``.
    D_upper_bound
        MSD(t_end) / (2·d·t_end) at the window's end, cm²/s: an upper bound of D that
        holds whatever the MSD's shape (a caged plateau included).
    """

    species: str
    D: float
    D_std: float
    D_std_method: str
    D_std_by_method: dict[str, float]
    D_axes: list[float]
    D_axes_std: list[float]
    fit_window: tuple[float, float]
    window_auto: bool
    lag_times: np.ndarray
    msd: np.ndarray
    msd_axes: np.ndarray
    loglog_slope: float
    reliable: bool
    reason: str
    n_atoms: int
    n_frames: int
    time_step_fs: float
    duration_ps: float
    drift_removed: bool
    max_com_drift_A: float
    max_jump_fraction: float
    n_jumps: float
    site_distance_A: float
    fit_slope_A2_ps: float | None = None
    fit_intercept_A2: float | None = None
    D_charge: float | None = None
    D_charge_std: float | None = None
    msd_charge: np.ndarray | None = None
    haven_ratio: float | None = None
    charge: float | None = None
    temperature_K: float | None = None
    conductivity_mS_cm: float | None = None
    conductivity_std_mS_cm: float | None = None
    conductivity_charge_mS_cm: float | None = None
    D_upper_bound: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    _ARRAYS = ("lag_times", "msd", "msd_axes", "msd_charge")

    @property
    def diffusive(self) -> bool:
        """False when no diffusion is resolved.

        That is: D ≤ 0, D < 2σ, a plateau (log–log slope < 0.5 in the window), or an
        MSD at the window's end below :data:`MIN_DIFFUSIVE_MSD_A2` (the atoms have not
        moved one interatomic distance, ~1 Å: they rattle in their cage). Such a species
        is reported as "not diffusive, D < :attr:`D_upper_bound`", never as a D.
        """
        slope_ok = not np.isfinite(self.loglog_slope) or self.loglog_slope >= 0.5
        i_end = min(
            int(np.searchsorted(self.lag_times, self.fit_window[1] - 1e-12)), len(self.msd) - 1
        )
        moved = self.msd[i_end] >= MIN_DIFFUSIVE_MSD_A2
        return bool(self.D > 0 and 2 * self.D_std <= self.D and slope_ok and moved)

    def as_dict(self, max_points: int = 400, plain: bool = False) -> dict[str, Any]:
        """JSON-able dict; MSD curves thinned to ≤ ``max_points`` log-spaced lags.

        ``plain=True`` writes the curves as lists of numbers and NaN/inf as None (for
        ``--json`` output any tool can read); else compressed (compact storage).
        """
        d = asdict(self)
        n = len(self.lag_times)
        idx = np.unique(np.geomspace(1, n - 1, max_points).astype(int)) if n > max_points else None
        for key in self._ARRAYS:
            arr = d.pop(key)
            if arr is None:
                d[key] = None
                continue
            arr = np.asarray(arr)
            if idx is not None:
                arr = arr[..., np.concatenate([[0], idx])]
            d[key] = arr.astype(float).tolist() if plain else encode_array(arr, "float64")
        d["fit_window"] = list(self.fit_window)
        if plain:
            d["diffusive"] = self.diffusive
            d = json_safe(d)
        d["@module"] = type(self).__module__
        d["@class"] = type(self).__name__
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DiffusionResult:
        """Inverse of :meth:`as_dict` (MSD curves as thinned)."""
        kw = {k: v for k, v in d.items() if not k.startswith("@") and k != "diffusive"}
        for key in cls._ARRAYS:
            if isinstance(kw.get(key), dict):
                kw[key] = decode_array(kw[key])
            elif kw.get(key) is not None:
                kw[key] = np.asarray(kw[key], dtype=float)
        kw["fit_window"] = tuple(kw["fit_window"])
        return cls(**kw)

    def to_json(self) -> str:
        """JSON text of :meth:`as_dict`."""
        import json

        return json.dumps(self.as_dict())

    def summary(self) -> str:
        """One line for people (a non-diffusive species shows its upper bound, not D)."""
        window = f"window {self.fit_window[0]:.3g}-{self.fit_window[1]:.3g} ps"
        if not self.diffusive:
            bound = self.D_upper_bound if self.D_upper_bound is not None else float("nan")
            why = self.reason.split("; ")[0] if self.reason else "D within 2σ of 0"
            return (
                f"D({self.species}): not diffusive, D < {bound:.1e} cm²/s "
                f"(MSD/6t at {self.fit_window[1]:.3g} ps; {why})"
            )
        flag = "" if self.reliable else f"  [UNRELIABLE: {self.reason}]"
        line = (
            f"D({self.species}) = {self.D:.3e} ± {self.D_std:.1e} cm²/s ({self.D_std_method}); "
            f"{window}{flag}"
        )
        if self.conductivity_mS_cm is not None:
            line += (
                f"\n  σ_NE({self.species}) = {self.conductivity_mS_cm:.3g} ± "
                f"{self.conductivity_std_mS_cm:.2g} mS/cm at {self.temperature_K:g} K (tracer D, "
                f"Haven ratio 1)"
            )
            if self.conductivity_charge_mS_cm is not None:
                line += f"; {self.conductivity_charge_mS_cm:.3g} mS/cm from the collective D"
        if self.haven_ratio is not None:
            line += f"\n  Haven ratio D/D_charge({self.species}) = {self.haven_ratio:.2f}"
            if self.D_charge and self.D_charge_std is not None and self.D > 0:
                rel = np.hypot(self.D_std / self.D, self.D_charge_std / self.D_charge)
                line += f" ± {self.haven_ratio * rel:.2f} (block spread of D_charge)"
        return line


def _slopes(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """OLS slopes of each row of ``y`` (…, n) against ``t`` (n)."""
    tc = t - t.mean()
    return np.einsum("...i,i->...", y, tc) / (tc @ tc)  # no BLAS threads (see msd.py)


def choose_window(
    lag_times_ps: np.ndarray,
    msd: np.ndarray,
    end_fraction: float = 0.3,
    tolerance: float = 0.2,
) -> tuple[int, int, float, str]:
    """Pick the diffusive window of an MSD curve automatically.

    The end is ``end_fraction`` of the run (longer lags have few independent time
    origins: the noisy tail). The start is the first lag after which the smoothed
    log–log slope stays within ``1 ± tolerance`` (ballistic motion, slope 2, and
    caging, slope < 1, excluded), searched in the first half of the window.

    Returns
    -------
    i_start, i_end
        Lag indices of the window.
    loglog_slope
        ln(MSD_end/MSD_start) / ln(t_end/t_start).
    note
        Empty, or why the window is not diffusive.
    """
    n = len(msd)
    i_end = max(2, int(end_fraction * (n - 1)))
    grid = np.unique(np.geomspace(1, i_end, min(200, i_end)).astype(int))
    note = ""
    if len(grid) < 5 or np.any(msd[grid] <= 0):
        return 1, i_end, float("nan"), "too few frames or zero MSD"
    lt, lm = np.log(lag_times_ps[grid]), np.log(msd[grid])
    beta = np.gradient(lm, lt)
    k = min(7, len(beta))
    beta_s = np.convolve(beta, np.ones(k) / k, mode="same")
    half = lag_times_ps[grid] <= lag_times_ps[i_end] / 2
    bad = np.flatnonzero(half & (np.abs(beta_s - 1) > tolerance))
    i_start = int(grid[bad[-1] + 1]) if bad.size else int(grid[0])
    if bad.size and bad[-1] + 1 >= np.count_nonzero(half):
        note = "no diffusive regime (log-log slope far from 1) in the first half of the window"
    i_start = min(i_start, i_end // 2)
    i_start = max(i_start, 1)
    slope = float(
        np.log(msd[i_end] / msd[i_start]) / np.log(lag_times_ps[i_end] / lag_times_ps[i_start])
    )
    return i_start, i_end, slope, note


def _window_indices(lag_times: np.ndarray, fit_window: tuple[float, float]) -> tuple[int, int]:
    t0, t1 = (float(v) for v in fit_window)
    if not (0 <= t0 < t1):
        raise AnalysisError(f"fit_window {fit_window} must be (start, end) ps with start < end")
    if t1 > lag_times[-1] + 1e-12:
        raise AnalysisError(
            f"fit_window ends at {t1} ps but the run is {lag_times[-1]:.4g} ps long; shorten it"
        )
    i0 = int(np.searchsorted(lag_times, t0 - 1e-12))
    i1 = int(np.searchsorted(lag_times, t1 - 1e-12))
    if i1 - i0 < 2:
        raise AnalysisError(f"fit_window {fit_window} holds fewer than 3 lags; widen it")
    return max(i0, 1) if i1 > 2 else i0, i1


def diffusivity(
    traj: Trajectory,
    species: str = "Li",
    fit_window: tuple[float, float] | None = None,
    uncertainty: str | UncertaintyMethod = UncertaintyMethod.AUTO,
    remove_drift: bool = True,
    temperature_K: float | None = None,
    charge: float | None = None,
    site_distance_A: float = 3.0,
    n_blocks: int = 10,
    end_fraction: float = 0.3,
    dimension: int = 3,
) -> DiffusionResult:
    """Tracer (and collective) diffusivity of one species.

    Parameters
    ----------
    traj
        The trajectory (wrapped or unwrapped positions; constant or NPT cell).
    species
        Element whose atoms are analysed.
    fit_window
        ``(start, end)`` lag times, ps; chosen automatically when None (see
        :func:`choose_window`). Always recorded in the result.
    uncertainty
        ``auto``, ``atoms``, ``blocks`` or ``he2018`` (module docstring).
    remove_drift
        Remove the mass-weighted centre-of-mass motion of all atoms.
    temperature_K
        For the Nernst–Einstein conductivity (default ``traj.metadata["temperature_K"]``).
    charge
        Charge number of the ion (default: the element's most common oxidation state).
    site_distance_A
        Hop length for the He et al. 2018 estimate, Å.
    n_blocks
        Time blocks for the ``blocks`` estimate.
    end_fraction
        End of the automatic window as a fraction of the run.
    dimension
        2·d in the Einstein relation (3 for bulk).

    Returns
    -------
    DiffusionResult
        ``reliable`` is False (with ``reason``) when the run is too short, not
        diffusive, or the ions moved less than one site distance in the window.
    """
    check_frames(traj)
    method = UncertaintyMethod(uncertainty)
    atoms = traj.indices(species)
    n_atoms = len(atoms)
    n = traj.n_frames
    dt_ps = traj.time_step / 1000.0
    lag_times = np.arange(n) * dt_ps
    x, com, max_jump = unwrapped_series(traj, atoms, remove_drift=remove_drift)
    nfft = fft_length(n)

    # One forward FFT per atom and axis (chunks of atoms bound the work memory). The
    # per-axis species-mean MSD needs only the *sum* of the power spectra (3 inverse
    # FFTs); per-atom slopes come from the spectra by a linear functional
    # (SlopeKernel), so no per-atom MSD curve is ever built.
    nf = nfft // 2 + 1
    power = np.empty((n_atoms, 3, nf))
    chunk_atoms = max(1, 500_000 // (3 * nf))  # ~8 MB of spectra at a time
    for a in range(0, n_atoms, chunk_atoms):
        f = scipy.fft.rfft(x[a : a + chunk_atoms], n=nfft, axis=-1)
        p = power[a : a + chunk_atoms]
        np.multiply(f.real, f.real, out=p)
        f.imag **= 2
        p += f.imag
        del f
    sq_sum = np.einsum("aij,aij->ij", x, x)  # Σ_atoms x², no (atoms, 3, n) temporary
    msd_axes = msd_from_spectrum(power.sum(axis=0), sq_sum, nfft) / n_atoms
    msd = msd_axes.sum(axis=0)

    reasons: list[str] = []
    if fit_window is None:
        i0, i1, beta, note = choose_window(lag_times, msd, end_fraction=end_fraction)
        if note:
            reasons.append(note)
        auto = True
    else:
        i0, i1 = _window_indices(lag_times, fit_window)
        beta = (
            float(np.log(msd[i1] / msd[i0]) / np.log(lag_times[i1] / lag_times[i0]))
            if (msd[i0] > 0 and i0 > 0)
            else float("nan")
        )
        auto = False
    j0 = max(i0, 1)  # lag 0 carries no information (MSD(0) = 0 by definition)
    kernel = SlopeKernel(n, j0, i1, dt_ps, nfft=nfft)
    scale = A2_PER_PS_TO_CM2_PER_S / 2.0
    D_atom_axes = kernel.slopes(power, x) * scale  # (atoms, 3), every lag of the window
    del power
    D_axes = D_atom_axes.mean(axis=0)
    D = float(D_axes.sum() / 3.0 * 3.0 / dimension)
    D_atom = D_atom_axes.sum(axis=1) / dimension
    by_method: dict[str, float] = {}
    if n_atoms >= 2:
        by_method["atoms"] = float(D_atom.std(ddof=1) / np.sqrt(n_atoms))
    D_axes_std = (
        (D_atom_axes.std(axis=0, ddof=1) / np.sqrt(n_atoms)).tolist()
        if n_atoms >= 2
        else [float("nan")] * 3
    )
    n_jumps = float(n_atoms * msd.max() / site_distance_A**2)
    rsd = 3.43 / np.sqrt(n_jumps) + 0.04 if n_jumps > 0 else float("inf")
    by_method["he2018"] = float(abs(D) * rsd)

    # collective (charge) MSD: summed displacement of all ions of the species (3 more
    # transforms; cheaper than summing the atoms' complex spectra)
    total = x.sum(axis=0)  # (3, frames)
    f_total = scipy.fft.rfft(total, n=nfft, axis=-1)
    msd_charge = (
        msd_from_spectrum(f_total.real**2 + f_total.imag**2, total * total, nfft).sum(axis=0)
        / n_atoms
    )
    del f_total
    D_charge = float(
        _slopes(lag_times[j0 : i1 + 1], msd_charge[j0 : i1 + 1])
        * A2_PER_PS_TO_CM2_PER_S
        / (2 * dimension)
    )
    blk, D_charge_std = _block_spread(x, dt_ps, lag_times[i0], lag_times[i1], n_blocks, dimension)
    want_blocks = method in (UncertaintyMethod.BLOCKS, UncertaintyMethod.AUTO)
    if want_blocks and blk is not None:
        by_method["blocks"] = blk
    D_std, used = _pick_uncertainty(method, by_method, n_atoms)
    haven = D / D_charge if D_charge > 0 else None
    t_fit = lag_times[j0 : i1 + 1]
    fit_slope = float(_slopes(t_fit, msd[j0 : i1 + 1]))
    fit_intercept = float(msd[j0 : i1 + 1].mean() - fit_slope * t_fit.mean())

    # reliability
    msd_gain = msd[i1] - msd[i0]
    if n < 100:
        reasons.append(f"only {n} frames")
    if msd_gain < 0.5 * site_distance_A**2:
        reasons.append(
            f"MSD grows by {msd_gain:.2g} Å² in the window, less than half a hop "
            f"0.5·({site_distance_A:g} Å)²; run longer or hotter"
        )
    if np.isfinite(beta) and abs(beta - 1) > 0.3:
        reasons.append(f"log-log slope {beta:.2f} in the window (diffusive = 1)")
    if D <= 0:
        reasons.append("non-positive slope")
    if i1 - i0 < 10:
        reasons.append("fewer than 10 lags in the fit window")
    if np.isfinite(D_std) and D > 0 and D_std / D > 0.5:
        reasons.append(f"relative uncertainty {D_std / D:.0%}")
    if max_jump > 0.5:
        reasons.append("frames too sparse to unwrap")
    reliable = not reasons

    if temperature_K is None:
        temperature_K = traj.metadata.get("temperature_K")
    cond = cond_std = cond_charge = None
    if charge is None:
        try:
            charge = default_charge(species)
        except AnalysisError:
            charge = None
    if temperature_K is not None and charge is not None:
        factor = nernst_einstein_factor(
            n_atoms, float(traj.volume_A3.mean()), charge, float(temperature_K)
        )
        cond, cond_std = factor * D, factor * D_std
        cond_charge = factor * D_charge

    return DiffusionResult(
        species=species,
        D=D,
        D_std=float(D_std),
        D_std_method=used,
        D_std_by_method=by_method,
        D_axes=D_axes.tolist(),
        D_axes_std=D_axes_std,
        fit_window=(float(lag_times[i0]), float(lag_times[i1])),
        window_auto=auto,
        lag_times=lag_times,
        msd=msd,
        msd_axes=msd_axes,
        loglog_slope=float(beta),
        reliable=reliable,
        reason="; ".join(reasons),
        n_atoms=n_atoms,
        n_frames=n,
        time_step_fs=traj.time_step,
        duration_ps=traj.duration_ps,
        drift_removed=remove_drift,
        max_com_drift_A=float(np.linalg.norm(com, axis=1).max()),
        max_jump_fraction=float(max_jump),
        n_jumps=n_jumps,
        site_distance_A=site_distance_A,
        fit_slope_A2_ps=fit_slope,
        fit_intercept_A2=fit_intercept,
        D_charge=D_charge,
        D_charge_std=D_charge_std,
        msd_charge=msd_charge,
        haven_ratio=haven,
        charge=charge,
        temperature_K=None if temperature_K is None else float(temperature_K),
        conductivity_mS_cm=cond,
        conductivity_std_mS_cm=cond_std,
        conductivity_charge_mS_cm=cond_charge,
        D_upper_bound=float(max(msd[i1], 0.0) / (2 * dimension * lag_times[i1]))
        * A2_PER_PS_TO_CM2_PER_S,
    )


def _pick_uncertainty(
    method: UncertaintyMethod, by_method: dict[str, float], n_atoms: int
) -> tuple[float, str]:
    if method is UncertaintyMethod.AUTO:
        atoms, blocks = by_method.get("atoms"), by_method.get("blocks")
        if n_atoms >= 10 and atoms is not None:
            if blocks is not None and blocks > 2.0 * atoms:
                return blocks, "blocks"
            return atoms, "atoms"
        if blocks is not None:
            return blocks, "blocks"
        return by_method["he2018"], "he2018"
    key = method.value
    if key not in by_method:
        raise AnalysisError(
            f"uncertainty {key!r} needs more data (atoms >= 2; blocks: a window shorter "
            "than a block); use 'he2018'"
        )
    return by_method[key], key


def _block_spread(
    x: np.ndarray,
    dt_ps: float,
    t0: float,
    t1: float,
    n_blocks: int,
    dimension: int,
    single_precision: bool = True,
) -> tuple[float | None, float | None]:
    """Spread over independent time blocks of the tracer and collective D (cm²/s).

    Parameters
    ----------
    x
        ``(n_atoms, 3, n_frames)`` unwrapped displacements, Å.
    single_precision
        Transform the blocks in float32 (the sums and fits stay float64).

    Returns
    -------
    (tracer, collective)
        Standard deviations of the block values, or None when the blocks are too
        short.
    """
    n_atoms, _, n = x.shape
    length = n // n_blocks
    if n_blocks < 2 or length < 20:
        return None, None
    # Each block is fitted over the window scaled down by n_blocks, i.e. the same
    # fraction of its length as the full-run window. A diffusive walk is
    # self-similar: the relative error of D fitted over a fixed *fraction* of a run
    # does not depend on the run length (the number of independent origins at the
    # longest lag is the same), so the spread of the block values (not divided by
    # sqrt(n_blocks)) estimates the error of the full-run D.
    i1 = round(t1 / dt_ps / n_blocks)
    i0 = max(1, min(round(t0 / dt_ps), i1 // 3))
    if i1 - i0 < 3 or i1 >= length:
        return None, None
    kernel = SlopeKernel(length, i0, i1, dt_ps)
    scale = A2_PER_PS_TO_CM2_PER_S / (2 * dimension)
    tracer, collective = [], []
    for b in range(n_blocks):
        seg = x[:, :, b * length : (b + 1) * length]
        seg = seg - seg[:, :, :1]  # contiguous copy; the MSD ignores the offset
        # single-precision transforms (3x faster): a block D only feeds a spread that
        # itself scatters by ~25 %; the change is < 1e-4 relative (test)
        f = scipy.fft.rfft(
            seg.astype(np.float32) if single_precision else seg, n=kernel.nfft, axis=-1
        )
        power = f.real.astype(np.float64) ** 2
        power += f.imag.astype(np.float64) ** 2
        # only the sum over atoms and axes is needed: sum the spectra, then one dot
        tracer.append(kernel.summed_slope(power.sum(axis=(0, 1)), seg) / n_atoms * scale)
        ft = f.sum(axis=0, dtype=np.complex128)
        tot = seg.sum(axis=0)
        collective.append(kernel.summed_slope(ft.real**2 + ft.imag**2, tot) / n_atoms * scale)
    return float(np.std(tracer, ddof=1)), float(np.std(collective, ddof=1))

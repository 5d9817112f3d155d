"""Birch–Murnaghan P(V) fit used by the volume equilibration.

Third-order Birch–Murnaghan pressure equation of state (F. Birch, Phys. Rev. 71
(1947) 809), with x = (V0/V)^(1/3):

    P(V) = 3/2 B0 (x⁷ − x⁵) [1 + 3/4 (B0′ − 4)(x² − 1)]

MPMorph fits this form to (V, P) points of NVT runs and falls back to a linear
P–V regression when the fit fails (``mpmorph/firetasks/mdtasks.py``). atomate2's
``MPMorphPVPostProcess`` does the same fit but only on its own EOS job-output
dictionaries, so the few lines are written here as a pure function.
Units: Å³ and kbar.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, curve_fit


def birch_murnaghan_pressure(
    volume_A3: np.ndarray | float, v0_A3: float, b0_kbar: float, b0_prime: float
) -> np.ndarray | float:
    """Third-order Birch–Murnaghan pressure (kbar) at ``volume_A3``."""
    x = (v0_A3 / np.asarray(volume_A3, dtype=float)) ** (1.0 / 3.0)
    return 1.5 * b0_kbar * (x**7 - x**5) * (1.0 + 0.75 * (b0_prime - 4.0) * (x**2 - 1.0))


@dataclass(frozen=True)
class PVFit:
    """Result of a P(V) fit.

    Attributes
    ----------
    v0_A3
        Volume at which the fitted pressure equals the target (Å³); for the
        default target of 0 kbar this is the Birch–Murnaghan V0.
    b0_kbar, b0_prime
        Bulk modulus (kbar) and its pressure derivative (NaN for the linear fit).
    method
        ``"birch-murnaghan"``, ``"birch-murnaghan (B0'=4)"`` or ``"linear"``.
    """

    v0_A3: float
    b0_kbar: float
    b0_prime: float
    method: str

    def pressure(self, volume_A3: float) -> float:
        """Fitted pressure (kbar) at ``volume_A3``."""
        if self.method == "linear":
            return float(-self.b0_kbar * (volume_A3 - self.v0_A3) / self.v0_A3)
        return float(birch_murnaghan_pressure(volume_A3, self.v0_A3, self.b0_kbar, self.b0_prime))


def _linear_fit(v: np.ndarray, p: np.ndarray, target: float) -> PVFit:
    slope, intercept = np.polyfit(v, p, 1)
    if slope >= 0:  # pressure must fall as the volume grows; keep the best point
        best = v[np.argmin(np.abs(p - target))]
        return PVFit(float(best), float("nan"), float("nan"), "linear")
    v0 = (target - intercept) / slope
    return PVFit(float(v0), float(-slope * v0), float("nan"), "linear")


def _falling_root(f, lo: float, hi: float, near: float) -> float | None:
    """Root of ``f`` in [lo, hi] where it falls through zero, closest to ``near``.

    The interval is MPMorph's sanity range (half the smallest to twice the largest
    sampled volume); a grid finds every sign change, brentq refines the chosen one.
    """
    grid = np.linspace(lo, hi, 400)
    values = np.array([f(x) for x in grid])
    crossings = np.nonzero((values[:-1] > 0) & (values[1:] <= 0))[0]
    if crossings.size == 0:
        return None
    roots = [brentq(f, grid[i], grid[i + 1]) for i in crossings]
    return float(min(roots, key=lambda r: abs(r - near)))


def fit_pv(
    volumes_A3: np.ndarray | list[float],
    pressures_kbar: np.ndarray | list[float],
    target_pressure_kbar: float = 0.0,
) -> PVFit:
    """Fit P(V) points and return the volume at the target pressure.

    Three or more points fit V0, B0 and B0′; two points fix B0′ = 4. When the fit
    fails, or puts the target volume beyond half/twice the sampled range (MPMorph's
    sanity limits), a linear P–V regression is used instead.
    """
    v = np.asarray(volumes_A3, dtype=float)
    p = np.asarray(pressures_kbar, dtype=float)
    if v.size < 2 or v.size != p.size:
        raise ValueError("need at least two (volume, pressure) points of equal length")
    linear = _linear_fit(v, p, target_pressure_kbar)
    zero = _linear_fit(v, p, 0.0)
    v_guess = zero.v0_A3 if np.isfinite(zero.b0_kbar) else float(np.mean(v))
    b_guess = zero.b0_kbar if np.isfinite(zero.b0_kbar) else 1000.0
    # failed trial fits are expected (the linear fallback handles them): keep them quiet
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            if v.size >= 3:
                popt, _ = curve_fit(
                    birch_murnaghan_pressure, v, p, p0=[v_guess, b_guess, 4.0], maxfev=20000
                )
                method = "birch-murnaghan"
            else:
                popt2, _ = curve_fit(
                    lambda vol, v0, b0: birch_murnaghan_pressure(vol, v0, b0, 4.0),
                    v,
                    p,
                    p0=[v_guess, b_guess],
                    maxfev=20000,
                )
                popt = [*popt2, 4.0]
                method = "birch-murnaghan (B0'=4)"
            v0, b0, b0p = (float(x) for x in popt)
            if np.isfinite(v0) and b0 > 0:
                # the volume where the fitted curve crosses the target pressure, searched
                # near the data (B0' can make the curve non-monotonic far away)
                f = lambda x: float(birch_murnaghan_pressure(x, v0, b0, b0p)) - target_pressure_kbar  # noqa: E731
                root = _falling_root(f, 0.5 * v.min(), 2.0 * v.max(), float(np.mean(v)))
                if root is not None:
                    return PVFit(root, b0, b0p, method)
        except (RuntimeError, ValueError, FloatingPointError):
            pass
    return linear
